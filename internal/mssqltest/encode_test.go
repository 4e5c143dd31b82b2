package mssqltest

import (
	"bytes"
	"strings"
	"testing"
	"time"
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

// CHAR and VARCHAR travel in code page 1252, the code page of every
// collation this server knows; a character the code page lacks becomes
// '?', as SQL Server's conversion does.
func TestCP1252(t *testing.T) {
	tests := []struct {
		s    string
		b    []byte
		back string
	}{
		{"abc", []byte("abc"), "abc"},
		{"café", []byte{'c', 'a', 'f', 0xE9}, "café"},
		{"€‚™", []byte{0x80, 0x82, 0x99}, "€‚™"},
		{"日", []byte{'?'}, "?"},
	}
	for _, tt := range tests {
		if got := toCP1252(tt.s); !bytes.Equal(got, tt.b) {
			t.Errorf("toCP1252(%q) = % x, want % x", tt.s, got, tt.b)
		}
		if got := fromCP1252(tt.b); got != tt.back {
			t.Errorf("fromCP1252(% x) = %q, want %q", tt.b, got, tt.back)
		}
	}
}

// The TDS collation (MS-TDS 2.2.5.1.2) carries the LCID in its low 20
// bits and the comparison flags above: a CI collation sets fIgnoreCase,
// a CS one does not, _BIN and _BIN2 set fBinary and fBinary2.
func TestCollationBytes(t *testing.T) {
	const (
		fIgnoreCase = 1 << 20
		fBinary     = 1 << 24
		fBinary2    = 1 << 25
	)
	tests := []struct {
		name      string
		set, none uint32
	}{
		{"", fIgnoreCase, fBinary | fBinary2},
		{"SQL_Latin1_General_CP1_CI_AS", fIgnoreCase, fBinary | fBinary2},
		{"Latin1_General_CI_AS", fIgnoreCase, fBinary | fBinary2},
		{"Latin1_General_CS_AS", 0, fIgnoreCase | fBinary | fBinary2},
		{"Latin1_General_BIN", fBinary, fIgnoreCase | fBinary2},
		{"Latin1_General_BIN2", fBinary2, fIgnoreCase | fBinary},
	}
	for _, tt := range tests {
		b := collationBytes(tt.name)
		v := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
		if lcid := v & 0xFFFFF; lcid != 0x409 {
			t.Errorf("%q: LCID %#x, want 0x409", tt.name, lcid)
		}
		if v&tt.set != tt.set || v&tt.none != 0 {
			t.Errorf("%q: flags %#x, want %#x set and %#x clear", tt.name, v>>20, tt.set>>20, tt.none>>20)
		}
	}
}

// TIME, DATETIME2 and DATETIMEOFFSET store the time of day in 3, 4 or 5
// bytes by scale (MS-TDS 2.2.5.5.1.8).
func TestTimeLen(t *testing.T) {
	want := []int{3, 3, 3, 4, 4, 5, 5, 5}
	for scale, w := range want {
		if got := timeLen(scale); got != w {
			t.Errorf("timeLen(%d) = %d, want %d", scale, got, w)
		}
	}
}

// TIME(n) on the wire (MS-TDS 2.2.5.5.1.8) is the time of day in units
// of 10^-n seconds, little-endian, in 3 to 5 bytes by scale; a value of a
// day or more, or of the wrong length, is malformed.
func TestTimeWire(t *testing.T) {
	tests := []struct {
		scale int
		b     []byte
		want  time.Time // on 1900-01-01, as the engine carries TIME
	}{
		{7, []byte{0x87, 0xee, 0x97, 0x76, 0x69}, time.Date(1900, 1, 1, 12, 34, 56, 123456700, time.UTC)},
		{0, []byte{0xf0, 0xb0, 0x00}, time.Date(1900, 1, 1, 12, 34, 56, 0, time.UTC)},
		{4, []byte{0xb0, 0xa3, 0xff, 0x1a}, time.Date(1900, 1, 1, 12, 34, 56, 120000000, time.UTC)},
		{7, []byte{0xff, 0xbf, 0x69, 0x2a, 0xc9}, time.Date(1900, 1, 1, 23, 59, 59, 999999900, time.UTC)},
	}
	for _, tt := range tests {
		got, err := decodeFixed(tt.b, typeInfo{id: tdsTimeN, scale: tt.scale})
		if tm, ok := got.(time.Time); err != nil || !ok || !tm.Equal(tt.want) {
			t.Errorf("decode TIME(%d) % x: got %v, %v; want %v", tt.scale, tt.b, got, err, tt.want)
		}
		if enc := encodeTimeUnits(tt.want, tt.scale); !bytes.Equal(enc, tt.b) {
			t.Errorf("encode TIME(%d) %v: got % x, want % x", tt.scale, tt.want, enc, tt.b)
		}
	}
	for _, bad := range []struct {
		scale int
		b     []byte
	}{
		{7, []byte{0x00, 0xc0, 0x69, 0x2a, 0xc9}}, // 24:00:00
		{7, []byte{0x00, 0x00, 0x00}},             // TIME(7) is 5 bytes
		{0, []byte{0x00, 0x00, 0x00, 0x00}},
	} {
		if got, err := decodeFixed(bad.b, typeInfo{id: tdsTimeN, scale: bad.scale}); err == nil {
			t.Errorf("decode TIME(%d) % x: got %v, want an error", bad.scale, bad.b, got)
		}
	}
}

// TYPE_INFO as clients send it (MS-TDS 2.2.5.4 and 2.2.5.5) decodes to
// the SQL Server type it names; a type the engine does not model is
// refused with 40517 naming it.
func TestTypeInfo(t *testing.T) {
	coll := []byte{0x09, 0x04, 0xD0, 0x00, 0x34}
	tests := []struct {
		info    []byte
		name    string // wireName
		refused string // what the refusal names, or "" when decoded
	}{
		{[]byte{tdsInt1}, "TINYINT", ""},
		{[]byte{tdsInt2}, "SMALLINT", ""},
		{[]byte{tdsInt4}, "INT", ""},
		{[]byte{tdsInt8}, "BIGINT", ""},
		{[]byte{tdsBit}, "BIT", ""},
		{[]byte{tdsIntN, 2}, "SMALLINT", ""},
		{[]byte{tdsFlt4}, "REAL", ""},
		{[]byte{tdsFlt8}, "FLOAT", ""},
		{[]byte{tdsFltN, 4}, "REAL", ""},
		{[]byte{tdsDateTime}, "DATETIME", ""},
		{[]byte{tdsDateTimeN, 8}, "DATETIME", ""},
		{[]byte{tdsDateN}, "DATE", ""},
		{[]byte{tdsDateTime2N, 3}, "DATETIME2(3)", ""},
		{[]byte{tdsDateTimeOffN, 7}, "DATETIMEOFFSET(7)", ""},
		{[]byte{tdsBigBinary, 16, 0}, "BINARY(16)", ""},
		{append([]byte{tdsBigChar, 43, 0}, coll...), "CHAR(43)", ""},
		{append([]byte{tdsNChar, 20, 0}, coll...), "NCHAR(10)", ""},
		{append([]byte{tdsNVarChar, 0xFF, 0xFF}, coll...), "NVARCHAR(MAX)", ""},
		{[]byte{tdsDateTimeN, 4}, "SMALLDATETIME", ""},
		{[]byte{tdsDateTim4}, "SMALLDATETIME", ""},
		{[]byte{tdsGUID, 16}, "UNIQUEIDENTIFIER", ""},
		{[]byte{tdsDecimalN, 17, 38, 2}, "DECIMAL(38,2)", ""},
		{[]byte{tdsNumericN, 5, 9, 0}, "NUMERIC(9,0)", ""},
		{[]byte{tdsMoneyN, 8}, "MONEY", ""},
		{[]byte{tdsMoneyN, 4}, "SMALLMONEY", ""},
		{[]byte{tdsMoney}, "MONEY", ""},
		{[]byte{tdsMoney4}, "SMALLMONEY", ""},
		{[]byte{tdsTimeN, 7}, "TIME(7)", ""},
		{[]byte{tdsTimeN, 2}, "TIME(2)", ""},
	}
	for _, tt := range tests {
		r := &reader{b: tt.info}
		ti := parseTypeInfo(r)
		if r.err != nil {
			t.Errorf("% x: %v", tt.info, r.err)
			continue
		}
		if got := ti.wireName(); got != tt.name {
			t.Errorf("% x: wireName %q, want %q", tt.info, got, tt.name)
		}
		_, err := ti.engineType()
		switch {
		case tt.refused == "" && err != nil:
			t.Errorf("% x (%s): %v", tt.info, tt.name, err)
		case tt.refused != "":
			if err == nil {
				t.Errorf("% x: decoded, want 40517 naming %s", tt.info, tt.refused)
			} else if e := errServer(err); e.Number != 40517 || !strings.Contains(e.Message, tt.refused) {
				t.Errorf("% x: error %v, want 40517 naming %s", tt.info, err, tt.refused)
			}
		}
	}
	// Types no client sends for a parameter are refused as they are read.
	for _, id := range []byte{tdsXML, tdsText, tdsNText, tdsImage, tdsVariant, tdsUDT} {
		r := &reader{b: []byte{id, 0, 0, 0, 0}}
		parseTypeInfo(r)
		if e := errServer(r.err); r.err == nil || e.Number != 40517 || !strings.Contains(e.Message, tdsTypeName(id)) {
			t.Errorf("type 0x%02X: error %v, want 40517 naming %s", id, r.err, tdsTypeName(id))
		}
	}
}
