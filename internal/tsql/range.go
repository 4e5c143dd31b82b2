package tsql

import (
	"slices"
	"sort"
)

// Range seeks.
//
// SQL Server reads a B-tree index in key order: a predicate that bounds
// the leading key column (=, <, <=, >, >=, BETWEEN) against values known
// before the table is read is a range seek, which reads only the rows in
// the range, in key order, so that a TOP with an ORDER BY on that column
// stops after its rows. A nonclustered index is sought only when the
// range is small enough (tippingPoint); the primary key always. This engine keeps each index's rows in a slice
// sorted by the index key (index.sorted), kept up to date by every
// insert, delete and key update, and finds a range by binary search. It
// compares with the engine's own comparison (compareValues under the
// column's collation, after the conversions the predicate itself
// makes), so the range read and the predicate agree; the predicates stay
// as filters on the rows read. Where it is coarser than SQL Server:
//   - only the leading column of an index is used (SQL Server also seeks
//     on a prefix of equalities followed by a range);
//   - a bound that cannot be computed (its conversion fails) makes the
//     read a scan, whose filters then report what they meet.

// rangeTerm is a comparison of a column of the current scope with an
// expression that does not read that column's source: a bound a range
// seek can use once the expression's sources are bound.
type rangeTerm struct {
	src, col int
	op       string // "=", "<", "<=", ">" or ">=", with the column on the left
	other    *cexpr
	colT     Type // the column's type
	ct       Type // the comparison's type
	kind     collKind
	ds       dateStyle
}

// flipped is the operator with its operands swapped (a < col is col > a).
var flipped = map[string]string{"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

// rangeTermFor recognises a comparison usable as a range bound: the
// column's type family is the comparison's (no CONVERT_IMPLICIT on the
// column) and, for strings, the comparison's collation is the column's
// (an index serves seeks only under its own collation).
func rangeTermFor(op string, l, r *cexpr, ct Type, kind collKind, ds dateStyle) *rangeTerm {
	for _, pair := range [][2]*cexpr{{l, r}, {r, l}} {
		col, other := pair[0], pair[1]
		if !col.isCol || other.deps&(1<<uint(col.colSrc)) != 0 || other.typ.ID == TypeNull {
			continue
		}
		if typeFamily(col.typ.ID) != typeFamily(ct.ID) {
			continue
		}
		if isString(ct.ID) && kind != collationKind(col.typ.Collation) {
			continue
		}
		o := op
		if col == r {
			o = flipped[op]
		}
		return &rangeTerm{src: col.colSrc, col: col.colIdx, op: o, other: other, colT: col.typ, ct: ct, kind: kind, ds: ds}
	}
	return nil
}

// bound is an evaluated rangeTerm: the value, converted to the
// comparison's type, that the column is compared with.
type bound struct {
	t *rangeTerm
	v any
}

// cmp compares a column value with the bound as the predicate does;
// NULL, which an index sorts first, is below every bound.
func (b bound) cmp(v any) (int, error) {
	if v == nil {
		return -1, nil
	}
	cv, err := coerce(b.t.ds, v, b.t.colT, b.t.ct)
	if err != nil {
		return 0, err
	}
	return compareValues(cv, b.v, b.t.kind), nil
}

// holds reports whether a column value satisfies the bound.
func (b bound) holds(v any) (bool, error) {
	if v == nil {
		return false, nil
	}
	c, err := b.cmp(v)
	if err != nil {
		return false, err
	}
	switch b.t.op {
	case "=":
		return c == 0, nil
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	}
	return c >= 0, nil
}

// rangeSeek is a level's read of a range of an index.
type rangeSeek struct {
	ix    *index
	terms []*rangeTerm // the bounds on ix's leading column
	desc  bool         // read in descending key order
}

// rangeFor returns the range seek that reads source i given the bound
// sources, or nil: a read of an index (the primary key first) whose
// leading column is bounded by conditions that read only bound sources.
func (p *plan) rangeFor(i int, bound uint64) *rangeSeek {
	src := p.srcs[i]
	t := src.tbl
	if t == nil || t.isType {
		return nil
	}
	try := func(ix *index) *rangeSeek {
		if ix == nil || len(ix.cols) == 0 {
			return nil
		}
		var terms []*rangeTerm
		for _, cj := range p.conj {
			if r := cj.rng; r != nil && r.src == i && r.col == ix.cols[0] && r.other.deps&^bound == 0 {
				terms = append(terms, r)
			}
		}
		if terms == nil {
			return nil
		}
		return &rangeSeek{ix: ix, terms: terms}
	}
	if rs := try(t.pk); rs != nil {
		return rs
	}
	for _, ix := range t.indexes {
		if ix != t.pk {
			if rs := try(ix); rs != nil {
				return rs
			}
		}
	}
	return nil
}

// tippingPoint: a range of another index than the primary key is read
// only when it holds at most 1/tippingPoint of the table's rows.
// SQL Server's optimizer chooses between a seek of a nonclustered index,
// with a key lookup for each row, and a scan of the clustered index by
// their estimated costs: past its "tipping point" (a number of rows of
// the order of a quarter to a third of the table's pages) it scans. This
// engine counts rows, not pages, and ignores row goals (a small TOP
// favours the seek in SQL Server); the fraction is a coarse stand-in.
const tippingPoint = 4

// rangeCandidates returns the rows of a level read by its range seek,
// in key order, taking the locks the range needs. It falls back to a
// scan when a bound cannot be computed.
func (nl *nestedLoop) rangeCandidates(lv *level, src *source) ([]*row, error) {
	rs := lv.rng
	ix := rs.ix
	col := ix.cols[0]
	bounds := make([]bound, 0, len(rs.terms))
	empty := false
	for _, t := range rs.terms {
		v, err := t.other.eval(nl.e)
		if err != nil {
			return nl.scanCandidates(lv, src)
		}
		if v == nil {
			// A comparison with NULL is UNKNOWN: no row qualifies.
			empty = true
			continue
		}
		if v, err = coerce(t.ds, v, t.other.typ, t.ct); err != nil {
			return nl.scanCandidates(lv, src)
		}
		bounds = append(bounds, bound{t: t, v: v})
	}
	// in tells whether a key lock's values lie in the range. A lock that
	// did not record the column's value (a seek of an absent key records
	// only the key) is taken to lie in it.
	in := func(vals []any) (bool, error) {
		if empty {
			return false, nil
		}
		if vals[col] == nil {
			return true, nil
		}
		for _, b := range bounds {
			if ok, err := b.holds(vals[col]); err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	}
	// NULL keys sort first and satisfy no comparison.
	lo := ix.sorted.find(func(r *row) bool { return r.vals[col] != nil })
	hi := ix.sorted.n
	if empty {
		hi = 0
	}
	var cmpErr error
	for _, b := range bounds {
		below := func(strict bool) int { // first row not below the bound
			return ix.sorted.find(func(r *row) bool {
				c, err := b.cmp(r.vals[col])
				if err != nil && cmpErr == nil {
					cmpErr = err
				}
				if strict {
					return c > 0
				}
				return c >= 0
			})
		}
		switch b.t.op {
		case ">":
			lo = max(lo, below(true))
		case ">=":
			lo = max(lo, below(false))
		case "<":
			hi = min(hi, below(false))
		case "<=":
			hi = min(hi, below(true))
		case "=":
			lo = max(lo, below(false))
			hi = min(hi, below(true))
		}
	}
	if cmpErr != nil {
		return nl.scanCandidates(lv, src)
	}
	if ix != src.tbl.pk && (hi-lo)*tippingPoint > ix.sorted.n {
		return nl.scanCandidates(lv, src)
	}
	var rows []*row
	if lo < hi {
		rows = ix.sorted.rows(lo, hi)
	}
	nl.x.db.stats.rangeSeeks.Add(1)
	if src.base {
		if err := nl.x.lockRange(src, rows, in); err != nil {
			return nil, err
		}
	}
	if rs.desc {
		slices.Reverse(rows)
	}
	return rows, nil
}

// keyOrder is an ORDER BY on one column of one source, which a range
// seek on an index led by that column delivers without a sort.
type keyOrder struct {
	src, col int
	desc     bool
}

// ---- the sorted rows of an index ----

// cmpIndex orders two rows' values by an index's columns, each under its
// collation (NULL first, as SQL Server sorts it).
func (t *table) cmpIndex(ix *index, a, b []any) int {
	if len(ix.kinds) != len(ix.cols) {
		ix.kinds = make([]collKind, len(ix.cols))
		for i, c := range ix.cols {
			ix.kinds[i] = collationKind(t.cols[c].Type.Collation)
		}
	}
	for j, c := range ix.cols {
		va, vb := a[c], b[c]
		switch {
		case va == nil && vb == nil:
			continue
		case va == nil:
			return -1
		case vb == nil:
			return 1
		}
		k := ix.kinds[j]
		if x, ok := va.(string); ok && k == collCI {
			if y, ok := vb.(string); ok {
				if d, ok := compareFoldASCII(x, y); ok {
					if d != 0 {
						return d
					}
					continue
				}
			}
		}
		if d := compareValues(va, vb, k); d != 0 {
			return d
		}
	}
	return 0
}

// compareFoldASCII is compareStrings under a case-insensitive collation
// without its allocations, for the common case where the strings are
// ASCII up to their first difference; ok is false otherwise.
func compareFoldASCII(a, b string) (d int, ok bool) {
	a, b = trimPad(a), trimPad(b)
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := a[i], b[i]
		if x >= 0x80 || y >= 0x80 {
			return 0, false
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
	}
	// Folding keeps an ASCII prefix as it is and a non-empty rest
	// non-empty: the longer string is the greater.
	switch {
	case len(a) < len(b):
		return -1, true
	case len(a) > len(b):
		return 1, true
	}
	return 0, true
}

// cmpEntry orders index entries: by key, then, between equal keys, by
// the rows' insertion order (SQL Server orders the entries of a
// non-unique index by the clustered key or row id; any total order
// serves, and a total order lets a delete find its entry by binary
// search).
func (t *table) cmpEntry(ix *index, a *row, aVals []any, b *row, bVals []any) int {
	if d := t.cmpIndex(ix, aVals, bVals); d != 0 {
		return d
	}
	switch {
	case a.seq < b.seq:
		return -1
	case a.seq > b.seq:
		return 1
	}
	return 0
}

// sortedInsert adds r to every index's sorted rows.
func (t *table) sortedInsert(r *row) {
	if r.seq == 0 {
		t.nextSeq++
		r.seq = t.nextSeq
	}
	for _, ix := range t.indexes {
		ix.sorted.insert(r, func(o *row) bool { return t.cmpEntry(ix, o, o.vals, r, r.vals) > 0 })
	}
}

// sortedRemove removes r, whose key values were vals, from every index's
// sorted rows.
func (t *table) sortedRemove(r *row, vals []any) {
	for _, ix := range t.indexes {
		ix.sorted.remove(r, func(o *row) bool { return t.cmpEntry(ix, o, o.vals, r, vals) >= 0 })
	}
}

// setVals replaces r's values, moving it in the sorted rows of the
// indexes whose key changes.
func (t *table) setVals(r *row, vals []any) {
	var moved []*index
	for _, ix := range t.indexes {
		if t.cmpIndex(ix, r.vals, vals) != 0 {
			old := r.vals
			ix.sorted.remove(r, func(o *row) bool { return t.cmpEntry(ix, o, o.vals, r, old) >= 0 })
			moved = append(moved, ix)
		}
	}
	r.vals = vals
	for _, ix := range moved {
		ix.sorted.insert(r, func(o *row) bool { return t.cmpEntry(ix, o, o.vals, r, r.vals) > 0 })
	}
}

// buildSorted fills a new index's sorted rows from the table's rows.
func (t *table) buildSorted(ix *index) {
	rows := slices.Clone(t.rows)
	slices.SortFunc(rows, func(a, b *row) int { return t.cmpEntry(ix, a, a.vals, b, b.vals) })
	ix.sorted = sortedRows{}
	for len(rows) > 0 {
		n := min(len(rows), sortedBlock/2)
		ix.sorted.blocks = append(ix.sorted.blocks, rows[:n:n])
		ix.sorted.n += n
		rows = rows[n:]
	}
}

// sortedBlock is the most rows a block of sortedRows holds.
const sortedBlock = 512

// sortedRows is a list of rows kept in an order its callers define, in
// blocks of at most sortedBlock rows, so that an insert or a delete moves
// at most a block's rows (a single sorted slice would move half the
// table). insert and remove are the only ways to change it.
type sortedRows struct {
	blocks [][]*row // none empty
	n      int
}

// search returns the block and the index in it of the first row for
// which f is true (f is false, then true, along the order), or
// (len(blocks), 0).
func (s *sortedRows) search(f func(*row) bool) (int, int) {
	b := sort.Search(len(s.blocks), func(i int) bool {
		blk := s.blocks[i]
		return f(blk[len(blk)-1])
	})
	if b == len(s.blocks) {
		return b, 0
	}
	blk := s.blocks[b]
	return b, sort.Search(len(blk), func(i int) bool { return f(blk[i]) })
}

// find is search as a position in the whole list.
func (s *sortedRows) find(f func(*row) bool) int {
	b, i := s.search(f)
	for _, blk := range s.blocks[:b] {
		i += len(blk)
	}
	return i
}

// insert adds r before the first row for which after is true.
func (s *sortedRows) insert(r *row, after func(*row) bool) {
	s.n++
	if len(s.blocks) == 0 {
		s.blocks = [][]*row{{r}}
		return
	}
	b, i := s.search(after)
	if b == len(s.blocks) {
		b = len(s.blocks) - 1
		i = len(s.blocks[b])
	}
	blk := slices.Insert(s.blocks[b], i, r)
	if len(blk) <= sortedBlock {
		s.blocks[b] = blk
		return
	}
	half := len(blk) / 2
	second := slices.Clone(blk[half:])
	s.blocks[b] = slices.Clip(blk[:half])
	s.blocks = slices.Insert(s.blocks, b+1, second)
}

// remove deletes r, found as the first row for which notBefore is true.
func (s *sortedRows) remove(r *row, notBefore func(*row) bool) {
	b, i := s.search(notBefore)
	if b == len(s.blocks) || s.blocks[b][i] != r {
		// The order changed under r: find it the slow way.
		b, i = -1, -1
		for bb, blk := range s.blocks {
			if j := slices.Index(blk, r); j >= 0 {
				b, i = bb, j
				break
			}
		}
		if b < 0 {
			return
		}
	}
	s.n--
	s.blocks[b] = slices.Delete(s.blocks[b], i, i+1)
	if len(s.blocks[b]) == 0 {
		s.blocks = slices.Delete(s.blocks, b, b+1)
	}
}

// rows returns a copy of the rows at positions lo to hi-1.
func (s *sortedRows) rows(lo, hi int) []*row {
	out := make([]*row, 0, hi-lo)
	pos := 0
	for _, blk := range s.blocks {
		if pos >= hi {
			break
		}
		end := pos + len(blk)
		if end > lo {
			out = append(out, blk[max(lo-pos, 0):min(hi-pos, len(blk))]...)
		}
		pos = end
	}
	return out
}

// all returns a copy of every row, in order.
func (s *sortedRows) all() []*row { return s.rows(0, s.n) }
