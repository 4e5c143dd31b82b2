package tsql

import (
	"fmt"
	"testing"
)

// identityRows reads a table's id column in order.
func identityRows(t *testing.T, s *Session, table string) []int64 {
	t.Helper()
	res := mustExec(t, s, "SELECT id FROM "+table+" ORDER BY id")
	var out []int64
	for _, r := range res[len(res)-1].Rows {
		out = append(out, r[0].(int64))
	}
	return out
}

// decimalText renders a NUMERIC(38,0) identity figure, or "NULL".
func decimalText(v any) string {
	if v == nil {
		return "NULL"
	}
	return fmt.Sprint(v)
}

// TestIdentityValues checks the values SQL Server's IDENTITY property
// generates: the seed, then steps of the increment, values consumed by
// rolled-back and failed inserts, explicit values under IDENTITY_INSERT.
func TestIdentityValues(t *testing.T) {
	tests := []struct {
		name  string
		setup string
		want  []int64
	}{
		{"default seed and increment",
			"CREATE TABLE t (id INT IDENTITY, v INT); INSERT INTO t (v) VALUES (1), (2), (3)",
			[]int64{1, 2, 3}},
		{"seed and increment",
			"CREATE TABLE t (id BIGINT IDENTITY(100, 10) PRIMARY KEY, v INT); INSERT INTO t (v) VALUES (1); INSERT INTO t (v) VALUES (2)",
			[]int64{100, 110}},
		{"negative increment",
			"CREATE TABLE t (id SMALLINT IDENTITY(-1, -1), v INT); INSERT INTO t (v) VALUES (1), (2)",
			[]int64{-2, -1}},
		{"without a column list the identity column is skipped",
			"CREATE TABLE t (id INT IDENTITY, v INT); INSERT INTO t VALUES (5); INSERT INTO t VALUES (6)",
			[]int64{1, 2}},
		{"a rolled-back insert consumes its values",
			"CREATE TABLE t (id INT IDENTITY, v INT); INSERT INTO t (v) VALUES (1); BEGIN TRAN; INSERT INTO t (v) VALUES (2), (3); ROLLBACK; INSERT INTO t (v) VALUES (4)",
			[]int64{1, 4}},
		{"a failed insert consumes its value",
			"CREATE TABLE t (id INT IDENTITY, v INT UNIQUE); INSERT INTO t (v) VALUES (1); INSERT INTO t (v) VALUES (1); INSERT INTO t (v) VALUES (2)",
			[]int64{1, 3}},
		{"an explicit larger value moves the counter",
			"CREATE TABLE t (id INT IDENTITY, v INT); SET IDENTITY_INSERT t ON; INSERT INTO t (id, v) VALUES (10, 1); SET IDENTITY_INSERT t OFF; INSERT INTO t (v) VALUES (2)",
			[]int64{10, 11}},
		{"an explicit smaller value does not",
			"CREATE TABLE t (id INT IDENTITY, v INT); INSERT INTO t (v) VALUES (1), (2), (3); SET IDENTITY_INSERT t ON; INSERT INTO t (id, v) VALUES (-5, 1); SET IDENTITY_INSERT t OFF; INSERT INTO t (v) VALUES (2)",
			[]int64{-5, 1, 2, 3, 4}},
		{"TRUNCATE restarts at the seed",
			"CREATE TABLE t (id INT IDENTITY(7, 1), v INT); INSERT INTO t (v) VALUES (1), (2); TRUNCATE TABLE t; INSERT INTO t (v) VALUES (3)",
			[]int64{7}},
		{"in a temporary table",
			"CREATE TABLE #t (id INT IDENTITY, v INT); INSERT INTO #t (v) VALUES (1), (2)",
			[]int64{1, 2}},
		{"in a table variable, INSERT ... SELECT",
			"DECLARE @t TABLE (id INT IDENTITY(5, 5), v INT); INSERT INTO @t (v) SELECT 1; INSERT INTO @t (v) SELECT 2; SELECT id FROM @t ORDER BY id",
			[]int64{5, 10}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := newTestDB(t)
			s := owner(db)
			res, err := s.Exec(t.Context(), tc.setup, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			last := res[len(res)-1]
			if last.Columns != nil {
				for _, r := range last.Rows {
					got = append(got, r[0].(int64))
				}
			} else {
				table := "t"
				if len(tc.setup) > 16 && tc.setup[13] == '#' {
					table = "#t"
				}
				got = identityRows(t, s, table)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("ids = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestIdentityErrors checks SQL Server's errors around IDENTITY.
func TestIdentityErrors(t *testing.T) {
	tests := []struct {
		name, sql string
		want      int32
	}{
		{"explicit value without IDENTITY_INSERT", "INSERT INTO ti (id, v) VALUES (1, 1)", 544},
		{"IDENTITY_INSERT ON needs a column list", "SET IDENTITY_INSERT ti ON; INSERT INTO ti VALUES (1, 1)", 8101},
		{"UPDATE of the identity column", "UPDATE ti SET id = 5", 8102},
		{"IDENTITY_INSERT on a table without identity", "SET IDENTITY_INSERT sessions ON", 8106},
		{"IDENTITY_INSERT on two tables", "CREATE TABLE t2 (id INT IDENTITY); SET IDENTITY_INSERT ti ON; SET IDENTITY_INSERT t2 ON", 8107},
		{"two identity columns", "CREATE TABLE t3 (a INT IDENTITY, b INT IDENTITY)", 2744},
		{"identity on a string", "CREATE TABLE t3 (a VARCHAR(10) IDENTITY)", 2749},
		{"identity on a NULL column", "CREATE TABLE t3 (a INT NULL IDENTITY)", 8147},
		{"tinyint overflow", "CREATE TABLE t3 (a TINYINT IDENTITY(255, 1), v INT); INSERT INTO t3 (v) VALUES (1); INSERT INTO t3 (v) VALUES (2)", 8115},
		{"NULL into the identity column", "SET IDENTITY_INSERT ti ON; INSERT INTO ti (id, v) VALUES (NULL, 1)", 515},
		{"identity on DECIMAL is refused", "CREATE TABLE t3 (a DECIMAL(10, 0) IDENTITY)", 40517},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := newTestDB(t)
			s := owner(db)
			mustExec(t, s, "CREATE TABLE ti (id INT IDENTITY, v INT)")
			if got := errNumber(t, s, tc.sql); got != tc.want {
				t.Fatalf("error %d, want %d", got, tc.want)
			}
		})
	}
}

// TestIdentityFunctions checks @@IDENTITY, SCOPE_IDENTITY() (whose scope
// is the batch), IDENT_CURRENT, IDENT_SEED, IDENT_INCR and sys.columns.
func TestIdentityFunctions(t *testing.T) {
	db := newTestDB(t)
	a, b := owner(db), owner(db)
	mustExec(t, a, "CREATE TABLE t (id INT IDENTITY(10, 5), v INT)")
	steps := []struct {
		s     *Session
		query string
		want  string
	}{
		{a, "SELECT @@IDENTITY", "NULL"},
		{a, "SELECT IDENT_CURRENT('t')", "10"}, // the seed, before any insert
		{a, "INSERT INTO t (v) VALUES (1), (2); SELECT SCOPE_IDENTITY()", "15"},
		{a, "SELECT SCOPE_IDENTITY()", "NULL"}, // another batch, another scope
		{a, "SELECT @@IDENTITY", "15"},
		{b, "SELECT @@IDENTITY", "NULL"}, // per session
		{b, "INSERT INTO t (v) VALUES (3); SELECT @@IDENTITY", "20"},
		{a, "SELECT IDENT_CURRENT('dbo.t')", "20"}, // any session's values
		{a, "SELECT @@IDENTITY", "15"},
		{a, "SELECT IDENT_SEED('t')", "10"},
		{a, "SELECT IDENT_INCR('t')", "5"},
		{a, "SELECT IDENT_CURRENT('sessions')", "NULL"},
		{a, "SELECT IDENT_CURRENT('nope')", "NULL"},
		{a, "BEGIN TRAN; INSERT INTO t (v) VALUES (4); ROLLBACK; SELECT @@IDENTITY", "25"},
		{a, "SELECT IDENT_CURRENT('t')", "25"}, // not undone by the rollback
		{a, "SELECT CAST(is_identity AS INT) FROM sys.columns WHERE object_id = OBJECT_ID('t') AND name = 'id'", "1"},
		{a, "SELECT CAST(is_identity AS INT) FROM sys.columns WHERE object_id = OBJECT_ID('t') AND name = 'v'", "0"},
		{a, "SELECT CAST(is_nullable AS INT) FROM sys.columns WHERE object_id = OBJECT_ID('t') AND name = 'id'", "0"},
	}
	for i, st := range steps {
		got := decimalText(scalar(t, st.s, st.query))
		if got != st.want {
			t.Fatalf("step %d %q = %s, want %s", i, st.query, got, st.want)
		}
	}
	res := mustExec(t, a, "SELECT @@IDENTITY, SCOPE_IDENTITY(), IDENT_CURRENT('t')")
	for i, c := range res[0].Columns {
		if c.Type.ID != TypeNumeric || c.Type.Precision != 38 || c.Type.Scale != 0 {
			t.Fatalf("column %d type = %+v, want NUMERIC(38,0)", i, c.Type)
		}
	}
}
