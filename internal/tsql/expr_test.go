package tsql

import (
	"context"
	"testing"
	"time"
)

// Expressions and query shapes no store statement uses, with SQL
// Server's answers: the value of the first column of the first row, or
// the number of the error.
func TestExpressionAnswers(t *testing.T) {
	const vals = `(SELECT a FROM (VALUES (1), (NULL)) AS v(a))`
	tests := []struct {
		name    string
		sql     string
		want    any
		wantErr int32
	}{
		// LIKE: % any run, _ one character, [set], [^set], ranges, ESCAPE;
		// the default collation ignores case.
		{"like percent", `SELECT CASE WHEN 'abc' LIKE 'a%' THEN 1 ELSE 0 END`, int64(1), 0},
		{"like underscore", `SELECT CASE WHEN 'abc' LIKE 'a_c' THEN 1 ELSE 0 END`, int64(1), 0},
		{"like underscore is one character", `SELECT CASE WHEN 'abc' LIKE 'a_' THEN 1 ELSE 0 END`, int64(0), 0},
		{"like bracketed underscore", `SELECT CASE WHEN 'a_c' LIKE 'a[_]c' THEN 1 ELSE 0 END`, int64(1), 0},
		{"like bracketed underscore is literal", `SELECT CASE WHEN 'abc' LIKE 'a[_]c' THEN 1 ELSE 0 END`, int64(0), 0},
		{"like negated set", `SELECT CASE WHEN 'abc' LIKE 'a[^x]c' THEN 1 ELSE 0 END`, int64(1), 0},
		{"like range", `SELECT CASE WHEN 'b' LIKE '[a-c]' THEN 1 ELSE 0 END`, int64(1), 0},
		{"like outside range", `SELECT CASE WHEN 'd' LIKE '[a-c]' THEN 1 ELSE 0 END`, int64(0), 0},
		{"like escape", `SELECT CASE WHEN '10%' LIKE '10!%' ESCAPE '!' THEN 1 ELSE 0 END`, int64(1), 0},
		{"like escaped percent is literal", `SELECT CASE WHEN '10x' LIKE '10!%' ESCAPE '!' THEN 1 ELSE 0 END`, int64(0), 0},
		{"like ignores case", `SELECT CASE WHEN 'ABC' LIKE 'abc' THEN 1 ELSE 0 END`, int64(1), 0},
		{"not like", `SELECT CASE WHEN 'abc' NOT LIKE 'b%' THEN 1 ELSE 0 END`, int64(1), 0},

		// Unary operators.
		{"bitwise not", `SELECT ~5`, int64(-6), 0},
		{"minus float", `SELECT -(2.5E0)`, -2.5, 0},
		{"minus INT minimum overflows", `DECLARE @i INT = -2147483647 - 1; SELECT -@i`, nil, 8115},
		{"minus string", `SELECT -'a'`, nil, 8117},
		{"not", `SELECT CASE WHEN NOT (1 = 2) THEN 1 ELSE 0 END`, int64(1), 0},
		{"not unknown is unknown", `SELECT CASE WHEN NOT (NULL = 1) THEN 1 ELSE 0 END`, int64(0), 0},

		// IN and NOT IN: a NULL in the list makes a miss UNKNOWN; NOT IN
		// over no rows is true even for NULL.
		{"in subquery", `SELECT CASE WHEN 1 IN ` + vals + ` THEN 1 ELSE 0 END`, int64(1), 0},
		{"in subquery miss", `SELECT CASE WHEN 2 IN ` + vals + ` THEN 1 ELSE 0 END`, int64(0), 0},
		{"not in subquery with a NULL", `SELECT CASE WHEN 2 NOT IN ` + vals + ` THEN 1 ELSE 0 END`, int64(0), 0},
		{"NULL not in no rows", `SELECT CASE WHEN CAST(NULL AS INT) NOT IN (SELECT a FROM (VALUES (1)) AS v(a) WHERE a > 5) THEN 1 ELSE 0 END`, int64(1), 0},
		{"NULL in some rows", `SELECT CASE WHEN CAST(NULL AS INT) IN ` + vals + ` THEN 1 ELSE 0 END`, int64(0), 0},
		{"in subquery ignores case", `SELECT CASE WHEN 'A' IN (SELECT v FROM (VALUES ('a')) AS t(v)) THEN 1 ELSE 0 END`, int64(1), 0},
		{"in subquery of two columns", `SELECT CASE WHEN 1 IN (SELECT 1, 2) THEN 1 ELSE 0 END`, nil, 116},
		{"not in list", `SELECT CASE WHEN 1 NOT IN (2, 3) THEN 1 ELSE 0 END`, int64(1), 0},

		// Derived tables (a subquery in FROM) and DISTINCT.
		{"derived table", `SELECT d.a + 1 FROM (SELECT 41 AS a) AS d`, int64(42), 0},
		{"derived table column list", `SELECT x FROM (SELECT 7 AS a) AS d(x)`, int64(7), 0},
		{"derived column without a name", `SELECT * FROM (SELECT 1) AS d`, nil, 8155},
		{"derived column list too long", `SELECT * FROM (SELECT 1 AS a) AS d(x, y)`, nil, 8158},
		{"distinct ignores case", `SELECT COUNT(*) FROM (SELECT DISTINCT v FROM (VALUES ('a'), ('A'), ('b')) AS t(v)) AS d`, int64(2), 0},
	}
	db := newTestDB(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := owner(db)
			defer s.Close()
			if tt.wantErr != 0 {
				if got := errNumber(t, s, tt.sql); got != tt.wantErr {
					t.Errorf("%s: error %d, want %d", tt.sql, got, tt.wantErr)
				}
				return
			}
			if got := scalar(t, s, tt.sql); got != tt.want {
				t.Errorf("%s = %#v, want %#v", tt.sql, got, tt.want)
			}
		})
	}
}

// SetNow replaces the clock that SYSUTCDATETIME reads; nil restores the
// system clock.
func TestSetNow(t *testing.T) {
	db := newTestDB(t)
	s := owner(db)
	defer s.Close()
	fixed := time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)
	db.SetNow(func() time.Time { return fixed })
	if got := scalar(t, s, "SELECT SYSUTCDATETIME()"); got != fixed {
		t.Errorf("SYSUTCDATETIME() = %v, want %v", got, fixed)
	}
	db.SetNow(nil)
	before := time.Now().Add(-time.Second)
	got, ok := scalar(t, s, "SELECT SYSUTCDATETIME()").(time.Time)
	if !ok || got.Before(before) {
		t.Errorf("SYSUTCDATETIME() after SetNow(nil) = %v, want the system clock (after %v)", got, before)
	}
}

// A session reports its principal and its @@SPID.
func TestSessionIdentity(t *testing.T) {
	db := newTestDB(t)
	s := db.NewSession(Principal{Name: "app", Restricted: true})
	defer s.Close()
	if got := s.Principal().Name; got != "app" {
		t.Errorf("Principal().Name = %q, want app", got)
	}
	res, err := s.Exec(context.Background(), "SELECT @@SPID", nil)
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("SELECT @@SPID: %v %+v", err, res)
	}
	if got := res[0].Rows[0][0]; got != int64(s.SPID()) {
		t.Errorf("@@SPID = %v, SPID() = %d", got, s.SPID())
	}
}
