package tsql

import (
	"fmt"
	"strings"
)

// lobFuncs are the built-in functions that take TEXT, NTEXT and IMAGE
// arguments as SQL Server does.
var lobFuncs = map[string]bool{"DATALENGTH": true, "ISNULL": true, "COALESCE": true}

// aggregates are the aggregate functions the engine implements.
var aggregates = map[string]bool{"COUNT": true, "COUNT_BIG": true, "MIN": true, "MAX": true, "SUM": true, "AVG": true}

// builtin is one built-in scalar function: the bounds on its argument
// count and the function that compiles a call from its compiled
// arguments. Adding a function is adding one entry to builtins.
type builtin struct {
	min, max int
	compile  func(c *compiler, f *funcExpr, a []*cexpr) (*cexpr, error)
}

// builtins are the scalar functions the engine implements, by upper-case
// name. The families live in funcs_date.go, funcs_string.go,
// funcs_meta.go and funcs_scalar.go.
var builtins map[string]builtin

func init() {
	builtins = map[string]builtin{
		// funcs_date.go
		"SYSUTCDATETIME": {0, 0, clockFunc}, "SYSDATETIME": {0, 0, clockFunc},
		"GETUTCDATE": {0, 0, clockFunc}, "GETDATE": {0, 0, clockFunc},
		"SYSDATETIMEOFFSET": {0, 0, clockFunc},
		"DATEADD":           {2, 2, dateAddFunc},
		"DATEDIFF":          {2, 2, dateDiffFunc}, "DATEDIFF_BIG": {2, 2, dateDiffFunc},
		"DATEPART": {1, 1, datePartFunc},
		// funcs_string.go
		"LEN":        {1, 1, lenFunc},
		"DATALENGTH": {1, 1, dataLengthFunc},
		"UPPER":      {1, 1, mapString(strings.ToUpper)},
		"LOWER":      {1, 1, mapString(strings.ToLower)},
		"LTRIM":      {1, 1, mapString(func(s string) string { return strings.TrimLeft(s, " ") })},
		"RTRIM":      {1, 1, mapString(func(s string) string { return strings.TrimRight(s, " ") })},
		"TRIM":       {1, 1, mapString(func(s string) string { return strings.Trim(s, " ") })},
		"SUBSTRING":  {3, 3, substringFunc}, "LEFT": {2, 2, substringFunc}, "RIGHT": {2, 2, substringFunc},
		"REPLICATE": {2, 2, replicateFunc},
		"CONCAT":    {2, 254, concatFunc},
		"QUOTENAME": {1, 2, quoteNameFunc},
		// funcs_scalar.go
		"ISNULL":   {2, 2, isNullFunc},
		"COALESCE": {2, 1000, coalesceFunc},
		"NULLIF":   {2, 2, nullIfFunc},
		"ABS":      {1, 1, absFunc},
		// funcs_meta.go
		"OBJECT_ID":   {1, 2, objectIDFunc},
		"TYPE_ID":     {1, 1, typeIDFunc},
		"OBJECT_NAME": {1, 1, objectNameFunc},
		"SCHEMA_NAME": {0, 1, schemaNameFunc},
		"SCHEMA_ID":   {0, 1, schemaIDFunc},
		"DB_NAME":     {0, 1, dbNameFunc},
		"DB_ID":       {0, 1, dbIDFunc},
		"USER_NAME":   {0, 0, userNameFunc}, "SUSER_SNAME": {0, 0, userNameFunc},
		"SUSER_NAME": {0, 0, userNameFunc}, "ORIGINAL_LOGIN": {0, 0, userNameFunc},
		"HAS_PERMS_BY_NAME": {3, 3, hasPermsByNameFunc},
		// identity.go
		"SCOPE_IDENTITY": {0, 0, scopeIdentityFunc},
		"IDENT_CURRENT":  {1, 1, identFigureFunc}, "IDENT_SEED": {1, 1, identFigureFunc}, "IDENT_INCR": {1, 1, identFigureFunc},
		// variant.go
		"SQL_VARIANT_PROPERTY": {2, 2, variantPropertyFunc},
	}
}

// refusedFuncs are SQL Server's other built-in functions, which the
// engine does not implement: a call is refused with 40517 naming the
// function, where a name SQL Server does not know gets its 195. The list
// follows the categories of Microsoft's T-SQL function reference.
var refusedFuncs = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`
		ASCII CHAR CHARINDEX CONCAT_WS DIFFERENCE FORMAT NCHAR PATINDEX REPLACE REVERSE SOUNDEX SPACE STR
		STRING_AGG STRING_ESCAPE STRING_SPLIT STUFF TRANSLATE UNICODE
		ACOS ASIN ATAN ATN2 CEILING COS COT DEGREES EXP FLOOR LOG LOG10 PI POWER RADIANS RAND ROUND SIGN
		SIN SQRT SQUARE TAN
		DATE_BUCKET DATEFROMPARTS DATENAME DATETIME2FROMPARTS DATETIMEFROMPARTS DATETIMEOFFSETFROMPARTS
		DATETRUNC DAY EOMONTH ISDATE MONTH SMALLDATETIMEFROMPARTS SWITCHOFFSET TIMEFROMPARTS
		TODATETIMEOFFSET YEAR
		CHOOSE GREATEST IIF LEAST PARSE TRY_PARSE ISNUMERIC
		BINARY_CHECKSUM CHECKSUM CHECKSUM_AGG COMPRESS DECOMPRESS CONNECTIONPROPERTY CONTEXT_INFO
		CURRENT_REQUEST_ID CURRENT_TRANSACTION_ID ERROR_LINE ERROR_MESSAGE ERROR_NUMBER ERROR_PROCEDURE
		ERROR_SEVERITY ERROR_STATE FORMATMESSAGE GETANSINULL HOST_ID HOST_NAME MIN_ACTIVE_ROWVERSION NEWID
		NEWSEQUENTIALID ROWCOUNT_BIG SESSION_CONTEXT XACT_STATE
		APP_NAME COL_LENGTH COL_NAME COLUMNPROPERTY DATABASEPROPERTYEX FILE_ID FILE_NAME FILEGROUP_ID
		FILEGROUP_NAME INDEX_COL INDEXKEY_PROPERTY INDEXPROPERTY OBJECT_DEFINITION OBJECT_SCHEMA_NAME
		OBJECTPROPERTY OBJECTPROPERTYEX ORIGINAL_DB_NAME PARSENAME SERVERPROPERTY
		SESSIONPROPERTY STATS_DATE TYPE_NAME TYPEPROPERTY
		APPLOCK_MODE APPLOCK_TEST
		HAS_DBACCESS IS_MEMBER IS_ROLEMEMBER IS_SRVROLEMEMBER LOGINPROPERTY PERMISSIONS PWDCOMPARE
		PWDENCRYPT SUSER_ID SUSER_SID USER_ID
		ISJSON JSON_ARRAY JSON_MODIFY JSON_OBJECT JSON_PATH_EXISTS JSON_QUERY JSON_VALUE OPENJSON
		HASHBYTES CRYPT_GEN_RANDOM ENCRYPTBYKEY DECRYPTBYKEY ENCRYPTBYPASSPHRASE DECRYPTBYPASSPHRASE
		ROW_NUMBER RANK DENSE_RANK NTILE LAG LEAD FIRST_VALUE LAST_VALUE CUME_DIST PERCENT_RANK
		PERCENTILE_CONT PERCENTILE_DISC APPROX_COUNT_DISTINCT GROUPING GROUPING_ID STDEV STDEVP VAR VARP
		COLUMNS_UPDATED EVENTDATA TRIGGER_NESTLEVEL
		BIT_COUNT GET_BIT LEFT_SHIFT RIGHT_SHIFT SET_BIT GENERATE_SERIES`) {
		refusedFuncs[n] = true
	}
}

// function compiles a call of a built-in function.
func (c *compiler) function(f *funcExpr) (*cexpr, error) {
	if aggregates[f.name] {
		return c.aggregate(f)
	}
	b, ok := builtins[f.name]
	if !ok {
		if refusedFuncs[f.name] {
			return nil, unsupported("function " + f.name)
		}
		return nil, errf(195, 15, 10, "'%s' is not a recognized built-in function name.", f.name)
	}
	a, err := c.args(f, b.min, b.max)
	if err != nil {
		return nil, err
	}
	for i, e := range a {
		if e.typ.ID == TypeVariant && f.name != "SQL_VARIANT_PROPERTY" {
			// variant.go: the functions' rules over sql_variant are not modelled.
			return nil, unsupported(fmt.Sprintf("function %s over sql_variant (argument %d)", f.name, i+1))
		}
		if isLOB(e.typ.ID) && !lobFuncs[f.name] || e.typ.ID == TypeXML && f.name != "ISNULL" && f.name != "COALESCE" {
			// SQL Server takes TEXT, NTEXT and IMAGE in few functions
			// (8116 for LEN, UPPER, ...; SUBSTRING returns VARCHAR),
			// which this engine does not model one by one.
			return nil, unsupported(fmt.Sprintf("function %s over %s (argument %d)", f.name, e.typ.baseName(), i+1))
		}
	}
	return b.compile(c, f, a)
}

// args compiles the arguments of a call, checking their count as SQL
// Server does (174 for a fixed count, 189 for a range).
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

// evalAll evaluates arguments in order; vals is nil when one is NULL,
// and the arguments after it are not evaluated.
func evalAll(a []*cexpr, en *env) (vals []any, err error) {
	vals = make([]any, 0, len(a))
	for _, e := range a {
		v, err := e.eval(en)
		if err != nil || v == nil {
			return nil, err
		}
		vals = append(vals, v)
	}
	return vals, nil
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
		if arg.typ.ID == TypeVariant && (f.distinct || f.name != "COUNT" && f.name != "COUNT_BIG") {
			return nil, unsupported(f.name + " over sql_variant") // variant.go
		}
		if (isLOB(arg.typ.ID) || arg.typ.ID == TypeXML) && (f.distinct || f.name != "COUNT" && f.name != "COUNT_BIG") {
			if f.distinct {
				// SQL Server compares the values for DISTINCT, which it
				// does not do for TEXT, NTEXT and IMAGE.
				return nil, unsupported(f.name + "(DISTINCT) over " + arg.typ.baseName())
			}
			return nil, errf(8117, 16, 1, "Operand data type %s is invalid for %s operator.", arg.typ.baseName(), strings.ToLower(f.name))
		}
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
		case isDecimal(t.ID) && f.name == "SUM":
			// SUM of DECIMAL(p,s) is DECIMAL(38,s).
			t = Type{ID: t.ID, Precision: 38, Scale: t.Scale}
		case isMoney(t.ID) && f.name == "SUM":
			// SUM of MONEY and SMALLMONEY is MONEY.
			t = Type{ID: TypeMoney}
		case isExact(t.ID):
			// AVG of DECIMAL is DECIMAL(38, max(s,6)), divided as SQL
			// Server divides, which this engine does not model yet.
			return nil, unsupported("AVG over " + t.baseName())
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
	ds    dateStyle // the session's, for SUM's and AVG's conversions
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
		cv, err := convert(a.ds, v, a.spec.arg.typ, a.spec.typ)
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
		case Decimal:
			s, err := decimalOp("+", a.spec.typ, x, cv.(Decimal))
			if err != nil {
				return err
			}
			a.val = s
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
