package mssqltest

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/scs-contrib/mssqlstore/internal/tsql"
)

// PRELOGIN option tokens and encryption values (MS-TDS 2.2.6.5).
const (
	preVersion    = 0x00
	preEncryption = 0x01
	preInstOpt    = 0x02
	preThreadID   = 0x03
	preMARS       = 0x04
	preTerminator = 0xFF

	encryptOff    = 0x00
	encryptOn     = 0x01
	encryptNotSup = 0x02
	encryptReq    = 0x03
)

// TDS versions (LOGIN7 TDSVersion, LOGINACK).
const (
	tds73A = 0x730A0003
	tds74  = 0x74000004
)

// Token types (MS-TDS 2.2.7).
const (
	tokReturnStatus = 0x79
	tokColMetadata  = 0x81
	tokError        = 0xAA
	tokInfo         = 0xAB
	tokLoginAck     = 0xAD
	tokRow          = 0xD1
	tokEnvChange    = 0xE3
	tokDone         = 0xFD
	tokDoneProc     = 0xFE
	tokDoneInProc   = 0xFF
)

// DONE status bits (MS-TDS 2.2.7.6).
const (
	doneFinal    = 0x00
	doneMore     = 0x01
	doneError    = 0x02
	doneInxact   = 0x04
	doneCount    = 0x10
	doneAttn     = 0x20
	doneSrvError = 0x100
)

// ENVCHANGE types (MS-TDS 2.2.7.9).
const (
	envDatabase     = 1
	envLanguage     = 2
	envPacketSize   = 4
	envCollation    = 7
	envBeginTran    = 8
	envCommitTran   = 9
	envRollbackTran = 10
	envResetAck     = 18
)

// TDS data type identifiers (MS-TDS 2.2.5.4).
const (
	tdsNull         = 0x1F
	tdsInt1         = 0x30
	tdsBit          = 0x32
	tdsInt2         = 0x34
	tdsInt4         = 0x38
	tdsDateTim4     = 0x3A
	tdsFlt4         = 0x3B
	tdsMoney        = 0x3C
	tdsDateTime     = 0x3D
	tdsFlt8         = 0x3E
	tdsMoney4       = 0x7A
	tdsInt8         = 0x7F
	tdsGUID         = 0x24
	tdsIntN         = 0x26
	tdsDecimal      = 0x37
	tdsNumeric      = 0x3F
	tdsBitN         = 0x68
	tdsDecimalN     = 0x6A
	tdsNumericN     = 0x6C
	tdsFltN         = 0x6D
	tdsMoneyN       = 0x6E
	tdsDateTimeN    = 0x6F
	tdsDateN        = 0x28
	tdsTimeN        = 0x29
	tdsDateTime2N   = 0x2A
	tdsDateTimeOffN = 0x2B
	tdsBigVarBin    = 0xA5
	tdsBigVarChar   = 0xA7
	tdsBigBinary    = 0xAD
	tdsBigChar      = 0xAF
	tdsNVarChar     = 0xE7
	tdsNChar        = 0xEF
	tdsXML          = 0xF1
	tdsUDT          = 0xF0
	tdsTVP          = 0xF3
	tdsText         = 0x23
	tdsImage        = 0x22
	tdsNText        = 0x63
	tdsVariant      = 0x62
	plpNull         = 0xFFFFFFFFFFFFFFFF
	plpUnknownLen   = 0xFFFFFFFFFFFFFFFE
	shortLenMax     = 0xFFFF
	maxNonPLPBytes  = 8000
	plpChunk        = 1 << 20
)

// collationDefault is SQL_Latin1_General_CP1_CI_AS as it appears on the
// wire: LCID 0x0409 with the ignore-case, ignore-width and ignore-kana
// flags (accent-sensitive), SQL sort order 52 (code page 1252).
var collationDefault = [5]byte{0x09, 0x04, 0xD0, 0x00, 0x34}

// collationBytes returns the 5-byte TDS collation for a collation name.
// Every collation this server knows uses code page 1252, which is what a
// client needs to decode CHAR and VARCHAR data.
func collationBytes(name string) [5]byte {
	u := strings.ToUpper(name)
	switch {
	case u == "" || u == "SQL_LATIN1_GENERAL_CP1_CI_AS":
		return collationDefault
	case strings.HasSuffix(u, "_BIN2"):
		return [5]byte{0x09, 0x04, 0x00, 0x02, 0x00} // fBinary2
	case strings.HasSuffix(u, "_BIN"):
		return [5]byte{0x09, 0x04, 0x00, 0x01, 0x00} // fBinary
	case strings.Contains(u, "_CS_"):
		return [5]byte{0x09, 0x04, 0xC0, 0x00, 0x00} // width and kana insensitive only
	default:
		return [5]byte{0x09, 0x04, 0xD0, 0x00, 0x00}
	}
}

// tokbuf accumulates tokens of a reply.
type tokbuf struct{ b []byte }

func (t *tokbuf) byte1(v byte)   { t.b = append(t.b, v) }
func (t *tokbuf) u16(v uint16)   { t.b = binary.LittleEndian.AppendUint16(t.b, v) }
func (t *tokbuf) u32(v uint32)   { t.b = binary.LittleEndian.AppendUint32(t.b, v) }
func (t *tokbuf) u64(v uint64)   { t.b = binary.LittleEndian.AppendUint64(t.b, v) }
func (t *tokbuf) bytes(v []byte) { t.b = append(t.b, v...) }
func (t *tokbuf) bvarchar(s string) {
	u := utf16.Encode([]rune(s))
	if len(u) > 255 {
		u = u[:255]
	}
	t.byte1(byte(len(u)))
	for _, c := range u {
		t.u16(c)
	}
}
func (t *tokbuf) usvarchar(s string) {
	u := utf16.Encode([]rune(s))
	if len(u) > 0xFFFF {
		u = u[:0xFFFF]
	}
	t.u16(uint16(len(u)))
	for _, c := range u {
		t.u16(c)
	}
}

func appendUCS2(b []byte, s string) []byte {
	for _, c := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}

// envChange appends an ENVCHANGE token with B_VARCHAR new and old values.
func (t *tokbuf) envChangeString(typ byte, newV, oldV string) {
	var body tokbuf
	body.byte1(typ)
	body.bvarchar(newV)
	body.bvarchar(oldV)
	t.byte1(tokEnvChange)
	t.u16(uint16(len(body.b)))
	t.bytes(body.b)
}

// envChangeBytes appends an ENVCHANGE token with B_VARBYTE values.
func (t *tokbuf) envChangeBytes(typ byte, newV, oldV []byte) {
	t.byte1(tokEnvChange)
	t.u16(uint16(1 + 1 + len(newV) + 1 + len(oldV)))
	t.byte1(typ)
	t.byte1(byte(len(newV)))
	t.bytes(newV)
	t.byte1(byte(len(oldV)))
	t.bytes(oldV)
}

// errorToken appends an ERROR (or INFO) token. line is the line number
// it reports when the engine does not know the error's own (e.Line).
func (t *tokbuf) errorToken(tok byte, e *tsql.Error, server string, line int32) {
	if e.Line > 0 {
		line = e.Line
	}
	var body tokbuf
	body.u32(uint32(e.Number))
	body.byte1(e.State)
	body.byte1(e.Class)
	body.usvarchar(e.Message)
	body.bvarchar(server)
	body.bvarchar("") // procedure name: batches and sp_executesql have none
	body.u32(uint32(line))
	t.byte1(tok)
	t.u16(uint16(len(body.b)))
	t.bytes(body.b)
}

// infoTokens appends one INFO token per informational message of a
// statement (PRINT's text, for instance).
func (t *tokbuf) infoTokens(msgs []*tsql.Error) {
	for _, m := range msgs {
		t.errorToken(tokInfo, m, serverName, 1)
	}
}

// done appends a DONE, DONEPROC or DONEINPROC token.
func (t *tokbuf) done(tok byte, status, curCmd uint16, rows uint64) {
	t.byte1(tok)
	t.u16(status)
	t.u16(curCmd)
	t.u64(rows)
}

// curCmd returns the DONE token's CurCmd for a statement kind: the values
// SQL Server sends (go-mssqldb only looks at SELECT's 0xC1).
func curCmd(kind string) uint16 {
	switch kind {
	case "SELECT":
		return 0xC1
	case "INSERT":
		return 0xC3
	case "DELETE":
		return 0xC4
	case "UPDATE":
		return 0xC5
	case "MERGE":
		return 0x117
	case "BEGIN TRAN":
		return 0xD4
	case "COMMIT", "ROLLBACK":
		return 0xD5
	}
	return 0
}

// colEnc is how one result column goes on the wire.
type colEnc struct {
	tdsType byte
	size    int // max length in bytes, or the fixed size of an N type
	plp     bool
	scale   int
	prec    int // DECIMALN and NUMERICN
	coll    [5]byte
	typ     tsql.Type
}

func wireColumn(c tsql.Column, rows [][]any, idx int) (colEnc, error) {
	e := colEnc{typ: c.Type}
	lenFor := func(perChar int) int {
		if c.Type.Length == tsql.MaxLength {
			e.plp = true
			return shortLenMax
		}
		n := c.Type.Length * perChar
		if n <= 0 {
			n = perChar
		}
		// A value longer than the declared length would be an engine bug;
		// switch to PLP rather than send a malformed row.
		for _, r := range rows {
			if idx < len(r) {
				if l := valueLen(r[idx], perChar); l > n {
					n = l
				}
			}
		}
		if n > maxNonPLPBytes {
			e.plp = true
			return shortLenMax
		}
		return n
	}
	switch c.Type.ID {
	case tsql.TypeNull, tsql.TypeInt:
		e.tdsType, e.size = tdsIntN, 4
	case tsql.TypeBit:
		e.tdsType, e.size = tdsBitN, 1
	case tsql.TypeTinyInt:
		e.tdsType, e.size = tdsIntN, 1
	case tsql.TypeSmallInt:
		e.tdsType, e.size = tdsIntN, 2
	case tsql.TypeBigInt:
		e.tdsType, e.size = tdsIntN, 8
	case tsql.TypeFloat:
		e.tdsType, e.size = tdsFltN, 8
	case tsql.TypeReal:
		e.tdsType, e.size = tdsFltN, 4
	case tsql.TypeChar:
		e.tdsType, e.coll = tdsBigChar, collationBytes(c.Type.Collation)
		e.size = lenFor(1)
	case tsql.TypeVarChar:
		e.tdsType, e.coll = tdsBigVarChar, collationBytes(c.Type.Collation)
		e.size = lenFor(1)
	case tsql.TypeNChar:
		e.tdsType, e.coll = tdsNChar, collationBytes(c.Type.Collation)
		e.size = lenFor(2)
	case tsql.TypeNVarChar:
		e.tdsType, e.coll = tdsNVarChar, collationBytes(c.Type.Collation)
		e.size = lenFor(2)
	case tsql.TypeBinary:
		e.tdsType = tdsBigBinary
		e.size = lenFor(1)
	case tsql.TypeVarBinary:
		e.tdsType = tdsBigVarBin
		e.size = lenFor(1)
	case tsql.TypeDate:
		e.tdsType = tdsDateN
	case tsql.TypeDateTime:
		e.tdsType, e.size = tdsDateTimeN, 8
	case tsql.TypeDateTime2:
		e.tdsType, e.scale = tdsDateTime2N, c.Type.Scale
	case tsql.TypeDateTimeOffset:
		e.tdsType, e.scale = tdsDateTimeOffN, c.Type.Scale
	case tsql.TypeTime:
		e.tdsType, e.scale = tdsTimeN, c.Type.Scale
	case tsql.TypeGUID:
		e.tdsType, e.size = tdsGUID, 16
	case tsql.TypeDecimal, tsql.TypeNumeric:
		// MS-TDS 2.2.5.5.1.6: a sign byte, then the magnitude in 4, 8, 12
		// or 16 bytes by precision.
		e.tdsType, e.size, e.prec, e.scale = tdsDecimalN, tsql.DecimalBytes(c.Type.Precision), c.Type.Precision, c.Type.Scale
		if c.Type.ID == tsql.TypeNumeric {
			e.tdsType = tdsNumericN
		}
		if e.prec < 1 || e.prec > 38 || c.Type.Scale < 0 || c.Type.Scale > e.prec {
			return e, fmt.Errorf("mssqltest: column %q has DECIMAL(%d,%d)", c.Name, e.prec, c.Type.Scale)
		}
		return e, nil
	case tsql.TypeMoney:
		e.tdsType, e.size = tdsMoneyN, 8
	case tsql.TypeSmallMoney:
		e.tdsType, e.size = tdsMoneyN, 4
	case tsql.TypeSmallDateTime:
		e.tdsType, e.size = tdsDateTimeN, 4
	case tsql.TypeText:
		// LONGLEN types (MS-TDS 2.2.5.4.3): the largest size, 2^31-1
		// bytes (2^30-1 characters for NTEXT).
		e.tdsType, e.size, e.coll = tdsText, math.MaxInt32, collationBytes(c.Type.Collation)
	case tsql.TypeNText:
		e.tdsType, e.size, e.coll = tdsNText, math.MaxInt32-1, collationBytes(c.Type.Collation)
	case tsql.TypeImage:
		e.tdsType, e.size = tdsImage, math.MaxInt32
	case tsql.TypeXML:
		// XMLTYPE (MS-TDS 2.2.5.4.3): no schema collection; the value is
		// UCS-2 text in PLP chunks.
		e.tdsType, e.plp = tdsXML, true
	case tsql.TypeVariant:
		e.tdsType, e.size = tdsVariant, variantMaxSize // variant.go
	default:
		return e, fmt.Errorf("mssqltest: column %q has engine type %d, which this server cannot send", c.Name, c.Type.ID)
	}
	if e.scale < 0 || e.scale > 7 {
		return e, fmt.Errorf("mssqltest: column %q has fractional-second scale %d", c.Name, e.scale)
	}
	return e, nil
}

func valueLen(v any, perChar int) int {
	switch v := v.(type) {
	case string:
		if perChar == 2 {
			return 2 * len(utf16.Encode([]rune(v)))
		}
		return len(v) // UTF-8 length is an upper bound of the code page 1252 length
	case []byte:
		return len(v)
	}
	return 0
}

// colMetadata appends a COLMETADATA token.
func (t *tokbuf) colMetadata(cols []tsql.Column, encs []colEnc) {
	t.byte1(tokColMetadata)
	t.u16(uint16(len(cols)))
	for i, c := range cols {
		e := encs[i]
		t.u32(0) // UserType
		flags := uint16(0)
		if c.Type.Nullable {
			flags |= 0x01
		}
		t.u16(flags)
		t.byte1(e.tdsType)
		switch e.tdsType {
		case tdsIntN, tdsBitN, tdsFltN, tdsDateTimeN, tdsGUID, tdsMoneyN:
			t.byte1(byte(e.size))
		case tdsDecimalN, tdsNumericN:
			t.byte1(byte(e.size))
			t.byte1(byte(e.prec))
			t.byte1(byte(e.scale))
		case tdsDateN:
		case tdsTimeN, tdsDateTime2N, tdsDateTimeOffN:
			t.byte1(byte(e.scale))
		case tdsBigChar, tdsBigVarChar, tdsNChar, tdsNVarChar:
			t.u16(uint16(e.size))
			t.bytes(e.coll[:])
		case tdsBigBinary, tdsBigVarBin:
			t.u16(uint16(e.size))
		case tdsXML:
			t.byte1(0) // SchemaPresent
		case tdsText, tdsNText, tdsImage:
			// The size, the collation of TEXT and NTEXT, then the table
			// name in parts: none, as for an expression.
			t.u32(uint32(e.size))
			if e.tdsType != tdsImage {
				t.bytes(e.coll[:])
			}
			t.byte1(0)
		case tdsVariant:
			t.u32(uint32(e.size))
		}
		t.bvarchar(c.Name)
	}
}

// row appends a ROW token.
func (t *tokbuf) row(vals []any, encs []colEnc) error {
	t.byte1(tokRow)
	for i, e := range encs {
		var v any
		if i < len(vals) {
			v = vals[i]
		}
		if err := t.value(v, e); err != nil {
			return err
		}
	}
	return nil
}

func (t *tokbuf) value(v any, e colEnc) error {
	if v == nil {
		t.null(e)
		return nil
	}
	switch e.tdsType {
	case tdsIntN:
		n, ok := asInt64(v)
		if !ok {
			return typeMismatch(v, e)
		}
		t.byte1(byte(e.size))
		switch e.size {
		case 1:
			t.byte1(byte(n))
		case 2:
			t.u16(uint16(n))
		case 4:
			t.u32(uint32(n))
		default:
			t.u64(uint64(n))
		}
	case tdsBitN:
		b, ok := v.(bool)
		if !ok {
			n, isInt := asInt64(v)
			if !isInt {
				return typeMismatch(v, e)
			}
			b = n != 0
		}
		t.byte1(1)
		if b {
			t.byte1(1)
		} else {
			t.byte1(0)
		}
	case tdsFltN:
		f, ok := v.(float64)
		if !ok {
			n, isInt := asInt64(v)
			if !isInt {
				return typeMismatch(v, e)
			}
			f = float64(n)
		}
		if e.size == 4 {
			t.byte1(4)
			t.u32(math.Float32bits(float32(f)))
			break
		}
		t.byte1(8)
		t.u64(math.Float64bits(f))
	case tdsBigChar, tdsBigVarChar, tdsNChar, tdsNVarChar, tdsBigBinary, tdsBigVarBin, tdsXML:
		return t.bytesValue(v, e)
	case tdsDateN, tdsTimeN, tdsDateTimeN, tdsDateTime2N, tdsDateTimeOffN:
		return t.timeValue(v, e)
	case tdsDecimalN, tdsNumericN, tdsMoneyN:
		return t.decimalValue(v, e)
	case tdsText, tdsNText, tdsImage:
		return t.lobValue(v, e)
	case tdsVariant:
		return t.variantValue(v) // variant.go
	case tdsGUID:
		// MS-TDS 2.2.5.5.1.1: the 16 bytes in SQL Server's order.
		g, ok := v.(tsql.GUID)
		if !ok {
			return typeMismatch(v, e)
		}
		t.byte1(16)
		t.bytes(g[:])
	default:
		return fmt.Errorf("mssqltest: cannot encode TDS type 0x%02X", e.tdsType)
	}
	return nil
}

// null appends the NULL of a column's encoding: a PLP NULL, the 0xFFFF
// length of the USHORT-length types, or a zero length.
func (t *tokbuf) null(e colEnc) {
	switch {
	case e.plp:
		t.u64(plpNull)
	case e.tdsType == tdsBigChar || e.tdsType == tdsBigVarChar || e.tdsType == tdsNChar ||
		e.tdsType == tdsNVarChar || e.tdsType == tdsBigBinary || e.tdsType == tdsBigVarBin:
		t.u16(0xFFFF)
	case e.tdsType == tdsVariant:
		t.u32(0)
	default:
		t.byte1(0)
	}
}

// bytesValue appends a character or binary value: UCS-2 for NCHAR and
// NVARCHAR, code page 1252 for CHAR and VARCHAR.
func (t *tokbuf) bytesValue(v any, e colEnc) error {
	var data []byte
	switch x := v.(type) {
	case string:
		switch e.tdsType {
		case tdsNChar, tdsNVarChar, tdsXML:
			data = appendUCS2(nil, x)
		case tdsBigBinary, tdsBigVarBin:
			data = []byte(x)
		default:
			data = toCP1252(x)
		}
	case []byte:
		if e.tdsType == tdsXML {
			return typeMismatch(v, e)
		}
		data = x
	default:
		return typeMismatch(v, e)
	}
	if e.plp {
		t.plp(data)
	} else {
		t.u16(uint16(len(data)))
		t.bytes(data)
	}
	return nil
}

// timeValue appends a DATE, TIME, DATETIME, DATETIME2 or DATETIMEOFFSET
// value.
func (t *tokbuf) timeValue(v any, e colEnc) error {
	tm, ok := v.(time.Time)
	if !ok {
		return typeMismatch(v, e)
	}
	var data []byte
	switch e.tdsType {
	case tdsDateN:
		data = encodeDate(tm)
	case tdsDateTimeN:
		if e.size == 4 {
			// SMALLDATETIME (MS-TDS 2.2.5.5.1.8): days since 1900-01-01
			// and minutes since midnight, two unsigned 16-bit integers.
			days := daysSince0001(tm) - daysSince0001(epoch1900)
			if days < 0 || days > 0xFFFF {
				return fmt.Errorf("mssqltest: SMALLDATETIME value %v is out of range", tm)
			}
			data = binary.LittleEndian.AppendUint16(nil, uint16(days))
			data = binary.LittleEndian.AppendUint16(data, uint16(tm.Hour()*60+tm.Minute()))
			break
		}
		data = encodeDateTime(tm)
	case tdsTimeN:
		// MS-TDS 2.2.5.5.1.8: the time of day alone, in units of
		// 10^-scale seconds, 3 to 5 bytes by scale.
		data = encodeTimeUnits(tm, e.scale)
	case tdsDateTime2N:
		data = encodeDateTime2(tm, e.scale)
	default:
		data = encodeDateTimeOffset(tm, e.scale)
	}
	t.byte1(byte(len(data)))
	t.bytes(data)
	return nil
}

// plp appends a PLP value with a known length, in chunks.
func (t *tokbuf) plp(data []byte) {
	t.u64(uint64(len(data)))
	for len(data) > 0 {
		n := min(len(data), plpChunk)
		t.u32(uint32(n))
		t.bytes(data[:n])
		data = data[n:]
	}
	t.u32(0)
}

func typeMismatch(v any, e colEnc) error {
	return fmt.Errorf("mssqltest: engine value of Go type %T does not fit TDS type 0x%02X", v, e.tdsType)
}

// asInt64 reads an integer value: the engine gives TINYINT to BIGINT as
// int64 and BIT as bool (see tsql.Type); any other Go type breaks that
// contract and is refused by the caller.
func asInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case bool:
		if n {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// Dates and times (MS-TDS 2.2.5.5.1.8 and following).

// daysSince0001 counts days from 0001-01-01 to t's date, in t's zone.
func daysSince0001(t time.Time) int {
	y := t.Year() - 1
	return y*365 + y/4 - y/100 + y/400 + t.YearDay() - 1
}

func encodeDate(t time.Time) []byte {
	d := daysSince0001(t)
	return []byte{byte(d), byte(d >> 8), byte(d >> 16)}
}

func timeLen(scale int) int {
	switch {
	case scale <= 2:
		return 3
	case scale <= 4:
		return 4
	}
	return 5
}

// encodeTimeUnits encodes the time of day in units of 10^-scale seconds,
// truncating further digits (the engine has already rounded the value to
// the column's scale, as SQL Server does on assignment).
func encodeTimeUnits(t time.Time, scale int) []byte {
	ns := int64(t.Hour()*3600+t.Minute()*60+t.Second())*1e9 + int64(t.Nanosecond())
	div := int64(1)
	for i := scale; i < 9; i++ {
		div *= 10
	}
	u := uint64(ns / div)
	b := make([]byte, timeLen(scale))
	for i := range b {
		b[i] = byte(u >> (8 * i))
	}
	return b
}

func encodeDateTime2(t time.Time, scale int) []byte {
	return append(encodeTimeUnits(t, scale), encodeDate(t)...)
}

// encodeDateTimeOffset sends the UTC date and time plus the offset in
// minutes, as the TDS format requires.
func encodeDateTimeOffset(t time.Time, scale int) []byte {
	_, off := t.Zone()
	u := t.UTC()
	b := append(encodeTimeUnits(u, scale), encodeDate(u)...)
	m := int16(off / 60)
	return binary.LittleEndian.AppendUint16(b, uint16(m))
}

var epoch1900 = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

// encodeDateTime encodes DATETIME: days since 1900-01-01 and 1/300 s
// ticks since midnight, rounded to the nearest tick.
func encodeDateTime(t time.Time) []byte {
	days := daysSince0001(t) - daysSince0001(epoch1900)
	ns := int64(t.Hour()*3600+t.Minute()*60+t.Second())*1e9 + int64(t.Nanosecond())
	ticks := (ns*3 + 5e6) / 1e7
	if ticks >= 300*86400 {
		days++
		ticks -= 300 * 86400
	}
	b := binary.LittleEndian.AppendUint32(nil, uint32(int32(days)))
	return binary.LittleEndian.AppendUint32(b, uint32(ticks))
}

// Code page 1252, the code page of SQL_Latin1_General_CP1_CI_AS.

var cp1252High = [32]rune{
	0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
	0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
}

// toCP1252 converts UTF-8 to code page 1252; characters the code page
// lacks become '?', as SQL Server's conversion does.
func toCP1252(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		switch {
		case r < 0x80 || (r >= 0xA0 && r <= 0xFF):
			b = append(b, byte(r))
		default:
			c := byte('?')
			for i, h := range cp1252High {
				if h == r && h != 0xFFFD {
					c = byte(0x80 + i)
					break
				}
			}
			b = append(b, c)
		}
	}
	return b
}

// fromCP1252 converts code page 1252 bytes to UTF-8.
func fromCP1252(b []byte) string {
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	var sb strings.Builder
	for _, c := range b {
		switch {
		case c < 0x80 || c >= 0xA0:
			sb.WriteRune(rune(c))
		default:
			sb.WriteRune(cp1252High[c-0x80])
		}
	}
	return sb.String()
}

func (t *tokbuf) loginAck(version uint32) {
	var body tokbuf
	body.byte1(1) // interface: SQL_TSQL
	body.b = binary.BigEndian.AppendUint32(body.b, version)
	body.bvarchar("mssqltest (test double, not SQL Server)")
	body.bytes([]byte{16, 0, 0x03, 0xE8}) // version 16.0.1000
	t.byte1(tokLoginAck)
	t.u16(uint16(len(body.b)))
	t.bytes(body.b)
}

// preloginReply is the server's PRELOGIN: version, ENCRYPT_NOT_SUP, no
// instance, no MARS.
func preloginReply() []byte {
	opts := []struct {
		tok  byte
		data []byte
	}{
		{preVersion, []byte{16, 0, 0x03, 0xE8, 0, 0}},
		{preEncryption, []byte{encryptNotSup}},
		{preInstOpt, []byte{0}},
		{preThreadID, nil},
		{preMARS, []byte{0}},
	}
	off := 5*len(opts) + 1
	var head, data []byte
	for _, o := range opts {
		head = append(head, o.tok)
		head = binary.BigEndian.AppendUint16(head, uint16(off+len(data)))
		head = binary.BigEndian.AppendUint16(head, uint16(len(o.data)))
		data = append(data, o.data...)
	}
	head = append(head, preTerminator)
	return append(head, data...)
}

// replyBody is what the reply to a request reports, in order.
type replyBody struct {
	rpc      bool          // DONEINPROC per statement, then RETURNSTATUS and DONEPROC
	pre      []*tsql.Error // errors raised before any statement ran
	results  []tsql.Result // one per statement that ran
	trailing *tsql.Error   // an engine failure after the statements, or nil
	env      []byte        // ENVCHANGE tokens, sent just before the final DONE
	inTran   bool          // a transaction is open when the reply is sent
	fatal    bool          // the connection already had a fatal error
}

// reply appends the tokens of a request's reply. Each statement ends
// with a DONE carrying DONE_MORE. A SQL batch ends with its last
// statement's DONE, DONE_MORE clear and the ENVCHANGE tokens just before
// it, unless an error follows the statements; then, and for an RPC, a
// token of its own closes the reply (MS-TDS 2.2.7.6, 3.2.5.1). It reports
// whether a statement failed with an error of class 20 or more, after
// which nothing more is sent and the connection is closed.
func (t *tokbuf) reply(b replyBody) (fatal bool) {
	inner := byte(tokDone)
	if b.rpc {
		inner = tokDoneInProc
	}
	anyErr := false
	for _, e := range b.pre {
		t.errorToken(tokError, e, serverName, 1)
		anyErr = true
	}
	sent := b.results
	for i, res := range sent {
		if res.Err != nil && res.Err.Class >= 20 {
			sent, fatal = sent[:i+1], true
			break
		}
	}
	lastIsFinal := !b.rpc && b.trailing == nil && len(sent) > 0
	for i, res := range sent {
		final := lastIsFinal && i == len(sent)-1
		if t.statement(res, inner, b.inTran, final, b.env) {
			anyErr = true
		}
	}
	if lastIsFinal {
		return fatal
	}
	if b.trailing != nil {
		t.errorToken(tokError, b.trailing, serverName, 1)
		anyErr = true
	}
	status := uint16(doneFinal)
	if anyErr {
		status |= doneError
	}
	if fatal || b.fatal {
		status |= doneSrvError
	}
	t.bytes(b.env)
	if b.rpc {
		t.byte1(tokReturnStatus)
		t.u32(0)
		t.done(tokDoneProc, status, 0, 0)
		return fatal
	}
	t.done(tokDone, status, 0, 0)
	return fatal
}

// statement appends one statement's tokens: INFO, its result set, ERROR
// and its DONE. final marks the reply's last DONE: env goes just before
// it and DONE_MORE is clear. It reports whether the statement failed.
func (t *tokbuf) statement(res tsql.Result, tok byte, inTran, final bool, env []byte) (failed bool) {
	status := uint16(doneMore)
	t.infoTokens(res.Messages)
	if res.Columns != nil {
		if err := t.resultSet(res); err != nil {
			t.errorToken(tokError, errServer(err), serverName, 1)
			status |= doneError
			failed = true
		}
	}
	if res.Err != nil {
		for _, p := range res.Err.Preceding {
			t.errorToken(tokError, p, serverName, 1)
		}
		t.errorToken(tokError, res.Err, serverName, 1)
		status |= doneError
		if res.Err.Class >= 20 {
			// MS-TDS: DONE_SRVERROR marks an error severe enough to
			// discard the results; SQL Server closes the connection
			// after an error of severity 20 or more, and the flag
			// lets the client discard the connection at once.
			status |= doneSrvError
		}
		failed = true
	}
	if res.HasCount {
		status |= doneCount
	}
	if inTran {
		status |= doneInxact
	}
	if final {
		status &^= doneMore
		t.bytes(env)
	}
	t.done(tok, status, curCmd(strings.ToUpper(res.Kind)), uint64(max(res.RowCount, 0)))
	return failed
}

// resultSet appends COLMETADATA and ROW tokens for a result.
func (t *tokbuf) resultSet(res tsql.Result) error {
	encs := make([]colEnc, len(res.Columns))
	for i, col := range res.Columns {
		e, err := wireColumn(col, res.Rows, i)
		if err != nil {
			return err
		}
		encs[i] = e
	}
	mark := len(t.b)
	t.colMetadata(res.Columns, encs)
	for _, row := range res.Rows {
		if err := t.row(row, encs); err != nil {
			t.b = t.b[:mark]
			return err
		}
	}
	return nil
}

// decimalValue appends a DECIMALN, NUMERICN or MONEYN value. DECIMAL is
// a sign byte (1 for positive) and the magnitude of the coefficient at
// the column's scale, little-endian; MONEY is the count of
// ten-thousandths, the high 32 bits first, and SMALLMONEY the count as a
// 32-bit integer (MS-TDS 2.2.5.5.1.3).
func (t *tokbuf) decimalValue(v any, e colEnc) error {
	d, ok := v.(tsql.Decimal)
	if !ok {
		return typeMismatch(v, e)
	}
	if e.tdsType == tdsMoneyN {
		c := d.Coef()
		if d.Scale() != 4 || !c.IsInt64() || e.size == 4 && (c.Int64() < math.MinInt32 || c.Int64() > math.MaxInt32) {
			return fmt.Errorf("mssqltest: %s does not fit MONEYN(%d)", d, e.size)
		}
		n := c.Int64()
		t.byte1(byte(e.size))
		if e.size == 4 {
			t.u32(uint32(int32(n)))
			return nil
		}
		t.u32(uint32(uint64(n) >> 32))
		t.u32(uint32(n))
		return nil
	}
	if d.Scale() != e.scale {
		return fmt.Errorf("mssqltest: %s does not have the scale of DECIMAL(%d,%d)", d, e.prec, e.scale)
	}
	c := d.Coef()
	sign := byte(1)
	if c.Sign() < 0 {
		sign = 0
		c.Neg(c)
	}
	mag := c.Bytes() // big-endian
	if len(mag) > e.size-1 {
		return fmt.Errorf("mssqltest: %s does not fit DECIMAL(%d,%d)", d, e.prec, e.scale)
	}
	t.byte1(byte(e.size))
	t.byte1(sign)
	for i := len(mag) - 1; i >= 0; i-- {
		t.byte1(mag[i])
	}
	for i := len(mag); i < e.size-1; i++ {
		t.byte1(0)
	}
	return nil
}

// textPtr is the text pointer sent before a TEXT, NTEXT or IMAGE value.
// Clients read past it (it names the value's storage for the old
// READTEXT and WRITETEXT statements, which this server does not have).
var textPtr = [16]byte{'m', 's', 's', 'q', 'l', 't', 'e', 's', 't', ' ', 't', 'e', 'x', 't', 'p', 't'}

// lobValue appends a TEXT, NTEXT or IMAGE value (MS-TDS 2.2.5.2.3): the
// text pointer's length and bytes, an 8-byte timestamp, then the data
// with a 4-byte length: code page 1252 for TEXT, UCS-2 for NTEXT.
func (t *tokbuf) lobValue(v any, e colEnc) error {
	var data []byte
	switch x := v.(type) {
	case string:
		switch e.tdsType {
		case tdsNText:
			data = appendUCS2(nil, x)
		case tdsText:
			data = toCP1252(x)
		default:
			return typeMismatch(v, e)
		}
	case []byte:
		if e.tdsType != tdsImage {
			return typeMismatch(v, e)
		}
		data = x
	default:
		return typeMismatch(v, e)
	}
	if len(data) > math.MaxInt32 {
		return fmt.Errorf("mssqltest: %d bytes do not fit a TEXT, NTEXT or IMAGE value", len(data))
	}
	t.byte1(byte(len(textPtr)))
	t.bytes(textPtr[:])
	t.u64(0)
	t.u32(uint32(len(data)))
	t.bytes(data)
	return nil
}
