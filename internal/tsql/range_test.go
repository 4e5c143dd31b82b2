package tsql

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// rangeSeed holds tokens in key order, each with its position as data.
var rangeSeed = []string{"a1", "a2", "b1", "b2", "c1", "c2", "d1"}

func rangeDB(t *testing.T) (*Database, *Session) {
	t.Helper()
	db := newTestDB(t)
	s := owner(db)
	t.Cleanup(s.Close)
	var vals []string
	for i, tok := range rangeSeed {
		vals = append(vals, fmt.Sprintf("('%s', 0x%02X, '2030-01-01')", tok, i+1))
	}
	mustExec(t, s, "INSERT INTO sessions (token, data, expiry) VALUES "+strings.Join(vals, ", "))
	return db, s
}

// tokens returns the first column of a result's rows, trimmed of the
// CHAR padding.
func tokens(rows [][]any) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, strings.TrimRight(r[0].(string), " "))
	}
	return out
}

// rowsReadHook records the rows each statement read.
type rowsReadHook struct {
	mu   sync.Mutex
	read []int64
}

func (h *rowsReadHook) BeforeStatement(context.Context, *Session, StatementInfo) error { return nil }
func (h *rowsReadHook) AfterStatement(_ context.Context, _ *Session, info StatementInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.read = append(h.read, info.RowsRead)
}

func TestRangeSeek(t *testing.T) {
	nullVC := Param{Name: "@p1", Type: Type{ID: TypeVarChar, Length: 43}}
	tests := []struct {
		name    string
		sql     string
		params  []Param
		want    []string
		ordered bool  // want is in the result's order (else compared as a set)
		read    int64 // when > 0, the rows the statement must have read
	}{
		{name: ">", sql: "SELECT token FROM sessions WHERE token > 'b2'", want: []string{"c1", "c2", "d1"}, read: 3},
		{name: ">=", sql: "SELECT token FROM sessions WHERE token >= 'b2'", want: []string{"b2", "c1", "c2", "d1"}, read: 4},
		{name: "<", sql: "SELECT token FROM sessions WHERE token < 'b1'", want: []string{"a1", "a2"}, read: 2},
		{name: "<=", sql: "SELECT token FROM sessions WHERE token <= 'b1'", want: []string{"a1", "a2", "b1"}, read: 3},
		{name: "BETWEEN", sql: "SELECT token FROM sessions WHERE token BETWEEN 'a2' AND 'c1'", want: []string{"a2", "b1", "b2", "c1"}, read: 4},
		{name: "both bounds", sql: "SELECT token FROM sessions WHERE token > 'a2' AND token < 'c2'", want: []string{"b1", "b2", "c1"}, read: 3},
		{name: "column on the right", sql: "SELECT token FROM sessions WHERE 'b1' < token AND 'c1' >= token", want: []string{"b2", "c1"}, read: 2},
		{name: "bound between keys", sql: "SELECT token FROM sessions WHERE token > 'b' AND token < 'c'", want: []string{"b1", "b2"}, read: 2},
		{name: "empty range", sql: "SELECT token FROM sessions WHERE token > 'c' AND token < 'b'", want: []string{}},
		{name: "past the last key", sql: "SELECT token FROM sessions WHERE token > 'z'", want: []string{}},
		{name: "before the first key", sql: "SELECT token FROM sessions WHERE token < 'a'", want: []string{}},
		{name: "parameters", sql: "SELECT token FROM sessions WHERE token > @p1 AND token <= @p2",
			params: []Param{vc("@p1", "a2"), vc("@p2", "c1")}, want: []string{"b1", "b2", "c1"}, read: 3},
		{name: "parameter cast to CHAR(43)", sql: "SELECT token FROM sessions WHERE token > CAST(@p1 AS CHAR(43)) AND token < CAST('c2' AS CHAR(43))",
			params: []Param{vc("@p1", "b1")}, want: []string{"b2", "c1"}, read: 2},
		{name: "NULL parameter", sql: "SELECT token FROM sessions WHERE token > @p1", params: []Param{nullVC}, want: []string{}},
		{name: "CHAR padding, inclusive", sql: "SELECT token FROM sessions WHERE token <= 'b1   ' AND token >= 'a2 '", want: []string{"a2", "b1"}, read: 2},
		{name: "CHAR padding, exclusive", sql: "SELECT token FROM sessions WHERE token > 'b1   ' AND token < 'c1 '", want: []string{"b2"}, read: 1},
		{name: "padded parameter", sql: "SELECT token FROM sessions WHERE token >= @p1", params: []Param{vc("@p1", "c2  ")}, want: []string{"c2", "d1"}, read: 2},
		{name: "case-insensitive, inclusive", sql: "SELECT token FROM sessions WHERE token >= 'B1' AND token <= 'C1'", want: []string{"b1", "b2", "c1"}, read: 3},
		{name: "case-insensitive, exclusive", sql: "SELECT token FROM sessions WHERE token > 'B2' AND token < 'D1'", want: []string{"c1", "c2"}, read: 2},
		{name: "other predicates filter", sql: "SELECT token FROM sessions WHERE token >= 'b1' AND data <> 0x04", want: []string{"b1", "c1", "c2", "d1"}, read: 5},
		{name: "ORDER BY the key", sql: "SELECT token FROM sessions WHERE token > 'a1' AND token < 'c2' ORDER BY token", want: []string{"a2", "b1", "b2", "c1"}, ordered: true},
		{name: "ORDER BY the key DESC", sql: "SELECT token FROM sessions WHERE token > 'a1' AND token < 'c2' ORDER BY token DESC", want: []string{"c1", "b2", "b1", "a2"}, ordered: true},
		{name: "TOP with ORDER BY stops early", sql: "SELECT TOP (2) token, data FROM sessions WHERE token > 'a1' ORDER BY token", want: []string{"a2", "b1"}, ordered: true, read: 2},
		{name: "TOP with ORDER BY DESC stops early", sql: "SELECT TOP (2) token FROM sessions WHERE token < 'c2' ORDER BY token DESC", want: []string{"c1", "b2"}, ordered: true, read: 2},
		{name: "TOP parameter, ORDER BY position", sql: "SELECT TOP (@p2) token FROM sessions WHERE token > @p1 ORDER BY 1",
			params: []Param{vc("@p1", "b1"), bigint("@p2", 3)}, want: []string{"b2", "c1", "c2"}, ordered: true, read: 3},
		{name: "TOP with ORDER BY alias DESC", sql: "SELECT TOP 1 token AS t FROM sessions WHERE token BETWEEN 'a' AND 'c' ORDER BY t DESC", want: []string{"b2"}, ordered: true, read: 1},
		{name: "aggregate over a range", sql: "SELECT MAX(token) FROM sessions WHERE token > 'a' AND token < 'c'", want: []string{"b2"}, read: 4},
		{name: "bound from an outer source", sql: "SELECT s.token FROM (VALUES ('b2')) AS v(x) JOIN sessions AS s ON s.token > v.x AND s.token < 'd'", want: []string{"c1", "c2"}, read: 2},
		{name: "correlated bound", sql: "SELECT v.x FROM (VALUES ('a'), ('c')) AS v(x) WHERE EXISTS (SELECT 1 FROM sessions AS s WHERE s.token > v.x AND s.token < 'c2')", want: []string{"a", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, s := rangeDB(t)
			h := &rowsReadHook{}
			db.hooks = h
			db.ResetStats()
			res := mustExec(t, s, tt.sql, tt.params...)
			got := tokens(res[len(res)-1].Rows)
			want := tt.want
			if !tt.ordered {
				got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
			}
			if !slices.Equal(got, want) {
				t.Errorf("rows = %q, want %q", got, want)
			}
			if st := db.Stats(); st.RangeSeeks == 0 || st.Scans != 0 {
				t.Errorf("stats = %+v, want range seeks and no scan", st)
			}
			if tt.read > 0 {
				h.mu.Lock()
				read := h.read[len(h.read)-1]
				h.mu.Unlock()
				if read != tt.read {
					t.Errorf("rows read = %d, want %d", read, tt.read)
				}
			}
		})
	}
}

// Predicates that do not bound the leading key column under its own
// collation still scan.
func TestRangeSeekNotUsed(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		want []string
	}{
		{"LIKE", "SELECT token FROM sessions WHERE token LIKE 'b%'", []string{"b1", "b2"}},
		{"<>", "SELECT token FROM sessions WHERE token <> 'b1' AND token <> 'a1' AND token <> 'a2'", []string{"b2", "c1", "c2", "d1"}},
		{"another collation", "SELECT token FROM sessions WHERE token > 'B2' COLLATE Latin1_General_BIN2", []string{"a1", "a2", "b1", "b2", "c1", "c2", "d1"}},
		{"bound reads the table", "SELECT token FROM sessions WHERE token > data", []string{"a1", "a2", "b1", "b2", "c1", "c2", "d1"}},
		{"OR", "SELECT token FROM sessions WHERE token < 'a2' OR token > 'c2'", []string{"a1", "d1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, s := rangeDB(t)
			db.ResetStats()
			got := tokens(mustExec(t, s, tt.sql)[0].Rows)
			if !slices.Equal(slices.Sorted(slices.Values(got)), tt.want) {
				t.Errorf("rows = %q, want %q", got, tt.want)
			}
			if st := db.Stats(); st.RangeSeeks != 0 || st.Scans != 1 {
				t.Errorf("stats = %+v, want one scan", st)
			}
		})
	}
}

// The journal poll of issue 14 and the MAX a writer reads: range seeks
// that read only the journal's rows.
func TestRangeSeekJournalPoll(t *testing.T) {
	db, s := rangeDB(t)
	for i := 1; i <= 5; i++ {
		mustExec(t, s, fmt.Sprintf("INSERT INTO sessions VALUES ('~j%020d', 0x%02X, '2030-01-01')", i, i))
	}
	mustExec(t, s, "INSERT INTO sessions VALUES ('~j9999999999999999999', 0x05, '2030-01-01')")
	h := &rowsReadHook{}
	db.hooks = h
	db.ResetStats()
	res := mustExec(t, s, `SELECT data FROM dbo.sessions WHERE token = CAST('~j9999999999999999999' AS CHAR(43));
SELECT TOP (@p2) token, data FROM dbo.sessions WHERE token > CAST(@p1 AS CHAR(43)) AND token < CAST('~j9999999999999999999' AS CHAR(43)) ORDER BY token;
SELECT MAX(j.token) FROM dbo.sessions AS j WHERE j.token > CAST('~j' AS CHAR(43)) AND j.token < CAST('~j9999999999999999999' AS CHAR(43))`,
		vc("@p1", fmt.Sprintf("~j%020d", 2)), bigint("@p2", 2))
	if got := tokens(res[1].Rows); !slices.Equal(got, []string{"~j00000000000000000003", "~j00000000000000000004"}) {
		t.Errorf("poll = %q", got)
	}
	if got := tokens(res[2].Rows); !slices.Equal(got, []string{"~j00000000000000000005"}) {
		t.Errorf("MAX = %q", got)
	}
	st := db.Stats()
	if st.Seeks != 1 || st.RangeSeeks != 2 || st.Scans != 0 {
		t.Errorf("stats = %+v, want 1 seek, 2 range seeks, no scan", st)
	}
	if want := []int64{1, 2, 5}; !slices.Equal(h.read, want) {
		t.Errorf("rows read = %v, want %v", h.read, want)
	}
}

// DML reads its target by a range seek too.
func TestRangeSeekDML(t *testing.T) {
	db, s := rangeDB(t)
	db.ResetStats()
	res := mustExec(t, s, "UPDATE sessions SET data = 0xFF WHERE token BETWEEN 'b1' AND 'b2'; DELETE TOP (1) FROM sessions WHERE token >= 'c'; SELECT token FROM sessions WHERE data = 0xFF")
	if res[0].RowCount != 2 || res[1].RowCount != 1 {
		t.Errorf("updated %d, deleted %d, want 2 and 1", res[0].RowCount, res[1].RowCount)
	}
	if got := tokens(res[2].Rows); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"b1", "b2"}) {
		t.Errorf("updated rows = %q", got)
	}
	if st := db.Stats(); st.RangeSeeks != 2 || st.Scans != 1 {
		t.Errorf("stats = %+v, want 2 range seeks and the final SELECT's scan", st)
	}
	if n := scalar(t, s, "SELECT COUNT(*) FROM sessions WHERE token > 'c'"); n != int64(2) {
		t.Errorf("rows left past 'c' = %v, want 2 (c2, d1: TOP took c1)", n)
	}
}

// checkSorted verifies that every index's sorted rows are the table's
// rows in key order.
func checkSorted(t *testing.T, tb *table) {
	t.Helper()
	for _, ix := range tb.indexes {
		checkBlocks(t, &ix.sorted)
		sorted := ix.sorted.all()
		if len(sorted) != len(tb.rows) {
			t.Fatalf("index %s: %d sorted rows, table has %d", ix.name, len(sorted), len(tb.rows))
		}
		seen := map[*row]bool{}
		for i, r := range sorted {
			if r.pos < 0 || r.pos >= len(tb.rows) || tb.rows[r.pos] != r || seen[r] {
				t.Fatalf("index %s: sorted row %d is not a table row", ix.name, i)
			}
			seen[r] = true
			if i > 0 && tb.cmpEntry(ix, sorted[i-1], sorted[i-1].vals, r, r.vals) >= 0 {
				t.Fatalf("index %s: rows %d and %d out of order", ix.name, i-1, i)
			}
		}
	}
}

// The sorted rows follow inserts, deletes, key updates, rollbacks and
// TRUNCATE.
func TestRangeSortedMaintained(t *testing.T) {
	db, s := rangeDB(t)
	tb := db.tables["dbo.sessions"]
	rnd := rand.New(rand.NewSource(1))
	key := func() string { return fmt.Sprintf("k%02d", rnd.Intn(40)) }
	for i := 0; i < 400; i++ {
		var sql string
		switch rnd.Intn(6) {
		case 0, 1:
			k := key()
			sql = fmt.Sprintf("IF NOT EXISTS (SELECT 1 FROM sessions WHERE token = '%s') INSERT INTO sessions VALUES ('%s', 0x01, '20%02d-01-01')", k, k, 30+rnd.Intn(20))
		case 2:
			sql = fmt.Sprintf("DELETE FROM sessions WHERE token > '%s' AND token < '%s'", key(), key())
		case 3:
			k := key()
			if rnd.Intn(2) == 0 {
				// The same key under the case-insensitive collation.
				sql = fmt.Sprintf("UPDATE sessions SET token = UPPER(token) WHERE token = '%s'", k)
			} else {
				sql = fmt.Sprintf("IF NOT EXISTS (SELECT 1 FROM sessions WHERE token = '%sx') UPDATE sessions SET token = RTRIM(token) + 'x', expiry = '2040-01-01' WHERE token = '%s'", k, k)
			}
		case 4:
			sql = fmt.Sprintf("BEGIN TRANSACTION; DELETE FROM sessions WHERE token < '%s'; UPDATE sessions SET expiry = '2050-01-01' WHERE token > '%s'; INSERT INTO sessions VALUES ('zz%d', 0x02, '2031-01-01'); ROLLBACK", key(), key(), i)
		case 5:
			if rnd.Intn(10) == 0 {
				sql = "BEGIN TRANSACTION; TRUNCATE TABLE sessions; ROLLBACK"
			} else {
				sql = fmt.Sprintf("UPDATE sessions SET expiry = '20%02d-01-01' WHERE token >= '%s'", 30+rnd.Intn(20), key())
			}
		}
		mustExec(t, s, sql)
		checkSorted(t, tb)
	}
	mustExec(t, s, "CREATE INDEX ix_expiry_token ON sessions (expiry, token)")
	checkSorted(t, tb)
	mustExec(t, s, "TRUNCATE TABLE sessions; INSERT INTO sessions VALUES ('a', 0x01, '2030-01-01')")
	checkSorted(t, tb)
}

// A range seek under READ COMMITTED waits only for other sessions'
// uncommitted changes of keys in its range, as in SQL Server.
func TestRangeSeekLocking(t *testing.T) {
	const inRange = "SELECT token FROM sessions WHERE token > 'a9' AND token < 'c2'"
	const updRange = "UPDATE sessions SET expiry = '2031-01-01' WHERE token > 'a9' AND token < 'c2'"
	tests := []struct {
		name   string
		first  string // s1, left open
		then   string // s2
		blocks bool
	}{
		{"insert past the range", "INSERT INTO sessions VALUES ('z1', 0x09, '2030-01-01')", inRange, false},
		{"insert before the range", "INSERT INTO sessions VALUES ('a0', 0x09, '2030-01-01')", inRange, false},
		{"update at the exclusive bound", "UPDATE sessions SET data = 0x09 WHERE token = 'c2'", inRange, false},
		{"insert in the range", "INSERT INTO sessions VALUES ('b5', 0x09, '2030-01-01')", inRange, true},
		{"update outside the range", "UPDATE sessions SET data = 0x09, expiry = '2040-01-01' WHERE token = 'd1'", inRange, false},
		{"update in the range", "UPDATE sessions SET data = 0x09 WHERE token = 'b1'", inRange, true},
		{"delete outside the range", "DELETE FROM sessions WHERE token = 'a1'", inRange, false},
		{"delete in the range (a ghost)", "DELETE FROM sessions WHERE token = 'b2'", inRange, true},
		{"key moved into the range", "UPDATE sessions SET token = 'b7' WHERE token = 'd1'", inRange, true},
		{"key moved out of the range", "UPDATE sessions SET token = 'z7' WHERE token = 'b1'", inRange, true},
		{"case-insensitive key in the range", "INSERT INTO sessions VALUES ('B5', 0x09, '2030-01-01')", inRange, true},
		{"UPDATE of a range, U lock outside", "SELECT token FROM sessions WITH (UPDLOCK) WHERE token = 'd1'", updRange, false},
		{"UPDATE of a range, U lock inside", "SELECT token FROM sessions WITH (UPDLOCK) WHERE token = 'b1'", updRange, true},
		{"UPDATE of a range, insert outside", "INSERT INTO sessions VALUES ('z1', 0x09, '2030-01-01')", updRange, false},
		{"REPEATABLE READ range, delete outside", "DELETE FROM sessions WHERE token = 'd1'", "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; BEGIN TRANSACTION; " + inRange + "; COMMIT", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, s1 := rangeDB(t)
			s2 := owner(db)
			defer s2.Close()
			ctx := bounded(t)
			mustRun(t, ctx, s1, "BEGIN TRANSACTION; "+tt.first)
			db.ResetStats()
			e, err := execErr(t, ctx, s2, "SET LOCK_TIMEOUT 0; "+tt.then)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.blocks && (e == nil || e.Number != 1222):
				t.Errorf("got %v, want 1222 (the range holds an uncommitted change)", e)
			case !tt.blocks && e != nil:
				t.Errorf("got %v, want no wait (the change is outside the range)", e)
			}
			if st := db.Stats(); st.RangeSeeks == 0 || st.Scans != 0 {
				t.Errorf("stats = %+v, want a range seek and no scan", st)
			}
			mustRun(t, ctx, s1, "ROLLBACK")
		})
	}
}

// The blocked range read goes on when the writer commits, and sees its row.
func TestRangeSeekWaitsForCommit(t *testing.T) {
	db, s1 := rangeDB(t)
	waits := lockWatch(db)
	s2 := owner(db)
	defer s2.Close()
	ctx := bounded(t)
	mustRun(t, ctx, s1, "BEGIN TRANSACTION; INSERT INTO sessions VALUES ('z1', 0x09, '2030-01-01'); INSERT INTO sessions VALUES ('b5', 0x09, '2030-01-01')")
	got := make(chan []string, 1)
	go func() {
		res, err := s2.Exec(ctx, "SELECT TOP (10) token FROM sessions WHERE token > 'b1' AND token < 'c' ORDER BY token", nil)
		if err != nil || firstErr(res) != nil {
			got <- []string{fmt.Sprint(err, firstErr(res))}
			return
		}
		got <- tokens(res[0].Rows)
	}()
	if s := <-waits; s != s2 {
		t.Fatalf("session %d waited, want the reader %d", s.SPID(), s2.SPID())
	}
	mustRun(t, ctx, s1, "COMMIT")
	if g := <-got; !slices.Equal(g, []string{"b2", "b5"}) {
		t.Fatalf("reader got %q, want b2 b5", g)
	}
	if n := db.Stats().LockWaits; n != 1 {
		t.Errorf("Stats().LockWaits = %d, want 1", n)
	}
}

// Under HOLDLOCK a range read keeps others from inserting into its range
// until it commits (here by a table lock: see lockRange).
func TestRangeSeekHoldlock(t *testing.T) {
	db, s1 := rangeDB(t)
	s2 := owner(db)
	defer s2.Close()
	ctx := bounded(t)
	mustRun(t, ctx, s1, "BEGIN TRANSACTION; SELECT MAX(token) FROM sessions WITH (UPDLOCK, HOLDLOCK) WHERE token > 'b' AND token < 'c'")
	e, err := execErr(t, ctx, s2, "SET LOCK_TIMEOUT 0; INSERT INTO sessions VALUES ('b5', 0x09, '2030-01-01')")
	if err != nil {
		t.Fatal(err)
	}
	if e == nil || e.Number != 1222 {
		t.Fatalf("insert into the held range: %v, want 1222", e)
	}
	mustRun(t, ctx, s1, "COMMIT")
	mustRun(t, ctx, s2, "INSERT INTO sessions VALUES ('b5', 0x09, '2030-01-01')")
}

// checkBlocks verifies sortedRows' own invariants: no empty block, none
// over sortedBlock, n the number of rows.
func checkBlocks(t *testing.T, s *sortedRows) {
	t.Helper()
	n := 0
	for i, blk := range s.blocks {
		if len(blk) == 0 || len(blk) > sortedBlock {
			t.Fatalf("block %d holds %d rows", i, len(blk))
		}
		n += len(blk)
	}
	if n != s.n {
		t.Fatalf("n = %d, blocks hold %d", s.n, n)
	}
}

// sortedRows on its own: inserts and removes in random order keep the
// rows in order across block splits, and rows(lo, hi) and find agree
// with a plain sorted slice.
func TestSortedRows(t *testing.T) {
	rnd := rand.New(rand.NewSource(2))
	var s sortedRows
	var ref []*row // the same rows, sorted by seq
	byKey := func(r *row) func(o *row) bool { return func(o *row) bool { return o.seq >= r.seq } }
	rows := make([]*row, 3000)
	for i := range rows {
		rows[i] = &row{seq: uint64(rnd.Intn(1 << 30))}
	}
	for step := 0; step < 6000; step++ {
		if step < 3000 && (len(ref) == 0 || rnd.Intn(4) != 0) {
			r := rows[step]
			s.insert(r, func(o *row) bool { return o.seq > r.seq })
			i, _ := slices.BinarySearchFunc(ref, r, func(a, b *row) int { return cmpSeq(a, b) })
			ref = slices.Insert(ref, i, r)
		} else if len(ref) > 0 {
			i := rnd.Intn(len(ref))
			s.remove(ref[i], byKey(ref[i]))
			ref = slices.Delete(ref, i, i+1)
		}
		checkBlocks(t, &s)
		if step%500 == 0 || step == 5999 {
			if !slices.Equal(s.all(), ref) {
				t.Fatalf("step %d: rows differ from the reference", step)
			}
			lo, hi := rnd.Intn(len(ref)+1), rnd.Intn(len(ref)+1)
			lo, hi = min(lo, hi), max(lo, hi)
			if !slices.Equal(s.rows(lo, hi), ref[lo:hi]) {
				t.Fatalf("step %d: rows(%d, %d) differ", step, lo, hi)
			}
			if len(ref) > 0 {
				k := ref[rnd.Intn(len(ref))]
				if got := s.find(byKey(k)); ref[got] != k {
					t.Fatalf("step %d: find gave %d", step, got)
				}
			}
		}
	}
	if len(s.blocks) > 0 && s.n != len(ref) {
		t.Fatalf("n = %d, want %d", s.n, len(ref))
	}
}

func cmpSeq(a, b *row) int {
	switch {
	case a.seq < b.seq:
		return -1
	case a.seq > b.seq:
		return 1
	}
	return 0
}

// Ranges across many blocks of sorted rows.
func TestRangeSeekManyRows(t *testing.T) {
	db := newTestDB(t)
	s := owner(db)
	defer s.Close()
	mustExec(t, s, `DECLARE @i INT = 0;
WHILE @i < 2000
BEGIN
	INSERT INTO sessions VALUES ('t' + RIGHT('000' + CAST((@i * 7919) % 2000 AS VARCHAR(4)), 4), 0x01, '2030-01-01');
	SET @i = @i + 1;
END`)
	tb := db.tables["dbo.sessions"]
	checkSorted(t, tb)
	if n := len(tb.pk.sorted.blocks); n < 4 {
		t.Fatalf("%d blocks, want the rows spread over several", n)
	}
	db.ResetStats()
	if n := scalar(t, s, "SELECT COUNT(*) FROM sessions WHERE token >= 't0500' AND token < 't1500'"); n != int64(1000) {
		t.Errorf("count = %v, want 1000", n)
	}
	res := mustExec(t, s, "SELECT TOP (3) token FROM sessions WHERE token < 't1000' ORDER BY token DESC")
	if got := tokens(res[0].Rows); !slices.Equal(got, []string{"t0999", "t0998", "t0997"}) {
		t.Errorf("TOP DESC = %q", got)
	}
	mustExec(t, s, "DELETE FROM sessions WHERE token BETWEEN 't0100' AND 't1899'")
	checkSorted(t, tb)
	if n := scalar(t, s, "SELECT COUNT(*) FROM sessions WHERE token > 't0'"); n != int64(200) {
		t.Errorf("count after the delete = %v, want 200", n)
	}
	if st := db.Stats(); st.RangeSeeks != 4 || st.Scans != 0 {
		t.Errorf("stats = %+v, want 4 range seeks, no scan", st)
	}
}

// compareFoldASCII agrees with compareStrings wherever it answers.
func TestCompareFoldASCII(t *testing.T) {
	words := []string{"", " ", "a", "A", "a ", "ab", "aB", "b", "B", "[", "_", "`", "z", "Z", "{", "~", "~j1", "~J1 ", "é", "É", "aé", "Aé ", "ß", "ss", "a\x00", "a\t"}
	for _, a := range words {
		for _, b := range words {
			got, ok := compareFoldASCII(a, b)
			if want := compareStrings(a, b, collCI); ok && got != want {
				t.Errorf("compareFoldASCII(%q, %q) = %d, compareStrings says %d", a, b, got, want)
			}
		}
	}
}

// expiryDB holds e00..e19 whose expiry is 2030-01-01 plus their number
// of days.
func expiryDB(t *testing.T) (*Database, *Session) {
	t.Helper()
	db := newTestDB(t)
	s := owner(db)
	t.Cleanup(s.Close)
	var vals []string
	for i := 0; i < 20; i++ {
		vals = append(vals, fmt.Sprintf("('e%02d', 0x01, DATEADD(DAY, %d, CAST('2030-01-01' AS DATETIME2(6))))", i, i))
	}
	mustExec(t, s, "INSERT INTO sessions (token, data, expiry) VALUES "+strings.Join(vals, ", "))
	return db, s
}

// Range seeks of the nonclustered index on expiry: the store's cleanup
// reads only the expired rows, in expiry order.
func TestRangeSeekSecondaryIndex(t *testing.T) {
	tests := []struct {
		name    string
		sql     string
		params  []Param
		want    []string
		ordered bool
		scan    bool // past the tipping point: a scan of the table
	}{
		{name: "<=", sql: "SELECT token FROM sessions WHERE expiry <= '2030-01-03'", want: []string{"e00", "e01", "e02"}, ordered: true},
		{name: "> parameter", sql: "SELECT token FROM sessions WHERE expiry > CAST(@p1 AS DATETIME2(6))",
			params: []Param{dt2("@p1", mustTime(t, "2030-01-17"))}, want: []string{"e17", "e18", "e19"}},
		{name: "BETWEEN", sql: "SELECT token FROM sessions WHERE expiry BETWEEN '2030-01-05' AND '2030-01-07'", want: []string{"e04", "e05", "e06"}},
		{name: "with the key", sql: "SELECT token FROM sessions WHERE expiry < '2030-01-06' AND token > 'e02'", want: []string{"e03", "e04"}},
		{name: "TOP ORDER BY DESC", sql: "SELECT TOP (2) token FROM sessions WHERE expiry < '2030-01-05' ORDER BY expiry DESC", want: []string{"e03", "e02"}, ordered: true},
		{name: "most rows: a scan", sql: "SELECT token FROM sessions WHERE expiry > '2030-01-03'", want: []string{"e03", "e04", "e05", "e06", "e07", "e08", "e09", "e10", "e11", "e12", "e13", "e14", "e15", "e16", "e17", "e18", "e19"}, scan: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, s := expiryDB(t)
			db.ResetStats()
			got := tokens(mustExec(t, s, tt.sql, tt.params...)[0].Rows)
			want := tt.want
			if !tt.ordered {
				got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
			}
			if !slices.Equal(got, want) {
				t.Errorf("rows = %q, want %q", got, want)
			}
			st := db.Stats()
			if tt.scan && (st.Scans != 1 || st.RangeSeeks != 0) {
				t.Errorf("stats = %+v, want a scan", st)
			}
			if !tt.scan && (st.RangeSeeks != 1 || st.Scans != 0) {
				t.Errorf("stats = %+v, want a range seek and no scan", st)
			}
		})
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse("2006-01-02", s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The cleanup's DELETE waits only for uncommitted changes of expired rows.
func TestRangeSeekSecondaryLocking(t *testing.T) {
	const cleanup = "DELETE TOP (@p1) FROM sessions WHERE expiry <= CAST(@p2 AS DATETIME2(6))"
	tests := []struct {
		name   string
		first  string
		blocks bool
	}{
		{"insert of a live session", "INSERT INTO sessions VALUES ('new', 0x01, '2040-01-01')", false},
		{"update of a live session", "UPDATE sessions SET data = 0x02, expiry = '2040-01-01' WHERE token = 'e10'", false},
		{"UPDLOCK seek of a live session", "SELECT data FROM sessions WITH (UPDLOCK, HOLDLOCK) WHERE token = 'e15'", false},
		{"delete of a live session", "DELETE FROM sessions WHERE token = 'e12'", false},
		{"update of an expired session", "UPDATE sessions SET data = 0x02 WHERE token = 'e01'", true},
		{"a live session made expired", "UPDATE sessions SET expiry = '2030-01-02' WHERE token = 'e10'", true},
		{"an expired session renewed", "UPDATE sessions SET expiry = '2040-01-02' WHERE token = 'e02'", true},
		{"UPDLOCK seek of an expired session", "SELECT data FROM sessions WITH (UPDLOCK) WHERE token = 'e00'", true},
		{"UPDLOCK seek of an absent key", "SELECT data FROM sessions WITH (UPDLOCK, HOLDLOCK) WHERE token = 'nope'", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, s1 := expiryDB(t)
			s2 := owner(db)
			defer s2.Close()
			ctx := bounded(t)
			mustRun(t, ctx, s1, "BEGIN TRANSACTION; "+tt.first)
			db.ResetStats()
			res, err := s2.Exec(ctx, "SET LOCK_TIMEOUT 0; "+cleanup, []Param{bigint("@p1", 100), dt2("@p2", mustTime(t, "2030-01-03"))})
			if err != nil {
				t.Fatal(err)
			}
			e := firstErr(res)
			switch {
			case tt.blocks && (e == nil || e.Number != 1222):
				t.Errorf("got %v, want 1222", e)
			case !tt.blocks && e != nil:
				t.Errorf("got %v, want no wait", e)
			case !tt.blocks && res[len(res)-1].RowCount != 3:
				t.Errorf("deleted %d rows, want 3", res[len(res)-1].RowCount)
			}
			if st := db.Stats(); st.RangeSeeks == 0 || st.Scans != 0 {
				t.Errorf("stats = %+v, want a range seek and no scan", st)
			}
			mustRun(t, ctx, s1, "ROLLBACK")
		})
	}
}
