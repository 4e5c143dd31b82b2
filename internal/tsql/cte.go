package tsql

import "strings"

// Common table expressions: WITH name [(columns)] AS (SELECT ...) [, ...]
// followed by a SELECT (or a UNION of SELECTs).
//
// SQL Server treats a non-recursive CTE as a view defined for one
// statement: each reference in a FROM clause reads the CTE's query (and
// runs it again), under the reference's alias or the CTE's name, with the
// CTE's column names when it lists them. A CTE sees the CTEs defined
// before it in the same WITH, not those after it.
//
// Coarser than SQL Server, and refused with 40517: recursive CTEs (a CTE
// that names itself, or a UNION inside a CTE), WITH before INSERT,
// UPDATE, DELETE or MERGE, WITH XMLNAMESPACES, one name defined twice in
// a WITH, and a WITH that does not start the batch or follow a semicolon.

// cteDef is one common table expression.
type cteDef struct {
	name   string
	cols   []string
	sel    *selectStmt
	index  int
	active bool // its query is being bound
}

// withStmt is WITH ... followed by the statement that uses the CTEs.
type withStmt struct {
	pos
	ctes []*cteDef
	body stmt // *selectStmt or *unionStmt
}

func (*withStmt) kind() string { return "SELECT" }

// withStatement parses a statement that starts with WITH.
func (p *parser) withStatement() stmt {
	if p.i > 0 && !(p.toks[p.i-1].kind == tokOp && p.toks[p.i-1].text == ";") {
		// SQL Server requires the statement before a CTE to end with a
		// semicolon (319), which this parser does not track in every
		// context (after BEGIN, IF, ELSE).
		p.fail(unsupported("WITH (common table expression) not after a semicolon"))
	}
	p.expectKw("WITH")
	if p.isKw("XMLNAMESPACES") {
		p.fail(unsupported("WITH XMLNAMESPACES"))
	}
	w := &withStmt{}
	seen := map[string]bool{}
	for {
		d := &cteDef{name: p.ident(), index: len(w.ctes)}
		if seen[strings.ToLower(d.name)] {
			p.fail(unsupported("a common table expression name defined twice"))
		}
		seen[strings.ToLower(d.name)] = true
		if p.acceptOp("(") {
			for {
				d.cols = append(d.cols, p.ident())
				if !p.acceptOp(",") {
					break
				}
			}
			p.expectOp(")")
		}
		p.expectKw("AS")
		p.expectOp("(")
		p.unionOK = true
		d.sel = p.selectStmt()
		if p.isSetOperator() {
			p.fail(unsupported(strings.ToUpper(p.peek().text) + " in a common table expression (recursive CTEs are not modelled)"))
		}
		if d.sel.into != nil {
			p.fail(unsupported("SELECT INTO in a common table expression"))
		}
		p.expectOp(")")
		w.ctes = append(w.ctes, d)
		if !p.acceptOp(",") {
			break
		}
	}
	if !p.isKw("SELECT") {
		if t := p.peek(); t.kind == tokIdent {
			p.fail(unsupported("WITH (common table expression) before " + strings.ToUpper(t.text)))
		}
		p.syntaxError()
	}
	w.body = p.selectStatement()
	return w
}

// with runs a withStmt: its body, with the CTEs visible to the binder.
func (x *execCtx) with(n *withStmt) (Result, error) {
	x.ctes, x.cteLimit = n.ctes, len(n.ctes)
	defer func() { x.ctes = nil }()
	switch b := n.body.(type) {
	case *selectStmt:
		return x.selectStmt(b)
	case *unionStmt:
		return x.union(b)
	}
	return Result{}, unsupported("WITH (common table expression) before " + n.body.kind())
}

// hasCTE reports whether a one-part table name names a CTE visible
// where the binder is: one defined earlier in the WITH, or the CTE being
// bound itself (a recursive reference, refused by enterCTE).
func (x *execCtx) hasCTE(name string) bool {
	for _, d := range x.ctes {
		if strings.EqualFold(d.name, name) && (d.index < x.cteLimit || d.active) {
			return true
		}
	}
	return false
}

// enterCTE starts binding a reference to a CTE: inside its query only
// the CTEs before it are visible. leave undoes it.
func (x *execCtx) enterCTE(name string) (d *cteDef, leave func(), err error) {
	for _, c := range x.ctes {
		if strings.EqualFold(c.name, name) {
			d = c
		}
	}
	if d == nil || d.active {
		return nil, nil, unsupported("recursive common table expression " + name)
	}
	limit := x.cteLimit
	d.active, x.cteLimit = true, d.index
	return d, func() { d.active, x.cteLimit = false, limit }, nil
}

// cteSource binds a FROM reference to a CTE as a derived table.
func (c *compiler) cteSource(src *source, ref tableRef) error {
	d, leave, err := c.cat.enterCTE(ref.name.Name)
	if err != nil {
		return err
	}
	defer leave()
	r := ref
	r.sub = d.sel
	if r.alias == "" {
		r.alias = d.name
		src.alias = d.name
	}
	if r.colAls == nil && d.cols != nil {
		q, err := compileSelect(c.withScope(&scope{parent: c.sc.parent}), d.sel)
		if err != nil {
			return err
		}
		switch {
		case len(q.cols) > len(d.cols):
			return errf(8158, 16, 1, "'%s' has more columns than were specified in the column list.", d.name)
		case len(q.cols) < len(d.cols):
			return errf(8159, 16, 1, "'%s' has fewer columns than were specified in the column list.", d.name)
		}
		r.colAls = d.cols
	}
	return c.derivedSource(src, r)
}
