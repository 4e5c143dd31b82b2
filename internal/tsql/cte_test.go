package tsql

import (
	"fmt"
	"testing"
)

// TestCommonTableExpressions checks non-recursive CTEs as SQL Server
// binds them: a CTE reads its query under its name or an alias, with its
// column list, and sees only the CTEs defined before it.
func TestCommonTableExpressions(t *testing.T) {
	tests := []struct {
		sql     string
		want    string
		wantErr int32
	}{
		{sql: "WITH x AS (SELECT 1 AS n) SELECT n FROM x", want: "[[1]]"},
		{sql: "WITH x (a, b) AS (SELECT 1, 2) SELECT b, a FROM x", want: "[[2 1]]"},
		{sql: "WITH x AS (SELECT 1 AS n), y AS (SELECT n + 1 AS m FROM x) SELECT y.m FROM y", want: "[[2]]"},
		{sql: "WITH x AS (SELECT 1 AS n) SELECT a.n + b.n FROM x AS a CROSS JOIN x AS b", want: "[[2]]"},
		{sql: "WITH x AS (SELECT 1 AS n) SELECT (SELECT COUNT(*) FROM x)", want: "[[1]]"},
		{sql: "WITH x AS (SELECT 1 AS n) SELECT n FROM x UNION ALL SELECT n + 1 FROM x ORDER BY 1", want: "[[1] [2]]"},
		{sql: "WITH s AS (SELECT token FROM sessions) SELECT COUNT(*) FROM s", want: "[[0]]"},
		{sql: "SELECT 1; WITH x AS (SELECT 2 AS n) SELECT n FROM x", want: "[[2]]"},
		{sql: "SELECT 1 WITH x AS (SELECT 2 AS n) SELECT n FROM x", wantErr: 40517},              // SQL Server: 319 without the semicolon
		{sql: "WITH x AS (SELECT 1 AS n) SELECT n FROM dbo.x", wantErr: 208},                     // a schema names a table, not the CTE
		{sql: "WITH x AS (SELECT n FROM y), y AS (SELECT 1 AS n) SELECT n FROM x", wantErr: 208}, // y is defined after x
		{sql: "WITH x (a, b) AS (SELECT 1) SELECT a FROM x", wantErr: 8159},
		{sql: "WITH x (a) AS (SELECT 1, 2) SELECT a FROM x", wantErr: 8158},
		{sql: "WITH x AS (SELECT 1) SELECT * FROM x", wantErr: 8155},
		{sql: "WITH x AS (SELECT n FROM x) SELECT n FROM x", wantErr: 40517}, // recursive
		{sql: "WITH x (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM x WHERE n < 3) SELECT n FROM x", wantErr: 40517},
		{sql: "WITH x AS (SELECT 1 AS n) DELETE FROM sessions", wantErr: 40517},
		{sql: "WITH x AS (SELECT 1 AS n), x AS (SELECT 2 AS n) SELECT n FROM x", wantErr: 40517},
	}
	s := owner(newTestDB(t))
	for _, tc := range tests {
		t.Run(tc.sql, func(t *testing.T) {
			if tc.wantErr != 0 {
				if got := errNumber(t, s, tc.sql); got != tc.wantErr {
					t.Fatalf("error %d, want %d", got, tc.wantErr)
				}
				return
			}
			res := mustExec(t, s, tc.sql)
			if got := fmt.Sprint(res[len(res)-1].Rows); got != tc.want {
				t.Fatalf("rows %s, want %s", got, tc.want)
			}
		})
	}
}
