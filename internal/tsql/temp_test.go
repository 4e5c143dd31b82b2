package tsql

import (
	"context"
	"strings"
	"testing"
)

// TestTempTableSessions checks SQL Server's scoping of #tables: each
// session resolves #name to its own table, another session's is invisible
// (208), and the table ends with the session, a reset, DROP or the
// rollback of the transaction that created it.
func TestTempTableSessions(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, db *Database)
	}{
		{"another session cannot see it", func(t *testing.T, db *Database) {
			a, b := owner(db), owner(db)
			mustExec(t, a, "CREATE TABLE #t (v INT); INSERT INTO #t VALUES (1)")
			if n := errNumber(t, b, "SELECT v FROM #t"); n != 208 {
				t.Fatalf("other session's SELECT: error %d, want 208", n)
			}
			if n := errNumber(t, b, "INSERT INTO #t VALUES (2)"); n != 208 {
				t.Fatalf("other session's INSERT: error %d, want 208", n)
			}
			if n := errNumber(t, b, "DROP TABLE #t"); n != 3701 {
				t.Fatalf("other session's DROP: error %d, want 3701", n)
			}
			if got := scalar(t, a, "SELECT COUNT(*) FROM #t"); got != int64(1) {
				t.Fatalf("creator's count = %v, want 1", got)
			}
		}},
		{"two sessions each have #t", func(t *testing.T, db *Database) {
			a, b := owner(db), owner(db)
			mustExec(t, a, "CREATE TABLE #t (v INT); INSERT INTO #t VALUES (1)")
			mustExec(t, b, "CREATE TABLE #t (v NVARCHAR(10)); INSERT INTO #t VALUES (N'x'), (N'y')")
			if got := scalar(t, a, "SELECT COUNT(*) FROM #t"); got != int64(1) {
				t.Fatalf("a's count = %v, want 1", got)
			}
			if got := scalar(t, b, "SELECT COUNT(*) FROM #T"); got != int64(2) {
				t.Fatalf("b's count = %v, want 2", got)
			}
		}},
		{"create twice is 2714", func(t *testing.T, db *Database) {
			a := owner(db)
			mustExec(t, a, "CREATE TABLE #t (v INT)")
			res := mustExecErr(t, a, "CREATE TABLE #t (w INT)")
			if res.Number != 2714 || res.Message != "There is already an object named '#t' in the database." {
				t.Fatalf("got %d %q", res.Number, res.Message)
			}
		}},
		{"drop of a missing one is 3701, IF EXISTS is quiet", func(t *testing.T, db *Database) {
			a := owner(db)
			if n := errNumber(t, a, "DROP TABLE #nope"); n != 3701 {
				t.Fatalf("error %d, want 3701", n)
			}
			mustExec(t, a, "DROP TABLE IF EXISTS #nope")
			mustExec(t, a, "CREATE TABLE #t (v INT); DROP TABLE #t")
			if n := errNumber(t, a, "SELECT v FROM #t"); n != 208 {
				t.Fatalf("after DROP: error %d, want 208", n)
			}
		}},
		{"rollback undoes the CREATE", func(t *testing.T, db *Database) {
			a := owner(db)
			mustExec(t, a, "BEGIN TRAN; CREATE TABLE #t (v INT); ROLLBACK")
			if n := errNumber(t, a, "SELECT v FROM #t"); n != 208 {
				t.Fatalf("error %d, want 208", n)
			}
		}},
		{"rollback undoes the rows, unlike a table variable", func(t *testing.T, db *Database) {
			a := owner(db)
			mustExec(t, a, "CREATE TABLE #t (v INT); BEGIN TRAN; INSERT INTO #t VALUES (1); ROLLBACK")
			if got := scalar(t, a, "SELECT COUNT(*) FROM #t"); got != int64(0) {
				t.Fatalf("count = %v, want 0", got)
			}
		}},
		{"rollback undoes the DROP", func(t *testing.T, db *Database) {
			a := owner(db)
			mustExec(t, a, "CREATE TABLE #t (v INT); INSERT INTO #t VALUES (7); BEGIN TRAN; DROP TABLE #t; ROLLBACK")
			if got := scalar(t, a, "SELECT v FROM #t"); got != int64(7) {
				t.Fatalf("v = %v, want 7", got)
			}
		}},
		{"reset drops it", func(t *testing.T, db *Database) {
			a := owner(db)
			mustExec(t, a, "CREATE TABLE #t (v INT)")
			a.Reset()
			if n := errNumber(t, a, "SELECT v FROM #t"); n != 208 {
				t.Fatalf("error %d, want 208", n)
			}
		}},
		{"the session's end drops it", func(t *testing.T, db *Database) {
			a := owner(db)
			mustExec(t, a, "CREATE TABLE #t (v INT)")
			a.Close()
			if a.temps != nil {
				t.Fatalf("after Close the session still holds %d temporary tables", len(a.temps))
			}
		}},
		{"update and delete", func(t *testing.T, db *Database) {
			a := owner(db)
			mustExec(t, a, "CREATE TABLE #t (k INT PRIMARY KEY, v INT); INSERT INTO #t VALUES (1, 10), (2, 20), (3, 30)")
			mustExec(t, a, "UPDATE #t SET v = v + 1 WHERE k = 2; DELETE FROM #t WHERE k = 3")
			if got := scalar(t, a, "SELECT SUM(v) FROM #t"); got != int64(31) {
				t.Fatalf("sum = %v, want 31", got)
			}
			if n := errNumber(t, a, "INSERT INTO #t VALUES (1, 0)"); n != 2627 {
				t.Fatalf("duplicate key: error %d, want 2627", n)
			}
		}},
		{"not in the user database's catalog", func(t *testing.T, db *Database) {
			a := owner(db)
			mustExec(t, a, "CREATE TABLE #t (v INT)")
			for _, q := range []string{
				"SELECT COUNT(*) FROM sys.tables WHERE name LIKE '#%'",
				"SELECT COUNT(*) FROM sys.objects WHERE name LIKE '#%'",
				"SELECT COUNT(*) FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_NAME LIKE '#%'",
			} {
				if got := scalar(t, a, q); got != int64(0) {
					t.Fatalf("%s = %v, want 0", q, got)
				}
			}
		}},
		{"OBJECT_ID finds it in tempdb only, for its session only", func(t *testing.T, db *Database) {
			a, b := owner(db), owner(db)
			mustExec(t, a, "CREATE TABLE #t (v INT)")
			id, ok := scalar(t, a, "SELECT OBJECT_ID('tempdb..#t')").(int64)
			if !ok || id >= 0 {
				t.Fatalf("OBJECT_ID('tempdb..#t') = %v, want a negative id", id)
			}
			if got := scalar(t, a, "SELECT OBJECT_ID('tempdb..#t', 'U')"); got != id {
				t.Fatalf("with 'U' = %v, want %d", got, id)
			}
			if got := scalar(t, a, "SELECT OBJECT_ID('#t')"); got != nil {
				t.Fatalf("OBJECT_ID('#t') = %v, want NULL (the current database)", got)
			}
			if got := scalar(t, b, "SELECT OBJECT_ID('tempdb..#t')"); got != nil {
				t.Fatalf("other session's OBJECT_ID = %v, want NULL", got)
			}
			mustExec(t, a, "INSERT INTO tempdb..#t VALUES (3)")
			if got := scalar(t, a, "SELECT v FROM tempdb.dbo.#t"); got != int64(3) {
				t.Fatalf("v = %v, want 3", got)
			}
		}},
		{"a restricted principal may create one", func(t *testing.T, db *Database) {
			r := db.NewSession(Principal{Name: "app", Restricted: true})
			mustExec(t, r, "CREATE TABLE #t (v INT); INSERT INTO #t VALUES (1); UPDATE #t SET v = 2; CREATE INDEX ix ON #t (v)")
			if got := scalar(t, r, "SELECT v FROM #t"); got != int64(2) {
				t.Fatalf("v = %v, want 2", got)
			}
			mustExec(t, r, "TRUNCATE TABLE #t; DROP TABLE #t")
		}},
		{"NULL into NOT NULL names the tempdb table", func(t *testing.T, db *Database) {
			a := owner(db)
			mustExec(t, a, "CREATE TABLE #t (v INT NOT NULL)")
			e := mustExecErr(t, a, "INSERT INTO #t VALUES (NULL)")
			if e.Number != 515 || !strings.Contains(e.Message, "table 'tempdb.dbo.#t___") {
				t.Fatalf("got %d %q", e.Number, e.Message)
			}
		}},
		{"global temporary tables are refused", func(t *testing.T, db *Database) {
			a := owner(db)
			if n := errNumber(t, a, "CREATE TABLE ##g (v INT)"); n != 40517 {
				t.Fatalf("error %d, want 40517", n)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newTestDB(t)) })
	}
}

// mustExecErr runs a batch and returns its first error, failing when
// there is none.
func mustExecErr(t *testing.T, s *Session, sql string) *Error {
	t.Helper()
	res, err := s.Exec(context.Background(), sql, nil)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	e := firstErr(res)
	if e == nil {
		t.Fatalf("%s: no error", sql)
	}
	return e
}
