package tsql

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Collation derivations, in SQL Server's order of precedence.
const (
	derivNone     = iota // not a character type
	derivDefault         // coercible-default: literals, variables, parameters
	derivImplicit        // a column reference
	derivExplicit        // a COLLATE clause
)

// row is one stored or computed row.
type row struct {
	vals []any
	pos  int    // index in its table's rows slice
	seq  uint64 // order of insertion into its table (range.go)
}

// env is the evaluation environment of an expression: the current row of
// each source in scope, the enclosing query's environment for correlated
// subqueries, and the aggregate values of the current group.
type env struct {
	rows  []*row
	outer *env
	aggs  []any
}

// cexpr is a compiled expression.
type cexpr struct {
	typ   Type
	deriv int
	deps  uint64 // bit i: reads source i of the current scope
	pred  bool   // a predicate (evaluates to true, false or nil for UNKNOWN)
	eval  func(e *env) (any, error)

	// A plain column reference of the current scope.
	isCol  bool
	colSrc int
	colIdx int

	// An equality between a column of the current scope and an
	// expression not reading that column's source, usable for a
	// primary-key seek.
	eqSrc, eqCol int
	eqOther      *cexpr
	seekOK       bool
	// A comparison usable as a bound of a range seek (range.go).
	rng *rangeTerm

	// conj lists the conjuncts of an AND chain (nil otherwise).
	conj []*cexpr
}

// source is one row source of a query scope.
type source struct {
	alias  string // the alias, or "" when the table was not aliased
	schema string // schema of a base table or catalog view
	name   string // table name for matching an unaliased reference
	cols   []Column
	deriv  []int  // collation derivation of each column
	tbl    *table // a base table or a table variable
	base   bool   // tbl is a permanent table (with statistics)
	rows   func(outer *env) ([]*row, error)
	idx    int
	lk     lockSpec // how a base table is locked as it is read
	hints  []string // its table hints
}

type scope struct {
	parent     *scope
	sources    []*source
	parentDeps uint64 // sources of the parent scope read by this scope
	aggs       []*aggSpec
	allowAgg   bool
	inAgg      bool
}

type aggSpec struct {
	name     string
	arg      *cexpr
	star     bool
	distinct bool
	typ      Type
}

// compiler is the bind step: it turns syntax into closures, resolving
// names (through the catalog) and types once per statement execution.
type compiler struct {
	cat catalog
	sc  *scope
}

func (c *compiler) withScope(sc *scope) *compiler { return &compiler{cat: c.cat, sc: sc} }

// dates is the date style (language, DATEFORMAT) of the session the
// statement runs in, read through the catalog: conversions between
// strings and dates are compiled with it (a compiled expression may read
// it again when it runs, which gives the same answer: statements are
// bound when they run, and no SET runs inside a statement).
func (c *compiler) dates() dateStyle { return c.cat.dateStyle() }

func constExpr(v any, t Type, deriv int) *cexpr {
	return &cexpr{typ: t, deriv: deriv, eval: func(*env) (any, error) { return v, nil }}
}

func boolType() Type { return Type{ID: TypeBit} }

// value compiles an expression that must yield a value (not a predicate).
func (c *compiler) value(x expr) (*cexpr, error) {
	e, err := c.compile(x)
	if err != nil {
		return nil, err
	}
	if e.pred {
		return nil, errf(4145, 15, 1, "An expression of non-boolean type specified in a context where a condition is expected, near '%s'.", "=")
	}
	return e, nil
}

// predicate compiles a search condition.
func (c *compiler) predicate(x expr) (*cexpr, error) {
	e, err := c.compile(x)
	if err != nil {
		return nil, err
	}
	if !e.pred {
		return nil, errf(4145, 15, 1, "An expression of non-boolean type specified in a context where a condition is expected.")
	}
	return e, nil
}

func (c *compiler) compile(x expr) (*cexpr, error) {
	switch n := x.(type) {
	case *litExpr:
		d := derivNone
		t := n.typ
		if isString(t.ID) {
			d = derivDefault
		}
		t.Nullable = n.val == nil
		return constExpr(n.val, t, d), nil
	case *colExpr:
		return c.column(n.parts)
	case *varExpr:
		return c.variable(n)
	case *globalExpr:
		return c.cat.global(n.name)
	case *collateExpr:
		return c.collate(n)
	case *binExpr:
		return c.binary(n)
	case *unaryExpr:
		return c.unary(n)
	case *isNullExpr:
		return c.isNull(n)
	case *betweenExpr:
		lo := &binExpr{op: ">=", l: n.x, r: n.lo}
		hi := &binExpr{op: "<=", l: n.x, r: n.hi}
		var b expr = &binExpr{op: "AND", l: lo, r: hi}
		if n.not {
			b = &unaryExpr{op: "NOT", x: b}
		}
		return c.compile(b)
	case *inExpr:
		return c.in(n)
	case *likeExpr:
		return c.like(n)
	case *funcExpr:
		return c.function(n)
	case *castExpr:
		return c.cast(n)
	case *existsExpr:
		return c.exists(n)
	case *subqueryExp:
		return c.scalarSubquery(n)
	case *caseExpr:
		return c.caseX(n)
	}
	return nil, unsupported(fmt.Sprintf("expression %T", x))
}

// variable compiles a scalar @variable; it reads the value current when
// the expression runs.
func (c *compiler) variable(n *varExpr) (*cexpr, error) {
	v, ok := c.cat.variable(n.name)
	if !ok {
		return nil, errf(137, 15, 2, "Must declare the scalar variable \"%s\".", n.name)
	}
	if v.table != nil {
		return nil, errf(137, 15, 2, "Must declare the scalar variable \"%s\".", n.name)
	}
	d := derivNone
	if isString(v.typ.ID) {
		d = derivDefault
	}
	t := v.typ
	t.Nullable = true
	return &cexpr{typ: t, deriv: d, eval: func(*env) (any, error) { return v.val, nil }}, nil
}

// collate compiles expr COLLATE name: an explicit collation.
func (c *compiler) collate(n *collateExpr) (*cexpr, error) {
	e, err := c.value(n.x)
	if err != nil {
		return nil, err
	}
	if !isString(e.typ.ID) {
		return nil, errf(447, 16, 1, "Expression type %s is invalid for COLLATE clause.", e.typ.baseName())
	}
	out := *e
	out.typ.Collation = n.collation
	out.deriv = derivExplicit
	out.isCol = false
	return &out, nil
}

// isNull compiles expr IS [NOT] NULL.
func (c *compiler) isNull(n *isNullExpr) (*cexpr, error) {
	e, err := c.value(n.x)
	if err != nil {
		return nil, err
	}
	return &cexpr{typ: boolType(), pred: true, deps: e.deps, eval: func(en *env) (any, error) {
		v, err := e.eval(en)
		if err != nil {
			return nil, err
		}
		return (v == nil) != n.not, nil
	}}, nil
}

// exists compiles EXISTS (subquery): it stops at the first row.
func (c *compiler) exists(n *existsExpr) (*cexpr, error) {
	sub, deps, err := c.subquery(n.sub)
	if err != nil {
		return nil, err
	}
	cat := c.cat
	return &cexpr{typ: boolType(), pred: true, deps: deps, eval: func(en *env) (any, error) {
		rows, err := cat.runSelect(sub, en, 1)
		if err != nil {
			return nil, err
		}
		return len(rows) > 0, nil
	}}, nil
}

// scalarSubquery compiles a subquery used as a value: NULL without rows,
// error 512 with more than one.
func (c *compiler) scalarSubquery(n *subqueryExp) (*cexpr, error) {
	sub, deps, err := c.subquery(n.sub)
	if err != nil {
		return nil, err
	}
	if len(sub.cols) != 1 {
		return nil, errf(116, 16, 1, "Only one expression can be specified in the select list when the subquery is not introduced with EXISTS.")
	}
	t := sub.cols[0].Type
	t.Nullable = true
	d := derivNone
	if isString(t.ID) {
		d = derivImplicit
	}
	cat := c.cat
	return &cexpr{typ: t, deriv: d, deps: deps, eval: func(en *env) (any, error) {
		rows, err := cat.runSelect(sub, en, 2)
		if err != nil {
			return nil, err
		}
		switch len(rows) {
		case 0:
			return nil, nil
		case 1:
			return rows[0][0], nil
		}
		return nil, errf(512, 16, 1, "Subquery returned more than 1 value. This is not permitted when the subquery follows =, !=, <, <= , >, >= or when the subquery is used as an expression.")
	}}, nil
}

// subquery compiles a nested SELECT whose outer scope is c's scope.
func (c *compiler) subquery(s *selectStmt) (*compiledSelect, uint64, error) {
	sc := &scope{parent: c.sc}
	sub, err := compileSelect(c.withScope(sc), s)
	if err != nil {
		return nil, 0, err
	}
	return sub, sc.parentDeps, nil
}

// column resolves a column reference.
func (c *compiler) column(parts []string) (*cexpr, error) {
	name := parts[len(parts)-1]
	qual := parts[:len(parts)-1]
	depth := 0
	var child *scope
	for sc := c.sc; sc != nil; sc = sc.parent {
		var found *source
		col := -1
		for _, src := range sc.sources {
			if len(qual) > 0 && !src.matches(qual) {
				continue
			}
			for i, cl := range src.cols {
				if strings.EqualFold(cl.Name, name) {
					if found != nil {
						return nil, errf(209, 16, 1, "Ambiguous column name '%s'.", name)
					}
					found, col = src, i
					break
				}
			}
		}
		if found != nil {
			if child != nil {
				child.parentDeps |= 1 << uint(found.idx)
			}
			t := found.cols[col].Type
			d := found.deriv[col]
			if !isString(t.ID) {
				d = derivNone
			}
			e := &cexpr{typ: t, deriv: d}
			si, d2 := found.idx, depth
			if d2 == 0 {
				e.deps = 1 << uint(si)
				e.isCol = true
				e.colSrc, e.colIdx = si, col
				e.eval = func(en *env) (any, error) {
					r := en.rows[si]
					if r == nil {
						return nil, nil
					}
					return r.vals[col], nil
				}
			} else {
				e.eval = func(en *env) (any, error) {
					for i := 0; i < d2; i++ {
						en = en.outer
					}
					r := en.rows[si]
					if r == nil {
						return nil, nil
					}
					return r.vals[col], nil
				}
			}
			return e, nil
		}
		// A qualifier that names a source of this scope binds here.
		if len(qual) > 0 {
			for _, src := range sc.sources {
				if src.matches(qual) {
					return nil, errf(207, 16, 1, "Invalid column name '%s'.", name)
				}
			}
		}
		child = sc
		depth++
	}
	if len(qual) > 0 {
		return nil, errf(4104, 16, 1, "The multi-part identifier \"%s\" could not be bound.", strings.Join(parts, "."))
	}
	return nil, errf(207, 16, 1, "Invalid column name '%s'.", name)
}

// matches reports whether a qualifier (alias, table or schema.table)
// names this source.
func (s *source) matches(qual []string) bool {
	if s.alias != "" {
		return len(qual) == 1 && strings.EqualFold(qual[0], s.alias)
	}
	last := qual[len(qual)-1]
	if !strings.EqualFold(last, s.name) {
		return false
	}
	if len(qual) >= 2 && qual[len(qual)-2] != "" && !strings.EqualFold(qual[len(qual)-2], s.schema) {
		return false
	}
	return true
}

// global compiles a session's @@ function.
func (s *Session) global(name string) (*cexpr, error) {
	intT := Type{ID: TypeInt}
	switch name {
	case "@@IDENTITY":
		// NUMERIC(38,0): the last IDENTITY value the session generated (identity.go).
		return &cexpr{typ: numeric38(), eval: func(*env) (any, error) { return identityValue(s.identity), nil }}, nil
	case "@@ROWCOUNT":
		return &cexpr{typ: intT, eval: func(*env) (any, error) { return s.rowcount, nil }}, nil
	case "@@TRANCOUNT":
		return &cexpr{typ: intT, eval: func(*env) (any, error) { return int64(s.tranCount), nil }}, nil
	case "@@ERROR":
		return &cexpr{typ: intT, eval: func(*env) (any, error) { return int64(s.lastError), nil }}, nil
	case "@@SPID":
		return constExpr(int64(s.spid), Type{ID: TypeSmallInt}, derivNone), nil
	case "@@VERSION":
		return constExpr(Version, Type{ID: TypeNVarChar, Length: 300}, derivDefault), nil
	case "@@SERVERNAME":
		return constExpr("mssqltest", Type{ID: TypeNVarChar, Length: 128}, derivDefault), nil
	case "@@LANGUAGE":
		// The session language's name in sys.syslanguages.
		return constExpr(s.dates.lang.name, Type{ID: TypeNVarChar, Length: 128}, derivDefault), nil
	case "@@LOCK_TIMEOUT":
		return &cexpr{typ: intT, eval: func(*env) (any, error) { return s.lockTimeout, nil }}, nil
	case "@@MAX_PRECISION":
		return constExpr(int64(38), Type{ID: TypeTinyInt}, derivNone), nil
	case "@@OPTIONS":
		return &cexpr{typ: intT, eval: func(*env) (any, error) {
			o := s.opts
			if s.nocount {
				o |= optNoCount
			}
			if s.xactAbort {
				o |= optXactAbort
			}
			return int64(o), nil
		}}, nil
	}
	if sqlServerGlobals[name] {
		// SQL Server has this function; the engine does not model it.
		return nil, unsupported(name)
	}
	return nil, errf(137, 15, 2, "Must declare the scalar variable \"%s\".", name)
}

// sqlServerGlobals are SQL Server's @@ functions (upper case).
var sqlServerGlobals = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`@@CONNECTIONS @@CPU_BUSY @@CURSOR_ROWS @@DATEFIRST @@DBTS @@DEF_SORTORDER_ID
		@@DEFAULT_LANGID @@FETCH_STATUS @@IDENTITY @@IDLE @@IO_BUSY @@LANGID @@MAX_CONNECTIONS
		@@MICROSOFTVERSION @@NESTLEVEL @@PACK_RECEIVED @@PACK_SENT @@PACKET_ERRORS @@PROCID
		@@REMSERVER @@SERVICENAME @@TEXTSIZE @@TIMETICKS @@TOTAL_ERRORS @@TOTAL_READ @@TOTAL_WRITE`) {
		sqlServerGlobals[n] = true
	}
}

// Version is the value of @@VERSION. It says plainly that this is the
// test double.
const Version = "mssqltest: an in-memory T-SQL test double for the mssqlstore tests, not Microsoft SQL Server (models SQL Server 2022 behaviour)"

// resolveCollation applies SQL Server's collation precedence to the two
// operands of a comparison or concatenation.
func resolveCollation(a, b *cexpr, op string) (string, int, error) {
	ca, cb := a.typ.Collation, b.typ.Collation
	norm := func(s string) string {
		if s == "" {
			return DefaultCollation
		}
		return s
	}
	switch {
	case a.deriv == derivExplicit && b.deriv == derivExplicit:
		if !strings.EqualFold(norm(ca), norm(cb)) {
			return "", 0, errf(468, 16, 9, "Cannot resolve the collation conflict between \"%s\" and \"%s\" in the %s operation.", norm(ca), norm(cb), opName(op))
		}
		return ca, derivExplicit, nil
	case a.deriv == derivExplicit:
		return ca, derivExplicit, nil
	case b.deriv == derivExplicit:
		return cb, derivExplicit, nil
	case a.deriv == derivImplicit && b.deriv == derivImplicit:
		if !strings.EqualFold(norm(ca), norm(cb)) {
			return "", 0, errf(468, 16, 9, "Cannot resolve the collation conflict between \"%s\" and \"%s\" in the %s operation.", norm(ca), norm(cb), opName(op))
		}
		return ca, derivImplicit, nil
	case a.deriv == derivImplicit:
		return ca, derivImplicit, nil
	case b.deriv == derivImplicit:
		return cb, derivImplicit, nil
	}
	return "", derivDefault, nil
}

func opName(op string) string {
	switch op {
	case "=":
		return "equal to"
	case "<>":
		return "not equal to"
	case "<":
		return "less than"
	case "<=":
		return "less than or equal to"
	case ">":
		return "greater than"
	case ">=":
		return "greater than or equal to"
	case "+":
		return "add"
	case "-":
		return "subtract"
	case "*":
		return "multiply"
	case "/":
		return "divide"
	case "%":
		return "modulo"
	case "&":
		return "boolean AND"
	case "|":
		return "boolean OR"
	case "^":
		return "boolean XOR"
	}
	return op
}

// commonType is the type two operands are converted to: the one with the
// higher data type precedence, with string and binary lengths widened.
func commonType(a, b Type) Type {
	if a.ID == TypeNull {
		return b
	}
	if b.ID == TypeNull {
		return a
	}
	hi := a
	if precedence(b.ID) > precedence(a.ID) {
		hi = b
	}
	if (isString(a.ID) && isString(b.ID)) || (isBinary(a.ID) && isBinary(b.ID)) {
		l := a.Length
		if b.Length == MaxLength || (l != MaxLength && b.Length > l) {
			l = b.Length
		}
		hi.Length = l
	}
	if hi.ID == TypeDateTime2 || hi.ID == TypeDateTimeOffset || hi.ID == TypeTime {
		s := 0
		for _, t := range []Type{a, b} {
			if t.ID == TypeDateTime2 || t.ID == TypeDateTimeOffset || t.ID == TypeTime {
				if t.Scale > s {
					s = t.Scale
				}
			} else if t.ID == TypeDateTime {
				if s < 3 {
					s = 3
				}
			}
		}
		hi.Scale = s
	}
	if isDecimal(hi.ID) {
		hi.Precision, hi.Scale = decimalUnion(a, b)
	}
	return hi
}

// exactFacets are the precision and scale a type has as a DECIMAL:
// its own for DECIMAL and NUMERIC, (19,4) and (10,4) for MONEY and
// SMALLMONEY, the digits of its range for the integers.
func exactFacets(t Type) (p, s int) {
	switch t.ID {
	case TypeDecimal, TypeNumeric:
		return t.Precision, t.Scale
	case TypeMoney:
		return 19, 4
	case TypeSmallMoney:
		return 10, 4
	case TypeBigInt:
		return 19, 0
	case TypeInt:
		if t.Precision > 0 {
			// An integer literal counts its own digits: 3 is
			// NUMERIC(1,0) in decimal arithmetic, so SELECT 2.0/3 has
			// scale 6 (0.666666).
			return t.Precision, 0
		}
		return 10, 0
	case TypeSmallInt:
		return 5, 0
	case TypeTinyInt:
		return 3, 0
	}
	return 1, 0 // BIT, and NULL or a string, which take the other's facets
}

// decimalUnion is the DECIMAL type that holds values of two types, as
// SQL Server types CASE, UNION and comparisons ("Precision, scale, and
// length"): max(p1-s1, p2-s2) integer digits and max(s1, s2) after the
// point, at most 38 digits in all.
func decimalUnion(a, b Type) (p, s int) {
	pa, sa := exactFacets(a)
	pb, sb := exactFacets(b)
	if !isExact(a.ID) && !isInt(a.ID) {
		pa, sa = pb, sb
	}
	if !isExact(b.ID) && !isInt(b.ID) {
		pb, sb = pa, sa
	}
	s = max(sa, sb)
	p = min(38, max(pa-sa, pb-sb)+s)
	return p, s
}

// coerce converts v of type from to the comparison type to. Values of
// the same family need no work; others go through convert.
func coerce(ds dateStyle, v any, from, to Type) (any, error) {
	if v == nil || from.ID == to.ID {
		return v, nil
	}
	switch {
	case isString(from.ID) && isString(to.ID), isBinary(from.ID) && isBinary(to.ID):
		return v, nil
	case isInt(from.ID) && isInt(to.ID) && from.ID != TypeBit && to.ID != TypeBit:
		return v, nil
	case (from.ID == TypeDateTime2 || isLegacyDateTime(from.ID) || from.ID == TypeDate) &&
		(to.ID == TypeDateTime2 || isLegacyDateTime(to.ID) || to.ID == TypeDate):
		if to.ID == TypeDate {
			t := v.(time.Time)
			y, m, d := t.Date()
			return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
		}
		return v, nil
	case to.ID == TypeDateTimeOffset && isTime(from.ID):
		// SQL Server converts DATETIME2 to DATETIMEOFFSET with offset +00:00.
		return clock(v.(time.Time)).In(time.FixedZone("", 0)), nil
	}
	to.Length = MaxLength
	if to.ID == TypeChar {
		to.ID = TypeVarChar
	}
	if to.ID == TypeNChar {
		to.ID = TypeNVarChar
	}
	if to.ID == TypeBinary {
		to.ID = TypeVarBinary
	}
	r, err := convert(ds, v, from, to)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (c *compiler) binary(n *binExpr) (*cexpr, error) {
	switch n.op {
	case "AND", "OR":
		l, err := c.predicate(n.l)
		if err != nil {
			return nil, err
		}
		r, err := c.predicate(n.r)
		if err != nil {
			return nil, err
		}
		out := &cexpr{typ: boolType(), pred: true, deps: l.deps | r.deps}
		if n.op == "AND" {
			out.conj = append(append([]*cexpr{}, conjuncts(l)...), conjuncts(r)...)
			out.eval = func(en *env) (any, error) {
				a, err := l.eval(en)
				if err != nil {
					return nil, err
				}
				if a == false {
					return false, nil
				}
				b, err := r.eval(en)
				if err != nil {
					return nil, err
				}
				if b == false {
					return false, nil
				}
				if a == nil || b == nil {
					return nil, nil
				}
				return true, nil
			}
			return out, nil
		}
		out.eval = func(en *env) (any, error) {
			a, err := l.eval(en)
			if err != nil {
				return nil, err
			}
			if a == true {
				return true, nil
			}
			b, err := r.eval(en)
			if err != nil {
				return nil, err
			}
			if b == true {
				return true, nil
			}
			if a == nil || b == nil {
				return nil, nil
			}
			return false, nil
		}
		return out, nil
	case "=", "<>", "<", "<=", ">", ">=":
		return c.comparison(n)
	}
	l, err := c.value(n.l)
	if err != nil {
		return nil, err
	}
	r, err := c.value(n.r)
	if err != nil {
		return nil, err
	}
	return arith(c.dates(), n.op, l, r)
}

func conjuncts(e *cexpr) []*cexpr {
	if e.conj != nil {
		return e.conj
	}
	return []*cexpr{e}
}

func (c *compiler) comparison(n *binExpr) (*cexpr, error) {
	l, err := c.value(n.l)
	if err != nil {
		return nil, err
	}
	r, err := c.value(n.r)
	if err != nil {
		return nil, err
	}
	lt, rt := l.typ, r.typ
	if err := refuseVariant("comparison", lt, rt); err != nil { // variant.go
		return nil, err
	}
	if lt.ID == TypeXML || rt.ID == TypeXML {
		return nil, errXMLNotComparable()
	}
	if !comparable(lt.ID, rt.ID) {
		return nil, errf(402, 16, 1, "The data types %s and %s are incompatible in the %s operator.", lt.baseName(), rt.baseName(), opName(n.op))
	}
	ct := commonType(lt, rt)
	kind := collCI
	if isString(ct.ID) {
		coll, _, err := resolveCollation(l, r, n.op)
		if err != nil {
			return nil, err
		}
		kind = collationKind(coll)
	}
	// SQL Server converts the operand of lower precedence. When that is
	// a column (CONVERT_IMPLICIT on the column), an index seek on it is
	// impossible; count it so tests can see it.
	for _, side := range []*cexpr{l, r} {
		other := r
		if side == r {
			other = l
		}
		if side.isCol && other.typ.ID != TypeNull && typeFamily(side.typ.ID) != typeFamily(ct.ID) &&
			precedence(side.typ.ID) < precedence(other.typ.ID) {
			c.cat.countConversion()
		}
	}
	op := n.op
	out := &cexpr{typ: boolType(), pred: true, deps: l.deps | r.deps}
	out.eval = func(en *env) (any, error) {
		a, err := l.eval(en)
		if err != nil || a == nil {
			return nil, err
		}
		b, err := r.eval(en)
		if err != nil || b == nil {
			return nil, err
		}
		if a, err = coerce(c.dates(), a, lt, ct); err != nil {
			return nil, err
		}
		if b, err = coerce(c.dates(), b, rt, ct); err != nil {
			return nil, err
		}
		cmp := compareValues(a, b, kind)
		switch op {
		case "=":
			return cmp == 0, nil
		case "<>":
			return cmp != 0, nil
		case "<":
			return cmp < 0, nil
		case "<=":
			return cmp <= 0, nil
		case ">":
			return cmp > 0, nil
		}
		return cmp >= 0, nil
	}
	if op != "<>" {
		out.rng = rangeTermFor(op, l, r, ct, kind, c.dates())
	}
	if op == "=" {
		for _, pair := range [][2]*cexpr{{l, r}, {r, l}} {
			col, other := pair[0], pair[1]
			if !col.isCol || other.deps&(1<<uint(col.colSrc)) != 0 {
				continue
			}
			ok := typeFamily(col.typ.ID) == typeFamily(ct.ID) || other.typ.ID == TypeNull
			if ok && isString(ct.ID) {
				// An index on a column serves seeks only under the column's
				// own collation; a comparison under another one (say an
				// explicit COLLATE ..._BIN2) is a residual predicate in SQL
				// Server, so it cannot drive a seek here either.
				ok = kind == collationKind(col.typ.Collation)
			}
			if ok {
				out.eqSrc, out.eqCol, out.eqOther, out.seekOK = col.colSrc, col.colIdx, other, true
				break
			}
		}
	}
	return out, nil
}

func comparable(a, b TypeID) bool {
	if a == TypeNull || b == TypeNull {
		return true
	}
	switch {
	case isLOB(a) || isLOB(b) || a == TypeXML || b == TypeXML:
		// SQL Server: 402, "The data types text and varchar are
		// incompatible in the equal to operator" (305 for XML, see
		// comparison).
		return false
	case isBinary(a) && isTime(b), isTime(a) && isBinary(b):
		return false
	case a == TypeDate && (isNumber(b)), isNumber(a) && b == TypeDate:
		return false
	case a == TypeDateTime2 && isNumber(b), isNumber(a) && b == TypeDateTime2:
		return false
	case a == TypeDateTimeOffset && isNumber(b), isNumber(a) && b == TypeDateTimeOffset:
		return false
	case a == TypeGUID && (isNumber(b) || isTime(b) || b == TypeTime), (isNumber(a) || isTime(a) || a == TypeTime) && b == TypeGUID:
		// SQL Server: 402, uniqueidentifier and int (or a date type) are
		// incompatible in the comparison.
		return false
	case a == TypeTime && (isNumber(b) || b == TypeDate), (isNumber(a) || a == TypeDate) && b == TypeTime:
		// SQL Server: 402, the data types time and int (or date) are
		// incompatible in the comparison.
		return false
	}
	return true
}

func arith(ds dateStyle, op string, l, r *cexpr) (*cexpr, error) {
	lt, rt := l.typ, r.typ
	deps := l.deps | r.deps
	for _, t := range []Type{lt, rt} {
		if t.ID == TypeVariant {
			// SQL Server does no arithmetic on sql_variant.
			return nil, errf(8117, 16, 1, "Operand data type sql_variant is invalid for %s operator.", opName(op))
		}
	}
	if isLOB(lt.ID) || isLOB(rt.ID) || lt.ID == TypeXML || rt.ID == TypeXML {
		return nil, errf(402, 16, 1, "The data types %s and %s are incompatible in the %s operator.", lt.baseName(), rt.baseName(), opName(op))
	}
	if op == "+" && isConcat(lt.ID, rt.ID) {
		return concat(l, r)
	}
	t := commonType(lt, rt)
	if isString(t.ID) || t.ID == TypeNull {
		// '1' + 2: SQL Server converts the string to the number.
		t = Type{ID: TypeInt}
	}
	if t.ID == TypeBit {
		t = Type{ID: TypeInt}
	}
	if isExact(t.ID) {
		return decimalArith(ds, op, l, r)
	}
	if isLegacyDateTime(t.ID) && (op == "+" || op == "-") {
		// SQL Server adds a number of days to a DATETIME or
		// SMALLDATETIME (GETDATE() - 1), which this engine does not model.
		return nil, unsupported(opName(op) + " operator on " + t.baseName())
	}
	if !isNumeric(t.ID) {
		return nil, errf(8117, 16, 1, "Operand data type %s is invalid for %s operator.", t.baseName(), opName(op))
	}
	if op == "&" || op == "|" || op == "^" || op == "%" {
		if !isInt(t.ID) {
			return nil, errf(8117, 16, 1, "Operand data type %s is invalid for %s operator.", t.baseName(), opName(op))
		}
	}
	return &cexpr{typ: t, deps: deps, eval: func(en *env) (any, error) {
		a, err := l.eval(en)
		if err != nil || a == nil {
			return nil, err
		}
		b, err := r.eval(en)
		if err != nil || b == nil {
			return nil, err
		}
		av, err := convert(ds, a, lt, t)
		if err != nil {
			return nil, err
		}
		bv, err := convert(ds, b, rt, t)
		if err != nil {
			return nil, err
		}
		if isFloat(t.ID) {
			return floatArith(op, t, av.(float64), bv.(float64))
		}
		return intArith(op, t, av.(int64), bv.(int64))
	}}, nil
}

// isConcat reports whether + between these types is a concatenation:
// both strings or both binary, NULL counting as either, but not two NULLs.
func isConcat(lt, rt TypeID) bool {
	if lt == TypeNull && rt == TypeNull {
		return false
	}
	return (isString(lt) || lt == TypeNull) && (isString(rt) || rt == TypeNull) ||
		(isBinary(lt) || lt == TypeNull) && (isBinary(rt) || rt == TypeNull)
}

// concat compiles string or binary concatenation. The result is variable
// length, as long as both operands together (up to 8,000 bytes, or MAX).
func concat(l, r *cexpr) (*cexpr, error) {
	lt, rt := l.typ, r.typ
	t := commonType(lt, rt)
	limit := 8000
	switch t.ID {
	case TypeChar:
		t.ID = TypeVarChar
	case TypeNChar:
		t.ID = TypeNVarChar
	case TypeBinary:
		t.ID = TypeVarBinary
	}
	if isUnicode(t.ID) {
		limit = 4000
	}
	if lt.Length == MaxLength || rt.Length == MaxLength {
		t.Length = MaxLength
	} else {
		t.Length = lt.Length + rt.Length
		if t.Length > limit {
			t.Length = limit
		}
	}
	coll, d, err := resolveCollation(l, r, "concatenation")
	if err != nil {
		return nil, err
	}
	if isString(t.ID) {
		t.Collation = coll
	} else {
		d = derivNone
	}
	return &cexpr{typ: t, deriv: d, deps: l.deps | r.deps, eval: func(en *env) (any, error) {
		a, err := l.eval(en)
		if err != nil || a == nil {
			return nil, err
		}
		b, err := r.eval(en)
		if err != nil || b == nil {
			return nil, err
		}
		return concatOperands(a, b, t)
	}}, nil
}

// concatOperands is the value of a + b of result type t. Without a MAX
// operand SQL Server truncates the result to t's length (8,000 bytes:
// "+ (String Concatenation)"); with one it does not, up to 2 GB, and this
// test server refuses past maxBuiltString with 701, as REPLICATE and
// CONCAT do, so that a loop of doublings cannot take the process's
// memory.
func concatOperands(a, b any, t Type) (any, error) {
	if sa, ok := a.(string); ok {
		sb, _ := b.(string)
		if len(sa)+len(sb) > maxBuiltString {
			return nil, errStringTooLarge()
		}
		return fitString(sa+sb, t), nil
	}
	ba, _ := a.([]byte)
	bb, _ := b.([]byte)
	if len(ba)+len(bb) > maxBuiltString {
		return nil, errStringTooLarge()
	}
	out := append(append([]byte{}, ba...), bb...)
	if t.Length != MaxLength && t.Length > 0 && len(out) > t.Length {
		out = out[:t.Length]
	}
	return out, nil
}

// floatArith applies op to two FLOAT or REAL values.
func floatArith(op string, t Type, x, y float64) (any, error) {
	var r float64
	switch op {
	case "+":
		r = x + y
	case "-":
		r = x - y
	case "*":
		r = x * y
	case "/":
		if y == 0 {
			return nil, errf(8134, 16, 1, "Divide by zero error encountered.")
		}
		r = x / y
	default:
		// arith lets only integers reach %, &, | and ^.
		return nil, errf(8117, 16, 1, "Operand data type %s is invalid for %s operator.", t.baseName(), opName(op))
	}
	if t.ID == TypeReal {
		// REAL arithmetic is single precision.
		r = float64(float32(r))
	}
	return r, nil
}

// intArith applies op to two integers of type t, raising 8115 when the
// result leaves t's range.
func intArith(op string, t Type, x, y int64) (any, error) {
	var res int64
	switch op {
	case "+":
		res = x + y
		if (res > x) != (y > 0) && y != 0 {
			return nil, overflow(t)
		}
	case "-":
		res = x - y
		if (res < x) != (y > 0) && y != 0 {
			return nil, overflow(t)
		}
	case "*":
		res = x * y
		if x != 0 && (res/x != y || (x == -1 && y == math.MinInt64)) {
			return nil, overflow(t)
		}
	case "/", "%":
		if y == 0 {
			return nil, errf(8134, 16, 1, "Divide by zero error encountered.")
		}
		if op == "/" {
			res = x / y // truncates toward zero, as SQL Server's integer division
		} else {
			res = x % y
		}
	case "&":
		res = x & y
	case "|":
		res = x | y
	case "^":
		res = x ^ y
	}
	lo, hi := intRange(t.ID)
	if res < lo || res > hi {
		return nil, overflow(t)
	}
	return res, nil
}

func (c *compiler) unary(n *unaryExpr) (*cexpr, error) {
	if n.op == "NOT" {
		e, err := c.predicate(n.x)
		if err != nil {
			return nil, err
		}
		return &cexpr{typ: boolType(), pred: true, deps: e.deps, eval: func(en *env) (any, error) {
			v, err := e.eval(en)
			if err != nil || v == nil {
				return nil, err
			}
			return !v.(bool), nil
		}}, nil
	}
	e, err := c.value(n.x)
	if err != nil {
		return nil, err
	}
	if isExact(e.typ.ID) && n.op != "~" {
		return &cexpr{typ: e.typ, deps: e.deps, eval: func(en *env) (any, error) {
			v, err := e.eval(en)
			if err != nil || v == nil {
				return nil, err
			}
			if n.op == "-" {
				return negate(v.(Decimal), e.typ)
			}
			return v, nil
		}}, nil
	}
	if !isNumeric(e.typ.ID) {
		return nil, errf(8117, 16, 1, "Operand data type %s is invalid for minus operator.", e.typ.baseName())
	}
	t := e.typ
	if t.ID == TypeBit || t.ID == TypeTinyInt || t.ID == TypeSmallInt {
		t = Type{ID: TypeInt}
	}
	return &cexpr{typ: t, deps: e.deps, eval: func(en *env) (any, error) {
		v, err := e.eval(en)
		if err != nil || v == nil {
			return nil, err
		}
		v, err = convert(c.dates(), v, e.typ, t)
		if err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case int64:
			if n.op == "~" {
				return ^x, nil
			}
			lo, _ := intRange(t.ID)
			if x == lo {
				return nil, overflow(t)
			}
			return -x, nil
		case float64:
			return -x, nil
		}
		return nil, overflow(t)
	}}, nil
}

func (c *compiler) in(n *inExpr) (*cexpr, error) {
	var ors expr
	if n.sub != nil {
		x, err := c.value(n.x)
		if err != nil {
			return nil, err
		}
		sub, deps, err := c.subquery(n.sub)
		if err != nil {
			return nil, err
		}
		if len(sub.cols) != 1 {
			return nil, errf(116, 16, 1, "Only one expression can be specified in the select list when the subquery is not introduced with EXISTS.")
		}
		if err := refuseVariant("IN", x.typ, sub.cols[0].Type); err != nil { // variant.go
			return nil, err
		}
		if !comparable(x.typ.ID, sub.cols[0].Type.ID) {
			return nil, errf(402, 16, 1, "The data types %s and %s are incompatible in the equal to operator.", x.typ.baseName(), sub.cols[0].Type.baseName())
		}
		ct := commonType(x.typ, sub.cols[0].Type)
		kind := collationKind(x.typ.Collation)
		st := sub.cols[0].Type
		return &cexpr{typ: boolType(), pred: true, deps: x.deps | deps, eval: func(en *env) (any, error) {
			a, err := x.eval(en)
			if err != nil {
				return nil, err
			}
			rows, err := c.cat.runSelect(sub, en, -1)
			if err != nil {
				return nil, err
			}
			if a == nil {
				if len(rows) == 0 {
					return n.not, nil
				}
				return nil, nil
			}
			a, err = coerce(c.dates(), a, x.typ, ct)
			if err != nil {
				return nil, err
			}
			sawNull := false
			for _, r := range rows {
				if r[0] == nil {
					sawNull = true
					continue
				}
				b, err := coerce(c.dates(), r[0], st, ct)
				if err != nil {
					return nil, err
				}
				if compareValues(a, b, kind) == 0 {
					return !n.not, nil
				}
			}
			if sawNull {
				return nil, nil
			}
			return n.not, nil
		}}, nil
	}
	for _, item := range n.list {
		eq := &binExpr{op: "=", l: n.x, r: item}
		if ors == nil {
			ors = eq
		} else {
			ors = &binExpr{op: "OR", l: ors, r: eq}
		}
	}
	if n.not {
		ors = &unaryExpr{op: "NOT", x: ors}
	}
	return c.compile(ors)
}

func (c *compiler) like(n *likeExpr) (*cexpr, error) {
	x, err := c.value(n.x)
	if err != nil {
		return nil, err
	}
	pat, err := c.value(n.pat)
	if err != nil {
		return nil, err
	}
	var esc *cexpr
	if n.esc != nil {
		if esc, err = c.value(n.esc); err != nil {
			return nil, err
		}
	}
	for _, e := range []*cexpr{x, pat} {
		if e.typ.ID == TypeXML || e.typ.ID == TypeImage || e.typ.ID == TypeVariant {
			return nil, unsupported("LIKE over " + e.typ.baseName())
		}
	}
	coll, _, err := resolveCollation(x, pat, "like")
	if err != nil {
		return nil, err
	}
	kind := collationKind(coll)
	return &cexpr{typ: boolType(), pred: true, deps: x.deps | pat.deps, eval: func(en *env) (any, error) {
		a, err := x.eval(en)
		if err != nil || a == nil {
			return nil, err
		}
		p, err := pat.eval(en)
		if err != nil || p == nil {
			return nil, err
		}
		as, err := convert(c.dates(), a, x.typ, Type{ID: TypeNVarChar, Length: MaxLength})
		if err != nil {
			return nil, err
		}
		ps, err := convert(c.dates(), p, pat.typ, Type{ID: TypeNVarChar, Length: MaxLength})
		if err != nil {
			return nil, err
		}
		escape := rune(-1)
		if esc != nil {
			ev, err := esc.eval(en)
			if err != nil {
				return nil, err
			}
			if s, ok := ev.(string); ok && utf8.RuneCountInString(s) == 1 {
				escape, _ = utf8.DecodeRuneInString(s)
			}
		}
		s, ps2 := as.(string), ps.(string)
		if kind == collCI {
			s, ps2 = foldCase(s), foldCase(ps2)
		}
		m, err := likeMatch([]rune(s), []rune(ps2), escape)
		if err != nil {
			return nil, err
		}
		return m != n.not, nil
	}}, nil
}

// likeMatch matches LIKE patterns with %, _ and [set] wildcards.
func likeMatch(s, p []rune, esc rune) (bool, error) {
	if len(p) == 0 {
		return len(s) == 0, nil
	}
	switch {
	case p[0] == esc && esc >= 0:
		if len(p) < 2 {
			return false, nil
		}
		return len(s) > 0 && s[0] == p[1] && mustMatch(likeMatch(s[1:], p[2:], esc)), nil
	case p[0] == '%':
		for i := 0; i <= len(s); i++ {
			if ok, _ := likeMatch(s[i:], p[1:], esc); ok {
				return true, nil
			}
		}
		return false, nil
	case p[0] == '_':
		return len(s) > 0 && mustMatch(likeMatch(s[1:], p[1:], esc)), nil
	case p[0] == '[':
		end := -1
		for i := 1; i < len(p); i++ {
			if p[i] == ']' {
				end = i
				break
			}
		}
		if end < 0 || len(s) == 0 {
			return false, nil
		}
		set := p[1:end]
		neg := len(set) > 0 && set[0] == '^'
		if neg {
			set = set[1:]
		}
		in := false
		for i := 0; i < len(set); i++ {
			if i+2 < len(set) && set[i+1] == '-' {
				if s[0] >= set[i] && s[0] <= set[i+2] {
					in = true
				}
				i += 2
				continue
			}
			if s[0] == set[i] {
				in = true
			}
		}
		if in == neg {
			return false, nil
		}
		return likeMatch(s[1:], p[end+1:], esc)
	}
	return len(s) > 0 && s[0] == p[0] && mustMatch(likeMatch(s[1:], p[1:], esc)), nil
}

func mustMatch(ok bool, _ error) bool { return ok }

func (c *compiler) caseX(n *caseExpr) (*cexpr, error) {
	var conds, thens []*cexpr
	var deps uint64
	for _, w := range n.whens {
		var cond expr = w.cond
		if n.operand != nil {
			cond = &binExpr{op: "=", l: n.operand, r: w.cond}
		}
		ce, err := c.predicate(cond)
		if err != nil {
			return nil, err
		}
		te, err := c.value(w.then)
		if err != nil {
			return nil, err
		}
		conds, thens = append(conds, ce), append(thens, te)
		deps |= ce.deps | te.deps
	}
	var els *cexpr
	if n.els != nil {
		var err error
		if els, err = c.value(n.els); err != nil {
			return nil, err
		}
		deps |= els.deps
	}
	t := Type{ID: TypeNull}
	d := derivNone
	for _, te := range append(append([]*cexpr{}, thens...), els) {
		if te != nil {
			t = commonType(t, te.typ)
			if te.deriv > d {
				d = te.deriv
			}
		}
	}
	t.Nullable = true
	return &cexpr{typ: t, deriv: d, deps: deps, eval: func(en *env) (any, error) {
		for i, ce := range conds {
			v, err := ce.eval(en)
			if err != nil {
				return nil, err
			}
			if v == true {
				r, err := thens[i].eval(en)
				if err != nil {
					return nil, err
				}
				return convert(c.dates(), r, thens[i].typ, t)
			}
		}
		if els == nil {
			return nil, nil
		}
		r, err := els.eval(en)
		if err != nil {
			return nil, err
		}
		return convert(c.dates(), r, els.typ, t)
	}}, nil
}

func (c *compiler) cast(n *castExpr) (*cexpr, error) {
	e, err := c.value(n.x)
	if err != nil {
		return nil, err
	}
	t := n.typ
	t.Nullable = true
	style := int64(0)
	if n.style != nil && (t.ID == TypeVariant || e.typ.ID == TypeVariant) {
		return nil, unsupported("CONVERT with a style to or from sql_variant")
	}
	if t.ID == TypeVariant && !variantBase(e.typ) {
		return nil, errVariantClash(e.typ) // variant.go
	}
	if n.style != nil && (t.ID == TypeXML || e.typ.ID == TypeXML) {
		// Styles 1 to 3 keep white space or read an internal subset.
		return nil, unsupported("CONVERT with a style to or from xml")
	}
	if n.style != nil {
		se, err := c.value(n.style)
		if err != nil {
			return nil, err
		}
		sv, err := se.eval(&env{})
		if err != nil {
			return nil, err
		}
		if i, ok := sv.(int64); ok {
			style = i
		}
		switch style {
		case 0, 120, 121, 126, 127, 20, 21, 23:
		case 1, 2:
			if !(isBinary(e.typ.ID) && isString(t.ID)) {
				return nil, unsupported(fmt.Sprintf("CONVERT style %d", style))
			}
		default:
			return nil, unsupported(fmt.Sprintf("CONVERT style %d", style))
		}
		if dateText := (isTime(e.typ.ID) || e.typ.ID == TypeTime) && isString(t.ID); dateText && style != 0 {
			if _, ok := styledDateText(time.Time{}, e.typ, style); !ok {
				// Styles 23, 126 and 127, and 20 and 120 on DATE, TIME
				// and DATETIMEOFFSET, reshape a date's text in ways this
				// engine does not model.
				return nil, unsupported(fmt.Sprintf("CONVERT style %d from %s", style, e.typ.baseName()))
			}
		}
	}
	if !isString(t.ID) && !isBinary(t.ID) {
		t.Length = 0
	}
	d := derivNone
	if isString(t.ID) {
		d = derivDefault
		if e.deriv > derivDefault {
			d = e.deriv
			t.Collation = e.typ.Collation
		}
	}
	from := e.typ
	return &cexpr{typ: t, deriv: d, deps: e.deps, eval: func(en *env) (any, error) {
		v, err := e.eval(en)
		if err != nil || v == nil {
			return nil, err
		}
		if (style == 1 || style == 2) && isBinary(from.ID) {
			b := v.([]byte)
			h := strings.ToUpper(fmt.Sprintf("%x", b))
			if style == 1 {
				h = "0x" + h
			}
			return convert(c.dates(), h, Type{ID: TypeVarChar, Length: MaxLength}, t)
		}
		if tv, ok := v.(time.Time); ok && style != 0 && isString(t.ID) {
			if s, ok := styledDateText(tv, from, style); ok {
				return convert(c.dates(), s, Type{ID: TypeVarChar, Length: MaxLength}, t)
			}
		}
		if from.ID == TypeVariant {
			return fromVariant(c.dates(), v, t) // variant.go
		}
		return convert(c.dates(), v, from, t)
	}}, nil
}

// styledDateText is CONVERT's text of a date or time value in a style,
// as SQL Server writes it; ok is false for a style this engine does not
// model on that type. Styles 21 and 121 are the ODBC canonical form with
// fractions: yyyy-mm-dd hh:mi:ss.mmm for DATETIME, the default text of
// DATE, TIME, DATETIME2 and DATETIMEOFFSET. Styles 20 and 120 are the
// ODBC canonical form without fractions, yyyy-mm-dd hh:mi:ss, for
// DATETIME and DATETIME2.
func styledDateText(t time.Time, from Type, style int64) (string, bool) {
	switch {
	case style == 21 || style == 121:
		return formatTime(t, from), true
	case (style == 20 || style == 120) && (from.ID == TypeDateTime || from.ID == TypeDateTime2):
		return t.Format("2006-01-02 15:04:05"), true
	}
	return "", false
}

// utf16Len counts a string's UTF-16 code units (NVARCHAR's storage).
func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }
