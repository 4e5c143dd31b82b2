package tsql

import (
	"sort"
	"strings"
)

// plan is a set of row sources joined together with their conditions.
type plan struct {
	srcs  []*source
	kinds []string   // join kind of each source ("" for the first)
	on    [][]*cexpr // ON conjuncts of LEFT joins, by source
	conj  []*cexpr   // WHERE and INNER JOIN ON conjuncts
	order *keyOrder  // an ORDER BY a range seek can deliver, or nil
}

// addSource compiles one FROM entry into the compiler's scope.
func (c *compiler) addSource(ref tableRef, perm Permission) (*source, error) {
	src := &source{alias: ref.alias, idx: len(c.sc.sources)}
	var err error
	switch {
	case ref.varName != "":
		err = c.tableVarSource(src, ref)
	case ref.values != nil:
		err = c.valuesSource(src, ref)
	case ref.sub != nil:
		err = c.derivedSource(src, ref)
	case ref.name.Schema == "" && ref.name.DB == "" && c.cat.hasCTE(ref.name.Name):
		err = c.cteSource(src, ref) // cte.go
	default:
		err = c.namedSource(src, ref, perm)
	}
	if err != nil {
		return nil, err
	}
	if src.idx >= 64 {
		return nil, unsupported("more than 64 table sources in one query")
	}
	c.sc.sources = append(c.sc.sources, src)
	return src, nil
}

// tableVarSource reads a table variable; its rows are not locked.
func (c *compiler) tableVarSource(src *source, ref tableRef) error {
	v, ok := c.cat.variable(ref.varName)
	if !ok || v.table == nil {
		return errf(1087, 15, 2, "Must declare the table variable \"%s\".", ref.varName)
	}
	src.tbl = v.table
	src.name = ref.varName
	src.cols = v.table.cols
	src.deriv = implicitDerivs(len(src.cols))
	src.lk = lockSpec{none: true}
	t := v.table
	src.rows = func(*env) ([]*row, error) { return t.rows, nil }
	return nil
}

// valuesSource is a table value constructor: (VALUES ...) AS alias(cols).
// Each column takes the common type of its rows.
func (c *compiler) valuesSource(src *source, ref tableRef) error {
	vc := c.withScope(&scope{parent: c.sc.parent})
	var rows [][]*cexpr
	n := len(ref.values[0])
	for _, r := range ref.values {
		if len(r) != n {
			return errf(10709, 16, 1, "The number of columns for each row in a table value constructor must be the same.")
		}
		var cr []*cexpr
		for _, e := range r {
			ce, err := vc.value(e)
			if err != nil {
				return err
			}
			cr = append(cr, ce)
		}
		rows = append(rows, cr)
	}
	if len(ref.colAls) != n {
		if len(ref.colAls) > n {
			return errf(8158, 16, 1, "'%s' has more columns than were specified in the column list.", ref.alias)
		}
		return errf(8159, 16, 1, "'%s' has fewer columns than were specified in the column list.", ref.alias)
	}
	src.cols = make([]Column, n)
	src.deriv = make([]int, n)
	for i := 0; i < n; i++ {
		t := Type{ID: TypeNull}
		d := derivNone
		for _, r := range rows {
			t = commonType(t, r[i].typ)
			if r[i].deriv > d {
				d = r[i].deriv
			}
		}
		if t.ID == TypeNull {
			t = Type{ID: TypeInt}
		}
		t.Nullable = true
		src.cols[i] = Column{Name: ref.colAls[i], Type: t}
		src.deriv[i] = d
	}
	cols := src.cols
	src.rows = func(outer *env) ([]*row, error) {
		out := make([]*row, len(rows))
		e := &env{outer: outer}
		for i, r := range rows {
			vals := make([]any, len(r))
			for j, ce := range r {
				v, err := ce.eval(e)
				if err != nil {
					return nil, err
				}
				if v, err = convert(c.dates(), v, ce.typ, cols[j].Type); err != nil {
					return nil, err
				}
				vals[j] = v
			}
			out[i] = &row{vals: vals}
		}
		return out, nil
	}
	return nil
}

// derivedSource is a subquery in FROM: (SELECT ...) AS alias(cols).
func (c *compiler) derivedSource(src *source, ref tableRef) error {
	sub, err := compileSelect(c.withScope(&scope{parent: c.sc.parent}), ref.sub)
	if err != nil {
		return err
	}
	src.cols = make([]Column, len(sub.cols))
	src.deriv = implicitDerivs(len(sub.cols))
	for i, col := range sub.cols {
		src.cols[i] = col
		if ref.colAls != nil {
			if len(ref.colAls) != len(sub.cols) {
				return errf(8158, 16, 1, "'%s' has more columns than were specified in the column list.", ref.alias)
			}
			src.cols[i].Name = ref.colAls[i]
		}
		if src.cols[i].Name == "" {
			return errf(8155, 16, 2, "No column name was specified for column %d of '%s'.", i+1, ref.alias)
		}
	}
	cat := c.cat
	src.rows = func(outer *env) ([]*row, error) {
		rs, err := cat.runSelect(sub, outer, -1)
		if err != nil {
			return nil, err
		}
		return asRows(rs), nil
	}
	return nil
}

// namedSource is a catalog view or a permanent table, checked for perm.
func (c *compiler) namedSource(src *source, ref tableRef, perm Permission) error {
	x := c.cat
	if err := x.checkDB(ref.name); err != nil {
		return err
	}
	if cols, gen, ok := x.catalogView(ref.name); ok {
		src.schema = ref.name.Schema
		src.name = ref.name.Name
		src.cols = cols
		src.deriv = implicitDerivs(len(cols))
		src.rows = func(*env) ([]*row, error) { return asRows(gen()), nil }
		return nil
	}
	t, err := x.lookupTable(ref.name)
	if err != nil {
		return err
	}
	if perm != 0 {
		if err := x.checkPerm(t, perm); err != nil {
			return err
		}
	}
	src.tbl, src.base = t, true
	src.lk = x.specFor(ref.hints, false)
	src.hints = ref.hints
	src.schema, src.name = t.schema, t.name
	src.cols = t.cols
	src.deriv = implicitDerivs(len(t.cols))
	src.rows = func(*env) ([]*row, error) { return t.rows, nil }
	return nil
}

// asRows wraps computed values as rows.
func asRows(vals [][]any) []*row {
	out := make([]*row, len(vals))
	for i, r := range vals {
		out[i] = &row{vals: r}
	}
	return out
}

func implicitDerivs(n int) []int {
	d := make([]int, n)
	for i := range d {
		d[i] = derivImplicit
	}
	return d
}

// fromClause compiles a FROM list into a plan.
func (c *compiler) fromClause(refs []tableRef, perm Permission) (*plan, error) {
	p := &plan{}
	// Sources are added first so that ON conditions may name any of
	// the sources to their left (and, leniently, to their right).
	for _, r := range refs {
		src, err := c.addSource(r, perm)
		if err != nil {
			return nil, err
		}
		p.srcs = append(p.srcs, src)
		p.kinds = append(p.kinds, r.join)
	}
	p.on = make([][]*cexpr, len(refs))
	for i, r := range refs {
		if r.on == nil {
			continue
		}
		on, err := c.predicate(r.on)
		if err != nil {
			return nil, err
		}
		if r.join == "LEFT" {
			p.on[i] = conjuncts(on)
		} else {
			p.conj = append(p.conj, conjuncts(on)...)
		}
	}
	return p, nil
}

func (p *plan) addWhere(w *cexpr) {
	if w != nil {
		p.conj = append(p.conj, conjuncts(w)...)
	}
}

type level struct {
	src     int
	seek    []*cexpr   // for each primary key column, the value to look up
	rng     *rangeSeek // without seek: a range of an index to read, or nil
	filters []*cexpr
	match   []*cexpr // ON of a LEFT join
	left    bool
	rows    []*row
}

// iterate runs the nested loops of a plan and calls emit for each
// combination of rows that satisfies the conditions. emit returns false
// to stop early.
func (p *plan) iterate(x *execCtx, outer *env, emit func(e *env) (bool, error)) error {
	return p.iterateInOrder(x, outer, nil, emit)
}

// iterateInOrder is iterate that also sets *inOrder, before the first
// emit, to whether the combinations come in the order of p.order (its
// source is read first, by a range seek in that order).
func (p *plan) iterateInOrder(x *execCtx, outer *env, inOrder *bool, emit func(e *env) (bool, error)) error {
	n := len(p.srcs)
	if n == 0 {
		e := &env{outer: outer}
		if ok, err := allTrue(p.conj, e); err != nil || !ok {
			return err
		}
		_, err := emit(e)
		return err
	}
	rowsOf := make([][]*row, n)
	for i, s := range p.srcs {
		rs, err := s.rows(outer)
		if err != nil {
			return err
		}
		rowsOf[i] = rs
	}
	nl := &nestedLoop{x: x, p: p, levels: p.joinOrder(rowsOf), e: &env{rows: make([]*row, n), outer: outer}, emit: emit}
	if inOrder != nil {
		*inOrder = p.order != nil && nl.levels[0].rng != nil && nl.levels[0].src == p.order.src
	}
	_, err := nl.run(0)
	return err
}

// joinOrder chooses the join order: sources whose whole primary key can
// be looked up from already bound sources come first, then the smallest.
// LEFT joins keep the written order. Each condition is tested at the
// first level where all the sources it reads are bound.
func (p *plan) joinOrder(rowsOf [][]*row) []*level {
	n := len(p.srcs)
	hasLeft := false
	for _, k := range p.kinds {
		if k == "LEFT" {
			hasLeft = true
		}
	}
	levels := make([]*level, 0, n)
	var bound uint64
	used := make([]bool, n)
	assigned := make([]bool, len(p.conj))
	for len(levels) < n {
		var pick int
		var seek []*cexpr
		if hasLeft {
			pick = len(levels)
			seek = p.seekFor(pick, bound)
		} else {
			pick, seek = p.pickNext(rowsOf, used, bound)
		}
		used[pick] = true
		bound |= 1 << uint(pick)
		lv := &level{src: pick, seek: seek, rows: rowsOf[pick], left: p.kinds[pick] == "LEFT", match: p.on[pick]}
		if seek == nil {
			lv.rng = p.rangeFor(pick, bound&^(1<<uint(pick)))
			if o := p.order; lv.rng != nil && len(levels) == 0 && o != nil && o.src == pick && o.col == lv.rng.ix.cols[0] {
				lv.rng.desc = o.desc
			} else if lv.rng != nil && len(levels) == 0 && p.order != nil {
				// The first level does not deliver the ORDER BY.
				lv.rng.desc = false
			}
		}
		for i, cj := range p.conj {
			if !assigned[i] && cj.deps&^bound == 0 {
				assigned[i] = true
				lv.filters = append(lv.filters, cj)
			}
		}
		levels = append(levels, lv)
	}
	return levels
}

// pickNext picks the next source of an inner join and the seek that
// finds its rows, if any.
func (p *plan) pickNext(rowsOf [][]*row, used []bool, bound uint64) (int, []*cexpr) {
	for i := range p.srcs {
		if used[i] {
			continue
		}
		if sk := p.seekFor(i, bound); sk != nil {
			return i, sk
		}
	}
	// Prefer a source that makes another one seekable (drive the join
	// from the VALUES list, look the table up by key), then the smallest.
	enables := func(i int) bool {
		for j := range p.srcs {
			if j != i && !used[j] && p.seekFor(j, bound|1<<uint(i)) != nil {
				return true
			}
		}
		return false
	}
	pick, pickEnables := -1, false
	for i := range p.srcs {
		if used[i] {
			continue
		}
		en := enables(i)
		if pick < 0 || (en && !pickEnables) || (en == pickEnables && len(rowsOf[i]) < len(rowsOf[pick])) {
			pick, pickEnables = i, en
		}
	}
	return pick, nil
}

// allTrue reports whether every condition is true for e.
func allTrue(cs []*cexpr, e *env) (bool, error) {
	for _, cj := range cs {
		v, err := cj.eval(e)
		if err != nil {
			return false, err
		}
		if v != true {
			return false, nil
		}
	}
	return true, nil
}

// nestedLoop is one run of a plan's nested loops.
type nestedLoop struct {
	x      *execCtx
	p      *plan
	levels []*level
	e      *env // the current row of each source
	emit   func(e *env) (bool, error)
}

// run binds level l's source to each of its candidate rows in turn and
// goes one level deeper; past the last level it emits the combination.
// It reports whether to go on.
func (nl *nestedLoop) run(l int) (bool, error) {
	if l == len(nl.levels) {
		return nl.emit(nl.e)
	}
	x, e := nl.x, nl.e
	lv := nl.levels[l]
	src := nl.p.srcs[lv.src]
	cand, err := nl.candidates(lv, src)
	if err != nil {
		return false, err
	}
	matched := false
	for _, r := range cand {
		if err := x.tick(); err != nil {
			return false, err
		}
		if src.base {
			if x.skipLocked(src, r) {
				continue
			}
			x.rowsRead++
		}
		e.rows[lv.src] = r
		if lv.left {
			ok, err := allTrue(lv.match, e)
			if err != nil {
				return false, err
			}
			if !ok {
				continue
			}
			matched = true
		}
		ok, err := allTrue(lv.filters, e)
		if err != nil {
			return false, err
		}
		if ok {
			more, err := nl.run(l + 1)
			if err != nil || !more {
				e.rows[lv.src] = nil
				return more, err
			}
		}
	}
	e.rows[lv.src] = nil
	if lv.left && !matched {
		// A LEFT join's unmatched row: the source's columns are NULL.
		ok, err := allTrue(lv.filters, e)
		if err != nil {
			return false, err
		}
		if ok {
			return nl.run(l + 1)
		}
	}
	return true, nil
}

// candidates returns the rows of a level's source: the one row its seek
// finds, or all of them (a scan), taking the locks either needs.
func (nl *nestedLoop) candidates(lv *level, src *source) ([]*row, error) {
	x := nl.x
	if lv.seek == nil && lv.rng != nil {
		return nl.rangeCandidates(lv, src)
	}
	if lv.seek == nil {
		return nl.scanCandidates(lv, src)
	}
	x.db.stats.seeks.Add(1)
	var vals []any
	for _, sk := range lv.seek {
		v, err := sk.eval(nl.e)
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
	}
	r := src.tbl.lookup(vals)
	skip := false
	if src.base {
		var err error
		if skip, err = x.lockSeek(src, vals, r); err != nil {
			return nil, err
		}
	}
	if r != nil && !skip {
		return []*row{r}, nil
	}
	return nil, nil
}

// scanCandidates returns all the rows of a level's source (a scan),
// taking the locks a scan needs.
func (nl *nestedLoop) scanCandidates(lv *level, src *source) ([]*row, error) {
	if src.base {
		nl.x.db.stats.scans.Add(1)
		if err := nl.x.lockScan(src); err != nil {
			return nil, err
		}
	}
	return lv.rows, nil
}

// seekFor returns the expressions that pin source i's whole primary key
// given the bound sources, or nil.
func (p *plan) seekFor(i int, bound uint64) []*cexpr {
	src := p.srcs[i]
	if src.tbl == nil || src.tbl.pk == nil {
		return nil
	}
	var out []*cexpr
	for _, col := range src.tbl.pk.cols {
		var found *cexpr
		for _, cj := range p.conj {
			if cj.seekOK && cj.eqSrc == i && cj.eqCol == col && cj.eqOther.deps&^bound == 0 {
				found = cj.eqOther
				break
			}
		}
		if found == nil {
			return nil
		}
		out = append(out, found)
	}
	return out
}

// lookup finds the row with the given primary key values.
func (t *table) lookup(vals []any) *row {
	full := make([]any, len(t.cols))
	for i, c := range t.pk.cols {
		if vals[i] == nil {
			return nil
		}
		full[c] = vals[i]
	}
	return t.pk.keys[t.key(t.pk, full)]
}

// ---- SELECT ----

type orderSpec struct {
	e    *cexpr
	item int // index of a select item, or -1
	desc bool
}

type compiledSelect struct {
	p        *plan
	sc       *scope
	items    []*cexpr
	cols     []Column
	assigns  []*variable
	groupBy  []*cexpr
	having   *cexpr
	order    []orderSpec
	top      *cexpr
	distinct bool
	agg      bool
	dates    dateStyle // the session's, for TOP's and the columns' conversions
}

func compileSelect(c *compiler, s *selectStmt) (*compiledSelect, error) {
	q := &compiledSelect{sc: c.sc, distinct: s.distinct, dates: c.dates()}
	p, err := c.fromClause(s.from, PermSelect)
	if err != nil {
		return nil, err
	}
	q.p = p
	if s.where != nil {
		w, err := c.predicate(s.where)
		if err != nil {
			return nil, err
		}
		p.addWhere(w)
	}
	if s.top != nil {
		tc := c.withScope(&scope{parent: c.sc.parent})
		if q.top, err = tc.value(s.top); err != nil {
			return nil, err
		}
	}
	c.sc.allowAgg = true
	defer func() { c.sc.allowAgg = false }()
	for _, g := range s.groupBy {
		ge, err := c.value(g)
		if err != nil {
			return nil, err
		}
		if isLOB(ge.typ.ID) {
			return nil, errLOBSort()
		}
		if ge.typ.ID == TypeXML {
			return nil, errXMLNotComparable()
		}
		if err := refuseVariant("GROUP BY", ge.typ); err != nil { // variant.go
			return nil, err
		}
		q.groupBy = append(q.groupBy, ge)
	}
	if err := q.selectList(c, s); err != nil {
		return nil, err
	}
	if s.having != nil {
		if q.having, err = c.predicate(s.having); err != nil {
			return nil, err
		}
	}
	for _, o := range s.orderBy {
		spec, err := q.orderItem(c, s, o)
		if err != nil {
			return nil, err
		}
		if t := spec.typeIn(q); isLOB(t.ID) {
			return nil, errLOBSort()
		} else if t.ID == TypeXML {
			return nil, errXMLNotComparable()
		} else if err := refuseVariant("ORDER BY", t); err != nil { // variant.go
			return nil, err
		}
		q.order = append(q.order, spec)
	}
	if q.distinct {
		for _, col := range q.cols {
			if err := refuseVariant("DISTINCT", col.Type); err != nil { // variant.go
				return nil, err
			}
			if isLOB(col.Type.ID) || col.Type.ID == TypeXML {
				return nil, errf(421, 16, 1, "The %s data type cannot be selected as DISTINCT because it is not comparable.", col.Type.baseName())
			}
		}
	}
	q.agg = len(c.sc.aggs) > 0 || len(q.groupBy) > 0
	q.keyOrder()
	return q, nil
}

// keyOrder tells the plan about an ORDER BY on one plain column, which
// a range seek on an index led by that column delivers in order, so that
// TOP stops after its rows as in SQL Server.
func (q *compiledSelect) keyOrder() {
	if len(q.order) != 1 || q.agg || q.distinct {
		return
	}
	o := q.order[0]
	e := o.e
	if o.item >= 0 {
		e = q.items[o.item]
	}
	if e == nil || !e.isCol || e.colSrc >= len(q.p.srcs) {
		return
	}
	q.p.order = &keyOrder{src: e.colSrc, col: e.colIdx, desc: o.desc}
}

// selectList compiles the select list: its items, their column names
// and the variables a SELECT @v = ... assigns.
func (q *compiledSelect) selectList(c *compiler, s *selectStmt) error {
	for i, it := range s.items {
		if it.star {
			if err := q.star(c, it); err != nil {
				return err
			}
			continue
		}
		ce, err := c.value(it.x)
		if err != nil {
			return err
		}
		name := it.alias
		if name == "" {
			if col, ok := it.x.(*colExpr); ok {
				name = col.parts[len(col.parts)-1]
				if ce.isCol {
					name = c.sc.sources[ce.colSrc].cols[ce.colIdx].Name
				}
			}
		}
		t := ce.typ
		if t.ID == TypeNull {
			t = Type{ID: TypeInt, Nullable: true}
		}
		if len(s.assigns) > i && s.assigns[i] != "" {
			v, ok := c.cat.variable(s.assigns[i])
			if !ok || v.table != nil {
				return errf(137, 15, 2, "Must declare the scalar variable \"%s\".", s.assigns[i])
			}
			for len(q.assigns) < len(q.items) {
				q.assigns = append(q.assigns, nil)
			}
			q.assigns = append(q.assigns, v)
		} else if len(q.assigns) > 0 {
			q.assigns = append(q.assigns, nil)
		}
		q.items = append(q.items, ce)
		q.cols = append(q.cols, Column{Name: name, Type: t})
	}
	for _, v := range q.assigns {
		if v == nil {
			return errf(141, 15, 1, "A SELECT statement that assigns a value to a variable must not be combined with data-retrieval operations.")
		}
	}
	return nil
}

// star expands * or alias.* into the columns of the matching sources.
func (q *compiledSelect) star(c *compiler, it selectItem) error {
	any := false
	for _, src := range c.sc.sources {
		if it.qual != "" && !src.matches(strings.Split(it.qual, ".")) {
			continue
		}
		any = true
		for _, col := range src.cols {
			ce, err := c.column([]string{srcQualifier(src), col.Name})
			if err != nil {
				return err
			}
			q.items = append(q.items, ce)
			q.cols = append(q.cols, Column{Name: col.Name, Type: col.Type})
		}
	}
	if !any {
		if it.qual != "" {
			return errf(4104, 16, 1, "The multi-part identifier \"%s\" could not be bound.", it.qual)
		}
		return errf(263, 16, 1, "Must specify table to select from.")
	}
	return nil
}

// orderItem compiles one ORDER BY item: a select-list alias, a position
// (ORDER BY 2) or an expression.
func (q *compiledSelect) orderItem(c *compiler, s *selectStmt, o orderItem) (orderSpec, error) {
	spec := orderSpec{item: -1, desc: o.desc}
	if col, ok := o.x.(*colExpr); ok && len(col.parts) == 1 {
		for i, it := range s.items {
			if it.alias != "" && strings.EqualFold(it.alias, col.parts[0]) {
				spec.item = i
			}
		}
	}
	if lit, ok := o.x.(*litExpr); ok {
		if n, ok := lit.val.(int64); ok {
			if n < 1 || int(n) > len(q.items) {
				return spec, errf(108, 15, 1, "The ORDER BY position number %d is out of range of the number of items in the select list.", n)
			}
			spec.item = int(n) - 1
		}
	}
	if spec.item < 0 {
		var err error
		if spec.e, err = c.value(o.x); err != nil {
			return spec, err
		}
	}
	return spec, nil
}

func srcQualifier(s *source) string {
	if s.alias != "" {
		return s.alias
	}
	return s.name
}

type outRow struct {
	vals []any
	keys []any
}

// run executes the query; limit > 0 stops after that many rows (EXISTS
// needs one, a scalar subquery two).
func (q *compiledSelect) run(x *execCtx, outer *env, limit int) ([][]any, error) {
	top, err := q.topCount(outer)
	if err != nil {
		return nil, err
	}
	stopAt := int64(-1)
	if !q.agg && len(q.order) == 0 && !q.distinct {
		stopAt = top
		if limit > 0 && (stopAt < 0 || int64(limit) < stopAt) {
			stopAt = int64(limit)
		}
	}
	if stopAt == 0 {
		return nil, nil
	}
	// Rows that come in the ORDER BY's order stop at TOP too.
	orderStop := int64(-1)
	if q.p.order != nil {
		orderStop = top
		if limit > 0 && (orderStop < 0 || int64(limit) < orderStop) {
			orderStop = int64(limit)
		}
	}
	var out []outRow
	if !q.agg {
		inOrder := false
		err = q.p.iterateInOrder(x, outer, &inOrder, func(e *env) (bool, error) {
			r, err := q.project(e)
			if err != nil {
				return false, err
			}
			out = append(out, r)
			stop := stopAt
			if inOrder {
				stop = orderStop
			}
			return stop < 0 || int64(len(out)) < stop, nil
		})
	} else {
		out, err = q.aggregate(x, outer)
	}
	if err != nil {
		return nil, err
	}
	if q.distinct {
		out = q.dedupe(out)
	}
	if len(q.order) > 0 {
		q.sort(out)
	}
	if top >= 0 && int64(len(out)) > top {
		out = out[:top]
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	rows := make([][]any, len(out))
	for i, r := range out {
		rows[i] = r.vals
	}
	return rows, nil
}

// topCount evaluates TOP: -1 when there is none.
func (q *compiledSelect) topCount(outer *env) (int64, error) {
	if q.top == nil {
		return -1, nil
	}
	v, err := q.top.eval(&env{outer: outer})
	if err != nil {
		return 0, err
	}
	n, err := convert(q.dates, v, q.top.typ, Type{ID: TypeBigInt})
	if err != nil {
		return 0, err
	}
	if n == nil || n.(int64) < 0 {
		return 0, errf(1060, 16, 1, "The number of rows provided for a TOP or FETCH clauses row count parameter must be an integer.")
	}
	return n.(int64), nil
}

// project computes the select list and the ORDER BY keys of one row.
func (q *compiledSelect) project(e *env) (outRow, error) {
	vals := make([]any, len(q.items))
	for i, it := range q.items {
		v, err := it.eval(e)
		if err != nil {
			return outRow{}, err
		}
		if v != nil && it.typ.ID != q.cols[i].Type.ID {
			if v, err = convert(q.dates, v, it.typ, q.cols[i].Type); err != nil {
				return outRow{}, err
			}
		}
		vals[i] = v
	}
	var keys []any
	for _, o := range q.order {
		if o.item >= 0 {
			keys = append(keys, vals[o.item])
			continue
		}
		v, err := o.e.eval(e)
		if err != nil {
			return outRow{}, err
		}
		keys = append(keys, v)
	}
	return outRow{vals: vals, keys: keys}, nil
}

// group is one GROUP BY group: its first row and its aggregates' states.
type group struct {
	rows   []*row
	states []*aggState
}

// aggregate runs a query with aggregates or GROUP BY: it groups the
// plan's rows, then projects each group that passes HAVING.
func (q *compiledSelect) aggregate(x *execCtx, outer *env) ([]outRow, error) {
	groups := map[string]*group{}
	var order []*group
	newGroup := func(e *env) *group {
		g := &group{rows: append([]*row(nil), e.rows...)}
		for _, a := range q.sc.aggs {
			g.states = append(g.states, &aggState{spec: a, ds: q.dates})
		}
		order = append(order, g)
		return g
	}
	err := q.p.iterate(x, outer, func(e *env) (bool, error) {
		var b strings.Builder
		for _, ge := range q.groupBy {
			v, err := ge.eval(e)
			if err != nil {
				return false, err
			}
			b.WriteString(keyPart(v, collationKind(ge.typ.Collation)))
			b.WriteByte(0x1f)
		}
		k := b.String()
		g := groups[k]
		if g == nil {
			g = newGroup(e)
			groups[k] = g
		}
		for _, st := range g.states {
			if err := st.add(e); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if len(order) == 0 && len(q.groupBy) == 0 {
		// Aggregates over an empty input still return one row.
		newGroup(&env{rows: make([]*row, len(q.p.srcs))})
	}
	var out []outRow
	for _, g := range order {
		aggs := make([]any, len(g.states))
		for i, st := range g.states {
			v, err := st.result()
			if err != nil {
				return nil, err
			}
			aggs[i] = v
		}
		e := &env{rows: g.rows, outer: outer, aggs: aggs}
		if q.having != nil {
			v, err := q.having.eval(e)
			if err != nil {
				return nil, err
			}
			if v != true {
				continue
			}
		}
		r, err := q.project(e)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// dedupe keeps the first of equal rows (DISTINCT), comparing strings
// under their columns' collations.
func (q *compiledSelect) dedupe(out []outRow) []outRow {
	seen := map[string]bool{}
	kept := out[:0]
	for _, r := range out {
		var b strings.Builder
		for i, v := range r.vals {
			b.WriteString(keyPart(v, collationKind(q.cols[i].Type.Collation)))
			b.WriteByte(0x1f)
		}
		if !seen[b.String()] {
			seen[b.String()] = true
			kept = append(kept, r)
		}
	}
	return kept
}

// sort orders the rows by their ORDER BY keys (a stable sort).
func (q *compiledSelect) sort(out []outRow) {
	kinds := make([]collKind, len(q.order))
	for i, o := range q.order {
		if o.item >= 0 {
			kinds[i] = collationKind(q.cols[o.item].Type.Collation)
		} else {
			kinds[i] = collationKind(o.e.typ.Collation)
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		for i, o := range q.order {
			va, vb := out[a].keys[i], out[b].keys[i]
			var c int
			switch {
			case va == nil && vb == nil:
				c = 0
			case va == nil:
				c = -1 // SQL Server sorts NULL first
			case vb == nil:
				c = 1
			default:
				c = compareValues(va, vb, kinds[i])
			}
			if o.desc {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		return false
	})
}

// typeIn is the type of an ORDER BY key: its select-list item's or its
// expression's.
func (o orderSpec) typeIn(q *compiledSelect) Type {
	if o.item >= 0 && o.item < len(q.items) {
		return q.items[o.item].typ
	}
	if o.e != nil {
		return o.e.typ
	}
	return Type{}
}
