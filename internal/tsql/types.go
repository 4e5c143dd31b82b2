package tsql

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

func errf(num int32, class, state uint8, format string, args ...any) *Error {
	return &Error{Number: num, Class: class, State: state, Message: fmt.Sprintf(format, args...)}
}

// DefaultCollation is the database default collation, as on a default
// SQL Server install.
const DefaultCollation = "SQL_Latin1_General_CP1_CI_AS"

// canonicalCollation checks a collation name against the families this
// engine implements and returns its canonical spelling.
func canonicalCollation(name string) (string, bool) {
	u := strings.ToUpper(name)
	if u == "DATABASE_DEFAULT" {
		return DefaultCollation, true
	}
	for _, base := range []string{"SQL_LATIN1_GENERAL_CP1_", "LATIN1_GENERAL_", "LATIN1_GENERAL_100_"} {
		if !strings.HasPrefix(u, base) {
			continue
		}
		switch rest := u[len(base):]; rest {
		case "CI_AS", "CS_AS", "BIN", "BIN2":
			canon := map[string]string{
				"SQL_LATIN1_GENERAL_CP1_": "SQL_Latin1_General_CP1_",
				"LATIN1_GENERAL_":         "Latin1_General_",
				"LATIN1_GENERAL_100_":     "Latin1_General_100_",
			}[base]
			return canon + rest, true
		}
	}
	return "", false
}

// collationShape is the form of SQL Server's collation names: a Windows
// collation designator (French, Latin1_General_100, Japanese_XJIS_140, ...)
// or a SQL collation (SQL_Latin1_General_CP1253), then the comparison
// options (CI/CS, AI/AS, KS, WS, SC, UTF8, VSS) or BIN/BIN2.
var collationShape = regexp.MustCompile(`(?i)^[a-z][a-z0-9]*(_[a-z0-9]+)*?(_(BIN2?)|(_(CI|CS))(_(AI|AS))?(_KS)?(_WS)?(_VSS)?(_SC)?(_UTF8)?)$`)

// wellFormedCollation reports whether a name has the form of a SQL
// Server collation, so that a collation the engine does not implement is
// refused (40517) rather than called invalid (448).
func wellFormedCollation(name string) bool { return collationShape.MatchString(name) }

// collKind is how a collation compares strings.
type collKind int

const (
	collCI  collKind = iota // case-insensitive, accent-sensitive
	collCS                  // case-sensitive, accent-sensitive
	collBin                 // by code point (_BIN, _BIN2)
)

func collationKind(c string) collKind {
	if c == "" {
		c = DefaultCollation
	}
	u := strings.ToUpper(c)
	switch {
	case strings.HasSuffix(u, "_BIN") || strings.HasSuffix(u, "_BIN2"):
		return collBin
	case strings.Contains(u, "_CS_"):
		return collCS
	}
	return collCI
}

// trimPad drops trailing spaces: SQL Server compares character strings
// as if the shorter were padded with spaces (the ANSI padding rule), in
// every collation, binary ones included.
func trimPad(s string) string { return strings.TrimRight(s, " ") }

// foldCase maps a string to its case-insensitive form: simple Unicode
// case folding, enough for the Latin collations this engine models.
func foldCase(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || (c >= 'A' && c <= 'Z') {
			return foldSlow(s)
		}
	}
	return s
}

func foldSlow(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(unicode.ToLower(unicode.ToUpper(r)))
	}
	return b.String()
}

// collKey is the equality key of a string under a collation.
func collKey(s string, k collKind) string {
	s = trimPad(s)
	if k == collCI {
		return foldCase(s)
	}
	return s
}

// compareStrings orders two strings under a collation. Case-insensitive
// collations compare the folded strings by code point: SQL Server's
// dictionary order differs for punctuation and accents, which the store
// never sorts on.
func compareStrings(a, b string, k collKind) int {
	a, b = collKey(a, k), collKey(b, k)
	return strings.Compare(a, b)
}

// ---- types ----

func (t Type) String() string {
	switch t.ID {
	case TypeNull:
		return "null"
	case TypeBit:
		return "bit"
	case TypeTinyInt:
		return "tinyint"
	case TypeSmallInt:
		return "smallint"
	case TypeInt:
		return "int"
	case TypeBigInt:
		return "bigint"
	case TypeFloat:
		return "float"
	case TypeReal:
		return "real"
	case TypeChar, TypeVarChar, TypeNChar, TypeNVarChar, TypeBinary, TypeVarBinary:
		n := map[TypeID]string{TypeChar: "char", TypeVarChar: "varchar", TypeNChar: "nchar",
			TypeNVarChar: "nvarchar", TypeBinary: "binary", TypeVarBinary: "varbinary"}[t.ID]
		if t.Length == MaxLength {
			return n + "(max)"
		}
		return fmt.Sprintf("%s(%d)", n, t.Length)
	case TypeDate:
		return "date"
	case TypeDateTime:
		return "datetime"
	case TypeDateTime2:
		return fmt.Sprintf("datetime2(%d)", t.Scale)
	case TypeDateTimeOffset:
		return fmt.Sprintf("datetimeoffset(%d)", t.Scale)
	case TypeTime:
		return fmt.Sprintf("time(%d)", t.Scale)
	case TypeGUID:
		return "uniqueidentifier"
	case TypeDecimal:
		return fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale)
	case TypeNumeric:
		return fmt.Sprintf("numeric(%d,%d)", t.Precision, t.Scale)
	case TypeMoney:
		return "money"
	case TypeSmallMoney:
		return "smallmoney"
	case TypeSmallDateTime:
		return "smalldatetime"
	case TypeText:
		return "text"
	case TypeNText:
		return "ntext"
	case TypeImage:
		return "image"
	case TypeXML:
		return "xml"
	case TypeTable:
		return "table"
	case TypeVariant:
		return "sql_variant"
	}
	return "unknown"
}

// baseName is the type's name without facets, as sys.types spells it.
func (t Type) baseName() string {
	s := t.String()
	if i := strings.IndexByte(s, '('); i >= 0 {
		s = s[:i]
	}
	return s
}

func isString(id TypeID) bool {
	return id == TypeChar || id == TypeVarChar || id == TypeNChar || id == TypeNVarChar
}
func isUnicode(id TypeID) bool { return id == TypeNChar || id == TypeNVarChar }

// isLOB reports TEXT, NTEXT and IMAGE, which SQL Server does not compare
// (402), sort or group (306), nor take as DISTINCT (421), as an index
// key (1919) or as a local variable (2739).
func isLOB(id TypeID) bool { return id == TypeText || id == TypeNText || id == TypeImage }

// errLOBSort is SQL Server's 306, for TEXT, NTEXT or IMAGE in ORDER BY or
// GROUP BY.
func errLOBSort() *Error {
	return errf(306, 16, 2, "The text, ntext, and image data types cannot be compared or sorted, except when using IS NULL or LIKE operator.")
}

func isBinary(id TypeID) bool { return id == TypeBinary || id == TypeVarBinary }
func isInt(id TypeID) bool {
	return id == TypeBit || id == TypeTinyInt || id == TypeSmallInt || id == TypeInt || id == TypeBigInt
}
func isNumeric(id TypeID) bool { return isInt(id) || isFloat(id) }

// isFloat reports an approximate numeric type: FLOAT or REAL.
func isFloat(id TypeID) bool { return id == TypeFloat || id == TypeReal }
func isTime(id TypeID) bool {
	return id == TypeDate || id == TypeDateTime || id == TypeDateTime2 || id == TypeDateTimeOffset || id == TypeSmallDateTime
}

// isLegacyDateTime reports DATETIME and SMALLDATETIME, which convert
// from and to numbers (days since 1900-01-01) and read 'yyyy-mm-dd' as
// year-day-month under DATEFORMAT dmy.
func isLegacyDateTime(id TypeID) bool { return id == TypeDateTime || id == TypeSmallDateTime }

// precedence is SQL Server's data type precedence: in an expression
// mixing two types, the one with lower precedence is converted.
func precedence(id TypeID) int {
	for i, t := range precedenceOrder {
		if t == id {
			return len(precedenceOrder) - i
		}
	}
	return 0 // NULL converts to anything
}

// precedenceOrder is SQL Server's "Data type precedence" list, highest
// first, restricted to the types this engine implements.
var precedenceOrder = []TypeID{
	TypeVariant, TypeXML, TypeDateTimeOffset, TypeDateTime2, TypeDateTime, TypeSmallDateTime, TypeDate, TypeTime,
	TypeFloat, TypeReal, TypeDecimal, TypeNumeric, TypeMoney, TypeSmallMoney,
	TypeBigInt, TypeInt, TypeSmallInt, TypeTinyInt, TypeBit, TypeNText, TypeText, TypeImage,
	TypeGUID, TypeNVarChar, TypeNChar, TypeVarChar, TypeChar, TypeVarBinary, TypeBinary,
}

// typeFamily groups types whose mutual conversion SQL Server performs
// without a CONVERT_IMPLICIT that blocks an index seek.
func typeFamily(id TypeID) int {
	switch {
	case id == TypeChar || id == TypeVarChar:
		return 1
	case isUnicode(id):
		return 2
	case isBinary(id):
		return 3
	case isInt(id):
		return 4
	case isFloat(id):
		return 5
	case id == TypeDateTime2 || isLegacyDateTime(id) || id == TypeDate:
		return 6
	case id == TypeDateTimeOffset:
		return 7
	case id == TypeTime:
		return 8
	case id == TypeGUID:
		return 9
	case isExact(id):
		return 10
	case isLOB(id):
		return 11 + int(id-TypeText)
	case id == TypeXML:
		return 14
	case id == TypeVariant:
		return 15
	}
	return 0
}

// fixedTypes are the implemented types that take no facet.
var fixedTypes = map[string]Type{
	"bit": {ID: TypeBit}, "tinyint": {ID: TypeTinyInt}, "smallint": {ID: TypeSmallInt},
	"int": {ID: TypeInt}, "integer": {ID: TypeInt}, "bigint": {ID: TypeBigInt}, "real": {ID: TypeReal},
	"date": {ID: TypeDate}, "datetime": {ID: TypeDateTime}, "sysname": {ID: TypeNVarChar, Length: 128},
	"uniqueidentifier": {ID: TypeGUID}, "money": {ID: TypeMoney}, "smallmoney": {ID: TypeSmallMoney},
	"smalldatetime": {ID: TypeSmallDateTime}, "text": {ID: TypeText}, "ntext": {ID: TypeNText}, "image": {ID: TypeImage},
	"xml": {ID: TypeXML},
}

// typeFromName builds a type from its T-SQL name and facet arguments.
func typeFromName(name string, args []string, ordinal int, column bool) (Type, *Error) {
	lname := strings.ToLower(name)
	if t, ok := fixedTypes[lname]; ok {
		if len(args) > 0 {
			return Type{}, errColumnWidth(ordinal, lname)
		}
		return t, nil
	}
	switch lname {
	case "float":
		return floatType(args, ordinal)
	case "char", "character", "varchar", "nchar", "nvarchar", "binary", "varbinary":
		return sizedType(lname, args, ordinal)
	case "datetime2", "datetimeoffset", "time":
		return scaledTimeType(lname, args)
	case "decimal", "dec", "numeric":
		return decimalType(lname, args, ordinal)
	case "sql_variant":
		return Type{ID: TypeVariant}, nil // variant.go
	case "timestamp", "rowversion", "hierarchyid", "geography", "geometry", "json", "vector":
		return Type{}, unsupported("data type " + lname)
	}
	return Type{}, errf(2715, 16, 6, "Column, parameter, or variable #%d: Cannot find data type %s.", ordinal, name)
}

func errColumnWidth(ordinal int, lname string) *Error {
	return errf(2716, 16, 1, "Column, parameter, or variable #%d: Cannot specify a column width on data type %s.", ordinal, lname)
}

// floatType is FLOAT(n): n from 1 to 24 is REAL, 25 to 53 (the default)
// FLOAT.
func floatType(args []string, ordinal int) (Type, *Error) {
	switch len(args) {
	case 0:
		return Type{ID: TypeFloat}, nil
	case 1:
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 1 || n > 53 {
			return Type{}, errf(2750, 16, 1, "Column or parameter #%d: Specified column precision %s is greater than the maximum precision of 53.", ordinal, args[0])
		}
		if n <= 24 {
			return Type{ID: TypeReal}, nil
		}
		return Type{ID: TypeFloat}, nil
	}
	return Type{}, errColumnWidth(ordinal, "float")
}

// sizedTypeIDs are the types with a length facet.
var sizedTypeIDs = map[string]TypeID{"char": TypeChar, "character": TypeChar, "varchar": TypeVarChar, "nchar": TypeNChar,
	"nvarchar": TypeNVarChar, "binary": TypeBinary, "varbinary": TypeVarBinary}

// sizedType is a character or binary type with its length (or MAX).
// Without a length it is 1 long in declarations, 30 in CAST and CONVERT
// (which pass ordinal 0).
func sizedType(lname string, args []string, ordinal int) (Type, *Error) {
	l := 1
	if ordinal == 0 {
		l = 30
	}
	switch {
	case len(args) > 1:
		return Type{}, errf(102, 15, 1, "Incorrect syntax near ','.")
	case len(args) == 0:
	case args[0] == "MAX":
		l = MaxLength
	default:
		v, err := strconv.Atoi(args[0])
		if err != nil || v < 1 {
			return Type{}, errf(1001, 15, 1, "Line 1: Length or precision specification %s is invalid.", args[0])
		}
		l = v
	}
	id := sizedTypeIDs[lname]
	limit := 8000
	if isUnicode(id) {
		limit = 4000
	}
	if l == MaxLength && (id == TypeChar || id == TypeNChar || id == TypeBinary) {
		return Type{}, errf(102, 15, 1, "Incorrect syntax near 'max'.")
	}
	if l > limit {
		return Type{}, errf(131, 15, 2, "The size (%d) given to the type '%s' exceeds the maximum allowed for any data type (%d).", l, lname, limit)
	}
	return Type{ID: id, Length: l}, nil
}

// scaledTimeType is TIME, DATETIME2 or DATETIMEOFFSET with its scale, 7
// by default.
func scaledTimeType(lname string, args []string) (Type, *Error) {
	id := map[string]TypeID{"datetime2": TypeDateTime2, "datetimeoffset": TypeDateTimeOffset, "time": TypeTime}[lname]
	s := 7
	if len(args) == 1 {
		v, err := strconv.Atoi(args[0])
		if err != nil || v > 7 {
			return Type{}, errf(1002, 15, 1, "Line 1: Specified scale %s is invalid.", args[0])
		}
		s = v
	} else if len(args) > 1 {
		return Type{}, errf(102, 15, 1, "Incorrect syntax near ','.")
	}
	return Type{ID: id, Scale: s}, nil
}

// ---- time ----

var (
	minDate2    = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDate2    = time.Date(9999, 12, 31, 23, 59, 59, 999999900, time.UTC)
	minDateTime = time.Date(1753, 1, 1, 0, 0, 0, 0, time.UTC)
	// SMALLDATETIME's range is 1900-01-01 00:00 to 2079-06-06 23:59:
	// before rounding to the minute, anything before the next day.
	endSmallDateTime = time.Date(2079, 6, 7, 0, 0, 0, 0, time.UTC)
)

// roundSmallDateTime rounds t to the minute as SQL Server does for
// SMALLDATETIME: 29.998 seconds or less round down, 29.999 seconds or
// more round up (seconds read to the millisecond, rounded).
func roundSmallDateTime(t time.Time) time.Time {
	m := t.Truncate(time.Minute)
	ms := (t.Sub(m) + 500*time.Microsecond) / time.Millisecond
	if ms >= 29999 {
		return m.Add(time.Minute)
	}
	return m
}

// roundScale rounds t to scale fractional digits, half up, as SQL Server
// does when it assigns to DATETIME2(scale) or DATETIMEOFFSET(scale).
func roundScale(t time.Time, scale int) time.Time {
	unit := int64(math.Pow10(9 - scale))
	ns := int64(t.Nanosecond())
	r := (ns + unit/2) / unit * unit
	return t.Add(time.Duration(r - ns))
}

// roundDateTime rounds t to DATETIME's 1/300 second ticks, which SQL
// Server displays as .000, .003 and .007 milliseconds.
func roundDateTime(t time.Time) time.Time {
	ns := int64(t.Nanosecond())
	// Round to whole milliseconds first, as SQL Server does, then to ticks.
	ms := (ns + 500000) / 1000000
	ticks := (ms*300 + 500) / 1000
	r := ticks * 1000000000 / 300
	// Keep a whole number of 100 ns units: 1/300 s is 3333333.33 ns.
	r = r / 100 * 100
	return t.Add(time.Duration(r - ns))
}

func inDateRange(t time.Time, id TypeID) bool {
	u := t
	if id != TypeDateTimeOffset {
		u = t.UTC()
	}
	lo := minDate2
	if id == TypeDateTime {
		lo = minDateTime
	}
	if id == TypeSmallDateTime {
		return !u.Before(epoch1900) && u.Before(endSmallDateTime)
	}
	if id == TypeDateTimeOffset {
		// DATETIMEOFFSET's range applies to the UTC instant.
		u = t.UTC()
	}
	return !u.Before(lo) && u.Year() <= 9999
}

// clock drops the zone and keeps the wall-clock reading, in UTC: the
// conversion SQL Server applies from DATETIMEOFFSET to DATETIME2.
func clock(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC)
}

var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
	"20060102 15:04:05.999999999",
	"20060102",
}

var offsetLayouts = []string{
	"2006-01-02 15:04:05.999999999 -07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999Z",
}

// textLayouts are the other date strings SQL Server reads, by DATEFORMAT
// order: numeric dates with '/', '-' or '.' in the session's order (mdy
// for us_english, dmy for Russian), and month names (Jul 19 2021, July
// 19, 2021, 19 Jul 2021; the session language's names are first
// rewritten to these, see monthToEnglish), each optionally followed by a
// time, 24-hour or with AM/PM (SQL Server's designators are AM and PM in
// every language).
var textLayouts = map[string][]string{"mdy": textLayoutsFor("1", "2"), "dmy": textLayoutsFor("2", "1")}

func textLayoutsFor(first, second string) []string {
	var dates []string
	for _, sep := range []string{"/", "-", "."} {
		dates = append(dates, first+sep+second+sep+"2006", first+sep+second+sep+"06")
	}
	for _, m := range []string{"Jan", "January"} {
		dates = append(dates, m+" 2 2006", m+" 2, 2006", "2 "+m+" 2006", "2 "+m+", 2006", m+" 2006")
	}
	times := []string{"", " 15:04", " 15:04:05", " 15:04:05.999999999", " 3PM", " 3:04PM", " 3:04:05PM",
		" 3:04:05.999999999PM", " 3 PM", " 3:04 PM", " 3:04:05 PM", " 3:04:05.999999999 PM"}
	var out []string
	for _, d := range dates {
		for _, t := range times {
			out = append(out, d+t)
		}
	}
	return out
}

// parseTime reads a date string as a value of type id under the
// session's date style. outOfRange reports a string of a date's shape
// whose month, day or hour is out of range (19/07/2021 under mdy), which
// SQL Server reports as 242 for DATETIME and 241 for the other types.
func parseTime(s string, id TypeID, ds dateStyle) (t time.Time, ok, outOfRange bool) {
	s = strings.TrimSpace(s)
	if t, ok, r := parseISOTime(s, id, ds.order == "dmy"); ok {
		return t, true, false
	} else if r {
		outOfRange = true
	}
	// Runs of spaces count as one ('Jul 19 2021  8:12PM'); am and pm may
	// be in either case.
	norm, ok := ds.monthToEnglish(strings.ToUpper(strings.Join(strings.Fields(s), " ")))
	if !ok {
		return time.Time{}, false, false
	}
	for _, l := range textLayouts[ds.order] {
		t, err := time.Parse(l, norm)
		outOfRange = outOfRange || rangeErr(err)
		if err == nil {
			if strings.Contains(l, "06") && !strings.Contains(l, "2006") && t.Year() >= 2050 {
				// Two-digit years: SQL Server's cutoff is 2049 (50 is 1950).
				t = t.AddDate(-100, 0, 0)
			}
			if id == TypeDateTimeOffset {
				return t.In(time.FixedZone("", 0)), true, false
			}
			return t, true, false
		}
	}
	return time.Time{}, false, outOfRange
}

// dateShape is the shape of a date string whose fields SQL Server reads
// before checking their values: numbers in some order, or a month name.
// time.Parse can report a field out of range before it has matched the
// whole layout ('2006 x 1' read as month 20), so a range error counts
// only for a string of this shape.
var dateShape = regexp.MustCompile(`^(\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{8}|\d{1,2} \pL+,? \d{2,4}|\pL+ \d{1,2},? \d{2,4})([ T].*)?$`)

// rangeErr reports whether time.Parse failed on a field's value rather
// than on the string's shape.
func rangeErr(err error) bool {
	var pe *time.ParseError
	return errors.As(err, &pe) && strings.HasSuffix(pe.Message, "out of range")
}

// parseISOTime reads the numeric year-first forms. SQL Server reads
// 'yyyy-mm-dd' (without the ISO 8601 'T') as year-day-month when the
// target is DATETIME and DATEFORMAT is dmy; DATE, DATETIME2 and
// DATETIMEOFFSET, 'yyyymmdd' and the 'T' forms are always year-month-day.
func parseISOTime(s string, id TypeID, dmy bool) (t time.Time, ok, outOfRange bool) {
	for _, l := range offsetLayouts {
		t, err := time.Parse(l, s)
		outOfRange = outOfRange || rangeErr(err)
		if err == nil {
			if id != TypeDateTimeOffset {
				return clock(t), true, false
			}
			return t, true, false
		}
	}
	for _, l := range timeLayouts {
		if dmy && isLegacyDateTime(id) && strings.HasPrefix(l, "2006-01-02") && !strings.Contains(l, "T") {
			l = "2006-02-01" + l[len("2006-01-02"):]
		}
		t, err := time.Parse(l, s)
		outOfRange = outOfRange || rangeErr(err)
		if err == nil {
			if id == TypeDateTimeOffset {
				return t.In(time.FixedZone("", 0)), true, false
			}
			return t, true, false
		}
	}
	return time.Time{}, false, outOfRange
}

// formatTime is the text of a date value of type typ (DATE, DATETIME,
// DATETIME2 or DATETIMEOFFSET) in ISO form.
func formatTime(t time.Time, typ Type) string {
	switch typ.ID {
	case TypeDate:
		return t.Format("2006-01-02")
	case TypeDateTime, TypeSmallDateTime:
		// DATETIME's 1/300 s ticks show as .000, .003 and .007: rounded
		// to the millisecond, not truncated (.9966666 is .997).
		// SMALLDATETIME shows as DATETIME, seconds .000.
		return t.Round(time.Millisecond).Format("2006-01-02 15:04:05.000")
	case TypeDateTime2:
		return t.Format("2006-01-02 15:04:05" + frac(typ.Scale))
	case TypeTime:
		// SQL Server: CAST(CAST('08:05:03' AS time(3)) AS varchar) is
		// '08:05:03.000', TIME(0) has no fraction.
		return t.Format("15:04:05" + frac(typ.Scale))
	}
	return t.Format("2006-01-02 15:04:05" + frac(typ.Scale) + " -07:00")
}

func frac(scale int) string {
	if scale == 0 {
		return ""
	}
	return "." + strings.Repeat("0", scale)
}

// ---- conversion ----

// convErr reports a failed conversion in SQL Server's words.
func convErr(v any, from, to Type) *Error {
	switch {
	case isString(from.ID) && (isTime(to.ID) || to.ID == TypeTime):
		return errf(241, 16, 1, "Conversion failed when converting date and/or time from character string.")
	case isString(from.ID):
		return errf(245, 16, 1, "Conversion failed when converting the %s value '%v' to data type %s.", from.baseName(), v, to.baseName())
	}
	return errf(529, 16, 2, "Explicit conversion from data type %s to %s is not allowed.", from.baseName(), to.baseName())
}

// convert converts v from one type to another as CAST does: strings and
// binaries are silently cut to the target length, and CHAR and BINARY
// values are padded. Assignment to a column checks lengths first (see
// assign). ds is the session's date style, which string-to-date and
// DATETIME-to-string conversions read; a zero ds refuses those (40517).
func convert(ds dateStyle, v any, from, to Type) (any, error) {
	if v == nil {
		return nil, nil
	}
	if to.ID == TypeVariant {
		return toVariant(v, from) // variant.go
	}
	if from.ID == TypeVariant {
		// Only CAST and CONVERT take a sql_variant to another type (cast
		// unwraps it first).
		return nil, errVariantImplicit(to)
	}
	if ds.lang == nil && (isString(from.ID) && isTime(to.ID) || isLegacyDateTime(from.ID) && isString(to.ID)) {
		return nil, unsupported("a conversion between " + from.baseName() + " and " + to.baseName() + " where the session's language is not known")
	}
	if from.ID == TypeXML || to.ID == TypeXML {
		return convertXML(v, from, to)
	}
	if isLOB(from.ID) || isLOB(to.ID) {
		return convertLOB(v, from, to)
	}
	switch {
	case isString(to.ID):
		return toString(ds, v, from, to)
	case isBinary(to.ID):
		return toBinary(v, from, to)
	case isInt(to.ID):
		return toInt(v, from, to)
	case to.ID == TypeReal:
		return toReal(v, from)
	case to.ID == TypeFloat:
		return toFloat(v, from, to)
	case isTime(to.ID):
		return toTime(ds, v, from, to)
	case to.ID == TypeTime:
		return toTimeOfDay(ds, v, from, to)
	case to.ID == TypeGUID:
		return toGUID(v, from, to)
	case isExact(to.ID):
		return toDecimal(v, from, to)
	}
	return nil, convErr(v, from, to)
}

// toString converts to a character type: binaries are read as the
// bytes of the string (UTF-16LE for NCHAR and NVARCHAR), numbers and
// dates in their canonical text form.
func toString(ds dateStyle, v any, from, to Type) (any, error) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case []byte:
		if isUnicode(to.ID) {
			u := make([]uint16, len(x)/2)
			for i := range u {
				u[i] = binary.LittleEndian.Uint16(x[2*i:])
			}
			s = string(utf16.Decode(u))
		} else {
			s = string(x)
		}
	case bool:
		s = "0"
		if x {
			s = "1"
		}
	case int64:
		s = strconv.FormatInt(x, 10)
	case float64:
		s = strconv.FormatFloat(x, 'g', -1, 64)
	case time.Time:
		s = formatTime(x, from)
		if isLegacyDateTime(from.ID) {
			s = dateTimeStyle0(x, ds)
		}
	case Decimal:
		if isMoney(from.ID) {
			// Style 0 of MONEY: two digits after the point, rounded.
			x = x.rescale(2)
		}
		s = x.String()
		if to.Length != MaxLength && to.Length > 0 && to.Length < len(s) {
			// SQL Server does not cut a number's text: 8115.
			return nil, errf(8115, 16, 2, "Arithmetic overflow error converting %s to data type %s.", numericName(from), to.baseName())
		}
	case GUID:
		s = x.String()
		if to.Length != MaxLength && to.Length > 0 && to.Length < len(s) {
			// SQL Server does not cut a UNIQUEIDENTIFIER's text.
			return nil, errf(8170, 16, 1, "Insufficient result space to convert uniqueidentifier value to char.")
		}
	default:
		return nil, convErr(v, from, to)
	}
	return fitString(s, to), nil
}

// dateTimeStyle0 is CAST of a DATETIME to a string, style 0:
// "mon dd yyyy hh:miAM", day and hour padded with a space, the month
// abbreviated in the session's language (sys.syslanguages.shortmonths).
func dateTimeStyle0(t time.Time, ds dateStyle) string {
	h := t.Hour() % 12
	if h == 0 {
		h = 12
	}
	return fmt.Sprintf("%s %2d %d %2d:%02d%s", ds.shortMonth(t.Month()), t.Day(), t.Year(), h, t.Minute(), t.Format("PM"))
}

// fitString cuts s to the length of a character type, and pads it with
// spaces for CHAR and NCHAR.
func fitString(s string, to Type) string {
	if to.Length == MaxLength || to.Length <= 0 {
		return s
	}
	if utf8.RuneCountInString(s) > to.Length {
		s = string([]rune(s)[:to.Length])
	}
	if to.ID == TypeChar || to.ID == TypeNChar {
		if n := utf8.RuneCountInString(s); n < to.Length {
			s += strings.Repeat(" ", to.Length-n)
		}
	}
	return s
}

// toBinary converts to BINARY or VARBINARY: strings give their bytes
// (UTF-16LE for Unicode ones), integers their big-endian bytes in the
// size of their type.
func toBinary(v any, from, to Type) (any, error) {
	var b []byte
	switch x := v.(type) {
	case []byte:
		b = x
	case string:
		if isUnicode(from.ID) {
			for _, u := range utf16.Encode([]rune(x)) {
				b = append(b, byte(u), byte(u>>8))
			}
		} else {
			b = []byte(x)
		}
	case int64:
		var buf [8]byte
		binary.BigEndian.PutUint64(buf[:], uint64(x))
		size := 8
		switch from.ID {
		case TypeTinyInt:
			size = 1
		case TypeSmallInt:
			size = 2
		case TypeInt:
			size = 4
		}
		b = append([]byte(nil), buf[8-size:]...)
	case bool:
		b = []byte{0}
		if x {
			b = []byte{1}
		}
	case GUID:
		b = append([]byte(nil), x[:]...)
	default:
		// SQL Server converts floats and dates to their internal bytes,
		// which this engine does not model.
		return nil, unsupported("CAST from " + from.baseName() + " to " + to.baseName())
	}
	if to.Length != MaxLength && to.Length > 0 {
		if len(b) > to.Length {
			b = b[:to.Length]
		}
		if to.ID == TypeBinary && len(b) < to.Length {
			b = append(append([]byte(nil), b...), make([]byte, to.Length-len(b))...)
		}
	}
	return b, nil
}

// toInt converts to an integer type or BIT: floats are truncated toward
// zero, out-of-range values raise 8115, and any non-zero value is BIT 1.
func toInt(v any, from, to Type) (any, error) {
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case bool:
		if x {
			n = 1
		}
	case float64:
		if math.IsNaN(x) || x > math.MaxInt64 || x < math.MinInt64 {
			return nil, overflow(to)
		}
		n = int64(x) // SQL Server truncates toward zero
	case string:
		s := strings.TrimSpace(x)
		if to.ID == TypeBit {
			switch strings.ToUpper(s) {
			case "TRUE":
				return true, nil
			case "FALSE":
				return false, nil
			}
		}
		p, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, convErr(x, from, to)
		}
		n = p
	case []byte:
		for _, c := range x {
			n = n<<8 | int64(c)
		}
	case Decimal:
		if to.ID == TypeBit {
			return x.Sign() != 0, nil
		}
		var err error
		if n, err = decimalToInt(x, from, to); err != nil {
			return nil, err
		}
	default:
		return nil, errDateToNumber(v, from, to)
	}
	if to.ID == TypeBit {
		return n != 0, nil
	}
	lo, hi := intRange(to.ID)
	if n < lo || n > hi {
		return nil, overflow(to)
	}
	return n, nil
}

// errDateToNumber refuses a DATETIME where a number is wanted: SQL
// Server converts it to days since 1900-01-01, which this engine does not
// model. The other date types do not convert to numbers (529).
func errDateToNumber(v any, from, to Type) *Error {
	if from.ID == TypeDateTime {
		return unsupported("CAST from datetime to " + to.baseName())
	}
	return convErr(v, from, to)
}

// toReal converts to REAL: as FLOAT, then rounded to single precision;
// 232 past its range.
func toReal(v any, from Type) (any, error) {
	f, err := toFloat(v, from, Type{ID: TypeReal})
	if err != nil {
		return nil, err
	}
	r := float32(f.(float64))
	if math.IsInf(float64(r), 0) {
		return nil, errf(232, 16, 3, "Arithmetic overflow error for type real, value = %f.", f)
	}
	return float64(r), nil
}

// toFloat converts to FLOAT (or REAL, to, before its rounding); a string
// that is not a number raises 8114.
func toFloat(v any, from, to Type) (any, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case Decimal:
		return x.float(), nil
	case int64:
		return float64(x), nil
	case bool:
		if x {
			return 1.0, nil
		}
		return 0.0, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return nil, errf(8114, 16, 5, "Error converting data type %s to %s.", from.baseName(), to.baseName())
		}
		return f, nil
	}
	return nil, errDateToNumber(v, from, to)
}

// toTime converts to a date type, then rounds to its precision; 242
// when the result leaves the type's range.
func toTime(ds dateStyle, v any, from, to Type) (any, error) {
	if from.ID == TypeTime && to.ID == TypeDate {
		// SQL Server: error 529, explicit conversion from time to date
		// is not allowed; to DATETIME, DATETIME2 and DATETIMEOFFSET the
		// date is 1900-01-01, which the value already carries.
		return nil, convErr(v, from, to)
	}
	t, err := timeOf(ds, v, from, to)
	if err != nil {
		return nil, err
	}
	switch to.ID {
	case TypeDate:
		y, m, d := t.Date()
		t = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	case TypeDateTime:
		t = roundDateTime(t)
	case TypeSmallDateTime:
		t = roundSmallDateTime(t)
	case TypeDateTime2, TypeDateTimeOffset:
		t = roundScale(t, to.Scale)
	}
	if !inDateRange(t, to.ID) {
		return nil, errDateRange(from, to)
	}
	return t, nil
}

// epoch1900 is the date of a TIME value (see Type): SQL Server's
// CAST(CAST('10:00' AS time) AS datetime2) is 1900-01-01 10:00.
var epoch1900 = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)

const oneDay = 24 * time.Hour

// toTimeOfDay converts to TIME(n): the clock of a DATETIME, DATETIME2 or
// DATETIMEOFFSET (its local clock, as SQL Server keeps), or a string's
// time of day, rounded half up to n fractional digits. A value that
// rounds up to midnight wraps to 00:00:00, as SQL Server's
// CAST('23:59:59.9999999' AS time(0)) does. DATE, numbers and BIT do
// not convert to TIME (529).
func toTimeOfDay(ds dateStyle, v any, from, to Type) (any, error) {
	var d time.Duration
	switch x := v.(type) {
	case time.Time:
		if from.ID == TypeDate {
			return nil, convErr(v, from, to)
		}
		h, m, s := x.Clock()
		d = time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second + time.Duration(x.Nanosecond())
	case string:
		var err error
		if d, err = parseTimeOfDay(ds, x, from, to); err != nil {
			return nil, err
		}
	case []byte:
		// SQL Server reads a binary as TIME's internal bytes, which this
		// engine does not model.
		return nil, unsupported("CAST from " + from.baseName() + " to " + to.baseName())
	default:
		return nil, convErr(v, from, to)
	}
	unit := time.Duration(math.Pow10(9 - to.Scale))
	d = (d + unit/2) / unit * unit % oneDay
	return epoch1900.Add(d), nil
}

// timeOfDayShape is the time-only string SQL Server reads as TIME:
// hh:mm[:ss[.fffffff]] with an optional AM or PM, or hh AM/PM.
var timeOfDayShape = regexp.MustCompile(`^(\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(?:\.(\d{0,7}))?)?)? *([AP]M)?$`)

// colonFraction is a time whose fraction follows a colon.
var colonFraction = regexp.MustCompile(`(^|[ T])\d{1,2}:\d{1,2}:\d{1,2}:\d`)

// parseTimeOfDay reads a string as a time of day: a time alone, or a
// date and time whose date SQL Server ignores
// (CAST('2024-05-06 07:08:09' AS time) is 07:08:09.0000000).
func parseTimeOfDay(ds dateStyle, s string, from, to Type) (time.Duration, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if m := timeOfDayShape.FindStringSubmatch(u); m != nil && (m[2] != "" || m[5] != "") {
		h, _ := strconv.Atoi(m[1])
		mi, _ := strconv.Atoi(m[2])
		sec, _ := strconv.Atoi(m[3])
		if m[5] != "" {
			if h > 12 {
				return 0, convErr(s, from, to)
			}
			h %= 12
			if m[5] == "PM" {
				h += 12
			}
		}
		if h > 23 || mi > 59 || sec > 59 {
			return 0, convErr(s, from, to)
		}
		f := m[4] + strings.Repeat("0", 9-len(m[4]))
		ns, _ := strconv.Atoi(f)
		return time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(sec)*time.Second + time.Duration(ns), nil
	}
	if colonFraction.MatchString(u) {
		// SQL Server reads '14:30:20:999' as 999 milliseconds, a form
		// this engine does not model.
		return 0, unsupported("a time string with ':' before its fraction")
	}
	if ds.lang == nil {
		return 0, unsupported("a conversion between " + from.baseName() + " and time where the session's language is not known")
	}
	t, ok, _ := parseTime(s, TypeDateTime2, ds)
	if !ok {
		return 0, convErr(s, from, to)
	}
	t = clock(t)
	return t.Sub(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)), nil
}

// String is the text form SQL Server gives a UNIQUEIDENTIFIER:
// 8-4-4-4-12 upper-case hexadecimal digits, the first three groups read
// little-endian from the bytes.
func (g GUID) String() string {
	return fmt.Sprintf("%02X%02X%02X%02X-%02X%02X-%02X%02X-%X-%X",
		g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8:10], g[10:])
}

// guidOrder is the order in which SQL Server compares a UNIQUEIDENTIFIER's
// bytes, most significant first: the last six bytes, then bytes 8-9, 6-7,
// 4-5 and 0-3 (as .NET's SqlGuid documents it).
var guidOrder = [16]int{10, 11, 12, 13, 14, 15, 8, 9, 6, 7, 4, 5, 0, 1, 2, 3}

func (g GUID) compare(h GUID) int {
	for _, i := range guidOrder {
		switch {
		case g[i] < h[i]:
			return -1
		case g[i] > h[i]:
			return 1
		}
	}
	return 0
}

// guidShape is a UNIQUEIDENTIFIER's text, with or without braces.
var guidShape = regexp.MustCompile(`^\{?([0-9A-Fa-f]{8})-([0-9A-Fa-f]{4})-([0-9A-Fa-f]{4})-([0-9A-Fa-f]{4})-([0-9A-Fa-f]{12})\}?$`)

// parseGUID reads a UNIQUEIDENTIFIER's text. SQL Server reads only the
// first 36 characters of a longer string (its documented example,
// '0E984725-C51C-4BF4-9960-E1C80E27ABA0wrong', converts), and braces
// around the 36.
func parseGUID(s string) (GUID, bool) {
	var g GUID
	if strings.HasPrefix(s, "{") {
		if len(s) > 38 || !strings.HasSuffix(s, "}") {
			return g, false
		}
	} else if len(s) > 36 {
		s = s[:36]
	}
	m := guidShape.FindStringSubmatch(s)
	if m == nil || strings.HasPrefix(s, "{") != strings.HasSuffix(s, "}") {
		return g, false
	}
	h, _ := hex.DecodeString(m[1] + m[2] + m[3] + m[4] + m[5])
	copy(g[:], h)
	g[0], g[1], g[2], g[3] = g[3], g[2], g[1], g[0]
	g[4], g[5] = g[5], g[4]
	g[6], g[7] = g[7], g[6]
	return g, true
}

// toGUID converts to UNIQUEIDENTIFIER: a string by its text (8169 when it
// is not one), a 16-byte binary as the bytes; numbers, dates and BIT do
// not convert (529).
func toGUID(v any, from, to Type) (any, error) {
	switch x := v.(type) {
	case GUID:
		return x, nil
	case string:
		g, ok := parseGUID(x)
		if !ok {
			return nil, errf(8169, 16, 2, "Conversion failed when converting from a character string to uniqueidentifier.")
		}
		return g, nil
	case []byte:
		if len(x) == 16 {
			var g GUID
			copy(g[:], x)
			return g, nil
		}
		// SQL Server pads or cuts other lengths, which this engine does
		// not model.
		return nil, unsupported("CAST from a binary of length other than 16 to uniqueidentifier")
	}
	return nil, convErr(v, from, to)
}

func errDateRange(from, to Type) *Error {
	return errf(242, 16, 3, "The conversion of a %s data type to a %s data type resulted in an out-of-range value.", from.baseName(), to.baseName())
}

// timeOf reads v as a point in time for a date type, before rounding.
func timeOf(ds dateStyle, v any, from, to Type) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		if from.ID == TypeDateTimeOffset && to.ID != TypeDateTimeOffset {
			// SQL Server keeps the local clock time and drops the offset.
			return clock(x), nil
		} else if from.ID != TypeDateTimeOffset && to.ID == TypeDateTimeOffset {
			return clock(x).In(time.FixedZone("", 0)), nil
		}
		return x, nil
	case int64, float64, Decimal:
		return dateTimeFromNumber(v, from, to)
	case string:
		p, ok, outOfRange := parseTime(x, to.ID, ds)
		if !ok {
			if outOfRange && isLegacyDateTime(to.ID) && dateShape.MatchString(strings.TrimSpace(x)) {
				return time.Time{}, errDateRange(from, to)
			}
			return time.Time{}, convErr(x, from, to)
		}
		if !inDateRange(p, to.ID) {
			return time.Time{}, errDateRange(from, to)
		}
		return p, nil
	}
	// BIT and binaries: SQL Server reads a binary as the internal
	// representation of the date, which this engine does not model.
	return time.Time{}, unsupported("CAST from " + from.baseName() + " to " + to.baseName())
}

// dateTimeFromNumber converts a number to DATETIME or SMALLDATETIME:
// days since 1900-01-01, the fraction a time of day (CAST(1 AS datetime)
// is 1900-01-02). Only these two convert from numbers; DATE and DATETIME2
// refuse (529).
func dateTimeFromNumber(v any, from, to Type) (time.Time, error) {
	if !isLegacyDateTime(to.ID) {
		return time.Time{}, convErr(v, from, to)
	}
	var days float64
	switch x := v.(type) {
	case float64:
		days = x
	case int64:
		days = float64(x)
	case Decimal:
		days = x.float()
	}
	lo, hi := -53690.0, 2958464.0
	if to.ID == TypeSmallDateTime {
		// 2079-06-06 is day 65535; the fraction may not round past it.
		lo, hi = 0, 65536
	}
	if days < lo || days >= hi {
		return time.Time{}, errf(8115, 16, 2, "Arithmetic overflow error converting expression to data type %s.", to.baseName())
	}
	whole := math.Floor(days)
	return time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(whole)).
		Add(time.Duration(math.Round((days - whole) * 24 * float64(time.Hour)))), nil
}

func intRange(id TypeID) (int64, int64) {
	switch id {
	case TypeTinyInt:
		return 0, 255
	case TypeSmallInt:
		return math.MinInt16, math.MaxInt16
	case TypeInt:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

func overflow(to Type) *Error {
	return errf(8115, 16, 2, "Arithmetic overflow error converting expression to data type %s.", to.baseName())
}

// truncatedValue shows a value cut to n characters or bytes, as error
// 2628 does.
func truncatedValue(v any, n int) string {
	switch x := v.(type) {
	case string:
		r := []rune(x)
		if n < len(r) {
			r = r[:n]
		}
		return string(r)
	case []byte:
		if n < len(x) {
			x = x[:n]
		}
		return "0x" + strings.ToUpper(hex.EncodeToString(x))
	}
	return fmt.Sprint(v)
}

// tooLong reports whether v exceeds the declared length of t. Trailing
// spaces beyond a character length are dropped silently by SQL Server,
// so they do not count.
func tooLong(v any, t Type) bool {
	if t.Length == MaxLength || t.Length <= 0 {
		return false
	}
	switch x := v.(type) {
	case string:
		if !isString(t.ID) {
			return false
		}
		return utf8.RuneCountInString(trimPad(x)) > t.Length
	case []byte:
		if !isBinary(t.ID) {
			return false
		}
		return len(x) > t.Length
	}
	return false
}

// ---- comparison ----

// compareValues orders two non-NULL values already converted to the
// same type family.
func compareValues(a, b any, k collKind) int {
	switch x := a.(type) {
	case string:
		y, _ := b.(string)
		return compareStrings(x, y, k)
	case []byte:
		y, _ := b.([]byte)
		return bytes.Compare(x, y)
	case int64:
		y, _ := b.(int64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case bool:
		y, _ := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case float64:
		y, _ := b.(float64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case time.Time:
		y, _ := b.(time.Time)
		return x.Compare(y)
	case GUID:
		y, _ := b.(GUID)
		return x.compare(y)
	case Decimal:
		y, _ := b.(Decimal)
		return x.cmp(y)
	}
	return 0
}

// keyPart is the equality key of one value in an index: values that
// compare equal under the column's type and collation get equal keys.
func keyPart(v any, k collKind) string {
	switch x := v.(type) {
	case nil:
		return "\x00N"
	case string:
		return "s" + collKey(x, k)
	case []byte:
		return "b" + string(x)
	case int64:
		return "i" + strconv.FormatInt(x, 10)
	case bool:
		if x {
			return "i1"
		}
		return "i0"
	case float64:
		return "f" + strconv.FormatFloat(x, 'g', -1, 64)
	case Decimal:
		return "d" + x.key()
	case time.Time:
		u := x.UTC()
		return "t" + strconv.FormatInt(u.Unix(), 10) + "." + strconv.Itoa(u.Nanosecond())
	}
	return fmt.Sprint(v)
}

// displayValue renders a value for error messages such as 2627.
func displayValue(v any, t Type) string {
	if v == nil {
		return "<NULL>"
	}
	switch x := v.(type) {
	case Variant:
		return displayValue(x.Value, x.Type)
	case string:
		return x
	case []byte:
		return "0x" + strings.ToUpper(hex.EncodeToString(x))
	case time.Time:
		return formatTime(x, t)
	case bool:
		if x {
			return "1"
		}
		return "0"
	}
	return fmt.Sprint(v)
}

// convertLOB converts to or from TEXT, NTEXT or IMAGE. TEXT and NTEXT
// convert to and from the character types, IMAGE to and from BINARY and
// VARBINARY and from VARCHAR and CHAR (CAST('abc' AS image) is 0x616263);
// the numbers, dates and UNIQUEIDENTIFIER do not convert to or from them
// (529). Conversions SQL Server's chart allows that this engine does not
// model (IMAGE to a character type, NVARCHAR to IMAGE) are refused (40517).
func convertLOB(v any, from, to Type) (any, error) {
	char := func(id TypeID) bool { return isString(id) || id == TypeText || id == TypeNText }
	switch {
	case char(from.ID) && char(to.ID):
		s, _ := v.(string)
		if isString(to.ID) {
			return fitString(s, to), nil
		}
		return s, nil
	case to.ID == TypeImage && (isBinary(from.ID) || from.ID == TypeImage):
		return v, nil
	case to.ID == TypeImage && (from.ID == TypeVarChar || from.ID == TypeChar):
		return toBinary(v, from, Type{ID: TypeVarBinary, Length: MaxLength})
	case from.ID == TypeImage && isBinary(to.ID):
		return toBinary(v, from, to)
	case isNumber(from.ID) || isNumber(to.ID) || isTime(from.ID) || isTime(to.ID) ||
		from.ID == TypeTime || to.ID == TypeTime || from.ID == TypeGUID || to.ID == TypeGUID:
		return nil, errf(529, 16, 2, "Explicit conversion from data type %s to %s is not allowed.", from.baseName(), to.baseName())
	}
	return nil, unsupported("CAST from " + from.baseName() + " to " + to.baseName())
}
