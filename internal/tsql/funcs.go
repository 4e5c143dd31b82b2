package tsql

import (
	"strings"
	"time"
	"unicode/utf8"
)

// aggregates are the aggregate functions the engine implements.
var aggregates = map[string]bool{"COUNT": true, "COUNT_BIG": true, "MIN": true, "MAX": true, "SUM": true, "AVG": true}

func (c *compiler) args(f *funcExpr, min, max int) ([]*cexpr, error) {
	if len(f.args) < min || len(f.args) > max || f.star {
		if min == max {
			return nil, errf(174, 15, 1, "The %s function requires %d argument(s).", strings.ToLower(f.name), min)
		}
		return nil, errf(189, 15, 1, "The %s function requires %d to %d arguments.", strings.ToLower(f.name), min, max)
	}
	out := make([]*cexpr, len(f.args))
	for i, a := range f.args {
		e, err := c.value(a)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

func depsOf(es []*cexpr) uint64 {
	var d uint64
	for _, e := range es {
		d |= e.deps
	}
	return d
}

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

// stringBytes is the size of s as SQL Server stores it.
func stringBytes(s string, unicode bool) int {
	if unicode {
		return 2 * stringUnits(s, true)
	}
	return stringUnits(s, false)
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
func strArg(e *cexpr, en *env) (any, error) {
	v, err := e.eval(en)
	if err != nil || v == nil {
		return nil, err
	}
	return convert(v, e.typ, Type{ID: TypeNVarChar, Length: MaxLength})
}

func (c *compiler) function(f *funcExpr) (*cexpr, error) {
	if aggregates[f.name] {
		return c.aggregate(f)
	}
	x := c.cat
	nvar := func(n int) Type { return Type{ID: TypeNVarChar, Length: n, Nullable: true} }
	switch f.name {
	case "SYSUTCDATETIME", "SYSDATETIME", "GETUTCDATE", "GETDATE", "SYSDATETIMEOFFSET", "SYSUTCDATETIMEOFFSET":
		if len(f.args) > 0 || f.star {
			return nil, errf(174, 15, 1, "The %s function requires 0 argument(s).", strings.ToLower(f.name))
		}
		// This test server runs in UTC, so local and UTC clocks agree.
		// SQL Server evaluates these once per statement, like here.
		t := Type{ID: TypeDateTime2, Scale: 7}
		switch f.name {
		case "GETUTCDATE", "GETDATE":
			t = Type{ID: TypeDateTime}
		case "SYSDATETIMEOFFSET":
			t = Type{ID: TypeDateTimeOffset, Scale: 7}
		}
		return &cexpr{typ: t, eval: func(*env) (any, error) {
			now := x.statementTime().UTC()
			if t.ID == TypeDateTimeOffset {
				return convert(now, Type{ID: TypeDateTime2, Scale: 7}, t)
			}
			return convert(now, Type{ID: TypeDateTime2, Scale: 7}, t)
		}}, nil
	case "DATEADD":
		a, err := c.args(f, 2, 2)
		if err != nil {
			return nil, err
		}
		n, d := a[0], a[1]
		t := d.typ
		if isString(t.ID) {
			t = Type{ID: TypeDateTime}
		}
		if !isTime(t.ID) {
			return nil, errf(8116, 16, 1, "Argument data type %s is invalid for argument 2 of dateadd function.", d.typ.baseName())
		}
		if !isNumeric(n.typ.ID) && n.typ.ID != TypeNull {
			return nil, errf(8116, 16, 1, "Argument data type %s is invalid for argument 1 of dateadd function.", n.typ.baseName())
		}
		unit := f.unit
		t.Nullable = true
		return &cexpr{typ: t, deps: depsOf(a), eval: func(en *env) (any, error) {
			nv, err := n.eval(en)
			if err != nil || nv == nil {
				return nil, err
			}
			dv, err := d.eval(en)
			if err != nil || dv == nil {
				return nil, err
			}
			dv, err = convert(dv, d.typ, t)
			if err != nil {
				return nil, err
			}
			iv, err := convert(nv, n.typ, Type{ID: TypeBigInt})
			if err != nil {
				return nil, err
			}
			r, ok := dateAdd(dv.(time.Time), unit, iv.(int64))
			if !ok || !inDateRange(r, t.ID) {
				// SQL Server: error 517 when DATEADD leaves the type's range.
				return nil, errf(517, 16, 1, "Adding a value to a '%s' column caused an overflow.", t.baseName())
			}
			return convert(r, t, t)
		}}, nil
	case "DATEDIFF", "DATEDIFF_BIG":
		a, err := c.args(f, 2, 2)
		if err != nil {
			return nil, err
		}
		rt := Type{ID: TypeInt, Nullable: true}
		if f.name == "DATEDIFF_BIG" {
			rt.ID = TypeBigInt
		}
		unit := f.unit
		return &cexpr{typ: rt, deps: depsOf(a), eval: func(en *env) (any, error) {
			var ts [2]time.Time
			for i, e := range a {
				v, err := e.eval(en)
				if err != nil || v == nil {
					return nil, err
				}
				tt := e.typ
				if !isTime(tt.ID) {
					tt = Type{ID: TypeDateTime2, Scale: 7}
				}
				v, err = convert(v, e.typ, tt)
				if err != nil {
					return nil, err
				}
				t := v.(time.Time)
				if tt.ID != TypeDateTimeOffset {
					t = clock(t)
				} else {
					t = t.UTC()
				}
				ts[i] = t
			}
			n, ok := dateDiff(ts[0], ts[1], unit)
			lo, hi := intRange(rt.ID)
			if !ok || n < lo || n > hi {
				return nil, errf(535, 16, 0, "The datediff function resulted in an overflow. The number of dateparts separating two date/time instances is too large. Try to use datediff with a less precise datepart.")
			}
			return n, nil
		}}, nil
	case "DATEPART":
		a, err := c.args(f, 1, 1)
		if err != nil {
			return nil, err
		}
		unit := f.unit
		return &cexpr{typ: Type{ID: TypeInt, Nullable: true}, deps: a[0].deps, eval: func(en *env) (any, error) {
			v, err := a[0].eval(en)
			if err != nil || v == nil {
				return nil, err
			}
			tt := a[0].typ
			if !isTime(tt.ID) {
				tt = Type{ID: TypeDateTime2, Scale: 7}
			}
			v, err = convert(v, a[0].typ, tt)
			if err != nil {
				return nil, err
			}
			t := v.(time.Time)
			switch unit {
			case "year":
				return int64(t.Year()), nil
			case "month":
				return int64(t.Month()), nil
			case "day":
				return int64(t.Day()), nil
			case "hour":
				return int64(t.Hour()), nil
			case "minute":
				return int64(t.Minute()), nil
			case "second":
				return int64(t.Second()), nil
			case "millisecond":
				return int64(t.Nanosecond() / 1e6), nil
			case "microsecond":
				return int64(t.Nanosecond() / 1e3), nil
			case "nanosecond":
				return int64(t.Nanosecond()), nil
			}
			return nil, unsupported("DATEPART(" + unit + ")")
		}}, nil
	case "LEN":
		a, err := c.args(f, 1, 1)
		if err != nil {
			return nil, err
		}
		rt := Type{ID: TypeInt, Nullable: true}
		if a[0].typ.Length == MaxLength {
			rt.ID = TypeBigInt
		}
		return &cexpr{typ: rt, deps: a[0].deps, eval: func(en *env) (any, error) {
			v, err := strArg(a[0], en)
			if err != nil || v == nil {
				return nil, err
			}
			// LEN excludes trailing spaces.
			return int64(utf8.RuneCountInString(trimPad(v.(string)))), nil
		}}, nil
	case "DATALENGTH":
		a, err := c.args(f, 1, 1)
		if err != nil {
			return nil, err
		}
		rt := Type{ID: TypeInt, Nullable: true}
		if a[0].typ.Length == MaxLength {
			rt.ID = TypeBigInt
		}
		at := a[0].typ
		return &cexpr{typ: rt, deps: a[0].deps, eval: func(en *env) (any, error) {
			v, err := a[0].eval(en)
			if err != nil || v == nil {
				return nil, err
			}
			return int64(dataLength(v, at)), nil
		}}, nil
	case "ISNULL":
		a, err := c.args(f, 2, 2)
		if err != nil {
			return nil, err
		}
		t := a[0].typ
		if t.ID == TypeNull {
			t = a[1].typ
		}
		t.Nullable = a[1].typ.Nullable
		return &cexpr{typ: t, deriv: a[0].deriv, deps: depsOf(a), eval: func(en *env) (any, error) {
			v, err := a[0].eval(en)
			if err != nil {
				return nil, err
			}
			if v != nil {
				return v, nil
			}
			v, err = a[1].eval(en)
			if err != nil || v == nil {
				return nil, err
			}
			return convert(v, a[1].typ, t)
		}}, nil
	case "COALESCE":
		a, err := c.args(f, 2, 1000)
		if err != nil {
			return nil, err
		}
		t := Type{ID: TypeNull}
		d := derivNone
		for _, e := range a {
			t = commonType(t, e.typ)
			if e.deriv > d {
				d = e.deriv
			}
		}
		t.Nullable = true
		return &cexpr{typ: t, deriv: d, deps: depsOf(a), eval: func(en *env) (any, error) {
			for _, e := range a {
				v, err := e.eval(en)
				if err != nil {
					return nil, err
				}
				if v != nil {
					return convert(v, e.typ, t)
				}
			}
			return nil, nil
		}}, nil
	case "UPPER", "LOWER", "LTRIM", "RTRIM", "TRIM":
		a, err := c.args(f, 1, 1)
		if err != nil {
			return nil, err
		}
		t := a[0].typ
		if !isString(t.ID) {
			t = Type{ID: TypeVarChar, Length: 30}
		}
		name := f.name
		return &cexpr{typ: t, deriv: a[0].deriv, deps: a[0].deps, eval: func(en *env) (any, error) {
			v, err := strArg(a[0], en)
			if err != nil || v == nil {
				return nil, err
			}
			s := v.(string)
			switch name {
			case "UPPER":
				return strings.ToUpper(s), nil
			case "LOWER":
				return strings.ToLower(s), nil
			case "LTRIM":
				return strings.TrimLeft(s, " "), nil
			case "RTRIM":
				return strings.TrimRight(s, " "), nil
			}
			return strings.Trim(s, " "), nil
		}}, nil
	case "SUBSTRING", "LEFT", "RIGHT":
		min, max := 2, 2
		if f.name == "SUBSTRING" {
			min, max = 3, 3
		}
		a, err := c.args(f, min, max)
		if err != nil {
			return nil, err
		}
		t := a[0].typ
		if t.ID == TypeChar {
			t.ID = TypeVarChar
		}
		if t.ID == TypeNChar {
			t.ID = TypeNVarChar
		}
		if t.ID == TypeBinary {
			t.ID = TypeVarBinary
		}
		name := f.name
		return &cexpr{typ: t, deriv: a[0].deriv, deps: depsOf(a), eval: func(en *env) (any, error) {
			var vals []any
			for _, e := range a {
				v, err := e.eval(en)
				if err != nil || v == nil {
					return nil, err
				}
				vals = append(vals, v)
			}
			var ns []int64
			for i := 1; i < len(vals); i++ {
				iv, err := convert(vals[i], a[i].typ, Type{ID: TypeBigInt})
				if err != nil {
					return nil, err
				}
				ns = append(ns, iv.(int64))
			}
			var r []rune
			var b []byte
			if bv, ok := vals[0].([]byte); ok {
				b = bv
			} else {
				sv, err := convert(vals[0], a[0].typ, Type{ID: TypeNVarChar, Length: MaxLength})
				if err != nil {
					return nil, err
				}
				r = []rune(sv.(string))
			}
			n := len(r)
			if b != nil {
				n = len(b)
			}
			var lo, hi int64
			switch name {
			case "LEFT":
				lo, hi = 0, ns[0]
			case "RIGHT":
				lo, hi = int64(n)-ns[0], int64(n)
			default:
				lo, hi = ns[0]-1, ns[0]-1+ns[1]
			}
			if ns[len(ns)-1] < 0 {
				return nil, errf(536, 16, 1, "Invalid length parameter passed to the %s function.", strings.ToLower(name))
			}
			lo = max64(lo, 0)
			hi = min64(hi, int64(n))
			if hi < lo {
				hi = lo
			}
			if b != nil {
				return append([]byte{}, b[lo:hi]...), nil
			}
			return string(r[lo:hi]), nil
		}}, nil
	case "REPLICATE":
		a, err := c.args(f, 2, 2)
		if err != nil {
			return nil, err
		}
		t := a[0].typ
		if !isString(t.ID) {
			t = Type{ID: TypeVarChar}
		}
		// The type of the argument, 8,000 bytes long unless it is MAX.
		if t.Length != MaxLength {
			t.Length = nonMaxLimit(isUnicode(t.ID))
		}
		if t.ID == TypeChar {
			t.ID = TypeVarChar
		}
		if t.ID == TypeNChar {
			t.ID = TypeNVarChar
		}
		return &cexpr{typ: t, deriv: a[0].deriv, deps: depsOf(a), eval: func(en *env) (any, error) {
			v, err := strArg(a[0], en)
			if err != nil || v == nil {
				return nil, err
			}
			nv, err := a[1].eval(en)
			if err != nil || nv == nil {
				return nil, err
			}
			n, err := convert(nv, a[1].typ, Type{ID: TypeBigInt})
			if err != nil {
				return nil, err
			}
			if n.(int64) < 0 {
				return nil, nil
			}
			return replicate(v.(string), n.(int64), isUnicode(t.ID), t.Length == MaxLength)
		}}, nil
	case "ABS":
		a, err := c.args(f, 1, 1)
		if err != nil {
			return nil, err
		}
		return &cexpr{typ: a[0].typ, deps: a[0].deps, eval: func(en *env) (any, error) {
			v, err := a[0].eval(en)
			if err != nil || v == nil {
				return nil, err
			}
			switch n := v.(type) {
			case int64:
				if n < 0 {
					return -n, nil
				}
				return n, nil
			case float64:
				if n < 0 {
					return -n, nil
				}
				return n, nil
			}
			return nil, errf(8117, 16, 1, "Operand data type %s is invalid for abs operator.", a[0].typ.baseName())
		}}, nil
	case "CONCAT":
		a, err := c.args(f, 2, 254)
		if err != nil {
			return nil, err
		}
		t := Type{ID: TypeVarChar, Length: MaxLength}
		for _, e := range a {
			if isUnicode(e.typ.ID) {
				t.ID = TypeNVarChar
			}
		}
		lob := false
		for _, e := range a {
			if isString(e.typ.ID) && e.typ.Length == MaxLength || isBinary(e.typ.ID) && e.typ.Length == MaxLength {
				lob = true
			}
		}
		uni := t.ID == TypeNVarChar
		return &cexpr{typ: t, deriv: derivDefault, deps: depsOf(a), eval: func(en *env) (any, error) {
			parts := make([]string, 0, len(a))
			size := 0
			for _, e := range a {
				v, err := strArg(e, en)
				if err != nil {
					return nil, err
				}
				if v != nil {
					parts = append(parts, v.(string))
					size += len(v.(string))
				}
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
				if stringBytes(b.String(), uni) > maxLOB {
					return nil, errLOBTooLarge()
				}
				return b.String(), nil
			}
			return truncUnits(b.String(), nonMaxLimit(uni), uni), nil
		}}, nil
	case "QUOTENAME":
		a, err := c.args(f, 1, 2)
		if err != nil {
			return nil, err
		}
		return &cexpr{typ: nvar(258), deriv: derivDefault, deps: depsOf(a), eval: func(en *env) (any, error) {
			v, err := strArg(a[0], en)
			if err != nil || v == nil {
				return nil, err
			}
			s := v.(string)
			if utf8.RuneCountInString(s) > 128 {
				return nil, nil // SQL Server returns NULL for input over 128 characters
			}
			open, close := "[", "]"
			if len(a) == 2 {
				q, err := strArg(a[1], en)
				if err != nil || q == nil {
					return nil, err
				}
				switch q.(string) {
				case "[", "]":
				case "'":
					open, close = "'", "'"
				case `"`:
					open, close = `"`, `"`
				case "(", ")":
					open, close = "(", ")"
				case "<", ">":
					open, close = "<", ">"
				case "{", "}":
					open, close = "{", "}"
				case "`":
					open, close = "`", "`"
				default:
					return nil, nil
				}
			}
			return open + strings.ReplaceAll(s, close, close+close) + close, nil
		}}, nil
	case "OBJECT_ID", "TYPE_ID":
		min, max := 1, 2
		if f.name == "TYPE_ID" {
			max = 1
		}
		a, err := c.args(f, min, max)
		if err != nil {
			return nil, err
		}
		name := f.name
		return &cexpr{typ: Type{ID: TypeInt, Nullable: true}, deps: depsOf(a), eval: func(en *env) (any, error) {
			v, err := strArg(a[0], en)
			if err != nil || v == nil {
				return nil, err
			}
			kind := ""
			if len(a) == 2 {
				k, err := strArg(a[1], en)
				if err != nil {
					return nil, err
				}
				if k != nil {
					kind = strings.ToUpper(strings.TrimSpace(k.(string)))
				}
			}
			if name == "TYPE_ID" {
				return x.typeID(v.(string)), nil
			}
			return x.objectID(v.(string), kind), nil
		}}, nil
	case "OBJECT_NAME":
		a, err := c.args(f, 1, 1)
		if err != nil {
			return nil, err
		}
		return &cexpr{typ: nvar(128), deriv: derivDefault, deps: a[0].deps, eval: func(en *env) (any, error) {
			v, err := a[0].eval(en)
			if err != nil || v == nil {
				return nil, err
			}
			id, err := convert(v, a[0].typ, Type{ID: TypeInt})
			if err != nil {
				return nil, err
			}
			return x.objectName(id.(int64)), nil
		}}, nil
	case "SCHEMA_NAME", "SCHEMA_ID":
		a, err := c.args(f, 0, 1)
		if err != nil {
			return nil, err
		}
		name := f.name
		rt := nvar(128)
		if name == "SCHEMA_ID" {
			rt = Type{ID: TypeInt, Nullable: true}
		}
		return &cexpr{typ: rt, deriv: derivDefault, deps: depsOf(a), eval: func(en *env) (any, error) {
			if len(a) == 0 {
				if name == "SCHEMA_ID" {
					return int64(1), nil
				}
				return "dbo", nil
			}
			v, err := a[0].eval(en)
			if err != nil || v == nil {
				return nil, err
			}
			for _, s := range schemas {
				if name == "SCHEMA_NAME" {
					id, err := convert(v, a[0].typ, Type{ID: TypeInt})
					if err != nil {
						return nil, err
					}
					if s.id == id.(int64) {
						return s.name, nil
					}
				} else if sv, ok := v.(string); ok && strings.EqualFold(sv, s.name) {
					return s.id, nil
				}
			}
			return nil, nil
		}}, nil
	case "DB_NAME":
		if _, err := c.args(f, 0, 1); err != nil {
			return nil, err
		}
		return constExpr(x.dbName(), nvar(128), derivDefault), nil
	case "DB_ID":
		if _, err := c.args(f, 0, 1); err != nil {
			return nil, err
		}
		return constExpr(int64(5), Type{ID: TypeSmallInt}, derivNone), nil
	case "USER_NAME", "SUSER_SNAME", "SUSER_NAME", "ORIGINAL_LOGIN":
		if _, err := c.args(f, 0, 0); err != nil {
			return nil, err
		}
		name := x.principal().Name
		if f.name == "USER_NAME" && !x.principal().Restricted {
			// The owner login maps to the dbo user, as in SQL Server.
			name = "dbo"
		}
		return constExpr(name, nvar(128), derivDefault), nil
	case "HAS_PERMS_BY_NAME":
		a, err := c.args(f, 3, 3)
		if err != nil {
			return nil, err
		}
		return &cexpr{typ: Type{ID: TypeInt, Nullable: true}, deps: depsOf(a), eval: func(en *env) (any, error) {
			var s [3]string
			for i, e := range a {
				v, err := strArg(e, en)
				if err != nil {
					return nil, err
				}
				if v == nil {
					return nil, nil
				}
				s[i] = v.(string)
			}
			return x.hasPermsByName(s[0], s[1], s[2]), nil
		}}, nil
	case "NEWID", "RAND", "CHECKSUM", "HASHBYTES", "STRING_AGG", "FORMAT", "IIF", "CHOOSE", "TRY_PARSE", "PARSE",
		"JSON_VALUE", "OPENJSON", "STRING_SPLIT", "ROW_NUMBER", "RANK", "NULLIF", "CHARINDEX", "REPLACE", "STUFF",
		"REVERSE", "ROUND", "FLOOR", "CEILING", "POWER", "SQRT", "EOMONTH", "DATEFROMPARTS", "ERROR_NUMBER",
		"ERROR_MESSAGE", "SCOPE_IDENTITY", "IDENT_CURRENT", "COL_LENGTH", "OBJECTPROPERTY", "COLUMNPROPERTY",
		"SERVERPROPERTY", "DATABASEPROPERTYEX", "SESSIONPROPERTY", "APP_NAME", "HOST_NAME", "XACT_STATE":
		return nil, unsupported("function " + f.name)
	}
	return nil, errf(195, 15, 10, "'%s' is not a recognized built-in function name.", f.name)
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func min64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

// dataLength is DATALENGTH: the bytes a value occupies in SQL Server.
func dataLength(v any, t Type) int {
	switch x := v.(type) {
	case string:
		if isUnicode(t.ID) {
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
		return 8
	case time.Time:
		switch t.ID {
		case TypeDate:
			return 3
		case TypeDateTime:
			return 8
		case TypeDateTime2:
			return timeBytes(t.Scale) + 3
		case TypeDateTimeOffset:
			return timeBytes(t.Scale) + 5
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

func dateAdd(t time.Time, unit string, n int64) (time.Time, bool) {
	const maxSpan = 10000 * 366 * 24 * 3600 // seconds in ten thousand years
	switch unit {
	case "year":
		if n > 10000 || n < -10000 {
			return t, false
		}
		return t.AddDate(int(n), 0, 0), true
	case "quarter":
		if n > 40000 || n < -40000 {
			return t, false
		}
		return addMonths(t, int(n)*3), true
	case "month":
		if n > 120000 || n < -120000 {
			return t, false
		}
		return addMonths(t, int(n)), true
	case "day", "dayofyear", "weekday":
		if n > maxSpan/86400 || n < -maxSpan/86400 {
			return t, false
		}
		return t.AddDate(0, 0, int(n)), true
	case "week":
		if n > maxSpan/86400/7 || n < -maxSpan/86400/7 {
			return t, false
		}
		return t.AddDate(0, 0, 7*int(n)), true
	}
	var d time.Duration
	switch unit {
	case "hour":
		d = time.Hour
	case "minute":
		d = time.Minute
	case "second":
		d = time.Second
	case "millisecond":
		d = time.Millisecond
	case "microsecond":
		d = time.Microsecond
	case "nanosecond":
		d = time.Nanosecond
	}
	limit := int64(maxSpan) * int64(time.Second/d)
	if d >= time.Second {
		limit = int64(maxSpan) / int64(d/time.Second)
	}
	if n > limit || n < -limit {
		return t, false
	}
	// Add in whole seconds and a remainder so that long spans do not
	// overflow time.Duration.
	per := int64(time.Second / d)
	if d >= time.Second {
		return t.Add(time.Duration(n) * d), true
	}
	return t.Add(time.Duration(n/per) * time.Second).Add(time.Duration(n%per) * d), true
}

// addMonths adds months as SQL Server does: the day is clamped to the
// last day of the resulting month.
func addMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	total := int(m) - 1 + n
	ny := y + total/12
	nm := total % 12
	if nm < 0 {
		nm += 12
		ny--
	}
	last := time.Date(ny, time.Month(nm+2), 0, 0, 0, 0, 0, time.UTC).Day()
	if d > last {
		d = last
	}
	h, mi, s := t.Clock()
	return time.Date(ny, time.Month(nm+1), d, h, mi, s, t.Nanosecond(), t.Location())
}

// dateDiff counts the unit boundaries crossed from a to b, as DATEDIFF.
func dateDiff(a, b time.Time, unit string) (int64, bool) {
	switch unit {
	case "year":
		return int64(b.Year() - a.Year()), true
	case "quarter":
		return int64((b.Year()*12+int(b.Month())-1)/3 - (a.Year()*12+int(a.Month())-1)/3), true
	case "month":
		return int64(b.Year()*12 + int(b.Month()) - a.Year()*12 - int(a.Month())), true
	}
	days := func(t time.Time) int64 {
		y, m, d := t.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
	}
	dd := days(b) - days(a)
	switch unit {
	case "day", "dayofyear", "weekday":
		return dd, true
	case "week":
		// Weeks start on Sunday (DATEFIRST 7).
		wk := func(t time.Time) int64 { return (days(t) + 4) / 7 }
		return wk(b) - wk(a), true
	}
	sec := func(t time.Time) int64 { return t.Unix() }
	switch unit {
	case "hour":
		return sec(b)/3600 - sec(a)/3600, true
	case "minute":
		return sec(b)/60 - sec(a)/60, true
	case "second":
		return sec(b) - sec(a), true
	}
	ds := sec(b) - sec(a)
	dn := int64(b.Nanosecond()) - int64(a.Nanosecond())
	var per int64
	switch unit {
	case "millisecond":
		per = 1000
		dn = int64(b.Nanosecond()/1e6) - int64(a.Nanosecond()/1e6)
	case "microsecond":
		per = 1000000
		dn = int64(b.Nanosecond()/1e3) - int64(a.Nanosecond()/1e3)
	case "nanosecond":
		per = 1000000000
	default:
		return 0, false
	}
	if ds > (1<<62)/per || ds < -(1<<62)/per {
		return 0, false
	}
	return ds*per + dn, true
}

// aggregate compiles an aggregate function call inside a grouping query.
func (c *compiler) aggregate(f *funcExpr) (*cexpr, error) {
	sc := c.sc
	if !sc.allowAgg {
		return nil, errf(147, 15, 1, "An aggregate may not appear in the WHERE clause unless it is in a subquery contained in a HAVING clause or a select list, and the column being aggregated is an outer reference.")
	}
	if sc.inAgg {
		return nil, errf(130, 16, 1, "Cannot perform an aggregate function on an expression containing an aggregate or a subquery.")
	}
	spec := &aggSpec{name: f.name, star: f.star, distinct: f.distinct}
	if f.star {
		if f.name != "COUNT" && f.name != "COUNT_BIG" {
			return nil, errf(102, 15, 1, "Incorrect syntax near '*'.")
		}
	} else {
		if len(f.args) != 1 {
			return nil, errf(174, 15, 1, "The %s function requires 1 argument(s).", strings.ToLower(f.name))
		}
		sc.inAgg = true
		arg, err := c.value(f.args[0])
		sc.inAgg = false
		if err != nil {
			return nil, err
		}
		spec.arg = arg
	}
	switch f.name {
	case "COUNT":
		spec.typ = Type{ID: TypeInt}
	case "COUNT_BIG":
		spec.typ = Type{ID: TypeBigInt}
	case "SUM", "AVG":
		t := spec.arg.typ
		switch {
		case t.ID == TypeFloat:
		case t.ID == TypeReal:
			// SUM and AVG of REAL are FLOAT in SQL Server.
			t = Type{ID: TypeFloat}
		case isInt(t.ID) && t.ID != TypeBigInt:
			t = Type{ID: TypeInt}
		case t.ID == TypeBigInt:
		default:
			return nil, errf(8117, 16, 1, "Operand data type %s is invalid for %s operator.", t.baseName(), strings.ToLower(f.name))
		}
		spec.typ = t
		spec.typ.Nullable = true
	default:
		spec.typ = spec.arg.typ
		spec.typ.Nullable = true
	}
	i := len(sc.aggs)
	sc.aggs = append(sc.aggs, spec)
	d := derivNone
	if isString(spec.typ.ID) {
		d = derivImplicit
	}
	return &cexpr{typ: spec.typ, deriv: d, eval: func(en *env) (any, error) {
		if en.aggs == nil {
			return nil, nil
		}
		return en.aggs[i], nil
	}}, nil
}

// aggState accumulates one aggregate over a group.
type aggState struct {
	spec  *aggSpec
	count int64
	val   any
	seen  map[string]bool
}

func (a *aggState) add(en *env) error {
	if a.spec.star {
		a.count++
		return nil
	}
	v, err := a.spec.arg.eval(en)
	if err != nil || v == nil {
		return err
	}
	if a.spec.distinct {
		k := keyPart(v, collationKind(a.spec.arg.typ.Collation))
		if a.seen == nil {
			a.seen = map[string]bool{}
		}
		if a.seen[k] {
			return nil
		}
		a.seen[k] = true
	}
	a.count++
	switch a.spec.name {
	case "MIN", "MAX":
		if a.val == nil {
			a.val = v
			return nil
		}
		cmp := compareValues(v, a.val, collationKind(a.spec.arg.typ.Collation))
		if (a.spec.name == "MIN" && cmp < 0) || (a.spec.name == "MAX" && cmp > 0) {
			a.val = v
		}
	case "SUM", "AVG":
		cv, err := convert(v, a.spec.arg.typ, a.spec.typ)
		if err != nil {
			return err
		}
		if a.val == nil {
			a.val = cv
			return nil
		}
		switch x := a.val.(type) {
		case int64:
			y := cv.(int64)
			s := x + y
			lo, hi := intRange(a.spec.typ.ID)
			if (s > x) != (y > 0) && y != 0 || s < lo || s > hi {
				return overflow(a.spec.typ)
			}
			a.val = s
		case float64:
			a.val = x + cv.(float64)
		}
	}
	return nil
}

func (a *aggState) result() (any, error) {
	switch a.spec.name {
	case "COUNT":
		if a.count > 2147483647 {
			return nil, overflow(Type{ID: TypeInt})
		}
		return a.count, nil
	case "COUNT_BIG":
		return a.count, nil
	case "AVG":
		if a.val == nil {
			return nil, nil
		}
		switch x := a.val.(type) {
		case int64:
			return x / a.count, nil
		case float64:
			return x / float64(a.count), nil
		}
	}
	return a.val, nil
}
