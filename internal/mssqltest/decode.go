package mssqltest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/scs-contrib/mssqlstore/internal/tsql"
)

// errShort reports a request that ended in the middle of a field.
var errShort = errors.New("mssqltest: request message is truncated")

// reader decodes a request message.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) next(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || r.left() < n {
		r.fail(errShort)
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) u8() byte {
	if b := r.next(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.next(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.next(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.next(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *reader) ucs2(nchars int) string {
	return ucs2String(r.next(2 * nchars))
}

func (r *reader) bvarchar() string  { return r.ucs2(int(r.u8())) }
func (r *reader) usvarchar() string { return r.ucs2(int(r.u16())) }

// ucs2String decodes UTF-16LE (an odd last byte is dropped; an unpaired
// surrogate becomes U+FFFD, as utf16.Decode does). It builds the string
// directly, without a rune slice four times the text's length.
func ucs2String(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) / 2)
	for i := 0; i+1 < len(b); i += 2 {
		u := rune(binary.LittleEndian.Uint16(b[i:]))
		switch {
		case u < utf8.RuneSelf:
			sb.WriteByte(byte(u))
			continue
		case utf16.IsSurrogate(u):
			r := utf8.RuneError
			if i+3 < len(b) {
				if r2 := utf16.DecodeRune(u, rune(binary.LittleEndian.Uint16(b[i+2:]))); r2 != utf8.RuneError {
					r = r2
					i += 2
				}
			}
			u = r
		}
		sb.WriteRune(u)
	}
	return sb.String()
}

// skipAllHeaders skips the ALL_HEADERS block (MS-TDS 2.2.5.3) that TDS
// 7.2 and later put in front of SQL batch, RPC and transaction manager
// requests. Its only header the server would use is the transaction
// descriptor, and a connection has one transaction at a time.
func (r *reader) skipAllHeaders() {
	if r.left() < 4 {
		r.fail(errShort)
		return
	}
	total := int(binary.LittleEndian.Uint32(r.b[r.off:]))
	if total < 4 || total > r.left() {
		r.fail(fmt.Errorf("mssqltest: ALL_HEADERS length %d is invalid", total))
		return
	}
	r.off += total
}

// rpcCall is one decoded RPC request.
type rpcCall struct {
	procID   uint16 // when called by id
	procName string // when called by name
	params   []rpcParam
}

// rpcParam is one decoded RPC parameter.
type rpcParam struct {
	name     string
	wireType string
	param    tsql.Param
}

// unsupportedError names a construct on the wire this server does not
// implement; it goes back to the client as an error, never silently.
type unsupportedError struct{ what string }

func (e *unsupportedError) Error() string {
	return "mssqltest: " + e.what + " is not supported by this test server"
}

// errParamLimit reports a request with more parameters than SQL Server
// accepts (8003); decoding stops at the first one past the limit.
var errParamLimit = errors.New("mssqltest: more than 2,100 parameters")

// parseRPC decodes an RPC request (MS-TDS 2.2.6.6) after ALL_HEADERS.
// Only one RPC per request is accepted; go-mssqldb never batches them.
func parseRPC(r *reader) (rpcCall, error) {
	var c rpcCall
	n := r.u16()
	if n == 0xFFFF {
		c.procID = r.u16()
	} else {
		c.procName = r.ucs2(int(n))
	}
	_ = r.u16() // option flags: WITH RECOMPILE, NO METADATA; nothing to do
	for r.err == nil && r.left() > 0 {
		if b := r.b[r.off]; b == 0x80 || b == 0xFF || b == 0xFE {
			return c, &unsupportedError{"several RPC calls in one request"}
		}
		if len(c.params) == maxParams {
			return c, errParamLimit
		}
		p, err := parseParam(r, len(c.params))
		if err != nil {
			return c, err
		}
		c.params = append(c.params, p)
	}
	return c, r.err
}

// typeInfo is a decoded TYPE_INFO.
type typeInfo struct {
	id        byte
	size      int // max length for variable types, or the fixed size
	plp       bool
	scale     int
	prec      int
	collation [5]byte
}

func parseTypeInfo(r *reader) typeInfo {
	ti := typeInfo{id: r.u8()}
	switch ti.id {
	case tdsNull:
	case tdsInt1, tdsBit:
		ti.size = 1
	case tdsInt2:
		ti.size = 2
	case tdsInt4, tdsDateTim4, tdsFlt4, tdsMoney4:
		ti.size = 4
	case tdsMoney, tdsDateTime, tdsFlt8, tdsInt8:
		ti.size = 8
	case tdsDateN:
		ti.size = 3
	case tdsTimeN, tdsDateTime2N, tdsDateTimeOffN:
		ti.scale = int(r.u8())
		if ti.scale > 7 {
			r.fail(fmt.Errorf("mssqltest: fractional-second scale %d is invalid", ti.scale))
		}
	case tdsGUID, tdsIntN, tdsBitN, tdsFltN, tdsMoneyN, tdsDateTimeN:
		ti.size = int(r.u8())
	case tdsDecimalN, tdsNumericN, tdsDecimal, tdsNumeric:
		ti.size = int(r.u8())
		ti.prec = int(r.u8())
		ti.scale = int(r.u8())
	case tdsBigVarBin, tdsBigBinary, tdsBigVarChar, tdsBigChar, tdsNVarChar, tdsNChar:
		ti.size = int(r.u16())
		if ti.size == shortLenMax {
			ti.plp = true
		}
		switch ti.id {
		case tdsBigVarChar, tdsBigChar, tdsNVarChar, tdsNChar:
			copy(ti.collation[:], r.next(5))
		}
	case tdsTVP:
	default:
		r.fail(&unsupportedError{fmt.Sprintf("parameters of type %s (TDS data type 0x%02X)", tdsTypeName(ti.id), ti.id)})
	}
	return ti
}

func tdsTypeName(id byte) string {
	switch id {
	case tdsGUID:
		return "UNIQUEIDENTIFIER"
	case tdsTimeN:
		return "TIME"
	case tdsDecimalN, tdsDecimal:
		return "DECIMAL"
	case tdsNumericN, tdsNumeric:
		return "NUMERIC"
	case tdsMoney4:
		return "SMALLMONEY"
	case tdsMoneyN, tdsMoney:
		return "MONEY"
	case tdsDateTim4:
		return "SMALLDATETIME"
	case tdsXML:
		return "XML"
	case tdsUDT:
		return "CLR UDT"
	case tdsText:
		return "TEXT"
	case tdsNText:
		return "NTEXT"
	case tdsImage:
		return "IMAGE"
	case tdsVariant:
		return "SQL_VARIANT"
	case 0x27, 0x2F, 0x25, 0x2D:
		return "legacy CHAR/VARCHAR/BINARY/VARBINARY"
	}
	return "unknown"
}

// wireName is the type as SQL Server names it, with facets.
func (ti typeInfo) wireName() string {
	length := func(perChar int) string {
		if ti.plp {
			return "MAX"
		}
		return fmt.Sprint(ti.size / perChar)
	}
	switch ti.id {
	case tdsNull:
		return "NULL"
	case tdsInt1:
		return "TINYINT"
	case tdsBit, tdsBitN:
		return "BIT"
	case tdsInt2:
		return "SMALLINT"
	case tdsInt4:
		return "INT"
	case tdsInt8:
		return "BIGINT"
	case tdsIntN:
		switch ti.size {
		case 1:
			return "TINYINT"
		case 2:
			return "SMALLINT"
		case 4:
			return "INT"
		}
		return "BIGINT"
	case tdsFlt4:
		return "REAL"
	case tdsFlt8:
		return "FLOAT"
	case tdsFltN:
		if ti.size == 4 {
			return "REAL"
		}
		return "FLOAT"
	case tdsDateTime:
		return "DATETIME"
	case tdsDateTimeN:
		if ti.size == 4 {
			return "SMALLDATETIME"
		}
		return "DATETIME"
	case tdsDateN:
		return "DATE"
	case tdsMoneyN:
		if ti.size == 4 {
			return "SMALLMONEY"
		}
		return "MONEY"
	case tdsDecimalN, tdsNumericN:
		return fmt.Sprintf("%s(%d,%d)", tdsTypeName(ti.id), ti.prec, ti.scale)
	case tdsTimeN:
		return fmt.Sprintf("TIME(%d)", ti.scale)
	case tdsDateTime2N:
		return fmt.Sprintf("DATETIME2(%d)", ti.scale)
	case tdsDateTimeOffN:
		return fmt.Sprintf("DATETIMEOFFSET(%d)", ti.scale)
	case tdsBigVarBin:
		return "VARBINARY(" + length(1) + ")"
	case tdsBigBinary:
		return "BINARY(" + length(1) + ")"
	case tdsBigVarChar:
		return "VARCHAR(" + length(1) + ")"
	case tdsBigChar:
		return "CHAR(" + length(1) + ")"
	case tdsNVarChar:
		return "NVARCHAR(" + length(2) + ")"
	case tdsNChar:
		return "NCHAR(" + length(2) + ")"
	case tdsTVP:
		return "TVP"
	}
	return tdsTypeName(ti.id)
}

// engineType maps a TYPE_INFO to the engine's type.
func (ti typeInfo) engineType() (tsql.Type, error) {
	t := tsql.Type{Nullable: true}
	length := func(perChar int) int {
		if ti.plp {
			return tsql.MaxLength
		}
		return ti.size / perChar
	}
	switch ti.id {
	case tdsNull:
		t.ID = tsql.TypeNull
	case tdsBit, tdsBitN:
		t.ID = tsql.TypeBit
	case tdsInt1:
		t.ID = tsql.TypeTinyInt
	case tdsInt2:
		t.ID = tsql.TypeSmallInt
	case tdsInt4:
		t.ID = tsql.TypeInt
	case tdsInt8:
		t.ID = tsql.TypeBigInt
	case tdsIntN:
		switch ti.size {
		case 1:
			t.ID = tsql.TypeTinyInt
		case 2:
			t.ID = tsql.TypeSmallInt
		case 4:
			t.ID = tsql.TypeInt
		case 8:
			t.ID = tsql.TypeBigInt
		default:
			return t, fmt.Errorf("mssqltest: INTN of length %d is invalid", ti.size)
		}
	case tdsFlt4, tdsFlt8, tdsFltN:
		t.ID = tsql.TypeFloat
		if ti.id == tdsFlt4 || ti.size == 4 {
			t.ID = tsql.TypeReal
		}
	case tdsDateTime:
		t.ID = tsql.TypeDateTime
	case tdsDateTimeN:
		switch ti.size {
		case 4:
			t.ID = tsql.TypeSmallDateTime
		case 8:
			t.ID = tsql.TypeDateTime
		default:
			return t, fmt.Errorf("mssqltest: DATETIMEN of length %d is invalid", ti.size)
		}
	case tdsDateTim4:
		t.ID = tsql.TypeSmallDateTime
	case tdsMoney:
		t.ID = tsql.TypeMoney
	case tdsMoney4:
		t.ID = tsql.TypeSmallMoney
	case tdsMoneyN:
		switch ti.size {
		case 4:
			t.ID = tsql.TypeSmallMoney
		case 8:
			t.ID = tsql.TypeMoney
		default:
			return t, fmt.Errorf("mssqltest: MONEYN of length %d is invalid", ti.size)
		}
	case tdsDecimalN, tdsNumericN:
		if ti.prec < 1 || ti.prec > 38 || ti.scale > ti.prec || ti.size != tsql.DecimalBytes(ti.prec) && ti.size != 17 {
			return t, fmt.Errorf("mssqltest: %s(%d,%d) of length %d is invalid", tdsTypeName(ti.id), ti.prec, ti.scale, ti.size)
		}
		t.ID, t.Precision, t.Scale = tsql.TypeDecimal, ti.prec, ti.scale
		if ti.id == tdsNumericN {
			t.ID = tsql.TypeNumeric
		}
	case tdsDateN:
		t.ID = tsql.TypeDate
	case tdsTimeN:
		t.ID, t.Scale = tsql.TypeTime, ti.scale
	case tdsGUID:
		if ti.size != 16 {
			return t, fmt.Errorf("mssqltest: UNIQUEIDENTIFIER of length %d is invalid", ti.size)
		}
		t.ID = tsql.TypeGUID
	case tdsDateTime2N:
		t.ID, t.Scale = tsql.TypeDateTime2, ti.scale
	case tdsDateTimeOffN:
		t.ID, t.Scale = tsql.TypeDateTimeOffset, ti.scale
	case tdsBigVarBin:
		t.ID, t.Length = tsql.TypeVarBinary, length(1)
	case tdsBigBinary:
		t.ID, t.Length = tsql.TypeBinary, length(1)
	case tdsBigVarChar:
		t.ID, t.Length = tsql.TypeVarChar, length(1)
	case tdsBigChar:
		t.ID, t.Length = tsql.TypeChar, length(1)
	case tdsNVarChar:
		t.ID, t.Length = tsql.TypeNVarChar, length(2)
	case tdsNChar:
		t.ID, t.Length = tsql.TypeNChar, length(2)
	case tdsTVP:
		t.ID = tsql.TypeTable
	default:
		return t, &unsupportedError{fmt.Sprintf("parameters of type %s", ti.wireName())}
	}
	return t, nil
}

// parseParam decodes one RPC parameter: name, status flags, TYPE_INFO,
// value (MS-TDS 2.2.6.6, ParameterData).
func parseParam(r *reader, ordinal int) (rpcParam, error) {
	var p rpcParam
	p.name = r.bvarchar()
	status := r.u8()
	if status&0x01 != 0 {
		return p, &unsupportedError{"OUTPUT parameters"}
	}
	if status&0x08 != 0 {
		return p, &unsupportedError{"encrypted (Always Encrypted) parameters"}
	}
	ti := parseTypeInfo(r)
	if r.err != nil {
		return p, r.err
	}
	label := p.name
	if label == "" {
		label = fmt.Sprintf("#%d", ordinal+1)
	}
	if ti.id == tdsTVP {
		tv, err := parseTVP(r)
		if err != nil {
			return p, fmt.Errorf("parameter %s: %w", label, err)
		}
		p.wireType = "TVP " + tv.TypeName
		p.param = tsql.Param{Name: p.name, Type: tsql.Type{ID: tsql.TypeTable}, Value: tv}
		return p, nil
	}
	t, err := ti.engineType()
	if err != nil {
		return p, fmt.Errorf("parameter %s: %w", label, err)
	}
	v, err := parseValue(r, ti)
	if err != nil {
		return p, fmt.Errorf("parameter %s: %w", label, err)
	}
	p.wireType = ti.wireName()
	p.param = tsql.Param{Name: p.name, Type: t, Value: v}
	return p, nil
}

// parseValue decodes a value of a TYPE_INFO into the engine's Go value.
func parseValue(r *reader, ti typeInfo) (any, error) {
	var raw []byte
	switch ti.id {
	case tdsNull:
		return nil, r.err
	case tdsInt1, tdsBit, tdsInt2, tdsInt4, tdsInt8, tdsFlt4, tdsFlt8, tdsDateTime, tdsDateTim4, tdsMoney, tdsMoney4:
		raw = r.next(ti.size)
	case tdsIntN, tdsBitN, tdsFltN, tdsDateTimeN, tdsDateN, tdsTimeN, tdsDateTime2N, tdsDateTimeOffN, tdsGUID,
		tdsMoneyN, tdsDecimalN, tdsNumericN:
		n := int(r.u8())
		if n == 0 {
			return nil, r.err
		}
		raw = r.next(n)
	case tdsBigVarBin, tdsBigBinary, tdsBigVarChar, tdsBigChar, tdsNVarChar, tdsNChar:
		if ti.plp {
			b, isNull, err := readPLP(r)
			if err != nil || isNull {
				return nil, err
			}
			raw = b
		} else {
			n := int(r.u16())
			if n == 0xFFFF {
				return nil, r.err
			}
			raw = r.next(n)
		}
		if r.err != nil {
			return nil, r.err
		}
		switch ti.id {
		case tdsBigVarBin, tdsBigBinary:
			return append([]byte{}, raw...), nil
		case tdsNVarChar, tdsNChar:
			if len(raw)%2 != 0 {
				return nil, errors.New("mssqltest: UCS-2 value of odd length")
			}
			return ucs2String(raw), nil
		default:
			return decodeChars(raw, ti.collation), nil
		}
	default:
		return nil, &unsupportedError{fmt.Sprintf("values of type %s", ti.wireName())}
	}
	if r.err != nil {
		return nil, r.err
	}
	return decodeFixed(raw, ti)
}

// decodeChars decodes CHAR/VARCHAR bytes in their collation's code page.
// A collation with the UTF-8 flag means UTF-8; every other collation this
// server knows (and the all-zero collation go-mssqldb sends, which SQL
// Server reads as the database default) means code page 1252.
func decodeChars(b []byte, coll [5]byte) string {
	if coll[3]&0x04 != 0 { // fUTF8
		return string(b)
	}
	return fromCP1252(b)
}

func decodeFixed(b []byte, ti typeInfo) (any, error) {
	switch ti.id {
	case tdsBit, tdsBitN:
		if len(b) != 1 {
			return nil, fmt.Errorf("mssqltest: BIT value of length %d", len(b))
		}
		return b[0] != 0, nil
	case tdsInt1, tdsInt2, tdsInt4, tdsInt8, tdsIntN:
		switch len(b) {
		case 1:
			return int64(b[0]), nil
		case 2:
			return int64(int16(binary.LittleEndian.Uint16(b))), nil
		case 4:
			return int64(int32(binary.LittleEndian.Uint32(b))), nil
		case 8:
			return int64(binary.LittleEndian.Uint64(b)), nil
		}
	case tdsFlt4, tdsFlt8, tdsFltN:
		switch len(b) {
		case 4:
			return float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), nil
		case 8:
			return math.Float64frombits(binary.LittleEndian.Uint64(b)), nil
		}
	case tdsMoney, tdsMoney4, tdsMoneyN:
		// MS-TDS 2.2.5.5.1.3: ten-thousandths, MONEY's high 32 bits
		// first.
		switch len(b) {
		case 4:
			return tsql.NewDecimal(big.NewInt(int64(int32(binary.LittleEndian.Uint32(b)))), 4), nil
		case 8:
			n := int64(binary.LittleEndian.Uint32(b))<<32 | int64(binary.LittleEndian.Uint32(b[4:]))
			return tsql.NewDecimal(big.NewInt(n), 4), nil
		}
	case tdsDecimalN, tdsNumericN:
		// MS-TDS 2.2.5.5.1.6: a sign byte (1 positive, 0 negative), then
		// the magnitude little-endian; no more digits than the precision.
		if len(b) >= 5 && len(b) <= 17 && (len(b)-1)%4 == 0 && b[0] <= 1 {
			mag := make([]byte, len(b)-1)
			for i := range mag {
				mag[i] = b[len(b)-1-i]
			}
			c := new(big.Int).SetBytes(mag)
			if c.Cmp(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(ti.prec)), nil)) >= 0 {
				return nil, fmt.Errorf("mssqltest: %s value has more than %d digits", ti.wireName(), ti.prec)
			}
			if b[0] == 0 {
				c.Neg(c)
			}
			return tsql.NewDecimal(c, ti.scale), nil
		}
	case tdsDateTim4:
		if len(b) == 4 && binary.LittleEndian.Uint16(b[2:]) < 24*60 {
			return smallDateTime(b), nil
		}
	case tdsDateTime, tdsDateTimeN:
		if len(b) == 4 && ti.id == tdsDateTimeN && binary.LittleEndian.Uint16(b[2:]) < 24*60 {
			return smallDateTime(b), nil
		}
		if len(b) == 8 {
			days := int32(binary.LittleEndian.Uint32(b))
			ticks := int64(binary.LittleEndian.Uint32(b[4:]))
			// 1/300 s ticks, rounded to the nanosecond as SQL Server
			// presents them (.003 and .007 are 3.33 and 6.67 ms).
			ns := (ticks*1e7 + 1) / 3
			return epoch1900.AddDate(0, 0, int(days)).Add(time.Duration(ns)), nil
		}
	case tdsDateN:
		if len(b) == 3 {
			return dateFromDays(b), nil
		}
	case tdsGUID:
		if len(b) == 16 {
			var g tsql.GUID
			copy(g[:], b)
			return g, nil
		}
	case tdsTimeN:
		// A time of day: fewer units than a day's, or the value is
		// malformed (SQL Server rejects it as an invalid parameter).
		if len(b) == timeLen(ti.scale) {
			d := timeFromUnits(b, ti.scale)
			if d >= 24*time.Hour {
				return nil, fmt.Errorf("mssqltest: TIME(%d) value of %v is past midnight", ti.scale, d)
			}
			return epoch1900.Add(d), nil
		}
	case tdsDateTime2N:
		tl := timeLen(ti.scale)
		if len(b) == tl+3 {
			return dateFromDays(b[tl:]).Add(timeFromUnits(b[:tl], ti.scale)), nil
		}
	case tdsDateTimeOffN:
		tl := timeLen(ti.scale)
		if len(b) == tl+5 {
			utc := dateFromDays(b[tl : tl+3]).Add(timeFromUnits(b[:tl], ti.scale))
			off := int(int16(binary.LittleEndian.Uint16(b[tl+3:])))
			return utc.In(time.FixedZone(offsetName(off), off*60)), nil
		}
	}
	return nil, fmt.Errorf("mssqltest: %s value of length %d is invalid", ti.wireName(), len(b))
}

func offsetName(min int) string {
	sign := '+'
	if min < 0 {
		sign, min = '-', -min
	}
	return fmt.Sprintf("%c%02d:%02d", sign, min/60, min%60)
}

var epoch0001 = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)

func dateFromDays(b []byte) time.Time {
	d := int(b[0]) | int(b[1])<<8 | int(b[2])<<16
	return epoch0001.AddDate(0, 0, d)
}

func timeFromUnits(b []byte, scale int) time.Duration {
	var u uint64
	for i := len(b) - 1; i >= 0; i-- {
		u = u<<8 | uint64(b[i])
	}
	for i := scale; i < 9; i++ {
		u *= 10
	}
	return time.Duration(u)
}

// readPLP reads a PLP value (MS-TDS 2.2.5.2.3): a total length (or
// PLP_NULL, or unknown) followed by chunks up to a zero-length terminator.
func readPLP(r *reader) ([]byte, bool, error) {
	total := r.u64()
	if r.err != nil {
		return nil, false, r.err
	}
	if total == plpNull {
		return nil, true, nil
	}
	var out []byte
	if total != plpUnknownLen {
		// The value is in the message already: a declared length past
		// its end is a lie, and the buffer is sized only after that
		// check, never from the declaration alone.
		if total > uint64(r.left()) {
			return nil, false, fmt.Errorf("mssqltest: PLP length %d is past the end of the message (%d bytes left)", total, r.left())
		}
		out = make([]byte, 0, int(total))
	}
	for {
		n := r.u32()
		if r.err != nil {
			return nil, false, r.err
		}
		if n == 0 {
			break
		}
		out = append(out, r.next(int(n))...)
		if r.err != nil {
			return nil, false, r.err
		}
	}
	if total != plpUnknownLen && uint64(len(out)) != total {
		return nil, false, fmt.Errorf("mssqltest: PLP value announced %d bytes and carried %d", total, len(out))
	}
	if out == nil {
		out = []byte{}
	}
	return out, false, nil
}

// Limits on a table-valued parameter. SQL Server allows 1,024 columns in
// a table type. It has no limit of its own on rows but memory; this
// server holds a TVP as a slice of rows of 16-byte cells, and bounds the
// cells at 2^21 (32 MiB of cells; 699,050 sessions of the store's
// three-column batch type).
const (
	maxTVPColumns = 1024
	maxTVPCells   = 1 << 21
)

// parseTVP decodes a table-valued parameter (MS-TDS 2.2.5.5.5): type
// name, column metadata, optional metadata, rows.
func parseTVP(r *reader) (*tsql.TableValue, error) {
	db := r.bvarchar()
	schema := r.bvarchar()
	name := r.bvarchar()
	if r.err != nil {
		return nil, r.err
	}
	if db != "" {
		return nil, &unsupportedError{"a table type qualified with a database name"}
	}
	// The wire carries each part of the name as it is, unquoted (MS-TDS
	// 2.2.6.9, TVP_TYPENAME); SQL Server takes a name such as
	// "sessions batch" literally. TypeName is SQL text: bracket each part.
	tv := &tsql.TableValue{TypeName: bracket(name)}
	if schema != "" {
		tv.TypeName = bracket(schema) + "." + bracket(name)
	}
	cols, defaults, err := parseTVPColumns(r, tv)
	if err != nil {
		return nil, err
	}
	if err := skipTVPMetadata(r); err != nil {
		return nil, err
	}
	if err := parseTVPRows(r, tv, cols, defaults); err != nil {
		return nil, err
	}
	if r.err != nil {
		return nil, r.err
	}
	if tv.Rows == nil {
		tv.Rows = [][]any{}
	}
	if strings.TrimSpace(name) == "" {
		return nil, errors.New("mssqltest: TVP without a type name")
	}
	return tv, nil
}

// parseTVPColumns reads a TVP's column metadata into tv.Columns. It
// returns each column's wire type and whether it is sent at all.
func parseTVPColumns(r *reader, tv *tsql.TableValue) (cols []typeInfo, defaults []bool, err error) {
	count := r.u16()
	if count == 0xFFFF { // TVP_NULL_TOKEN: no columns
		return nil, nil, nil
	}
	if count > maxTVPColumns {
		return nil, nil, fmt.Errorf("mssqltest: table-valued parameter of %d columns; SQL Server allows %d", count, maxTVPColumns)
	}
	for i := 0; i < int(count) && r.err == nil; i++ {
		_ = r.u32() // UserType
		flags := r.u16()
		ti := parseTypeInfo(r)
		colName := r.bvarchar()
		if r.err != nil {
			return nil, nil, r.err
		}
		if ti.id == tdsTVP {
			return nil, nil, &unsupportedError{"a table type nested in a table type"}
		}
		t, err := ti.engineType()
		if err != nil {
			return nil, nil, fmt.Errorf("TVP column %d: %w", i+1, err)
		}
		if colName == "" {
			colName = fmt.Sprintf("column%d", i+1)
		}
		tv.Columns = append(tv.Columns, tsql.Column{Name: colName, Type: t})
		cols = append(cols, ti)
		// fDefault (0x200): the column is not sent in the rows and
		// takes its default.
		defaults = append(defaults, flags&0x200 != 0)
	}
	return cols, defaults, nil
}

// skipTVPMetadata skips the optional metadata: TVP_ORDER_UNIQUE (0x10)
// and TVP_COLUMN_ORDERING (0x11) are accepted and ignored;
// TVP_END_TOKEN (0x00) ends them.
func skipTVPMetadata(r *reader) error {
	for r.err == nil {
		tok := r.u8()
		if tok == 0x00 {
			break
		}
		switch tok {
		case 0x10:
			n := int(r.u16())
			r.next(n * 3)
		case 0x11:
			n := int(r.u16())
			r.next(n * 2)
		default:
			return fmt.Errorf("mssqltest: TVP optional metadata token 0x%02X is invalid", tok)
		}
	}
	return nil
}

// parseTVPRows reads TVP_ROW tokens into tv.Rows up to TVP_END_TOKEN.
func parseTVPRows(r *reader, tv *tsql.TableValue, cols []typeInfo, defaults []bool) error {
	cells := 0
	for r.err == nil {
		tok := r.u8()
		if tok == 0x00 {
			break
		}
		if tok != 0x01 {
			return fmt.Errorf("mssqltest: TVP row token 0x%02X is invalid", tok)
		}
		// Columns sent with the default flag, or typed NULL, take no
		// bytes in a row, so a one-byte row may stand for 1,024 cells:
		// the cells are bounded on their own.
		if cells += len(cols); cells > maxTVPCells {
			return fmt.Errorf("mssqltest: table-valued parameter of more than %d values (rows times columns); this test server's limit", maxTVPCells)
		}
		row := make([]any, len(cols))
		for i, ti := range cols {
			if defaults[i] {
				continue
			}
			v, err := parseValue(r, ti)
			if err != nil {
				return fmt.Errorf("TVP row %d column %d: %w", len(tv.Rows)+1, i+1, err)
			}
			row[i] = v
		}
		tv.Rows = append(tv.Rows, row)
	}
	return nil
}

// bracket quotes one part of a name as SQL text.
func bracket(part string) string { return "[" + strings.ReplaceAll(part, "]", "]]") + "]" }

// preloginEncryption returns the client's ENCRYPTION option.
func preloginEncryption(b []byte) (byte, bool) {
	enc := byte(encryptOff)
	for i := 0; i < len(b); i += 5 {
		if b[i] == preTerminator {
			return enc, true
		}
		if i+5 > len(b) {
			return 0, false
		}
		off := int(binary.BigEndian.Uint16(b[i+1:]))
		n := int(binary.BigEndian.Uint16(b[i+3:]))
		if off+n > len(b) {
			return 0, false
		}
		if b[i] == preEncryption && n >= 1 {
			enc = b[off]
		}
	}
	return 0, false
}

// login7 is what the server uses of a LOGIN7 message.
type login7 struct {
	tdsVersion uint32
	packetSize int
	user       string
	password   string
	database   string
	integrated bool
}

// parseLogin7 decodes LOGIN7 (MS-TDS 2.2.6.4).
func parseLogin7(b []byte) (login7, error) {
	var l login7
	if len(b) < 94 {
		return l, errors.New("mssqltest: LOGIN7 message is too short")
	}
	l.tdsVersion = binary.LittleEndian.Uint32(b[4:])
	l.packetSize = int(binary.LittleEndian.Uint32(b[8:]))
	// A packet size of 0 asks for the server's default.
	switch {
	case l.packetSize == 0:
		l.packetSize = 4096
	case l.packetSize < 512:
		l.packetSize = 512
	case l.packetSize > 32767:
		l.packetSize = 32767
	}
	optionFlags2 := b[25]
	l.integrated = optionFlags2&0x80 != 0
	field := func(at int) ([]byte, error) {
		off := int(binary.LittleEndian.Uint16(b[at:]))
		n := 2 * int(binary.LittleEndian.Uint16(b[at+2:]))
		if off+n > len(b) {
			return nil, fmt.Errorf("mssqltest: LOGIN7 field at %d overruns the message", at)
		}
		return b[off : off+n], nil
	}
	u, err := field(40)
	if err != nil {
		return l, err
	}
	l.user = ucs2String(u)
	pw, err := field(44)
	if err != nil {
		return l, err
	}
	// The password is obfuscated: each byte had its nibbles swapped and
	// was then XORed with 0xA5.
	clear := make([]byte, len(pw))
	for i, x := range pw {
		x ^= 0xA5
		clear[i] = x<<4 | x>>4
	}
	l.password = ucs2String(clear)
	d, err := field(68)
	if err != nil {
		return l, err
	}
	l.database = ucs2String(d)
	return l, nil
}

// smallDateTime decodes a SMALLDATETIME: days since 1900-01-01 and
// minutes since midnight, two unsigned 16-bit integers.
func smallDateTime(b []byte) time.Time {
	days := int(binary.LittleEndian.Uint16(b))
	mins := int(binary.LittleEndian.Uint16(b[2:]))
	return epoch1900.AddDate(0, 0, days).Add(time.Duration(mins) * time.Minute)
}
