package tsql

import (
	"fmt"
	"testing"
)

// TestSelectInto checks SELECT ... INTO as SQL Server runs it: the table
// is created from the select list and filled in one statement.
func TestSelectInto(t *testing.T) {
	tests := []struct {
		name, sql string
		check     string // a query on the new table
		want      string
		wantErr   int32
	}{
		{name: "into a temporary table", sql: "SELECT 1 AS a, N'x' AS b INTO #t",
			check: "SELECT a, b FROM #t", want: "[[1 x]]"},
		{name: "the columns' types", sql: "SELECT CAST(1 AS smallint) AS a, CAST('ab' AS varchar(5)) AS b, NULL AS c INTO #t",
			check: "SELECT COUNT(*) FROM #t WHERE a = 1 AND b = 'ab' AND c IS NULL", want: "[[1]]"},
		{name: "from a table, with a WHERE", sql: "CREATE TABLE src (k INT, v INT); INSERT INTO src VALUES (1, 10), (2, 20), (3, 30); SELECT k, v INTO #t FROM src WHERE k > 1",
			check: "SELECT SUM(v) FROM #t", want: "[[50]]"},
		{name: "into a permanent table", sql: "SELECT 5 AS n INTO dbo.made",
			check: "SELECT n FROM made", want: "[[5]]"},
		{name: "the columns' types in sys.columns", sql: "SELECT CAST(1 AS smallint) AS a, CAST('ab' AS varchar(5)) AS b, NULL AS c INTO made",
			check: "SELECT system_type_id, max_length FROM sys.columns WHERE object_id = OBJECT_ID('made') ORDER BY column_id", want: "[[52 2] [167 5] [56 4]]"},
		{name: "a column without a name is 1038", sql: "SELECT 1 INTO #t", wantErr: 1038},
		{name: "an existing table is 2714", sql: "CREATE TABLE #t (a INT); SELECT 1 AS a INTO #t", wantErr: 2714},
		{name: "two columns of one name are 2705", sql: "SELECT 1 AS a, 2 AS a INTO #t", wantErr: 2705},
		{name: "from an IDENTITY table is refused", sql: "CREATE TABLE src (id INT IDENTITY, v INT); SELECT id, v INTO #t FROM src", wantErr: 40517},
		{name: "in a subquery is refused", sql: "SELECT * FROM (SELECT 1 AS a INTO #t) d", wantErr: 40517},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := owner(newTestDB(t))
			if tc.wantErr != 0 {
				if got := errNumber(t, s, tc.sql); got != tc.wantErr {
					t.Fatalf("error %d, want %d", got, tc.wantErr)
				}
				return
			}
			res := mustExec(t, s, tc.sql)
			if last := res[len(res)-1]; last.Columns != nil || !last.HasCount {
				t.Fatalf("SELECT INTO returned %+v, want a row count only", last)
			}
			if got := fmt.Sprint(mustExec(t, s, tc.check)[0].Rows); got != tc.want {
				t.Fatalf("%s = %s, want %s", tc.check, got, tc.want)
			}
		})
	}
	// A restricted principal may SELECT INTO a #table, not a permanent one.
	db := newTestDB(t)
	r := db.NewSession(Principal{Name: "app", Restricted: true})
	mustExec(t, r, "SELECT 1 AS a INTO #t")
	if got := errNumber(t, r, "SELECT 1 AS a INTO perm"); got != 262 {
		t.Fatalf("permanent table: error %d, want 262", got)
	}
	// The statement is atomic: a failing row undoes the CREATE.
	s := owner(db)
	if got := errNumber(t, s, "SELECT 1 / v AS a INTO #u FROM (VALUES (1), (0)) AS x(v)"); got != 8134 {
		t.Fatalf("error %d, want 8134", got)
	}
	if got := errNumber(t, s, "SELECT a FROM #u"); got != 208 {
		t.Fatalf("after the failed SELECT INTO: error %d, want 208", got)
	}
}
