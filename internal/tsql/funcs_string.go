package tsql

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on the strings the string functions build.
const (
	// maxNonMax is the size of a non-MAX string: REPLICATE and CONCAT
	// truncate their result to it when no argument is of a MAX type,
	// as SQL Server does (8,000 bytes: 8,000 VARCHAR or 4,000 NVARCHAR
	// characters).
	maxNonMax = 8000
	// maxLOB is the size of a MAX value in SQL Server, 2^31-1 bytes;
	// growing a value past it raises 7119.
	maxLOB = 1<<31 - 1
	// maxBuiltString bounds what one call of a string function may
	// build in memory: 64 MiB, four times the largest session the
	// store's tests write. SQL Server would go on up to maxLOB; this
	// test server refuses with the error SQL Server gives when memory
	// runs out (701), so a hostile REPLICATE cannot take gigabytes from
	// the process the server runs in.
	maxBuiltString = 64 << 20
)

func errLOBTooLarge() *Error {
	return errf(7119, 16, 1, "Attempting to grow LOB beyond maximum allowed size of 2147483647 bytes.")
}

func errStringTooLarge() *Error {
	return errf(701, 17, 123, "There is insufficient system memory in resource pool 'default' to run this query. (mssqltest: a string function may build at most %d bytes.)", maxBuiltString)
}

// nonMaxLimit is maxNonMax in characters (UTF-16 code units for
// NVARCHAR).
func nonMaxLimit(unicode bool) int {
	if unicode {
		return maxNonMax / 2
	}
	return maxNonMax
}

// stringUnits is the length of s in SQL Server characters: UTF-16 code
// units for NVARCHAR, characters for VARCHAR (one byte each in the
// single-byte code pages).
func stringUnits(s string, unicode bool) int {
	n := 0
	for _, r := range s {
		n++
		if unicode && r >= 0x10000 {
			n++ // a surrogate pair
		}
	}
	return n
}

// truncUnits cuts s to at most n characters (UTF-16 code units for
// NVARCHAR, never splitting a surrogate pair).
func truncUnits(s string, n int, unicode bool) string {
	units := 0
	for i, r := range s {
		w := 1
		if unicode && r >= 0x10000 {
			w = 2
		}
		if units+w > n {
			return s[:i]
		}
		units += w
	}
	return s
}

// replicate is REPLICATE(s, n) for n >= 0. A non-MAX argument gives a
// result truncated at 8,000 bytes; a MAX argument may grow up to
// 2^31-1 bytes (7119 past it), and no further than maxBuiltString here.
func replicate(s string, n int64, unicode, lob bool) (any, error) {
	if n == 0 || s == "" {
		return "", nil
	}
	units := int64(stringUnits(s, unicode))
	if !lob {
		limit := int64(nonMaxLimit(unicode))
		if n <= limit && units*n <= limit {
			return strings.Repeat(s, int(n)), nil
		}
		reps := limit / units
		return strings.Repeat(s, int(reps)) + truncUnits(s, int(limit-reps*units), unicode), nil
	}
	per := int64(1)
	if unicode {
		per = 2
	}
	if n > maxLOB/(units*per) {
		return nil, errLOBTooLarge()
	}
	if n > maxBuiltString/int64(len(s)) {
		return nil, errStringTooLarge()
	}
	return strings.Repeat(s, int(n)), nil
}

// strArg evaluates an argument as a string (nil for NULL).
func strArg(ds dateStyle, e *cexpr, en *env) (any, error) {
	v, err := e.eval(en)
	if err != nil || v == nil {
		return nil, err
	}
	return convert(ds, v, e.typ, Type{ID: TypeNVarChar, Length: MaxLength})
}

// intArg evaluates an argument as an INT (nil for NULL), as int64.
func intArg(ds dateStyle, e *cexpr, en *env) (any, error) {
	v, err := e.eval(en)
	if err != nil || v == nil {
		return nil, err
	}
	return convert(ds, v, e.typ, Type{ID: TypeInt})
}

// lengthType is the type of LEN and DATALENGTH: BIGINT for a MAX
// argument, else INT.
func lengthType(arg Type) Type {
	if arg.Length == MaxLength {
		return Type{ID: TypeBigInt, Nullable: true}
	}
	return Type{ID: TypeInt, Nullable: true}
}

// lenFunc is LEN: characters, excluding trailing spaces.
func lenFunc(c *compiler, _ *funcExpr, a []*cexpr) (*cexpr, error) {
	return &cexpr{typ: lengthType(a[0].typ), deps: a[0].deps, eval: func(en *env) (any, error) {
		v, err := strArg(c.dates(), a[0], en)
		if err != nil || v == nil {
			return nil, err
		}
		return int64(utf8.RuneCountInString(trimPad(v.(string)))), nil
	}}, nil
}

// dataLengthFunc is DATALENGTH: the bytes of the value (dataLength).
func dataLengthFunc(c *compiler, _ *funcExpr, a []*cexpr) (*cexpr, error) {
	at := a[0].typ
	return &cexpr{typ: lengthType(at), deps: a[0].deps, eval: func(en *env) (any, error) {
		v, err := a[0].eval(en)
		if err != nil || v == nil {
			return nil, err
		}
		return int64(dataLength(v, at)), nil
	}}, nil
}

// mapString makes UPPER, LOWER and the TRIM family: fn applied to the
// argument read as a string. A non-string argument gives VARCHAR(30).
func mapString(fn func(string) string) func(*compiler, *funcExpr, []*cexpr) (*cexpr, error) {
	return func(c *compiler, _ *funcExpr, a []*cexpr) (*cexpr, error) {
		t := a[0].typ
		if !isString(t.ID) {
			t = Type{ID: TypeVarChar, Length: 30}
		}
		return &cexpr{typ: t, deriv: a[0].deriv, deps: a[0].deps, eval: func(en *env) (any, error) {
			v, err := strArg(c.dates(), a[0], en)
			if err != nil || v == nil {
				return nil, err
			}
			return fn(v.(string)), nil
		}}, nil
	}
}

// varying is the variable-length form of a fixed-length type, the type
// of SUBSTRING and REPLICATE over it.
func varying(t Type) Type {
	switch t.ID {
	case TypeChar:
		t.ID = TypeVarChar
	case TypeNChar:
		t.ID = TypeNVarChar
	case TypeBinary:
		t.ID = TypeVarBinary
	}
	return t
}

// substringFunc is SUBSTRING(s, start, length), LEFT(s, n) and
// RIGHT(s, n), over strings and binaries.
func substringFunc(c *compiler, f *funcExpr, a []*cexpr) (*cexpr, error) {
	name := f.name
	return &cexpr{typ: varying(a[0].typ), deriv: a[0].deriv, deps: depsOf(a), eval: func(en *env) (any, error) {
		vals, err := evalAll(a, en)
		if err != nil || vals == nil {
			return nil, err
		}
		var ns []int64
		for i := 1; i < len(vals); i++ {
			iv, err := convert(c.dates(), vals[i], a[i].typ, Type{ID: TypeBigInt})
			if err != nil {
				return nil, err
			}
			ns = append(ns, iv.(int64))
		}
		return cut(c.dates(), name, vals[0], a[0].typ, ns)
	}}, nil
}

// cut is the part of v that SUBSTRING, LEFT or RIGHT (name) selects
// with the integer arguments ns; a negative length raises 536.
func cut(ds dateStyle, name string, v any, t Type, ns []int64) (any, error) {
	b, isBin := v.([]byte)
	var r []rune
	if !isBin {
		sv, err := convert(ds, v, t, Type{ID: TypeNVarChar, Length: MaxLength})
		if err != nil {
			return nil, err
		}
		r = []rune(sv.(string))
	}
	n := int64(len(r))
	if isBin {
		n = int64(len(b))
	}
	var lo, hi int64
	switch name {
	case "LEFT":
		lo, hi = 0, ns[0]
	case "RIGHT":
		lo, hi = n-ns[0], n
	default:
		lo, hi = ns[0]-1, ns[0]-1+ns[1]
	}
	if ns[len(ns)-1] < 0 {
		return nil, errf(536, 16, 1, "Invalid length parameter passed to the %s function.", strings.ToLower(name))
	}
	lo = max(lo, 0)
	hi = max(min(hi, n), lo)
	if isBin {
		return append([]byte{}, b[lo:hi]...), nil
	}
	return string(r[lo:hi]), nil
}

// replicateFunc is REPLICATE(s, n): the type of s, 8,000 bytes long
// unless it is MAX; NULL for a negative n.
func replicateFunc(c *compiler, _ *funcExpr, a []*cexpr) (*cexpr, error) {
	t := a[0].typ
	if !isString(t.ID) {
		t = Type{ID: TypeVarChar}
	}
	if t.Length != MaxLength {
		t.Length = nonMaxLimit(isUnicode(t.ID))
	}
	t = varying(t)
	return &cexpr{typ: t, deriv: a[0].deriv, deps: depsOf(a), eval: func(en *env) (any, error) {
		v, err := strArg(c.dates(), a[0], en)
		if err != nil || v == nil {
			return nil, err
		}
		nv, err := a[1].eval(en)
		if err != nil || nv == nil {
			return nil, err
		}
		n, err := convert(c.dates(), nv, a[1].typ, Type{ID: TypeBigInt})
		if err != nil {
			return nil, err
		}
		if n.(int64) < 0 {
			return nil, nil
		}
		return replicate(v.(string), n.(int64), isUnicode(t.ID), t.Length == MaxLength)
	}}, nil
}

// concatFunc is CONCAT: NULL arguments count as empty strings; the
// result is NVARCHAR if any argument is Unicode, and truncated at 8,000
// bytes unless an argument is of a MAX type.
func concatFunc(c *compiler, _ *funcExpr, a []*cexpr) (*cexpr, error) {
	t := Type{ID: TypeVarChar, Length: MaxLength}
	lob := false
	for _, e := range a {
		if isUnicode(e.typ.ID) {
			t.ID = TypeNVarChar
		}
		if (isString(e.typ.ID) || isBinary(e.typ.ID)) && e.typ.Length == MaxLength {
			lob = true
		}
	}
	uni := t.ID == TypeNVarChar
	return &cexpr{typ: t, deriv: derivDefault, deps: depsOf(a), eval: func(en *env) (any, error) {
		parts := make([]string, 0, len(a))
		for _, e := range a {
			v, err := strArg(c.dates(), e, en)
			if err != nil {
				return nil, err
			}
			if v != nil {
				parts = append(parts, v.(string))
			}
		}
		return concatValues(parts, uni, lob)
	}}, nil
}

// concatValues joins CONCAT's parts within the limits of its result type.
func concatValues(parts []string, uni, lob bool) (any, error) {
	size := 0
	for _, s := range parts {
		size += len(s)
	}
	if lob && size > maxBuiltString {
		return nil, errStringTooLarge()
	}
	var b strings.Builder
	b.Grow(min(size, maxBuiltString))
	for _, s := range parts {
		b.WriteString(s)
	}
	if lob {
		// At most maxBuiltString bytes of UTF-8, so at most twice that
		// in UTF-16: far below maxLOB, so 7119 cannot arise here.
		return b.String(), nil
	}
	return truncUnits(b.String(), nonMaxLimit(uni), uni), nil
}

// quoteNameFunc is QUOTENAME(s [, q]): NULL for input over 128
// characters or an unknown quote character, as in SQL Server.
func quoteNameFunc(c *compiler, _ *funcExpr, a []*cexpr) (*cexpr, error) {
	return &cexpr{typ: Type{ID: TypeNVarChar, Length: 258, Nullable: true}, deriv: derivDefault, deps: depsOf(a), eval: func(en *env) (any, error) {
		v, err := strArg(c.dates(), a[0], en)
		if err != nil || v == nil {
			return nil, err
		}
		s := v.(string)
		if utf8.RuneCountInString(s) > 128 {
			return nil, nil
		}
		open, close := "[", "]"
		if len(a) == 2 {
			q, err := strArg(c.dates(), a[1], en)
			if err != nil || q == nil {
				return nil, err
			}
			var ok bool
			if open, close, ok = quoteChars(q.(string)); !ok {
				return nil, nil
			}
		}
		return open + strings.ReplaceAll(s, close, close+close) + close, nil
	}}, nil
}

// quoteChars are the delimiters QUOTENAME accepts, by either of them.
func quoteChars(q string) (open, close string, ok bool) {
	switch q {
	case "[", "]":
		return "[", "]", true
	case "'", `"`, "`":
		return q, q, true
	case "(", ")":
		return "(", ")", true
	case "<", ">":
		return "<", ">", true
	case "{", "}":
		return "{", "}", true
	}
	return "", "", false
}

// dataLength is DATALENGTH: the bytes a value occupies in SQL Server.
func dataLength(v any, t Type) int {
	switch x := v.(type) {
	case Variant:
		return dataLength(x.Value, x.Type)
	case string:
		if isUnicode(t.ID) || t.ID == TypeNText {
			return 2 * utf16Len(x)
		}
		return len(x)
	case []byte:
		return len(x)
	case bool:
		return 1
	case int64:
		switch t.ID {
		case TypeTinyInt:
			return 1
		case TypeSmallInt:
			return 2
		case TypeInt:
			return 4
		}
		return 8
	case float64:
		if t.ID == TypeReal {
			return 4
		}
		return 8
	case GUID:
		return 16
	case Decimal:
		switch t.ID {
		case TypeMoney:
			return 8
		case TypeSmallMoney:
			return 4
		}
		// SQL Server stores a DECIMAL in 5, 9, 13 or 17 bytes by its
		// precision; DATALENGTH reports the declared type's size.
		return DecimalBytes(t.Precision)
	case time.Time:
		switch t.ID {
		case TypeSmallDateTime:
			return 4
		case TypeDate:
			return 3
		case TypeDateTime:
			return 8
		case TypeDateTime2:
			return timeBytes(t.Scale) + 3
		case TypeDateTimeOffset:
			return timeBytes(t.Scale) + 5
		case TypeTime:
			return timeBytes(t.Scale)
		}
	}
	return 0
}

func timeBytes(scale int) int {
	switch {
	case scale <= 2:
		return 3
	case scale <= 4:
		return 4
	}
	return 5
}
