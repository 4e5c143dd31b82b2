package tsql

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// funcCase is one call of a built-in function and SQL Server's answer:
// a value (nil for NULL), or the number of the error it raises.
type funcCase struct {
	sql     string
	want    any
	wantErr int32
}

// funcFixture is a database with the sessions table and two small
// tables for the aggregates: nums (two rows and a row of NULLs) and big
// (whose INT sum overflows).
func funcFixture(t *testing.T) *Session {
	t.Helper()
	db := newTestDB(t)
	s := owner(db)
	t.Cleanup(func() { s.Close() })
	mustExec(t, s, `CREATE TABLE nums (i INT, f FLOAT, r REAL, b BIGINT, s VARCHAR(10));
		INSERT INTO nums VALUES (1, 1.5e0, 0.5e0, 10, 'a'), (2, 2.5e0, 0.25e0, 20, 'A'), (NULL, NULL, NULL, NULL, NULL);
		CREATE TABLE big (i INT);
		INSERT INTO big VALUES (2147483647), (1)`)
	return s
}

// runFuncCases checks each case against a fresh fixture's answer.
func runFuncCases(t *testing.T, cases []funcCase) {
	t.Helper()
	s := funcFixture(t)
	for _, tt := range cases {
		t.Run(tt.sql, func(t *testing.T) {
			res, err := s.Exec(context.Background(), tt.sql, nil)
			if err != nil {
				t.Fatalf("Exec: %v", err)
			}
			if e := firstErr(res); e != nil || tt.wantErr != 0 {
				if e == nil || e.Number != tt.wantErr {
					t.Fatalf("got error %v, want error %d", e, tt.wantErr)
				}
				return
			}
			got := res[len(res)-1].Rows[0][0]
			if !sameValue(got, tt.want) {
				t.Fatalf("got %v (%T), want %v (%T)", got, got, tt.want, tt.want)
			}
		})
	}
}

func sameValue(got, want any) bool {
	switch w := want.(type) {
	case time.Time:
		g, ok := got.(time.Time)
		return ok && g.Equal(w)
	case []byte:
		g, ok := got.([]byte)
		return ok && bytes.Equal(g, w)
	case Decimal:
		// The same digits at the same scale.
		g, ok := got.(Decimal)
		return ok && g.String() == w.String()
	}
	return got == want
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestFunctionDispatch(t *testing.T) {
	runFuncCases(t, []funcCase{
		{sql: "SELECT NOSUCH(1)", wantErr: 195},
		// SQL Server has SYSDATETIMEOFFSET and SYSUTCDATETIME, not this.
		{sql: "SELECT SYSUTCDATETIMEOFFSET()", wantErr: 195},
		// Real functions the engine does not implement are refused.
		{sql: "SELECT DATENAME(month, SYSDATETIME())", wantErr: 40517},
		{sql: "SELECT IIF(1 = 1, 1, 0)", wantErr: 40517},
		{sql: "SELECT LEN('a', 'b')", wantErr: 174},
		{sql: "SELECT GETDATE(1)", wantErr: 174},
		{sql: "SELECT CONCAT('a')", wantErr: 189},
		{sql: "SELECT LEN(nosuch)", wantErr: 207},
	})
}

func TestAggregates(t *testing.T) {
	runFuncCases(t, []funcCase{
		{sql: "SELECT COUNT(*) FROM nums WHERE SUM(i) > 0", wantErr: 147},
		{sql: "SELECT SUM(COUNT(*)) FROM nums", wantErr: 130},
		{sql: "SELECT SUM(*) FROM nums", wantErr: 102},
		{sql: "SELECT SUM(i, i) FROM nums", wantErr: 174},
		{sql: "SELECT SUM(f) FROM nums", want: 4.0},
		// SUM and AVG of REAL are FLOAT.
		{sql: "SELECT SUM(r) FROM nums", want: 0.75},
		{sql: "SELECT SUM(b) FROM nums", want: int64(30)},
		{sql: "SELECT SUM(s) FROM nums", wantErr: 8117},
		// AVG of an integer is an integer: (1 + 2) / 2.
		{sql: "SELECT AVG(i) FROM nums", want: int64(1)},
		{sql: "SELECT AVG(f) FROM nums", want: 2.0},
		{sql: "SELECT AVG(i) FROM nums WHERE i > 5", want: nil},
		// 'a' and 'A' are one value under the default CI collation.
		{sql: "SELECT COUNT(DISTINCT s) FROM nums", want: int64(1)},
		{sql: "SELECT COUNT(DISTINCT i) FROM nums", want: int64(2)},
		{sql: "SELECT SUM(i) FROM big", wantErr: 8115},
	})
}

// COUNT is an INT: past 2^31-1 rows it overflows (COUNT_BIG does not).
func TestCountOverflow(t *testing.T) {
	for _, tt := range []struct {
		name    string
		wantErr bool
	}{{"COUNT", true}, {"COUNT_BIG", false}} {
		a := &aggState{spec: &aggSpec{name: tt.name, star: true}, count: 1 << 31}
		_, err := a.result()
		if (err != nil) != tt.wantErr {
			t.Errorf("%s of 2^31 rows: error %v, want error %v", tt.name, err, tt.wantErr)
		}
	}
}

func TestDateFunctions(t *testing.T) {
	runFuncCases(t, []funcCase{
		// testNow rounded to 100 ns.
		{sql: "SELECT SYSDATETIMEOFFSET()", want: testNow.Round(100)},
		{sql: "SELECT DATEADD(day, 1, '2024-01-31')", want: day(2024, 2, 1)},
		// Integers are days since 1900-01-01 (DATETIME): the idiom that
		// truncates a date to its day.
		{sql: "SELECT DATEADD(day, DATEDIFF(day, 0, '2024-05-06T07:08:09'), 0)", want: day(2024, 5, 6)},
		{sql: "SELECT DATEPART(year, 0)", want: int64(1900)},
		{sql: "SELECT DATEADD(day, 'x', SYSDATETIME())", wantErr: 8116},
		{sql: "SELECT DATEADD(day, 1, 0x01)", wantErr: 40517},
		{sql: "SELECT DATEADD(day, NULL, SYSDATETIME())", want: nil},
		{sql: "SELECT DATEADD(day, 1, CAST(NULL AS date))", want: nil},
		{sql: "SELECT DATEADD(day, 1, '2024-13-01')", wantErr: 242}, // the string converts to DATETIME: well formed, out of range,
		{sql: "SELECT DATEADD(day, 2147483647, CAST('2024-01-01' AS datetime2))", wantErr: 517},
		{sql: "SELECT DATEADD(year, 10001, SYSDATETIME())", wantErr: 517},
		{sql: "SELECT DATEADD(quarter, 40001, SYSDATETIME())", wantErr: 517},
		{sql: "SELECT DATEADD(month, 120001, SYSDATETIME())", wantErr: 517},
		{sql: "SELECT DATEADD(week, 600000, SYSDATETIME())", wantErr: 517},
		{sql: "SELECT DATEADD(hour, 2000000000, SYSDATETIME())", wantErr: 517},
		// The day is clamped to the end of the month.
		{sql: "SELECT DATEADD(quarter, 1, CAST('2024-01-31' AS date))", want: day(2024, 4, 30)},
		{sql: "SELECT DATEADD(month, -3, CAST('2024-01-15' AS date))", want: day(2023, 10, 15)},
		{sql: "SELECT DATEADD(week, 2, CAST('2024-01-01' AS date))", want: day(2024, 1, 15)},
		{sql: "SELECT DATEADD(hour, 25, CAST('2024-01-01' AS datetime2(0)))", want: time.Date(2024, 1, 2, 1, 0, 0, 0, time.UTC)},
		{sql: "SELECT DATEADD(minute, 90, CAST('2024-01-01' AS datetime2(0)))", want: time.Date(2024, 1, 1, 1, 30, 0, 0, time.UTC)},
		{sql: "SELECT DATEADD(microsecond, 1500, CAST('2024-01-01' AS datetime2))", want: time.Date(2024, 1, 1, 0, 0, 0, 1500000, time.UTC)},
		{sql: "SELECT DATEADD(nanosecond, 100, CAST('2024-01-01' AS datetime2))", want: time.Date(2024, 1, 1, 0, 0, 0, 100, time.UTC)},
		// A DATE has no time of day to add to (or take a part of).
		{sql: "SELECT DATEADD(hour, 1, CAST('2024-01-01' AS date))", wantErr: 9810},
		{sql: "SELECT DATEPART(minute, CAST('2024-01-01' AS date))", wantErr: 9810},
	})
}

func TestDateDiff(t *testing.T) {
	runFuncCases(t, []funcCase{
		{sql: "SELECT DATEDIFF_BIG(nanosecond, '2024-01-01', '2024-01-02')", want: int64(86400000000000)},
		{sql: "SELECT DATEDIFF(nanosecond, '2024-01-01', '2024-01-02')", wantErr: 535},
		{sql: "SELECT DATEDIFF_BIG(nanosecond, CAST('0001-01-01' AS datetime2), CAST('9999-12-31' AS datetime2))", wantErr: 535},
		{sql: "SELECT DATEDIFF(day, NULL, SYSDATETIME())", want: nil},
		{sql: "SELECT DATEDIFF(day, 0x01, SYSDATETIME())", wantErr: 40517},
		{sql: "SELECT DATEDIFF(day, 'x', SYSDATETIME())", wantErr: 241},
		// DATEDIFF counts the boundaries crossed.
		{sql: "SELECT DATEDIFF(year, '2023-12-31', '2024-01-01')", want: int64(1)},
		{sql: "SELECT DATEDIFF(quarter, '2024-03-31', '2024-04-01')", want: int64(1)},
		{sql: "SELECT DATEDIFF(month, '2024-01-31', '2024-02-01')", want: int64(1)},
		// Weeks start on Sunday: Saturday 6 to Sunday 7 January 2024.
		{sql: "SELECT DATEDIFF(week, '2024-01-06', '2024-01-07')", want: int64(1)},
		{sql: "SELECT DATEDIFF(week, '2024-01-07', '2024-01-13')", want: int64(0)},
		{sql: "SELECT DATEDIFF(day, '2024-01-01 23:59', '2024-01-02 00:01')", want: int64(1)},
		{sql: "SELECT DATEDIFF(hour, '2024-01-01 00:59', '2024-01-01 01:00')", want: int64(1)},
		{sql: "SELECT DATEDIFF(minute, '2024-01-01 00:00:59', '2024-01-01 00:01:00')", want: int64(1)},
		{sql: "SELECT DATEDIFF(second, '2024-01-01 00:00:00.9', '2024-01-01 00:00:01.1')", want: int64(1)},
		{sql: "SELECT DATEDIFF(millisecond, '2024-01-01 00:00:00.0009', '2024-01-01 00:00:00.0011')", want: int64(1)},
		{sql: "SELECT DATEDIFF(microsecond, '2024-01-01 00:00:00.0000009', '2024-01-01 00:00:00.0000011')", want: int64(1)},
		// A DATE counts from midnight.
		{sql: "SELECT DATEDIFF(hour, CAST('2024-01-01' AS date), '2024-01-01 05:00')", want: int64(5)},
		// DATETIMEOFFSET values are compared as instants.
		{sql: "SELECT DATEDIFF(hour, CAST('2024-01-01 00:00:00 +01:00' AS datetimeoffset), CAST('2024-01-01 00:00:00 +00:00' AS datetimeoffset))", want: int64(1)},
	})
}

func TestDatePart(t *testing.T) {
	const d = "CAST('2024-05-06 07:08:09.1234567' AS datetime2)"
	runFuncCases(t, []funcCase{
		{sql: "SELECT DATEPART(year, " + d + ")", want: int64(2024)},
		{sql: "SELECT DATEPART(month, " + d + ")", want: int64(5)},
		{sql: "SELECT DATEPART(day, " + d + ")", want: int64(6)},
		{sql: "SELECT DATEPART(hour, " + d + ")", want: int64(7)},
		{sql: "SELECT DATEPART(minute, " + d + ")", want: int64(8)},
		{sql: "SELECT DATEPART(second, " + d + ")", want: int64(9)},
		{sql: "SELECT DATEPART(millisecond, " + d + ")", want: int64(123)},
		{sql: "SELECT DATEPART(microsecond, " + d + ")", want: int64(123456)},
		{sql: "SELECT DATEPART(nanosecond, " + d + ")", want: int64(123456700)},
		{sql: "SELECT DATEPART(year, '2024-05-06')", want: int64(2024)},
		{sql: "SELECT DATEPART(year, NULL)", want: nil},
		// DATEFIRST-dependent and other units are not implemented.
		{sql: "SELECT DATEPART(weekday, " + d + ")", wantErr: 40517},
		{sql: "SELECT DATEPART(year, 0x01)", wantErr: 40517},
	})
}

func TestStringFunctions(t *testing.T) {
	long := "'" + string(bytes.Repeat([]byte("x"), 129)) + "'"
	runFuncCases(t, []funcCase{
		{sql: "SELECT LTRIM('  a  ')", want: "a  "},
		{sql: "SELECT RTRIM('  a  ')", want: "  a"},
		{sql: "SELECT TRIM('  a  ')", want: "a"},
		{sql: "SELECT UPPER(12)", want: "12"},
		{sql: "SELECT UPPER(NULL)", want: nil},
		{sql: "SELECT LEN(NULL)", want: nil},
		{sql: "SELECT LEN('ab  ')", want: int64(2)},
		{sql: "SELECT SUBSTRING('abcdef', 2, 3)", want: "bcd"},
		{sql: "SELECT SUBSTRING('abc', 0, 2)", want: "a"},
		{sql: "SELECT SUBSTRING('abc', 5, 1)", want: ""},
		{sql: "SELECT SUBSTRING('abc', NULL, 1)", want: nil},
		{sql: "SELECT SUBSTRING('abc', 'x', 1)", wantErr: 245},
		{sql: "SELECT SUBSTRING(0x010203, 2, 1)", want: []byte{2}},
		{sql: "SELECT SUBSTRING(N'abc', 2, -1)", wantErr: 536},
		{sql: "SELECT LEFT('abc', 2)", want: "ab"},
		{sql: "SELECT LEFT('abc', -1)", wantErr: 536},
		{sql: "SELECT RIGHT('abc', 2)", want: "bc"},
		{sql: "SELECT RIGHT('abc', 5)", want: "abc"},
		{sql: "SELECT RIGHT(CAST('abc' AS char(5)), 3)", want: "c  "},
		{sql: "SELECT REPLICATE(5, 3)", want: "555"},
		{sql: "SELECT REPLICATE('a', -1)", want: nil},
		{sql: "SELECT REPLICATE(NULL, 2)", want: nil},
		{sql: "SELECT REPLICATE('a', NULL)", want: nil},
		{sql: "SELECT REPLICATE('a', 'x')", wantErr: 245},
		{sql: "SELECT REPLICATE(CAST('ab' AS nchar(2)), 2)", want: "abab"},
		{sql: "SELECT CONCAT('a', 1, NULL, 'b')", want: "a1b"}, {sql: "SELECT CONCAT(N'a', 1)", want: "a1"},
		{sql: "SELECT CONCAT(CAST('a' AS varchar(max)), 'b')", want: "ab"},
		{sql: "SELECT QUOTENAME(NULL)", want: nil},
		{sql: "SELECT QUOTENAME(" + long + ")", want: nil},
		{sql: "SELECT QUOTENAME('a', '''')", want: "'a'"},
		{sql: `SELECT QUOTENAME('a', '"')`, want: `"a"`},
		{sql: "SELECT QUOTENAME('a(b)', ')')", want: "(a(b)))"},
		{sql: "SELECT QUOTENAME('a', '<')", want: "<a>"},
		{sql: "SELECT QUOTENAME('a', '}')", want: "{a}"},
		{sql: "SELECT QUOTENAME('a', '`')", want: "`a`"},
		{sql: "SELECT QUOTENAME('a', ']')", want: "[a]"},
		{sql: "SELECT QUOTENAME('a', 'x')", want: nil},
		{sql: "SELECT QUOTENAME('a', NULL)", want: nil},
	})
}

func TestDataLength(t *testing.T) {
	runFuncCases(t, []funcCase{
		{sql: "SELECT DATALENGTH(N'ab')", want: int64(4)},
		{sql: "SELECT DATALENGTH('ab')", want: int64(2)},
		{sql: "SELECT DATALENGTH(0x0102)", want: int64(2)},
		{sql: "SELECT DATALENGTH(NULL)", want: nil},
		{sql: "SELECT DATALENGTH(CAST(1 AS bit))", want: int64(1)},
		{sql: "SELECT DATALENGTH(CAST(1 AS tinyint))", want: int64(1)},
		{sql: "SELECT DATALENGTH(CAST(1 AS smallint))", want: int64(2)},
		{sql: "SELECT DATALENGTH(1)", want: int64(4)},
		{sql: "SELECT DATALENGTH(CAST(1 AS bigint))", want: int64(8)},
		{sql: "SELECT DATALENGTH(CAST(1 AS float))", want: int64(8)},
		{sql: "SELECT DATALENGTH(CAST(1 AS real))", want: int64(4)},
		{sql: "SELECT DATALENGTH(CAST('2024-01-01' AS date))", want: int64(3)},
		{sql: "SELECT DATALENGTH(CAST('2024-01-01' AS datetime))", want: int64(8)},
		{sql: "SELECT DATALENGTH(CAST('2024-01-01' AS datetime2(2)))", want: int64(6)},
		{sql: "SELECT DATALENGTH(CAST('2024-01-01' AS datetime2(4)))", want: int64(7)},
		{sql: "SELECT DATALENGTH(CAST('2024-01-01' AS datetime2))", want: int64(8)},
		{sql: "SELECT DATALENGTH(SYSDATETIMEOFFSET())", want: int64(10)},
	})
}

func TestScalarFunctions(t *testing.T) {
	runFuncCases(t, []funcCase{
		{sql: "SELECT ISNULL(1, 2)", want: int64(1)},
		{sql: "SELECT ISNULL(NULL, NULL)", want: nil},
		{sql: "SELECT ISNULL(CAST(NULL AS int), '5')", want: int64(5)},
		{sql: "SELECT ISNULL(CAST(NULL AS int), 'x')", wantErr: 245},
		{sql: "SELECT COALESCE(NULL, NULL)", wantErr: 4127},
		{sql: "SELECT COALESCE(CAST(NULL AS int), NULL)", want: nil},
		{sql: "SELECT COALESCE(NULL, 2, 'x')", want: int64(2)},
		{sql: "SELECT ABS(-5)", want: int64(5)},
		{sql: "SELECT ABS(5)", want: int64(5)},
		{sql: "SELECT ABS(-1.5e0)", want: 1.5},
		{sql: "SELECT ABS(2.5e0)", want: 2.5},
		{sql: "SELECT ABS(NULL)", want: nil},
		// The result keeps the argument's type.
		{sql: "SELECT ABS(CAST(-32768 AS smallint))", wantErr: 8115},
		{sql: "SELECT ABS(SYSDATETIME())", wantErr: 8117},
	})
}

func TestMetadataFunctions(t *testing.T) {
	runFuncCases(t, []funcCase{
		{sql: "SELECT OBJECT_ID(NULL)", want: nil},
		{sql: "SELECT CASE WHEN OBJECT_ID('sessions', NULL) = OBJECT_ID('sessions', 'U') THEN 1 ELSE 0 END", want: int64(1)},
		{sql: "SELECT TYPE_ID('int')", want: int64(56)},
		{sql: "SELECT TYPE_ID(NULL)", want: nil},
		{sql: "SELECT OBJECT_NAME(OBJECT_ID('sessions'))", want: "sessions"},
		{sql: "SELECT OBJECT_NAME(NULL)", want: nil},
		{sql: "SELECT OBJECT_NAME(12345)", want: nil},
		{sql: "SELECT OBJECT_NAME('x')", wantErr: 245},
		{sql: "SELECT SCHEMA_NAME(1)", want: "dbo"},
		{sql: "SELECT SCHEMA_NAME(99)", want: nil},
		{sql: "SELECT SCHEMA_NAME(NULL)", want: nil},
		{sql: "SELECT SCHEMA_NAME('x')", wantErr: 245},
		{sql: "SELECT SCHEMA_ID()", want: int64(1)},
		{sql: "SELECT SCHEMA_ID('SYS')", want: int64(4)},
		{sql: "SELECT SCHEMA_ID('nope')", want: nil},
		{sql: "SELECT SCHEMA_ID(NULL)", want: nil},
		{sql: "SELECT DB_NAME()", want: "db"},
		{sql: "SELECT DB_NAME(DB_ID())", want: "db"},
		{sql: "SELECT DB_NAME(NULL)", want: nil},
		{sql: "SELECT DB_NAME('x')", wantErr: 245},
		// The test server has one database: others are refused, not
		// answered as if they were it.
		{sql: "SELECT DB_NAME(1)", wantErr: 40517},
		{sql: "SELECT DB_ID()", want: int64(5)},
		{sql: "SELECT DB_ID('DB')", want: int64(5)},
		{sql: "SELECT DB_ID(NULL)", want: nil},
		{sql: "SELECT DB_ID('master')", wantErr: 40517},
		{sql: "SELECT USER_NAME()", want: "dbo"},
		{sql: "SELECT SUSER_SNAME()", want: "sa"},
		{sql: "SELECT HAS_PERMS_BY_NAME(NULL, 'OBJECT', 'SELECT')", want: nil},
		{sql: "SELECT HAS_PERMS_BY_NAME('sessions', 'OBJECT', 'SELECT')", want: int64(1)},
	})
}

// SQL Server counts DATEADD's datepart as argument 1, so the number is
// argument 2 in its 8116 message.
func TestDateAddArgumentNumber(t *testing.T) {
	s := funcFixture(t)
	res, err := s.Exec(context.Background(), "SELECT DATEADD(day, 'x', SYSDATETIME())", nil)
	if err != nil {
		t.Fatal(err)
	}
	const want = "Argument data type varchar is invalid for argument 2 of dateadd function."
	if e := firstErr(res); e == nil || e.Message != want {
		t.Fatalf("got %v, want %q", e, want)
	}
}

func TestFunctionEdges(t *testing.T) {
	runFuncCases(t, []funcCase{
		// DATEADD's number must fit an INT.
		{sql: "SELECT DATEADD(day, CAST(2147483648 AS bigint), SYSDATETIME())", wantErr: 8115},
		{sql: "SELECT ISNULL(1 / 0, 2)", wantErr: 8134},
		{sql: "SELECT COALESCE(1 / 0, 2)", wantErr: 8134},
		{sql: "SELECT CONCAT(1 / 0, 'a')", wantErr: 8134},
		{sql: "SELECT SUBSTRING(CAST(0x0102 AS binary(2)), 2, 1)", want: []byte{2}},
		// A non-MAX NVARCHAR result stops at 4,000 UTF-16 units and
		// never splits a surrogate pair.
		{sql: "SELECT DATALENGTH(REPLICATE(N'\U0001F600', 3000))", want: int64(8000)},
		{sql: "SELECT DATALENGTH(REPLICATE(N'a\U0001F600', 2000))", want: int64(8000)},
		// Collations: case-sensitive ones tell a from A.
		{sql: "SELECT CASE WHEN 'a' = 'A' COLLATE Latin1_General_CS_AS THEN 1 ELSE 0 END", want: int64(0)},
		{sql: "SELECT MIN(-f) FROM nums", want: -2.5},
		{sql: "SELECT MAX(f * 0) FROM nums", want: 0.0},
		{sql: "SELECT MIN(CAST(2 - i AS bit)) FROM nums", want: false},
	})
}

// CONCAT over MAX arguments builds at most maxBuiltString bytes (701).
func TestConcatBound(t *testing.T) {
	s := funcFixture(t)
	half := maxBuiltString/2 + 1
	sql := "SELECT CONCAT(REPLICATE(CAST('a' AS varchar(max)), @n), REPLICATE(CAST('a' AS varchar(max)), @n))"
	res, err := s.Exec(context.Background(), sql, []Param{bigint("@n", int64(half))})
	if err != nil {
		t.Fatal(err)
	}
	if e := firstErr(res); e == nil || e.Number != 701 {
		t.Fatalf("got %v, want 701", e)
	}
}
