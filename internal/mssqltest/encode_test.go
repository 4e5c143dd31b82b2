package mssqltest

import (
	"bytes"
	"testing"
)

// The encoder takes the engine's values as tsql.Type documents them
// (integers as int64, BIT as bool, FLOAT and REAL as float64) and
// refuses any other Go type with an error instead of sending a wrong
// value.
func TestValueEncodingContract(t *testing.T) {
	intN := func(size int) colEnc { return colEnc{tdsType: tdsIntN, size: size} }
	tests := []struct {
		name    string
		v       any
		enc     colEnc
		want    []byte
		wantErr bool
	}{
		{"INT", int64(7), intN(4), []byte{4, 7, 0, 0, 0}, false},
		{"BIGINT", int64(-1), intN(8), []byte{8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, false},
		{"bool as INT", true, intN(1), []byte{1, 1}, false},
		{"int32 is not the engine's", int32(7), intN(4), nil, true},
		{"string as INT", "7", intN(4), nil, true},
		{"BIT", false, colEnc{tdsType: tdsBitN, size: 1}, []byte{1, 0}, false},
		{"int64 as BIT", int64(2), colEnc{tdsType: tdsBitN, size: 1}, []byte{1, 1}, false},
		{"string as BIT", "1", colEnc{tdsType: tdsBitN, size: 1}, nil, true},
		{"int64 as FLOAT", int64(2), colEnc{tdsType: tdsFltN, size: 8}, []byte{8, 0, 0, 0, 0, 0, 0, 0, 0x40}, false},
		{"string as FLOAT", "2", colEnc{tdsType: tdsFltN, size: 8}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b tokbuf
			err := b.value(tt.v, tt.enc)
			if (err != nil) != tt.wantErr {
				t.Fatalf("value(%#v) error = %v, want error %v", tt.v, err, tt.wantErr)
			}
			if !tt.wantErr && !bytes.Equal(b.b, tt.want) {
				t.Errorf("value(%#v) = % x, want % x", tt.v, b.b, tt.want)
			}
		})
	}
}
