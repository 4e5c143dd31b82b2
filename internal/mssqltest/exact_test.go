package mssqltest

import (
	"bytes"
	"math/big"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/tsql"
)

func decimalOf(coef int64, scale int) tsql.Decimal { return tsql.NewDecimal(big.NewInt(coef), scale) }

// DECIMALN, NUMERICN, MONEYN and SMALLDATETIME values go out as MS-TDS
// lays them out and as go-mssqldb's decodeDecimal, decodeMoney,
// decodeMoney4 and decodeDateTim4 read them.
func TestExactValueEncoding(t *testing.T) {
	dec52 := colEnc{tdsType: tdsDecimalN, size: 5, prec: 5, scale: 2}
	money := colEnc{tdsType: tdsMoneyN, size: 8}
	small := colEnc{tdsType: tdsMoneyN, size: 4}
	sdt := colEnc{tdsType: tdsDateTimeN, size: 4}
	tests := []struct {
		name    string
		v       any
		enc     colEnc
		want    []byte
		wantErr bool
	}{
		{"DECIMAL(5,2) 1.50", decimalOf(150, 2), dec52, []byte{5, 1, 150, 0, 0, 0}, false},
		{"DECIMAL(5,2) -2.56", decimalOf(-256, 2), dec52, []byte{5, 0, 0, 1, 0, 0}, false},
		{"DECIMAL(38,0) 2^64", tsql.NewDecimal(new(big.Int).Lsh(big.NewInt(1), 64), 0), colEnc{tdsType: tdsNumericN, size: 17, prec: 38},
			[]byte{17, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}, false},
		{"DECIMAL at another scale", decimalOf(15, 1), dec52, nil, true},
		{"DECIMAL too long for its bytes", decimalOf(1<<40, 2), dec52, nil, true},
		{"int64 as DECIMAL", int64(1), dec52, nil, true},
		// MONEY: ten-thousandths, the high 32 bits first.
		{"MONEY 1", decimalOf(10000, 4), money, []byte{8, 0, 0, 0, 0, 0x10, 0x27, 0, 0}, false},
		{"MONEY -1", decimalOf(-10000, 4), money, []byte{8, 0xFF, 0xFF, 0xFF, 0xFF, 0xF0, 0xD8, 0xFF, 0xFF}, false},
		{"MONEY 2^32/10^4", decimalOf(1<<32, 4), money, []byte{8, 1, 0, 0, 0, 0, 0, 0, 0}, false},
		{"SMALLMONEY -1", decimalOf(-10000, 4), small, []byte{4, 0xF0, 0xD8, 0xFF, 0xFF}, false},
		{"SMALLMONEY out of range", decimalOf(1<<31, 4), small, nil, true},
		{"MONEY at scale 2", decimalOf(100, 2), money, nil, true},
		// SMALLDATETIME: days since 1900-01-01, minutes since midnight.
		{"SMALLDATETIME", time.Date(1900, 1, 3, 1, 2, 0, 0, time.UTC), sdt, []byte{4, 2, 0, 62, 0}, false},
		{"SMALLDATETIME 2079-06-06 23:59", time.Date(2079, 6, 6, 23, 59, 0, 0, time.UTC), sdt, []byte{4, 0xFF, 0xFF, 0x9F, 0x05}, false},
		{"SMALLDATETIME before 1900", time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC), sdt, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b tokbuf
			err := b.value(tt.v, tt.enc)
			if (err != nil) != tt.wantErr {
				t.Fatalf("value(%v) error = %v, want error %v", tt.v, err, tt.wantErr)
			}
			if !tt.wantErr && !bytes.Equal(b.b, tt.want) {
				t.Errorf("value(%v) = % x, want % x", tt.v, b.b, tt.want)
			}
		})
	}
}

// Parameters of these types arrive as the engine's types and values; a
// malformed one is refused rather than misread.
func TestExactParams(t *testing.T) {
	tests := []struct {
		name     string
		typeInfo []byte
		value    []byte
		wantType string
		want     string // the value's text; "" for an error
	}{
		{"DECIMALN(5,2)", []byte{tdsDecimalN, 5, 5, 2}, []byte{5, 0, 0, 1, 0, 0}, "decimal(5,2)", "-2.56"},
		{"NUMERICN(38,4)", []byte{tdsNumericN, 17, 38, 4}, append([]byte{17, 1, 0x39, 0x30}, make([]byte, 14)...), "numeric(38,4)", "1.2345"},
		{"MONEYN(8)", []byte{tdsMoneyN, 8}, []byte{8, 0xFF, 0xFF, 0xFF, 0xFF, 0xF0, 0xD8, 0xFF, 0xFF}, "money", "-1.0000"},
		{"MONEYN(4)", []byte{tdsMoneyN, 4}, []byte{4, 0x10, 0x27, 0, 0}, "smallmoney", "1.0000"},
		{"MONEY", []byte{tdsMoney}, []byte{1, 0, 0, 0, 0, 0, 0, 0}, "money", "429496.7296"},
		{"DATETIMEN(4)", []byte{tdsDateTimeN, 4}, []byte{4, 2, 0, 62, 0}, "smalldatetime", "1900-01-03 01:02:00 +0000 UTC"},
		{"DATETIM4", []byte{tdsDateTim4}, []byte{1, 0, 0, 0}, "smalldatetime", "1900-01-02 00:00:00 +0000 UTC"},
		{"DECIMALN NULL", []byte{tdsDecimalN, 5, 5, 2}, []byte{0}, "decimal(5,2)", "<nil>"},
		{"DECIMALN past its precision", []byte{tdsDecimalN, 5, 2, 0}, []byte{5, 1, 100, 0, 0, 0}, "", ""},
		{"DECIMALN precision 39", []byte{tdsDecimalN, 17, 39, 0}, []byte{0}, "", ""},
		{"DECIMALN scale past precision", []byte{tdsDecimalN, 5, 2, 3}, []byte{0}, "", ""},
		{"DECIMALN bad sign", []byte{tdsDecimalN, 5, 5, 0}, []byte{5, 2, 1, 0, 0, 0}, "", ""},
		{"MONEYN(5)", []byte{tdsMoneyN, 5}, []byte{0}, "", ""},
		{"SMALLDATETIME minute 1440", []byte{tdsDateTimeN, 4}, []byte{4, 0, 0, 0xA0, 0x05}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &reader{b: param("@p1", 0, tt.typeInfo, tt.value)}
			p, err := parseParam(r, 0)
			if tt.want == "" {
				if err == nil && r.err == nil {
					t.Fatalf("got %v of type %v, want an error", p.param.Value, p.param.Type)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseParam: %v", err)
			}
			if got := p.param.Type.String(); got != tt.wantType {
				t.Errorf("type %s, want %s", got, tt.wantType)
			}
			got := "<nil>"
			if p.param.Value != nil {
				got = p.param.Value.(interface{ String() string }).String()
			}
			if got != tt.want {
				t.Errorf("value %s, want %s", got, tt.want)
			}
		})
	}
}

// TEXT, NTEXT and IMAGE values: the text pointer, a timestamp, then the
// data with a 4-byte length, as go-mssqldb's readLongLenType reads them;
// NULL is a text pointer of length 0.
func TestLOBValueEncoding(t *testing.T) {
	head := append(append([]byte{16}, textPtr[:]...), make([]byte, 8)...)
	tests := []struct {
		name    string
		v       any
		enc     colEnc
		want    []byte
		wantErr bool
	}{
		{"TEXT", "hé", colEnc{tdsType: tdsText}, append(append([]byte{}, head...), 2, 0, 0, 0, 'h', 0xE9), false},
		{"NTEXT", "hé", colEnc{tdsType: tdsNText}, append(append([]byte{}, head...), 4, 0, 0, 0, 'h', 0, 0xE9, 0), false},
		{"IMAGE", []byte{1, 2}, colEnc{tdsType: tdsImage}, append(append([]byte{}, head...), 2, 0, 0, 0, 1, 2), false},
		{"NULL", nil, colEnc{tdsType: tdsText}, []byte{0}, false},
		{"bytes as TEXT", []byte{1}, colEnc{tdsType: tdsText}, nil, true},
		{"string as IMAGE", "a", colEnc{tdsType: tdsImage}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b tokbuf
			err := b.value(tt.v, tt.enc)
			if (err != nil) != tt.wantErr {
				t.Fatalf("value(%v) error = %v, want error %v", tt.v, err, tt.wantErr)
			}
			if !tt.wantErr && !bytes.Equal(b.b, tt.want) {
				t.Errorf("value(%v) = % x, want % x", tt.v, b.b, tt.want)
			}
		})
	}
}
