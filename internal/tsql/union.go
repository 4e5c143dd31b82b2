package tsql

import (
	"sort"
	"strings"
)

// UNION and UNION ALL of SELECT statements.
//
// SQL Server combines the parts left to right: A UNION B UNION ALL C is
// (A UNION B) UNION ALL C. The parts must have as many columns (205);
// each result column takes the type of highest precedence among the
// parts' (the rules of CASE: the longest length, DECIMAL's precision and
// scale that hold every part), is nullable when a part's is, and takes
// its name from the first part. UNION removes duplicate rows, comparing
// as = does (the default collation ignores case and trailing spaces); an
// ORDER BY after the last part sorts the whole result and names result
// columns or their positions.
//
// Coarser than SQL Server, and refused with 40517: EXCEPT and INTERSECT;
// UNION as a subquery, derived table or INSERT source; a part that
// assigns variables; TEXT, NTEXT, IMAGE, XML and sql_variant columns;
// parts whose columns carry different collations; an ORDER BY item
// other than a result column's name or position. Types that do not
// convert to one another give SQL Server's 206 here; SQL Server raises
// some of those pairs (a string and a number) only when a row's value
// fails to convert.

// unionStmt is SELECT ... UNION [ALL] SELECT ... [ORDER BY ...].
type unionStmt struct {
	pos
	parts   []*selectStmt
	all     []bool // all[i] joins parts[i] and parts[i+1]
	orderBy []orderItem
}

func (*unionStmt) kind() string { return "SELECT" }

// isSetOperator reports UNION, EXCEPT or INTERSECT at the parser's
// position.
func (p *parser) isSetOperator() bool {
	return p.isKw("UNION") || p.isKw("EXCEPT") || p.isKw("INTERSECT")
}

// unionTail parses the rest of a UNION after its first part.
func (p *parser) unionTail(first *selectStmt) stmt {
	u := &unionStmt{pos: first.pos, parts: []*selectStmt{first}}
	for p.isSetOperator() {
		if !p.isKw("UNION") {
			p.fail(unsupported(strings.ToUpper(p.peek().text)))
		}
		if last := u.parts[len(u.parts)-1]; last.orderBy != nil {
			// ORDER BY ends the statement: SQL Server reports 156 near UNION.
			p.syntaxError()
		}
		p.next()
		u.all = append(u.all, p.acceptKw("ALL"))
		if p.isOp("(") {
			p.fail(unsupported("a parenthesized query in a UNION"))
		}
		p.unionOK = true
		u.parts = append(u.parts, p.selectStmt())
	}
	last := u.parts[len(u.parts)-1]
	u.orderBy, last.orderBy = last.orderBy, nil
	return u
}

// refuseSetOperator refuses a UNION, EXCEPT or INTERSECT where the
// parser met one that is not a statement of its own.
func (p *parser) refuseSetOperator() {
	if p.isSetOperator() {
		p.fail(unsupported(strings.ToUpper(p.peek().text) + " in a subquery or INSERT"))
	}
}

// union runs a unionStmt.
func (x *execCtx) union(n *unionStmt) (Result, error) {
	var qs []*compiledSelect
	for _, part := range n.parts {
		q, err := compileSelect(x.compiler(), part)
		if err != nil {
			return Result{}, err
		}
		if q.assigns != nil {
			return Result{}, unsupported("variable assignment in a UNION")
		}
		if part.into != nil {
			return Result{}, unsupported("SELECT INTO with a UNION")
		}
		if len(q.cols) != len(qs0cols(qs, q)) {
			return Result{}, errf(205, 16, 1, "All queries combined using a UNION, INTERSECT or EXCEPT operator must have an equal number of expressions in their target lists.")
		}
		qs = append(qs, q)
	}
	cols := make([]Column, len(qs[0].cols))
	for i := range cols {
		cols[i].Name = qs[0].cols[i].Name
		t := Type{ID: TypeNull}
		coll := ""
		for _, q := range qs {
			ct := q.cols[i].Type
			if isLOB(ct.ID) || ct.ID == TypeXML || ct.ID == TypeVariant {
				return Result{}, unsupported("UNION over " + ct.baseName())
			}
			if !comparable(t.ID, ct.ID) {
				return Result{}, errf(206, 16, 2, "Operand type clash: %s is incompatible with %s", ct.String(), t.String())
			}
			if isString(ct.ID) && ct.Collation != "" {
				if coll != "" && !strings.EqualFold(coll, ct.Collation) {
					return Result{}, unsupported("UNION of columns of different collations")
				}
				coll = ct.Collation
			}
			nullable := t.Nullable || ct.Nullable
			t = commonType(t, ct)
			t.Nullable = nullable
		}
		if t.ID == TypeNull {
			t = Type{ID: TypeInt, Nullable: true} // SELECT NULL UNION SELECT NULL is int
		}
		if isString(t.ID) {
			t.Collation = coll
		}
		cols[i].Type = t
	}
	order, err := unionOrder(n.orderBy, cols)
	if err != nil {
		return Result{}, err
	}
	var rows [][]any
	for pi, q := range qs {
		part, err := q.run(x, nil, -1)
		if err != nil {
			return Result{}, err
		}
		for _, r := range part {
			if err := x.tick(); err != nil {
				return Result{}, err
			}
			out := make([]any, len(cols))
			for i, v := range r {
				if out[i], err = convert(x.s.dates, v, q.cols[i].Type, cols[i].Type); err != nil {
					return Result{}, err
				}
			}
			rows = append(rows, out)
		}
		if pi > 0 && !n.all[pi-1] {
			rows = distinctRows(rows, cols)
		}
	}
	if order != nil {
		sort.SliceStable(rows, func(i, j int) bool {
			for _, o := range order {
				c := compareNullsFirst(rows[i][o.col], rows[j][o.col], collationKind(cols[o.col].Type.Collation))
				if c != 0 {
					return (c < 0) != o.desc
				}
			}
			return false
		})
	}
	if rows == nil {
		rows = [][]any{}
	}
	return Result{Columns: cols, Rows: rows, RowCount: int64(len(rows)), HasCount: true}, nil
}

// qs0cols is the first part's columns, or q's when q is the first.
func qs0cols(qs []*compiledSelect, q *compiledSelect) []Column {
	if len(qs) == 0 {
		return q.cols
	}
	return qs[0].cols
}

// distinctRows keeps the first of each set of rows that compare equal.
func distinctRows(rows [][]any, cols []Column) [][]any {
	seen := make(map[string]bool, len(rows))
	out := rows[:0]
	var b strings.Builder
	for _, r := range rows {
		b.Reset()
		for i, v := range r {
			b.WriteString(keyPart(v, collationKind(cols[i].Type.Collation)))
			b.WriteByte(0x1f)
		}
		k := b.String()
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, r)
	}
	return out
}

// unionKey is one ORDER BY item of a UNION: a result column.
type unionKey struct {
	col  int
	desc bool
}

// unionOrder resolves a UNION's ORDER BY items to result columns: a
// position (108 when out of range) or a result column's name.
func unionOrder(items []orderItem, cols []Column) ([]unionKey, error) {
	var out []unionKey
	for _, o := range items {
		k := unionKey{col: -1, desc: o.desc}
		switch e := o.x.(type) {
		case *litExpr:
			if n, ok := e.val.(int64); ok && isInt(e.typ.ID) {
				if n < 1 || int(n) > len(cols) {
					return nil, errf(108, 16, 1, "The ORDER BY position number %d is out of range of the number of items in the select list.", n)
				}
				k.col = int(n - 1)
			}
		case *colExpr:
			if len(e.parts) == 1 {
				for i, c := range cols {
					if strings.EqualFold(c.Name, e.parts[0]) {
						k.col = i
						break
					}
				}
			}
		}
		if k.col < 0 {
			return nil, unsupported("ORDER BY of a UNION other than by a result column's name or position")
		}
		out = append(out, k)
	}
	return out, nil
}

// compareNullsFirst orders values as ORDER BY does: NULL first.
func compareNullsFirst(a, b any, k collKind) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return compareValues(a, b, k)
}
