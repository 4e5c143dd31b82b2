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

		// + on strings and binaries: without a MAX operand SQL Server
		// truncates the result to 8,000 bytes ("+ (String
		// Concatenation)"); with one it does not. Past 64 MiB this test
		// server refuses with 701, as REPLICATE does, so a loop of
		// doublings cannot take the process's memory.
		{"varchar + truncates at 8000", `SELECT DATALENGTH(REPLICATE('a', 8000) + REPLICATE('b', 8000))`, int64(8000), 0},
		{"nvarchar + truncates at 4000 characters", `SELECT LEN(REPLICATE(N'a', 4000) + N'b')`, int64(4000), 0},
		{"varbinary + truncates at 8000", `SELECT DATALENGTH(CAST(REPLICATE('a', 8000) AS VARBINARY(8000)) + 0x01)`, int64(8000), 0},
		{"a MAX operand does not truncate", `SELECT DATALENGTH(CAST(REPLICATE('a', 8000) AS VARCHAR(MAX)) + REPLICATE('b', 8000))`, int64(16000), 0},
		{"doubling past the bound is refused", `DECLARE @s VARCHAR(MAX) = 'a'; DECLARE @i INT = 0; WHILE @i < 27 BEGIN SET @s = @s + @s; SET @i = @i + 1; END; SELECT DATALENGTH(@s)`, nil, 701},
		{"binary doubling past the bound is refused", `DECLARE @s VARBINARY(MAX) = 0x01; DECLARE @i INT = 0; WHILE @i < 27 BEGIN SET @s = @s + @s; SET @i = @i + 1; END; SELECT DATALENGTH(@s)`, nil, 701},
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

// Arithmetic, concatenation and comparisons across types, with SQL
// Server's answers.
func TestArithmeticAnswers(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		want any
	}{
		{"integer division truncates", `SELECT 7 / 2`, int64(3)},
		{"toward zero", `SELECT -7 / 2`, int64(-3)},
		{"modulo", `SELECT 7 % 3`, int64(1)},
		{"and", `SELECT 6 & 3`, int64(2)},
		{"or", `SELECT 6 | 3`, int64(7)},
		{"xor", `SELECT 6 ^ 3`, int64(5)},
		{"float", `SELECT 1.5E0 * 2`, 3.0},
		{"float division", `SELECT 1.0E0 / 4`, 0.25},
		{"concatenation with NULL is NULL", `SELECT 'ab' + NULL`, nil},
		{"binary concatenation", `SELECT CAST(0x01 + 0x02 AS INT)`, int64(0x0102)},
		{"unicode concatenation", `SELECT N'a' + 'b'`, "ab"},
		{"string compared as int", `SELECT CASE WHEN 1 = '1' THEN 1 ELSE 0 END`, int64(1)},
		{"int compared as float", `SELECT CASE WHEN 1 = 1.0E0 THEN 1 ELSE 0 END`, int64(1)},
		{"bit compared as int", `SELECT CASE WHEN CAST(1 AS BIT) = 1 THEN 1 ELSE 0 END`, int64(1)},
		{"date is midnight as datetime2", `SELECT CASE WHEN CAST('2024-01-02' AS DATE) < CAST('2024-01-02T10:00:00' AS DATETIME2) THEN 1 ELSE 0 END`, int64(1)},
		{"datetime2 is UTC as datetimeoffset", `SELECT CASE WHEN CAST('2024-01-02T10:00:00+01:00' AS DATETIMEOFFSET) = CAST('2024-01-02T09:00:00' AS DATETIME2) THEN 1 ELSE 0 END`, int64(1)},
	}
	db := newTestDB(t)
	s := owner(db)
	defer s.Close()
	for _, tt := range tests {
		if got := scalar(t, s, tt.sql); got != tt.want {
			t.Errorf("%s: %s = %#v, want %#v", tt.name, tt.sql, got, tt.want)
		}
	}
}

// Errors of operators, with SQL Server's numbers and messages: the
// operator is named in words.
func TestOperatorErrors(t *testing.T) {
	tests := []struct {
		sql    string
		number int32
		msg    string
	}{
		{`SELECT 1 / 0`, 8134, "Divide by zero error encountered."},
		{`SELECT 1.0E0 / 0`, 8134, "Divide by zero error encountered."},
		{`SELECT 2147483647 + 1`, 8115, "Arithmetic overflow error converting expression to data type int."},
		{`SELECT CAST(9223372036854775807 AS BIGINT) * 2`, 8115, "Arithmetic overflow error converting expression to data type bigint."},
		{`SELECT 5.0E0 % 2`, 8117, "Operand data type float is invalid for modulo operator."},
		{`SELECT 5.0E0 & 1`, 8117, "Operand data type float is invalid for boolean AND operator."},
		{`SELECT 0x01 - 0x02`, 8117, "Operand data type varbinary is invalid for subtract operator."},
		{`SELECT 0x01 * 0x02`, 8117, "Operand data type varbinary is invalid for multiply operator."},
		{`SELECT 0x01 / 0x02`, 8117, "Operand data type varbinary is invalid for divide operator."},
		{`SELECT CASE WHEN 'a' = 1 THEN 1 ELSE 0 END`, 245, "Conversion failed when converting the varchar value 'a' to data type int."},
	}
	db := newTestDB(t)
	s := owner(db)
	defer s.Close()
	for _, tt := range tests {
		res, err := s.Exec(context.Background(), tt.sql, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.sql, err)
		}
		e := firstErr(res)
		if e == nil || e.Number != tt.number || e.Message != tt.msg {
			t.Errorf("%s: error %v, want %d %q", tt.sql, e, tt.number, tt.msg)
		}
	}
	// Error() says where the error comes from and carries SQL Server's
	// number, severity, state and message.
	e := &Error{Number: 8134, Class: 16, State: 1, Message: "Divide by zero error encountered."}
	if got, want := e.Error(), "mssqltest: error 8134, severity 16, state 1: Divide by zero error encountered."; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
