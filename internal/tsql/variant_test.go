package tsql

import (
	"fmt"
	"testing"
)

// TestVariantCast checks CAST to sql_variant: the value keeps its base
// type, which SQL_VARIANT_PROPERTY reports as SQL Server does, and CAST
// back converts the base value.
func TestVariantCast(t *testing.T) {
	tests := []struct {
		expr                        string
		baseType                    string
		precision, scale, maxLength int64
		back                        string // CAST(CAST(expr AS sql_variant) AS nvarchar(40))
	}{
		{"1", "int", 10, 0, 4, "1"},
		{"CAST(7 AS tinyint)", "tinyint", 3, 0, 1, "7"},
		{"CAST(-20 AS bigint)", "bigint", 19, 0, 8, "-20"},
		{"CAST(1 AS bit)", "bit", 1, 0, 1, "1"},
		{"'abc'", "varchar", 0, 0, 3, "abc"},
		{"N'abcd'", "nvarchar", 0, 0, 8, "abcd"},
		{"CAST('ab' AS char(5))", "char", 0, 0, 5, "ab   "},
		{"CAST(-0.5 AS decimal(18,1))", "decimal", 18, 1, 9, "-0.5"},
		{"CAST(1.25 AS numeric(5,2))", "numeric", 5, 2, 5, "1.25"},
		{"CAST(1.2345 AS money)", "money", 19, 4, 8, "1.23"}, // style 0: two decimals
		{"CAST(0.125 AS float)", "float", 53, 0, 8, "0.125"},
		{"CAST('2000-01-02' AS date)", "date", 10, 0, 3, "2000-01-02"},
		{"CAST('2000-01-02T03:04:05' AS datetime2(3))", "datetime2", 23, 3, 7, "2000-01-02 03:04:05.000"},
		{"CAST('00:00:45.123' AS time(3))", "time", 12, 3, 4, "00:00:45.123"},
		{"CAST(0x1234 AS varbinary(10))", "varbinary", 0, 0, 10, ""},
	}
	db := newTestDB(t)
	s := owner(db)
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			q := fmt.Sprintf(`SELECT CAST(SQL_VARIANT_PROPERTY(CAST(%[1]s AS sql_variant), 'BaseType') AS nvarchar(128)),
				CAST(SQL_VARIANT_PROPERTY(CAST(%[1]s AS sql_variant), 'Precision') AS int),
				CAST(SQL_VARIANT_PROPERTY(CAST(%[1]s AS sql_variant), 'Scale') AS int),
				CAST(SQL_VARIANT_PROPERTY(CAST(%[1]s AS sql_variant), 'MaxLength') AS int),
				CAST(CAST(%[1]s AS sql_variant) AS nvarchar(40))`, tc.expr)
			res := mustExec(t, s, q)
			row := res[0].Rows[0]
			if row[0] != tc.baseType || row[1] != tc.precision || row[2] != tc.scale || row[3] != tc.maxLength {
				t.Fatalf("properties %v, want %s %d %d %d", row[:4], tc.baseType, tc.precision, tc.scale, tc.maxLength)
			}
			if tc.back != "" && row[4] != tc.back {
				t.Fatalf("back to nvarchar: %q, want %q", row[4], tc.back)
			}
			v := scalar(t, s, "SELECT CAST("+tc.expr+" AS sql_variant)")
			if vv, ok := v.(Variant); !ok || vv.Type.baseName() != tc.baseType {
				t.Fatalf("value %#v, want a Variant of %s", v, tc.baseType)
			}
		})
	}
}

// TestVariantRules checks where SQL Server accepts sql_variant and the
// errors it raises elsewhere; what the engine does not model is refused.
func TestVariantRules(t *testing.T) {
	tests := []struct {
		name, sql string
		want      int32
	}{
		{"a column holds any base type", "CREATE TABLE v (k INT PRIMARY KEY, x sql_variant); INSERT INTO v VALUES (1, 5), (2, N'x'), (3, NULL); SELECT COUNT(x) FROM v", 0},
		{"a variable", "DECLARE @x sql_variant = 3; SELECT CAST(@x AS int) + 1", 0},
		{"CASE converts to sql_variant", "SELECT CASE WHEN 1 = 1 THEN CAST(1 AS sql_variant) ELSE 2 END", 0},
		{"implicit conversion from sql_variant is 257", "DECLARE @x sql_variant = 3; DECLARE @i int; SET @i = @x", 257},
		{"into an int column is 257", "CREATE TABLE v (i INT); DECLARE @x sql_variant = 3; INSERT INTO v VALUES (@x)", 257},
		{"a MAX type is 206", "SELECT CAST(CAST('a' AS varchar(max)) AS sql_variant)", 206},
		{"xml is 206", "SELECT CAST(CAST('<a/>' AS xml) AS sql_variant)", 206},
		{"arithmetic is 8117", "SELECT CAST(1 AS sql_variant) + 1", 8117},
		{"comparison is refused", "SELECT 1 WHERE CAST(1 AS sql_variant) = 1", 40517},
		{"ORDER BY is refused", "CREATE TABLE v (x sql_variant); SELECT x FROM v ORDER BY x", 40517},
		{"a key column is refused", "CREATE TABLE v (x sql_variant PRIMARY KEY)", 40517},
		{"functions are refused", "SELECT ISNULL(CAST(1 AS sql_variant), 2)", 40517},
		{"MAX is refused", "CREATE TABLE v (x sql_variant); SELECT MAX(x) FROM v", 40517},
		{"TotalBytes is refused", "SELECT SQL_VARIANT_PROPERTY(1, 'TotalBytes')", 40517},
		{"RAISERROR takes no sql_variant argument", "DECLARE @v sql_variant = 1; RAISERROR('x %d', 10, 1, @v)", 2748},
		{"an unknown property is NULL", "SELECT 1 WHERE SQL_VARIANT_PROPERTY(1, 'Nope') IS NULL", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := owner(newTestDB(t))
			if got := errNumber(t, s, tc.sql); got != tc.want {
				t.Fatalf("error %d, want %d", got, tc.want)
			}
		})
	}
}

// TestVariantCatalog checks sql_variant in sys.types and sys.columns.
func TestVariantCatalog(t *testing.T) {
	s := owner(newTestDB(t))
	mustExec(t, s, "CREATE TABLE v (x sql_variant)")
	for q, want := range map[string]any{
		"SELECT system_type_id FROM sys.types WHERE name = 'sql_variant'":         int64(98),
		"SELECT max_length FROM sys.columns WHERE object_id = OBJECT_ID('v')":     int64(8016),
		"SELECT DATA_TYPE FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'v'": "sql_variant",
		"SELECT CAST(SQL_VARIANT_PROPERTY(N'x', 'Collation') AS nvarchar(128))":   DefaultCollation,
	} {
		if got := scalar(t, s, q); got != want {
			t.Errorf("%s = %v, want %v", q, got, want)
		}
	}
}
