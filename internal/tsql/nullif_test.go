package tsql

import (
	"fmt"
	"testing"
)

// TestNullIf checks NULLIF as SQL Server evaluates it: NULL when the
// arguments compare equal under the rules of =, else the first argument
// in its own type.
func TestNullIf(t *testing.T) {
	tests := []struct {
		sql     string
		want    string
		wantErr int32
	}{
		{sql: "SELECT NULLIF(1, 1)", want: "<nil>"},
		{sql: "SELECT NULLIF(1, 2)", want: "1"},
		{sql: "SELECT NULLIF(N'', '')", want: "<nil>"},
		{sql: "SELECT NULLIF('a ', 'A')", want: "<nil>"}, // trailing spaces and case ignored by the default collation
		{sql: "SELECT NULLIF('a', NULL)", want: "a"},
		{sql: "SELECT NULLIF(CAST(NULL AS int), 1)", want: "<nil>"},
		{sql: "SELECT NULLIF(2, 2.0)", want: "<nil>"}, // compared as DECIMAL
		{sql: "SELECT NULLIF(5, 2.5) + 0.5", want: "5.5"},
		{sql: "SELECT NULLIF(NULL, 1)", wantErr: 4151},
		{sql: "SELECT NULLIF(1, CAST('2020-01-01' AS date))", wantErr: 402},
		{sql: "SELECT NULLIF(1)", wantErr: 174},
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
			if got := fmt.Sprint(scalar(t, s, tc.sql)); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
	// The result has the first argument's type, nullable.
	res := mustExec(t, s, "SELECT NULLIF(CAST(1 AS smallint), 5)")
	if c := res[0].Columns[0].Type; c.ID != TypeSmallInt || !c.Nullable {
		t.Fatalf("type %+v, want a nullable smallint", c)
	}
}
