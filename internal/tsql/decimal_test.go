package tsql

import (
	"context"
	"testing"
	"time"
)

// dec is the Decimal written s, at the scale s shows.
func dec(s string) Decimal {
	d, ok := parseDecimal(s)
	if !ok {
		panic("dec: " + s)
	}
	return d
}

func minute(y int, m time.Month, d, h, mi int) time.Time {
	return time.Date(y, m, d, h, mi, 0, 0, time.UTC)
}

// DECIMAL and NUMERIC as SQL Server converts and computes them.
func TestDecimal(t *testing.T) {
	runFuncCases(t, []funcCase{
		// A smaller scale rounds half away from zero.
		{sql: "SELECT CAST(2.345 AS decimal(3,2))", want: dec("2.35")},
		{sql: "SELECT CAST(-2.345 AS decimal(3,2))", want: dec("-2.35")},
		{sql: "SELECT CAST(2.344 AS decimal(3,2))", want: dec("2.34")},
		{sql: "SELECT CAST(2.5 AS decimal(1,0))", want: dec("3")},
		{sql: "SELECT CAST(-2.5 AS numeric(1,0))", want: dec("-3")},
		{sql: "SELECT CAST('123.456' AS numeric(10,1))", want: dec("123.5")},
		{sql: "SELECT CAST(' -0.05 ' AS decimal(5,1))", want: dec("-0.1")},
		{sql: "SELECT CAST(1.5e0 AS decimal(4,2))", want: dec("1.50")},
		{sql: "SELECT CAST(1 AS decimal)", want: dec("1")},
		{sql: "SELECT CAST(1 AS dec(5,2))", want: dec("1.00")},
		{sql: "SELECT CAST(CAST(1 AS bit) AS decimal(3,1))", want: dec("1.0")},
		// Too many digits: 8115, after rounding.
		{sql: "SELECT CAST(1000 AS decimal(3,0))", wantErr: 8115},
		{sql: "SELECT CAST(99.995 AS decimal(4,2))", wantErr: 8115},
		{sql: "SELECT CAST('1000' AS decimal(3,0))", wantErr: 8115},
		{sql: "SELECT CAST(CAST(12.5 AS decimal(3,1)) AS decimal(2,1))", wantErr: 8115},
		{sql: "SELECT CAST('abc' AS decimal(5,2))", wantErr: 8114},
		{sql: "SELECT CAST('1e5' AS decimal)", wantErr: 8114},
		{sql: "SELECT CAST(1 AS decimal(39))", wantErr: 2750},
		{sql: "SELECT CAST(1 AS decimal(5,6))", wantErr: 192},
		{sql: "SELECT 1234567890123456789012345678901234567890.5", wantErr: 1007},
		// To other types: integers truncate, strings keep the scale.
		{sql: "SELECT CAST(2.7 AS int)", want: int64(2)},
		{sql: "SELECT CAST(-2.7 AS int)", want: int64(-2)},
		{sql: "SELECT CAST(3000000000.5 AS int)", wantErr: 8115},
		{sql: "SELECT CAST(0.5 AS bit)", want: true},
		{sql: "SELECT CAST(CAST(1.5 AS decimal(3,1)) AS varchar(10))", want: "1.5"},
		{sql: "SELECT CAST(CAST(-0.5 AS decimal(5,2)) AS varchar(10))", want: "-0.50"},
		{sql: "SELECT CAST(CAST(123.45 AS decimal(5,2)) AS varchar(3))", wantErr: 8115},
		{sql: "SELECT CAST(CAST(1.25 AS decimal(3,2)) AS float)", want: 1.25},
		{sql: "SELECT CAST(1.5 AS datetime)", want: time.Date(1900, 1, 2, 12, 0, 0, 0, time.UTC)},
		// Arithmetic, typed by SQL Server's precision and scale rules.
		{sql: "SELECT CAST(1.5 AS decimal(5,2)) * 3", want: dec("4.50")},
		{sql: "SELECT 2.0 / 3", want: dec("0.666666")},
		{sql: "SELECT 1.5 + 1", want: dec("2.5")},
		{sql: "SELECT 1.25 - 2", want: dec("-0.75")},
		{sql: "SELECT 7.5 % 2", want: dec("1.5")},
		{sql: "SELECT 1 / 0.0", wantErr: 8134},
		{sql: "SELECT CAST(99999 AS decimal(38,0)) * CAST(99999999999999999999999999999999999 AS decimal(38,0))", wantErr: 8115},
		{sql: "SELECT 1.5 + 1e0", want: 2.5},
		{sql: "SELECT 10 / 4.0", want: dec("2.500000")},
		{sql: "SELECT GETDATE() - 1.5", wantErr: 40517},
		{sql: "SELECT -CAST(1.5 AS decimal(3,1))", want: dec("-1.5")},
		{sql: "SELECT ABS(CAST(-1.5 AS decimal(3,1)))", want: dec("1.5")},
		{sql: "SELECT SUM(CAST(i AS decimal(5,2))) FROM nums", want: dec("3.00")},
		{sql: "SELECT MAX(CAST(i AS decimal(5,2))) FROM nums", want: dec("2.00")},
		// Comparison, whatever the scales.
		{sql: "SELECT CASE WHEN CAST(1.5 AS decimal(2,1)) = 1.50 THEN 1 ELSE 0 END", want: int64(1)},
		{sql: "SELECT CASE WHEN CAST(1 AS decimal(5,2)) = 1 THEN 1 ELSE 0 END", want: int64(1)},
		{sql: "SELECT CASE WHEN 0.1 < 0.25 THEN 1 ELSE 0 END", want: int64(1)},
		{sql: "SELECT CASE WHEN '1.50' = CAST(1.5 AS decimal(5,2)) THEN 1 ELSE 0 END", want: int64(1)},
		{sql: "SELECT CASE WHEN -1.5 < CAST(-1 AS money) THEN 1 ELSE 0 END", want: int64(1)},
		{sql: "SELECT COUNT(DISTINCT CAST(i AS decimal(5,2))) FROM nums", want: int64(2)},
	})
}

// MONEY and SMALLMONEY: four places, their own ranges and text.
func TestMoney(t *testing.T) {
	runFuncCases(t, []funcCase{
		{sql: "SELECT CAST(1 AS money)", want: dec("1.0000")},
		{sql: "SELECT CAST(1.23456 AS money)", want: dec("1.2346")},
		{sql: "SELECT CAST('$1,234.5' AS money)", want: dec("1234.5000")},
		{sql: "SELECT CAST('abc' AS money)", wantErr: 235},
		{sql: "SELECT CAST(-214748.3648 AS smallmoney)", want: dec("-214748.3648")},
		{sql: "SELECT CAST(214748.3648 AS smallmoney)", wantErr: 8115},
		{sql: "SELECT CAST(922337203685477.5808 AS money)", wantErr: 8115},
		// MONEY to an integer rounds, unlike DECIMAL.
		{sql: "SELECT CAST(CAST(2.5 AS money) AS int)", want: int64(3)},
		// Style 0: two places.
		{sql: "SELECT CAST(CAST(-12345.6789 AS money) AS varchar(20))", want: "-12345.68"},
		{sql: "SELECT CAST(1 AS money) + 2", want: dec("3.0000")},
		{sql: "SELECT CAST(1.5 AS money) * 3", want: dec("4.5000")},
		{sql: "SELECT -CAST(-214748.3648 AS smallmoney)", wantErr: 8115},
		{sql: "SELECT SUM(CAST(i AS smallmoney)) FROM nums", want: dec("3.0000")},
		{sql: "SELECT CAST(2 AS money) * CAST(2 AS money)", wantErr: 40517},
		{sql: "SELECT CAST(2 AS money) / 2", wantErr: 40517},
	})
}

// SMALLDATETIME: to the minute, 1900-01-01 to 2079-06-06.
func TestSmallDateTime(t *testing.T) {
	runFuncCases(t, []funcCase{
		{sql: "SELECT CAST('2024-01-02 10:11:29.998' AS smalldatetime)", want: minute(2024, 1, 2, 10, 11)},
		{sql: "SELECT CAST('2024-01-02 10:11:29.999' AS smalldatetime)", want: minute(2024, 1, 2, 10, 12)},
		{sql: "SELECT CAST(CAST('2024-01-02 23:59:59.999' AS datetime2) AS smalldatetime)", want: minute(2024, 1, 3, 0, 0)},
		{sql: "SELECT CAST('2079-06-06 23:59:29' AS smalldatetime)", want: minute(2079, 6, 6, 23, 59)},
		{sql: "SELECT CAST('2079-06-06 23:59:30' AS smalldatetime)", wantErr: 242},
		{sql: "SELECT CAST('1899-12-31' AS smalldatetime)", wantErr: 242},
		{sql: "SELECT CAST(1 AS smalldatetime)", want: minute(1900, 1, 2, 0, 0)},
		{sql: "SELECT CAST(1 AS datetime)", want: minute(1900, 1, 2, 0, 0)},
		{sql: "SELECT CAST(-1 AS smalldatetime)", wantErr: 8115},
		{sql: "SELECT CAST(CAST('2024-05-06 07:08:09' AS smalldatetime) AS varchar(30))", want: "May  6 2024  7:08AM"},
		{sql: "SELECT CONVERT(varchar(30), CAST('2024-05-06 07:08:09' AS smalldatetime), 121)", want: "2024-05-06 07:08:00.000"},
		{sql: "SELECT CASE WHEN CAST('2024-05-06 07:08' AS smalldatetime) = CAST('2024-05-06 07:08' AS datetime2) THEN 1 ELSE 0 END", want: int64(1)},
		{sql: "SELECT DATALENGTH(CAST(1 AS smalldatetime))", want: int64(4)},
	})
}

// The result types, with the facets the wire and the catalog carry.
func TestExactTypes(t *testing.T) {
	s := funcFixture(t)
	mustExec(t, s, "CREATE TABLE prices (d decimal(5,2), n numeric(10,4), m money, sm smallmoney, t smalldatetime)")
	for _, tt := range []struct {
		sql  string
		want string
	}{
		{"SELECT CAST(1 AS decimal)", "decimal(18,0)"},
		{"SELECT 1.5", "numeric(2,1)"},
		{"SELECT 0.05", "numeric(2,2)"},
		{"SELECT CAST(1.5 AS decimal(5,2)) * 3", "decimal(7,2)"},
		{"SELECT 2.0 / 3", "numeric(7,6)"},
		{"SELECT CAST(1 AS decimal(38,10)) * CAST(1 AS decimal(38,10))", "decimal(38,6)"},
		{"SELECT CAST(1 AS money) + 1", "money"},
		{"SELECT CASE WHEN 1 = 1 THEN CAST(1 AS decimal(5,2)) ELSE CAST(1 AS decimal(10,4)) END", "decimal(10,4)"},
		{"SELECT d FROM prices", "decimal(5,2)"},
		{"SELECT n FROM prices", "numeric(10,4)"},
		{"SELECT sm FROM prices", "smallmoney"},
		{"SELECT t FROM prices", "smalldatetime"},
	} {
		res, err := s.Exec(context.Background(), tt.sql, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.sql, err)
		}
		if e := firstErr(res); e != nil {
			t.Fatalf("%s: %v", tt.sql, e)
		}
		if got := res[len(res)-1].Columns[0].Type.String(); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.sql, got, tt.want)
		}
	}
	mustExec(t, s, "INSERT INTO prices VALUES (1.005, 2.5, 3, 4, '2024-01-02 03:04:59')")
	res, err := s.Exec(context.Background(), "SELECT d, n, m, sm, t FROM prices WHERE d = 1.01", nil)
	if err != nil || firstErr(res) != nil {
		t.Fatalf("select: %v %v", err, firstErr(res))
	}
	rows := res[len(res)-1].Rows
	if len(rows) != 1 {
		t.Fatalf("got %d rows, want 1", len(rows))
	}
	for i, want := range []any{dec("1.01"), dec("2.5000"), dec("3.0000"), dec("4.0000"), minute(2024, 1, 2, 3, 5)} {
		if !sameValue(rows[0][i], want) {
			t.Errorf("column %d: got %v, want %v", i, rows[0][i], want)
		}
	}
}
