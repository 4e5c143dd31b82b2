package tsql

import (
	"fmt"
	"testing"
)

// TestUnion checks UNION and UNION ALL as SQL Server combines them: left
// to right, duplicates removed by UNION as = compares, the result typed
// by precedence, an ORDER BY over the whole result.
func TestUnion(t *testing.T) {
	tests := []struct {
		sql     string
		want    string // the rows, in order when the query sorts them
		wantErr int32
	}{
		{sql: "SELECT 1 UNION ALL SELECT 1 UNION ALL SELECT 2 ORDER BY 1", want: "[[1] [1] [2]]"},
		{sql: "SELECT 1 UNION SELECT 1 UNION SELECT 2 ORDER BY 1", want: "[[1] [2]]"},
		{sql: "SELECT 1 AS n UNION ALL SELECT 1 UNION SELECT 2 ORDER BY n DESC", want: "[[2] [1]]"},
		{sql: "SELECT 1 AS n UNION SELECT 1 UNION ALL SELECT 1 ORDER BY n", want: "[[1] [1]]"}, // (A UNION B) UNION ALL C
		{sql: "SELECT 'a' AS s UNION SELECT 'A ' ORDER BY s", want: "[[a]]"},                   // equal under the default collation
		{sql: "SELECT 1 UNION ALL SELECT 2.5 ORDER BY 1", want: "[[1.0] [2.5]]"},               // DECIMAL(2,1) holds both
		{sql: "SELECT NULL AS x UNION ALL SELECT 3 ORDER BY x", want: "[[<nil>] [3]]"},
		{sql: "SELECT token FROM sessions UNION SELECT 'b' UNION SELECT 'a' ORDER BY token", want: "[[a] [b]]"},
		{sql: "SELECT 1 UNION SELECT 'x'", wantErr: 245},
		{sql: "SELECT 1, 2 UNION SELECT 3", wantErr: 205},
		{sql: "SELECT 1 UNION SELECT CAST('2020-01-01' AS date)", wantErr: 206},
		{sql: "SELECT 1 ORDER BY 1 UNION SELECT 2", wantErr: 156},
		{sql: "SELECT 1 UNION SELECT 2 ORDER BY 3", wantErr: 108},
		{sql: "SELECT 1 EXCEPT SELECT 2", wantErr: 40517},
		{sql: "SELECT * FROM (SELECT 1 AS a UNION SELECT 2) d", wantErr: 40517},
		{sql: "INSERT INTO sessions (token, data, expiry) SELECT 'a', 0x, SYSDATETIME() UNION SELECT 'b', 0x, SYSDATETIME()", wantErr: 40517},
		{sql: "SELECT 1 AS a UNION SELECT 2 ORDER BY a + 1", wantErr: 40517},
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
	res := mustExec(t, s, "SELECT CAST('ab' AS varchar(2)) AS v, 1 AS n UNION ALL SELECT N'abcd', NULL")
	cols := res[0].Columns
	if cols[0].Name != "v" || cols[0].Type.ID != TypeNVarChar || cols[0].Type.Length != 4 || cols[1].Name != "n" || !cols[1].Type.Nullable {
		t.Fatalf("columns %+v, want v nvarchar(4) and a nullable n", cols)
	}
	if res[0].RowCount != 2 {
		t.Fatalf("row count %d, want 2", res[0].RowCount)
	}
}
