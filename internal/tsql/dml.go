package tsql

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// exec runs one non-control-flow statement.
func (x *execCtx) exec(st stmt) (Result, error) {
	switch n := st.(type) {
	case *selectStmt:
		return x.selectStmt(n)
	case *insertStmt:
		return x.insert(n)
	case *updateStmt:
		return x.update(n)
	case *deleteStmt:
		return x.delete(n)
	case *mergeStmt:
		return x.merge(n)
	case *truncateStmt:
		return x.truncate(n)
	case *createTableStmt:
		return x.createTable(n)
	case *createIndexStmt:
		return x.createIndex(n)
	case *dropStmt:
		return x.drop(n)
	case *setOptionStmt:
		return x.setOption(n)
	case *unionStmt:
		return x.union(n) // union.go
	case *withStmt:
		return x.with(n) // cte.go
	case *identityInsertStmt:
		return n.run(x) // identity.go
	case *setVarStmt:
		return Result{}, x.setVar(n.set)
	case *declareStmt:
		return x.declare(n)
	case *beginTranStmt:
		x.s.tranCount++
		return Result{}, nil
	case *commitStmt:
		if x.s.tranCount == 0 {
			return Result{}, errf(3902, 16, 1, "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION.")
		}
		// A nested COMMIT only decrements @@TRANCOUNT; the outermost one
		// makes the work permanent.
		x.s.tranCount--
		if x.s.tranCount == 0 {
			x.s.undo = nil
		}
		return Result{}, nil
	case *rollbackStmt:
		if x.s.tranCount == 0 {
			return Result{}, errf(3903, 16, 1, "The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION.")
		}
		// ROLLBACK undoes the outermost transaction, whatever the nesting.
		x.s.rollbackAll()
		return Result{}, nil
	case *execStmt:
		return x.execProc(n)
	case permStmt: // GRANT, EXECUTE AS, REVERT (perms.go)
		return n.run(x)
	case *raiserrorStmt:
		return x.raiserror(n)
	case *printStmt:
		// PRINT sends its text as an informational message: number 0,
		// state 1, class 0. NULL prints an empty line.
		e, err := x.compiler().value(n.x)
		if err != nil {
			return Result{}, err
		}
		v, err := e.eval(&env{})
		if err != nil {
			return Result{}, err
		}
		sv, err := convert(x.s.dates, v, e.typ, Type{ID: TypeNVarChar, Length: 4000})
		if err != nil {
			return Result{}, err
		}
		text, _ := sv.(string)
		return Result{Messages: []*Error{{Number: 0, State: 1, Class: 0, Message: text}}}, nil
	}
	return Result{}, unsupported(st.kind())
}

func (x *execCtx) selectStmt(n *selectStmt) (Result, error) {
	if n.into != nil {
		return x.selectInto(n) // selectinto.go
	}
	c := x.compiler()
	q, err := compileSelect(c, n)
	if err != nil {
		return Result{}, err
	}
	rows, err := q.run(x, nil, -1)
	if err != nil {
		return Result{}, err
	}
	if q.assigns != nil {
		// SELECT @v = ...: each row assigns in turn, so the last row wins.
		for _, r := range rows {
			for i, v := range q.assigns {
				cv, err := convert(x.s.dates, r[i], q.cols[i].Type, v.typ)
				if err != nil {
					return Result{}, err
				}
				v.val = cv
			}
		}
		return Result{RowCount: int64(len(rows)), HasCount: true}, nil
	}
	if rows == nil {
		rows = [][]any{}
	}
	return Result{Columns: q.cols, Rows: rows, RowCount: int64(len(rows)), HasCount: true}, nil
}

// dmlTable resolves the target of INSERT, UPDATE, DELETE or MERGE.
func (x *execCtx) dmlTable(r tableRef, perm Permission) (*table, error) {
	if r.varName != "" {
		v, ok := x.b.vars[strings.ToLower(r.varName)]
		if !ok || v.table == nil {
			return nil, errf(1087, 15, 2, "Must declare the table variable \"%s\".", r.varName)
		}
		return v.table, nil
	}
	if _, _, ok := x.catalogView(r.name); ok {
		return nil, errf(259, 16, 1, "Ad hoc updates to system catalogs are not allowed.")
	}
	t, err := x.lookupTable(r.name)
	if err != nil {
		return nil, err
	}
	return t, x.checkPerm(t, perm)
}

func (x *execCtx) columnList(t *table, names []string) ([]int, error) {
	if names == nil {
		idx := make([]int, len(t.cols))
		for i := range idx {
			idx[i] = i
		}
		return idx, nil
	}
	seen := map[int]bool{}
	var idx []int
	for _, n := range names {
		i := t.colIndex(n)
		if i < 0 {
			return nil, errf(207, 16, 1, "Invalid column name '%s'.", n)
		}
		if seen[i] {
			return nil, errf(264, 16, 1, "The column name '%s' is specified more than once in the SET clause or column list of an INSERT. A column cannot be assigned more than one value in the same clause. Modify the clause to make sure that a column is updated only once. If this statement updates or inserts columns into a view, column aliasing can conceal the duplication in your code.", n)
		}
		seen[i] = true
		idx = append(idx, i)
	}
	return idx, nil
}

// buildRow assigns values to the listed columns of a new row; columns
// not listed are NULL (this engine has no DEFAULT constraints).
func (x *execCtx) buildRow(t *table, cols []int, vals []any, types []Type, verb string) ([]any, error) {
	full := make([]any, len(t.cols))
	set := make([]bool, len(t.cols))
	for i, c := range cols {
		v, err := x.assign(vals[i], types[i], t, c, verb)
		if err != nil {
			return nil, err
		}
		full[c] = v
		set[c] = true
	}
	if err := x.fillIdentity(t, full, set); err != nil { // identity.go
		return nil, err
	}
	for i := range t.cols {
		if !set[i] {
			if _, err := x.assign(nil, Type{}, t, i, verb); err != nil {
				return nil, err
			}
		}
	}
	return full, nil
}

func (x *execCtx) insert(n *insertStmt) (Result, error) {
	t, err := x.dmlTable(n.target, PermInsert)
	if err != nil {
		return Result{}, err
	}
	cols, err := x.columnList(t, n.cols)
	if err != nil {
		return Result{}, err
	}
	if cols, err = x.identityColumns(t, n.cols, cols); err != nil { // identity.go
		return Result{}, err
	}
	var rows [][]any
	var types [][]Type
	if n.values != nil {
		// SQL Server's limit on an INSERT ... VALUES list.
		if len(n.values) > 1000 {
			return Result{}, errf(10738, 15, 1, "The number of row value expressions in the INSERT statement exceeds the maximum allowed number of 1000 row values.")
		}
		c := x.compiler()
		var compiled [][]*cexpr
		for _, r := range n.values {
			if len(r) > len(cols) {
				return Result{}, errf(110, 15, 1, "There are fewer columns in the INSERT statement than values specified in the VALUES clause. The number of values in the VALUES clause must match the number of columns specified in the INSERT statement.")
			}
			if len(r) < len(cols) {
				return Result{}, errf(109, 15, 1, "There are more columns in the INSERT statement than values specified in the VALUES clause. The number of values in the VALUES clause must match the number of columns specified in the INSERT statement.")
			}
			var cr []*cexpr
			for _, e := range r {
				ce, err := c.value(e)
				if err != nil {
					return Result{}, err
				}
				cr = append(cr, ce)
			}
			compiled = append(compiled, cr)
		}
		for _, cr := range compiled {
			vals := make([]any, len(cr))
			ts := make([]Type, len(cr))
			for i, ce := range cr {
				v, err := ce.eval(&env{})
				if err != nil {
					return Result{}, err
				}
				vals[i], ts[i] = v, ce.typ
			}
			rows, types = append(rows, vals), append(types, ts)
		}
	} else {
		q, err := compileSelect(x.compiler(), n.sel)
		if err != nil {
			return Result{}, err
		}
		if len(q.cols) < len(cols) {
			return Result{}, errf(120, 15, 1, "The select list for the INSERT statement contains fewer items than the insert list. The number of SELECT values must match the number of INSERT columns.")
		}
		if len(q.cols) > len(cols) {
			return Result{}, errf(121, 15, 1, "The select list for the INSERT statement contains more items than the insert list. The number of SELECT values must match the number of INSERT columns.")
		}
		// The whole source is read before any row is inserted (SQL
		// Server's Halloween protection).
		rows, err = q.run(x, nil, -1)
		if err != nil {
			return Result{}, err
		}
		ts := make([]Type, len(q.cols))
		for i, c := range q.cols {
			ts[i] = c.Type
		}
		for range rows {
			types = append(types, ts)
		}
	}
	for i, r := range rows {
		if err := x.tick(); err != nil {
			return Result{}, err
		}
		full, err := x.buildRow(t, cols, r, types[i], "INSERT")
		if err != nil {
			return Result{}, err
		}
		if err := x.insertRow(t, full); err != nil {
			return Result{}, err
		}
	}
	return Result{RowCount: int64(len(rows)), HasCount: true}, nil
}

// dmlPlan builds the plan of UPDATE or DELETE and finds the target's
// source in it.
func (x *execCtx) dmlPlan(c *compiler, target tableRef, from []tableRef, perm Permission) (*plan, int, *table, error) {
	if from == nil {
		t, err := x.dmlTable(target, perm)
		if err != nil {
			return nil, 0, nil, err
		}
		p, err := c.fromClause([]tableRef{target}, 0)
		if err != nil {
			return nil, 0, nil, err
		}
		if s := p.srcs[0]; s.base {
			s.lk = x.specFor(s.hints, true)
		}
		return p, 0, t, nil
	}
	p, err := c.fromClause(from, 0)
	if err != nil {
		return nil, 0, nil, err
	}
	ti := -1
	for i, src := range p.srcs {
		switch {
		case target.varName != "":
			if src.tbl != nil && strings.EqualFold(src.name, target.varName) {
				ti = i
			}
		case target.name.Schema == "" && src.alias != "" && strings.EqualFold(src.alias, target.name.Name):
			ti = i
		case src.alias == "" && src.base && strings.EqualFold(src.name, target.name.Name) &&
			(target.name.Schema == "" || strings.EqualFold(target.name.Schema, src.schema)):
			ti = i
		}
		if ti >= 0 {
			break
		}
	}
	if ti < 0 {
		// The target is not in FROM: SQL Server joins it in (a cross join).
		src, err := c.addSource(target, 0)
		if err != nil {
			return nil, 0, nil, err
		}
		p.srcs = append(p.srcs, src)
		p.kinds = append(p.kinds, "CROSS")
		p.on = append(p.on, nil)
		ti = src.idx
	}
	src := p.srcs[ti]
	if src.tbl == nil {
		return nil, 0, nil, errf(4421, 16, 1, "Derived table '%s' is not updatable because a column of the derived table is derived or constant.", srcQualifier(src))
	}
	if src.base {
		if err := x.checkPerm(src.tbl, perm); err != nil {
			return nil, 0, nil, err
		}
		// The target's rows are read with update locks.
		src.lk = x.specFor(src.hints, true)
	}
	for i, s := range p.srcs {
		if i != ti && s.base {
			if err := x.checkPerm(s.tbl, PermSelect); err != nil {
				return nil, 0, nil, err
			}
		}
	}
	return p, ti, src.tbl, nil
}

func (x *execCtx) topValue(c *compiler, top expr) (int64, error) {
	if top == nil {
		return -1, nil
	}
	e, err := c.value(top)
	if err != nil {
		return 0, err
	}
	v, err := e.eval(&env{})
	if err != nil {
		return 0, err
	}
	n, err := convert(x.s.dates, v, e.typ, Type{ID: TypeBigInt})
	if err != nil {
		return 0, err
	}
	if n == nil || n.(int64) < 0 {
		return 0, errf(1060, 16, 1, "The number of rows provided for a TOP or FETCH clauses row count parameter must be an integer.")
	}
	return n.(int64), nil
}

// compiledSet is one SET clause of UPDATE or MERGE.
type compiledSet struct {
	col int
	e   *cexpr
}

func (c *compiler) setClauses(sets []setClause, src *source) ([]compiledSet, error) {
	var out []compiledSet
	seen := map[int]bool{}
	for _, s := range sets {
		if s.vr != "" {
			return nil, unsupported("SET @variable in UPDATE or MERGE")
		}
		name := s.col[len(s.col)-1]
		if q := s.col[:len(s.col)-1]; len(q) > 0 && !src.matches(q) {
			return nil, errf(4104, 16, 1, "The multi-part identifier \"%s\" could not be bound.", strings.Join(s.col, "."))
		}
		ci := -1
		for i, col := range src.cols {
			if strings.EqualFold(col.Name, name) {
				ci = i
			}
		}
		if ci < 0 {
			return nil, errf(207, 16, 1, "Invalid column name '%s'.", name)
		}
		if seen[ci] {
			return nil, errf(264, 16, 1, "The column name '%s' is specified more than once in the SET clause or column list of an INSERT. A column cannot be assigned more than one value in the same clause. Modify the clause to make sure that a column is updated only once. If this statement updates or inserts columns into a view, column aliasing can conceal the duplication in your code.", name)
		}
		seen[ci] = true
		if src.tbl != nil && src.tbl.ident != nil && src.tbl.ident.col == ci {
			return nil, errf(8102, 16, 1, "Cannot update identity column '%s'.", src.cols[ci].Name) // identity.go
		}
		var x expr = s.x
		if s.op != "=" {
			x = &binExpr{op: s.op[:1], l: &colExpr{parts: []string{srcQualifier(src), src.cols[ci].Name}}, r: s.x}
		}
		e, err := c.value(x)
		if err != nil {
			return nil, err
		}
		out = append(out, compiledSet{col: ci, e: e})
	}
	return out, nil
}

// newValues computes a row's values after SET clauses, from the
// pre-update values (SQL Server evaluates every SET against the old row).
func (x *execCtx) newValues(t *table, old []any, sets []compiledSet, e *env, verb string) ([]any, error) {
	vals := append([]any(nil), old...)
	for _, s := range sets {
		v, err := s.e.eval(e)
		if err != nil {
			return nil, err
		}
		if vals[s.col], err = x.assign(v, s.e.typ, t, s.col, verb); err != nil {
			return nil, err
		}
	}
	return vals, nil
}

func (x *execCtx) update(n *updateStmt) (Result, error) {
	c := x.compiler()
	top, err := x.topValue(c, n.top)
	if err != nil {
		return Result{}, err
	}
	p, ti, t, err := x.dmlPlan(c, n.target, n.from, PermUpdate)
	if err != nil {
		return Result{}, err
	}
	sets, err := c.setClauses(n.sets, p.srcs[ti])
	if err != nil {
		return Result{}, err
	}
	if n.where != nil {
		w, err := c.predicate(n.where)
		if err != nil {
			return Result{}, err
		}
		p.addWhere(w)
	}
	type change struct {
		r    *row
		vals []any
	}
	var changes []change
	seen := map[*row]bool{}
	if top != 0 {
		err = p.iterate(x, nil, func(e *env) (bool, error) {
			r := e.rows[ti]
			if seen[r] {
				// A row joined to several source rows is updated once, from
				// one of them (SQL Server does not say which).
				return true, nil
			}
			seen[r] = true
			vals, err := x.newValues(t, r.vals, sets, e, "UPDATE")
			if err != nil {
				return false, err
			}
			changes = append(changes, change{r, vals})
			return top < 0 || int64(len(changes)) < top, nil
		})
		if err != nil {
			return Result{}, err
		}
	}
	for _, ch := range changes {
		if err := x.updateRow(t, ch.r, ch.vals); err != nil {
			return Result{}, err
		}
	}
	return Result{RowCount: int64(len(changes)), HasCount: true}, nil
}

func (x *execCtx) delete(n *deleteStmt) (Result, error) {
	c := x.compiler()
	top, err := x.topValue(c, n.top)
	if err != nil {
		return Result{}, err
	}
	target := n.target
	from := n.from
	if from == nil && target.alias != "" {
		from = []tableRef{target}
		target = tableRef{name: objName{Name: target.alias}}
	}
	p, ti, t, err := x.dmlPlan(c, target, from, PermDelete)
	if err != nil {
		return Result{}, err
	}
	if n.where != nil {
		w, err := c.predicate(n.where)
		if err != nil {
			return Result{}, err
		}
		p.addWhere(w)
	}
	var victims []*row
	seen := map[*row]bool{}
	if top != 0 {
		err = p.iterate(x, nil, func(e *env) (bool, error) {
			r := e.rows[ti]
			if !seen[r] {
				seen[r] = true
				victims = append(victims, r)
			}
			return top < 0 || int64(len(victims)) < top, nil
		})
		if err != nil {
			return Result{}, err
		}
	}
	for _, r := range victims {
		if err := x.deleteRow(t, r); err != nil {
			return Result{}, err
		}
	}
	return Result{RowCount: int64(len(victims)), HasCount: true}, nil
}

func (x *execCtx) merge(n *mergeStmt) (Result, error) {
	m, err := x.compileMerge(n)
	if err != nil {
		return Result{}, err
	}
	// Materialise the source once, so that its rows keep their identity
	// between the matching pass and the NOT MATCHED pass.
	srcRows, err := m.p.srcs[1].rows(nil)
	if err != nil {
		return Result{}, err
	}
	m.p.srcs[1].rows = func(*env) ([]*row, error) { return srcRows, nil }
	matchedSrc := map[*row]bool{}
	matchedTgt := map[*row]bool{}
	acts, err := x.mergeMatched(m, matchedSrc, matchedTgt)
	if err != nil {
		return Result{}, err
	}
	more, err := x.mergeNotMatchedByTarget(m, srcRows, matchedSrc)
	if err != nil {
		return Result{}, err
	}
	acts = append(acts, more...)
	more, err = x.mergeNotMatchedBySource(m, matchedTgt)
	if err != nil {
		return Result{}, err
	}
	acts = append(acts, more...)
	if m.top >= 0 && int64(len(acts)) > m.top {
		acts = acts[:m.top]
	}
	for _, a := range acts {
		var err error
		switch a.cl.action {
		case "UPDATE":
			err = x.updateRow(m.t, a.r, a.vals)
		case "DELETE":
			err = x.deleteRow(m.t, a.r)
		case "INSERT":
			err = x.insertRow(m.t, a.vals)
		}
		if err != nil {
			return Result{}, err
		}
	}
	return Result{RowCount: int64(len(acts)), HasCount: true}, nil
}

// compiledMerge is a bound MERGE: the target joined to the source on the
// ON condition, and the WHEN clauses in order.
type compiledMerge struct {
	t   *table
	p   *plan // source 0 is the target, source 1 the source
	cls []boundWhen
	top int64 // -1 without TOP
}

// boundWhen is one bound WHEN clause.
type boundWhen struct {
	match, action string // MATCHED, TARGET or SOURCE; UPDATE, DELETE or INSERT
	cond          *cexpr
	sets          []compiledSet
	cols          []int
	vals          []*cexpr
}

// mergeAction is what one WHEN clause does to one row.
type mergeAction struct {
	cl   *boundWhen
	r    *row  // the target row (UPDATE, DELETE)
	vals []any // the new row (UPDATE, INSERT)
}

// compileMerge binds a MERGE: permissions, the join and the clauses.
func (x *execCtx) compileMerge(n *mergeStmt) (*compiledMerge, error) {
	c := x.compiler()
	top, err := x.topValue(c, n.top)
	if err != nil {
		return nil, err
	}
	t, err := x.dmlTable(n.target, 0)
	if err != nil {
		return nil, err
	}
	for _, cl := range n.clauses {
		perm := map[string]Permission{"UPDATE": PermUpdate, "DELETE": PermDelete, "INSERT": PermInsert}[cl.action]
		if err := x.checkPerm(t, perm); err != nil {
			return nil, err
		}
	}
	p, err := c.fromClause([]tableRef{n.target, n.source}, 0)
	if err != nil {
		return nil, err
	}
	if s := p.srcs[0]; s.base {
		s.lk = x.specFor(s.hints, true)
	}
	if s := p.srcs[1]; s.base {
		if err := x.checkPerm(s.tbl, PermSelect); err != nil {
			return nil, err
		}
	}
	if p.srcs[0].alias != "" && p.srcs[1].alias != "" && strings.EqualFold(p.srcs[0].alias, p.srcs[1].alias) {
		return nil, errf(1011, 16, 1, "The correlation name '%s' is specified multiple times in a FROM clause.", p.srcs[0].alias)
	}
	on, err := c.predicate(n.on)
	if err != nil {
		return nil, err
	}
	p.addWhere(on)
	m := &compiledMerge{t: t, p: p, top: top}
	for _, cl := range n.clauses {
		mc, err := x.bindWhen(c, t, p, cl)
		if err != nil {
			return nil, err
		}
		m.cls = append(m.cls, mc)
	}
	return m, nil
}

// bindWhen binds one WHEN clause.
func (x *execCtx) bindWhen(c *compiler, t *table, p *plan, cl mergeClause) (boundWhen, error) {
	m := boundWhen{match: cl.match, action: cl.action}
	var err error
	if cl.cond != nil {
		if m.cond, err = c.predicate(cl.cond); err != nil {
			return m, err
		}
	}
	if cl.action == "UPDATE" {
		if m.sets, err = c.setClauses(cl.sets, p.srcs[0]); err != nil {
			return m, err
		}
	}
	if cl.action == "INSERT" {
		if m.cols, err = x.columnList(t, cl.cols); err != nil {
			return m, err
		}
		if m.cols, err = x.identityColumns(t, cl.cols, m.cols); err != nil { // identity.go
			return m, err
		}
		if len(cl.values) != len(m.cols) {
			return m, errf(10714, 15, 1, "The number of columns in the INSERT list does not match the number of values in the VALUES clause of a MERGE statement.")
		}
		for _, v := range cl.values {
			ce, err := c.value(v)
			if err != nil {
				return m, err
			}
			m.vals = append(m.vals, ce)
		}
	}
	return m, nil
}

// first returns the first clause of the given kind whose condition
// holds, or nil.
func (m *compiledMerge) first(match string, e *env) (*boundWhen, error) {
	for i := range m.cls {
		if m.cls[i].match != match {
			continue
		}
		if m.cls[i].cond != nil {
			v, err := m.cls[i].cond.eval(e)
			if err != nil {
				return nil, err
			}
			if v != true {
				continue
			}
		}
		return &m.cls[i], nil
	}
	return nil, nil
}

// mergeMatched runs WHEN MATCHED over the joined rows and records which
// source and target rows matched.
func (x *execCtx) mergeMatched(m *compiledMerge, matchedSrc, matchedTgt map[*row]bool) ([]mergeAction, error) {
	var acts []mergeAction
	acted := map[*row]bool{}
	err := m.p.iterate(x, nil, func(e *env) (bool, error) {
		tr, sr := e.rows[0], e.rows[1]
		matchedSrc[sr] = true
		matchedTgt[tr] = true
		cl, err := m.first("MATCHED", e)
		if err != nil || cl == nil {
			return err == nil, err
		}
		if acted[tr] {
			// SQL Server: a target row may be updated or deleted once.
			return false, errf(8672, 16, 1, "The MERGE statement attempted to UPDATE or DELETE the same row more than once. This happens when a target row matches more than one source row. A MERGE statement cannot UPDATE/DELETE the same row of the target table multiple times. Refine the ON clause to ensure a target row matches at most one source row, or use the GROUP BY clause to group the source rows.")
		}
		acted[tr] = true
		a := mergeAction{cl: cl, r: tr}
		if cl.action == "UPDATE" {
			if a.vals, err = x.newValues(m.t, tr.vals, cl.sets, e, "UPDATE"); err != nil {
				return false, err
			}
		}
		acts = append(acts, a)
		return true, nil
	})
	return acts, err
}

// mergeNotMatchedByTarget runs WHEN NOT MATCHED [BY TARGET] over the
// source rows that matched no target row.
func (x *execCtx) mergeNotMatchedByTarget(m *compiledMerge, srcRows []*row, matchedSrc map[*row]bool) ([]mergeAction, error) {
	var acts []mergeAction
	e := &env{rows: make([]*row, 2)}
	for _, sr := range srcRows {
		if matchedSrc[sr] {
			continue
		}
		e.rows[0], e.rows[1] = nil, sr
		cl, err := m.first("TARGET", e)
		if err != nil {
			return nil, err
		}
		if cl == nil {
			continue
		}
		vals := make([]any, len(cl.vals))
		types := make([]Type, len(cl.vals))
		for i, ce := range cl.vals {
			if vals[i], err = ce.eval(e); err != nil {
				return nil, err
			}
			types[i] = ce.typ
		}
		full, err := x.buildRow(m.t, cl.cols, vals, types, "MERGE")
		if err != nil {
			return nil, err
		}
		acts = append(acts, mergeAction{cl: cl, vals: full})
	}
	return acts, nil
}

// mergeNotMatchedBySource runs WHEN NOT MATCHED BY SOURCE over the target
// rows that matched no source row; it scans (and locks) the whole target.
func (x *execCtx) mergeNotMatchedBySource(m *compiledMerge, matchedTgt map[*row]bool) ([]mergeAction, error) {
	hasBySource := false
	for _, cl := range m.cls {
		if cl.match == "SOURCE" {
			hasBySource = true
		}
	}
	if !hasBySource {
		return nil, nil
	}
	if err := x.lockScan(m.p.srcs[0]); err != nil {
		return nil, err
	}
	var acts []mergeAction
	e := &env{rows: make([]*row, 2)}
	for _, tr := range append([]*row(nil), m.t.rows...) {
		if matchedTgt[tr] {
			continue
		}
		e.rows[0], e.rows[1] = tr, nil
		cl, err := m.first("SOURCE", e)
		if err != nil {
			return nil, err
		}
		if cl == nil {
			continue
		}
		a := mergeAction{cl: cl, r: tr}
		if cl.action == "UPDATE" {
			if a.vals, err = x.newValues(m.t, tr.vals, cl.sets, e, "UPDATE"); err != nil {
				return nil, err
			}
		}
		acts = append(acts, a)
	}
	return acts, nil
}

func (x *execCtx) truncate(n *truncateStmt) (Result, error) {
	if err := x.checkDB(n.name); err != nil {
		return Result{}, err
	}
	t := x.db.tables[lowerKey(n.name.Schema, n.name.Name)]
	if isTempName(n.name.Name) {
		t = x.s.temps[tempKey(n.name.Name)] // temp.go
	}
	if t == nil || (x.s.p.Restricted && !t.temp) {
		// TRUNCATE needs ALTER on the table, which restricted principals lack.
		return Result{}, errf(4701, 16, 1, "Cannot find the object \"%s\" because it does not exist or you do not have permissions.", n.name.Name)
	}
	if err := x.lockSchema(t); err != nil {
		return Result{}, err
	}
	old := t.rows
	oldKeys := make([]map[string]*row, len(t.indexes))
	oldSorted := make([]sortedRows, len(t.indexes))
	for i, ix := range t.indexes {
		oldKeys[i], oldSorted[i] = ix.keys, ix.sorted
		if ix.keys != nil {
			ix.keys = map[string]*row{}
		}
		ix.sorted = sortedRows{}
	}
	t.rows = nil
	x.addUndo(func() {
		t.rows = old
		for i, ix := range t.indexes {
			ix.keys, ix.sorted = oldKeys[i], oldSorted[i]
		}
	}, false)
	x.resetIdentity(t) // identity.go: TRUNCATE restarts the counter at the seed
	return Result{}, nil
}

func (x *execCtx) setOption(n *setOptionStmt) (Result, error) {
	for _, opt := range strings.Split(n.option, ",") {
		on := n.value == "ON"
		if bit, ok := optionBits[opt]; ok {
			if on == defaultOptions.has(bit) || trackedOptions&bit != 0 {
				x.s.opts.set(bit, on)
				continue
			}
			// The engine always behaves as with the option at its ODBC
			// default; the other setting changes semantics it does not model.
			return Result{}, unsupported("SET " + opt + " " + n.value)
		}
		switch opt {
		case "XACT_ABORT":
			x.s.xactAbort = on
		case "NOCOUNT":
			x.s.nocount = on
		case "IMPLICIT_TRANSACTIONS", "ANSI_DEFAULTS", "NO_BROWSETABLE", "REMOTE_PROC_TRANSACTIONS",
			"FMTONLY", "NOEXEC", "PARSEONLY", "SHOWPLAN_ALL", "SHOWPLAN_TEXT", "SHOWPLAN_XML", "STATISTICS", "FORCEPLAN":
			// OFF is the default of each and changes nothing; ON is not
			// modelled (ANSI_DEFAULTS OFF turns the ANSI options off).
			if on || opt == "ANSI_DEFAULTS" {
				return Result{}, unsupported("SET " + opt + " " + n.value)
			}
		case "LOCK_TIMEOUT":
			ms, err := x.optionInt(opt, n.value)
			if err != nil {
				return Result{}, err
			}
			if ms < -1 {
				ms = -1
			}
			x.s.lockTimeout = ms
		case "DEADLOCK_PRIORITY":
			// LOW, NORMAL and HIGH are -5, 0 and 5 (SQL Server's scale is
			// -10 to 10).
			var p int64
			switch n.value {
			case "LOW":
				p = -5
			case "NORMAL":
				p = 0
			case "HIGH":
				p = 5
			default:
				var err error
				if p, err = x.optionInt(opt, n.value); err != nil {
					return Result{}, err
				}
				if p < -10 || p > 10 {
					return Result{}, errf(1463, 16, 1, "DEADLOCK_PRIORITY value %d is not valid. Valid range is -10 to 10 or LOW, NORMAL and HIGH.", p)
				}
			}
			x.s.deadlockPriority = int(p)
		case "TEXTSIZE", "DATEFIRST", "QUERY_GOVERNOR_COST_LIMIT", "ROWCOUNT":
			// Only the values the engine behaves as are accepted: an
			// unlimited TEXTSIZE (what ODBC logins get), DATEFIRST 7
			// (us_english's; nothing reads DATEFIRST, see language), no
			// cost limit, no row count limit.
			v, err := x.optionInt(opt, n.value)
			if err != nil {
				return Result{}, err
			}
			ok := map[string]bool{"TEXTSIZE": v == -1 || v == 2147483647, "DATEFIRST": v == 7,
				"QUERY_GOVERNOR_COST_LIMIT": v == 0, "ROWCOUNT": v == 0}[opt]
			if !ok {
				return Result{}, unsupported("SET " + opt + " " + n.value)
			}
		case "LANGUAGE":
			// SQL Server sets the language and the DATEFORMAT and
			// DATEFIRST it implies, and says so with message 5703 (the
			// ENVCHANGE it also sends is not modelled: clients ignore it).
			// Languages other than us_english and Russian are not modelled.
			if strings.HasPrefix(n.value, "@") {
				return Result{}, unsupported("SET LANGUAGE @variable")
			}
			l, ok := findLanguage(n.value)
			if !ok {
				return Result{}, unsupported("SET LANGUAGE " + n.value)
			}
			x.s.dates = dateStyle{lang: l, order: l.dateFormat}
			return Result{Messages: []*Error{{Number: 5703, State: 1, Class: 0,
				Message: "Changed language setting to " + l.name + "."}}}, nil
		case "DATEFORMAT":
			// mdy and dmy are the orders of the modelled languages; SET
			// DATEFORMAT changes the order and keeps the month names.
			// The other four orders are not modelled.
			if strings.HasPrefix(n.value, "@") {
				return Result{}, unsupported("SET DATEFORMAT @variable")
			}
			f := strings.ToLower(n.value)
			if f != "mdy" && f != "dmy" {
				return Result{}, unsupported("SET DATEFORMAT " + n.value)
			}
			x.s.dates.order = f
		case "TRANSACTION ISOLATION LEVEL":
			switch n.value {
			case "READ UNCOMMITTED":
				x.s.isolation = isoReadUncommitted
			case "READ COMMITTED":
				x.s.isolation = isoReadCommitted
			case "REPEATABLE READ":
				x.s.isolation = isoRepeatableRead
			case "SERIALIZABLE":
				x.s.isolation = isoSerializable
			default:
				return Result{}, unsupported("SET TRANSACTION ISOLATION LEVEL " + n.value)
			}
		default:
			return Result{}, unsupported("SET " + opt)
		}
	}
	return Result{}, nil
}

func (x *execCtx) optionInt(opt, v string) (int64, error) {
	if strings.HasPrefix(v, "@") {
		return 0, unsupported("SET " + opt + " @variable")
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, errf(102, 15, 1, "Incorrect syntax near '%s'.", v)
	}
	return n, nil
}

func (x *execCtx) setVar(s setClause) error {
	v, ok := x.b.vars[strings.ToLower(s.vr)]
	if !ok || v.table != nil {
		return errf(137, 15, 2, "Must declare the scalar variable \"%s\".", s.vr)
	}
	var e expr = s.x
	if s.op != "=" {
		e = &binExpr{op: s.op[:1], l: &varExpr{name: s.vr}, r: s.x}
	}
	ce, err := x.compiler().value(e)
	if err != nil {
		return err
	}
	val, err := ce.eval(&env{})
	if err != nil {
		return err
	}
	// Assignment to a variable converts like CAST: strings are cut
	// silently to the variable's length.
	cv, err := convert(x.s.dates, val, ce.typ, v.typ)
	if err != nil {
		return err
	}
	v.val = cv
	return nil
}

func (x *execCtx) declare(n *declareStmt) (Result, error) {
	for _, d := range n.vars {
		key := strings.ToLower(d.name)
		if _, dup := x.b.vars[key]; dup {
			return Result{}, errf(134, 15, 1, "The variable name '%s' has already been declared. Variable names must be unique within a query batch or stored procedure.", d.name)
		}
		v := &variable{name: d.name, typ: d.typ}
		if d.table != nil {
			t, err := x.buildTable(d.table)
			if err != nil {
				return Result{}, err
			}
			t.isVar = true
			t.name = d.name
			v.table = t
			v.typ = Type{ID: TypeTable}
		} else if d.init != nil {
			ce, err := x.compiler().value(d.init)
			if err != nil {
				return Result{}, err
			}
			val, err := ce.eval(&env{})
			if err != nil {
				return Result{}, err
			}
			if v.val, err = convert(x.s.dates, val, ce.typ, d.typ); err != nil {
				return Result{}, err
			}
		}
		x.b.vars[key] = v
	}
	return Result{}, nil
}

// waitDelay evaluates WAITFOR DELAY's argument: a character string
// hh:mm[:ss[.mmm]] below 24 hours, as SQL Server reads it.
func (x *execCtx) waitDelay(e expr) (time.Duration, error) {
	ce, err := x.compiler().value(e)
	if err != nil {
		return 0, err
	}
	v, err := ce.eval(&env{})
	if err != nil {
		return 0, err
	}
	s, ok := v.(string)
	if !ok {
		if v == nil {
			return 0, nil
		}
		return 0, unsupported("WAITFOR DELAY of type " + ce.typ.baseName())
	}
	bad := errf(148, 15, 1, "Incorrect time syntax in time string '%s' used with WAITFOR.", s)
	parts := strings.Split(strings.TrimSpace(s), ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, bad
	}
	var d time.Duration
	for i, unit := range []time.Duration{time.Hour, time.Minute, time.Second} {
		if i >= len(parts) {
			break
		}
		p := parts[i]
		if i == 2 {
			f, err := strconv.ParseFloat(p, 64)
			if err != nil || f < 0 || f >= 60 {
				return 0, bad
			}
			d += time.Duration(f * float64(time.Second))
			break
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || (i == 0 && n > 23) || (i == 1 && n > 59) {
			return 0, bad
		}
		d += time.Duration(n) * unit
	}
	return d, nil
}

// raiserror runs RAISERROR with a message text: severity 0 to 10 sends an
// informational message, 11 to 18 raises error 50000 with that class.
func (x *execCtx) raiserror(n *raiserrorStmt) (Result, error) {
	eval := func(e expr) (any, Type, error) {
		ce, err := x.compiler().value(e)
		if err != nil {
			return nil, Type{}, err
		}
		v, err := ce.eval(&env{})
		return v, ce.typ, err
	}
	seterror := false
	for _, w := range n.with {
		switch w {
		case "NOWAIT": // messages are sent when the batch ends, in order, either way
		case "SETERROR":
			seterror = true
		default:
			return Result{}, unsupported("RAISERROR WITH " + w)
		}
	}
	mv, mt, err := eval(n.msg)
	if err != nil {
		return Result{}, err
	}
	if !isString(mt.ID) {
		return Result{}, unsupported("RAISERROR with a message number")
	}
	msg, _ := mv.(string)
	var nums [2]int64
	for i, e := range []expr{n.severity, n.state} {
		v, t, err := eval(e)
		if err != nil {
			return Result{}, err
		}
		iv, err := convert(x.s.dates, v, t, Type{ID: TypeInt})
		if err != nil {
			return Result{}, err
		}
		nums[i], _ = iv.(int64)
	}
	sev, state := nums[0], nums[1]
	if sev > 18 {
		return Result{}, errf(2754, 16, 1, "Error severity levels greater than 18 can only be specified by members of the sysadmin role, using the WITH LOG option.")
	}
	if sev < 0 {
		sev = 0
	}
	if state < 0 || state > 255 {
		state = 1
	}
	var args []any
	for i, a := range n.args {
		v, t, err := eval(a)
		if err != nil {
			return Result{}, err
		}
		if t.ID == TypeVariant {
			// SQL Server takes no sql_variant substitution argument (variant.go).
			return Result{}, errf(2748, 16, 1, "Cannot specify sql_variant data type (parameter %d) as a substitution parameter.", i+4)
		}
		args = append(args, v)
	}
	text, err := raiserrorFormat(msg, args)
	if err != nil {
		return Result{}, err
	}
	e := &Error{Number: 50000, State: uint8(state), Class: uint8(sev), Message: text}
	if sev <= 10 {
		if seterror {
			x.s.lastError = 50000
		}
		return Result{Messages: []*Error{e}}, nil
	}
	e.raised = true
	return Result{}, e
}

// raiserrorFormat substitutes RAISERROR's arguments: %s, %d, %i, %u, %x,
// %X, %o and %%, without width or precision.
func raiserrorFormat(msg string, args []any) (string, error) {
	var b strings.Builder
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(msg) {
			b.WriteByte(c)
			break
		}
		i++
		verb := msg[i]
		if verb == '%' {
			b.WriteByte('%')
			continue
		}
		if !strings.ContainsRune("sdiuxXo", rune(verb)) {
			return "", unsupported("RAISERROR format %" + string(verb))
		}
		if len(args) == 0 {
			b.WriteString("(null)")
			continue
		}
		a := args[0]
		args = args[1:]
		switch {
		case a == nil:
			b.WriteString("(null)")
		case verb == 's':
			b.WriteString(fmt.Sprint(a))
		case verb == 'x' || verb == 'X' || verb == 'o':
			n, _ := a.(int64)
			b.WriteString(fmt.Sprintf("%"+string(verb), n))
		default:
			b.WriteString(fmt.Sprint(a))
		}
	}
	return b.String(), nil
}
