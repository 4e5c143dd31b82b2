package tsql

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestCastToString(t *testing.T) {
	runFuncCases(t, []funcCase{
		// Binaries are read as the string's bytes: UTF-16LE for NVARCHAR.
		{sql: "SELECT CAST(0x6100 AS nvarchar(10))", want: "a"},
		{sql: "SELECT CAST(0x61 AS varchar(10))", want: "a"},
		{sql: "SELECT CAST(CAST(1 AS bit) AS varchar(5))", want: "1"},
		{sql: "SELECT CAST(CAST(0 AS bit) AS varchar(5))", want: "0"},
		{sql: "SELECT CAST(1.5e0 AS varchar(10))", want: "1.5"},
		{sql: "SELECT CAST(12345 AS varchar(3))", want: "123"},
		{sql: "SELECT CAST('ab' AS char(4))", want: "ab  "},
		{sql: "SELECT CAST(CAST('2024-01-02' AS date) AS varchar(30))", want: "2024-01-02"},
		{sql: "SELECT CAST(CAST('2024-01-02 03:04:05.1234567' AS datetime2) AS varchar(30))", want: "2024-01-02 03:04:05.1234567"},
		{sql: "SELECT CAST(CAST('2024-01-02 03:04:05.5' AS datetime2(0)) AS varchar(30))", want: "2024-01-02 03:04:06"},
		{sql: "SELECT CAST(CAST('2024-01-02 03:04:05 +01:00' AS datetimeoffset(1)) AS varchar(40))", want: "2024-01-02 03:04:05.0 +01:00"},
		// DATETIME converts with style 0: mon dd yyyy hh:miAM.
		{sql: "SELECT CAST(CAST('2024-01-02 03:04:05' AS datetime) AS varchar(30))", want: "Jan  2 2024  3:04AM"},
		{sql: "SELECT CAST(CAST('2024-11-12 00:30:00' AS datetime) AS varchar(30))", want: "Nov 12 2024 12:30AM"},
		{sql: "SELECT CAST(CAST('2024-11-12 13:30:00' AS datetime) AS varchar(30))", want: "Nov 12 2024  1:30PM"},
	})
}

func TestCastToBinary(t *testing.T) {
	runFuncCases(t, []funcCase{
		{sql: "SELECT CAST(N'a' AS varbinary(10))", want: []byte{0x61, 0}},
		{sql: "SELECT CAST('a' AS varbinary(10))", want: []byte{0x61}},
		// Integers give their big-endian bytes, in the size of their type.
		{sql: "SELECT CAST(1 AS binary(4))", want: []byte{0, 0, 0, 1}},
		{sql: "SELECT CAST(CAST(1 AS tinyint) AS varbinary(10))", want: []byte{1}},
		{sql: "SELECT CAST(CAST(1 AS smallint) AS varbinary(10))", want: []byte{0, 1}},
		{sql: "SELECT CAST(CAST(1 AS bigint) AS varbinary(10))", want: []byte{0, 0, 0, 0, 0, 0, 0, 1}},
		{sql: "SELECT CAST(CAST(1 AS bit) AS varbinary(1))", want: []byte{1}},
		{sql: "SELECT CAST(CAST(0 AS bit) AS varbinary(1))", want: []byte{0}},
		{sql: "SELECT CAST(0x010203 AS binary(2))", want: []byte{1, 2}},
		{sql: "SELECT CAST(0x01 AS binary(3))", want: []byte{1, 0, 0}},
		// SQL Server gives a float's or a date's internal bytes: not modelled.
		{sql: "SELECT CAST(1.5e0 AS varbinary(8))", wantErr: 40517},
		{sql: "SELECT CAST(SYSDATETIME() AS varbinary(8))", wantErr: 40517},
	})
}

func TestCastToNumber(t *testing.T) {
	runFuncCases(t, []funcCase{
		{sql: "SELECT CAST(CAST(1 AS bit) AS int)", want: int64(1)},
		{sql: "SELECT CAST(CAST(0 AS bit) AS int)", want: int64(0)},
		// Floats are truncated toward zero.
		{sql: "SELECT CAST(2.7e0 AS int)", want: int64(2)},
		{sql: "SELECT CAST(-2.7e0 AS int)", want: int64(-2)},
		{sql: "SELECT CAST(1e20 AS bigint)", wantErr: 8115},
		{sql: "SELECT CAST(CAST(3000000000 AS bigint) AS int)", wantErr: 8115},
		{sql: "SELECT CAST('true' AS bit)", want: true},
		{sql: "SELECT CAST('FALSE' AS bit)", want: false},
		{sql: "SELECT CAST(' 5 ' AS bit)", want: true},
		{sql: "SELECT CAST(2.5e0 AS bit)", want: true},
		{sql: "SELECT CAST('x' AS int)", wantErr: 245},
		{sql: "SELECT CAST(0x0102 AS int)", want: int64(258)},
		{sql: "SELECT CAST(SYSDATETIME() AS int)", wantErr: 529},
		// SQL Server converts a DATETIME to days since 1900: not modelled.
		{sql: "SELECT CAST(GETDATE() AS int)", wantErr: 40517},
		{sql: "SELECT CAST(GETDATE() AS float)", wantErr: 40517},
		{sql: "SELECT CAST(CAST(1 AS bit) AS float)", want: 1.0},
		{sql: "SELECT CAST(CAST(0 AS bit) AS float)", want: 0.0},
		{sql: "SELECT CAST(' 1.5 ' AS float)", want: 1.5},
		{sql: "SELECT CAST('x' AS float)", wantErr: 8114},
		{sql: "SELECT CAST(0x01 AS float)", wantErr: 529},
		{sql: "SELECT CAST(SYSDATETIME() AS float)", wantErr: 529},
		{sql: "SELECT CAST('x' AS real)", wantErr: 8114},
		{sql: "SELECT CAST(SYSDATETIME() AS real)", wantErr: 529},
		{sql: "SELECT CAST(1e39 AS real)", wantErr: 232},
		{sql: "SELECT CAST(0.1e0 AS real)", want: float64(float32(0.1))},
	})
}

// The messages name the target type.
func TestCastMessages(t *testing.T) {
	s := funcFixture(t)
	for sql, want := range map[string]string{
		"SELECT CAST('x' AS real)":              "Error converting data type varchar to real.",
		"SELECT CAST('x' AS float)":             "Error converting data type varchar to float.",
		"SELECT CAST(SYSDATETIME() AS real)":    "Explicit conversion from data type datetime2 to real is not allowed.",
		"SELECT CAST('1752-12-31' AS datetime)": "The conversion of a varchar data type to a datetime data type resulted in an out-of-range value.",
	} {
		res, err := s.Exec(context.Background(), sql, nil)
		if err != nil {
			t.Fatal(err)
		}
		if e := firstErr(res); e == nil || e.Message != want {
			t.Errorf("%s: got %v, want %q", sql, e, want)
		}
	}
}

func TestCastToDate(t *testing.T) {
	noon := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	runFuncCases(t, []funcCase{
		// To a type without an offset, the clock time is kept and the
		// offset dropped.
		{sql: "SELECT CAST('2024-01-01 12:00:00 +05:00' AS datetime2)", want: noon},
		{sql: "SELECT CAST(CAST('2024-01-01 12:00:00 +05:00' AS datetimeoffset) AS datetime2)", want: noon},
		{sql: "SELECT CAST(CAST('2024-01-01 12:00' AS datetime2) AS datetimeoffset)", want: noon},
		{sql: "SELECT CAST('2024-01-01 12:00' AS datetimeoffset)", want: noon},
		{sql: "SELECT CAST('Jan 1 2024 12:00PM' AS datetimeoffset)", want: noon},
		{sql: "SELECT CAST('1752-12-31' AS datetime)", wantErr: 242},
		// Rounding to DATETIME's 1/300 s goes past 9999-12-31.
		{sql: "SELECT CAST('9999-12-31 23:59:59.999' AS datetime)", wantErr: 242},
		{sql: "SELECT CAST(1.5e0 AS datetime)", want: time.Date(1900, 1, 2, 12, 0, 0, 0, time.UTC)},
		{sql: "SELECT CAST(3000000 AS datetime)", wantErr: 8115},
		{sql: "SELECT CAST(1 AS date)", wantErr: 529},
		{sql: "SELECT CAST(0x01 AS date)", wantErr: 40517},
		{sql: "SELECT CAST(CAST(1 AS bit) AS datetime)", wantErr: 40517},
		{sql: "SELECT CAST('x' AS date)", wantErr: 241},
	})
}

// A duplicate key's message shows the value as SQL Server does.
func TestDuplicateKeyDisplay(t *testing.T) {
	s := funcFixture(t)
	for _, tt := range []struct{ typ, val, want string }{
		{"varbinary(10)", "0x0a0B", "(0x0A0B)"},
		{"bit", "1", "(1)"},
		{"bit", "0", "(0)"},
		{"datetime2(3)", "'2024-01-02 03:04:05'", "(2024-01-02 03:04:05.000)"},
		// A UNIQUE constraint admits one NULL.
		{"int NULL UNIQUE", "NULL", "(<NULL>)"},
	} {
		key := tt.typ
		if !strings.Contains(key, "UNIQUE") {
			key += " PRIMARY KEY"
		}
		sql := "CREATE TABLE dk (k " + key + "); INSERT INTO dk VALUES (" + tt.val + "); INSERT INTO dk VALUES (" + tt.val + ")"
		res, err := s.Exec(context.Background(), sql, nil)
		if err != nil {
			t.Fatal(err)
		}
		e := firstErr(res)
		if e == nil || e.Number != 2627 || !strings.Contains(e.Message, "The duplicate key value is "+tt.want+".") {
			t.Errorf("%s: got %v, want 2627 showing %s", tt.typ, e, tt.want)
		}
		mustExec(t, s, "DROP TABLE dk")
	}
}

// MIN, MAX and DISTINCT order and compare every kind of value.
func TestCompareKinds(t *testing.T) {
	runFuncCases(t, []funcCase{
		{sql: "SELECT MAX(f) FROM nums", want: 2.5},
		{sql: "SELECT MIN(f) FROM nums", want: 1.5},
		{sql: "SELECT COUNT(DISTINCT f) FROM nums", want: int64(2)},
		{sql: "SELECT MAX(CAST(i AS bit)) FROM nums", want: true},
		{sql: "SELECT MIN(CAST(i - 1 AS bit)) FROM nums", want: false},
		{sql: "SELECT COUNT(DISTINCT CAST(i AS bit)) FROM nums", want: int64(1)},
		{sql: "SELECT MAX(CAST(i AS varbinary(4))) FROM nums", want: []byte{0, 0, 0, 2}},
		{sql: "SELECT COUNT(DISTINCT CAST(i AS varbinary(4))) FROM nums", want: int64(2)},
		{sql: "SELECT COUNT(DISTINCT DATEADD(day, i, CAST('2024-01-01' AS date))) FROM nums", want: int64(2)},
	})
}

// precedence follows SQL Server's data type precedence, highest first.
func TestPrecedence(t *testing.T) {
	order := []TypeID{TypeDateTimeOffset, TypeDateTime2, TypeDateTime, TypeSmallDateTime, TypeDate, TypeFloat, TypeReal,
		TypeDecimal, TypeNumeric, TypeMoney, TypeSmallMoney, TypeBigInt, TypeInt, TypeSmallInt, TypeTinyInt, TypeBit, TypeNVarChar, TypeNChar, TypeVarChar,
		TypeChar, TypeVarBinary, TypeBinary, TypeNull}
	for i := 1; i < len(order); i++ {
		if precedence(order[i-1]) <= precedence(order[i]) {
			t.Errorf("%v does not take precedence over %v", Type{ID: order[i-1]}, Type{ID: order[i]})
		}
	}
}

func TestTypeNames(t *testing.T) {
	runFuncCases(t, []funcCase{
		{sql: "DECLARE @x int(4)", wantErr: 2716},
		{sql: "SELECT CAST(1 AS float(54))", wantErr: 2750},
		// FLOAT(1) to FLOAT(24) is REAL, FLOAT(25) to FLOAT(53) FLOAT.
		{sql: "SELECT CAST(0.1e0 AS float(24))", want: float64(float32(0.1))},
		{sql: "SELECT CAST(0.1e0 AS float(25))", want: 0.1},
		// CAST without a length is 30 characters long.
		{sql: "SELECT CAST(REPLICATE('a', 40) AS varchar)", want: strings.Repeat("a", 30)},
		{sql: "SELECT CAST('a' AS varchar(1, 2))", wantErr: 102},
		{sql: "SELECT CAST('a' AS varchar(0))", wantErr: 1001},
		{sql: "SELECT CAST('a' AS char(max))", wantErr: 102},
		{sql: "SELECT CAST('a' AS varchar(8001))", wantErr: 131},
		{sql: "SELECT CAST(N'a' AS nvarchar(4001))", wantErr: 131},
		{sql: "SELECT CAST(SYSDATETIME() AS datetime2(8))", wantErr: 1002},
		{sql: "SELECT CAST(SYSDATETIME() AS datetime2(1, 2))", wantErr: 102},
		{sql: "SELECT CAST(1 AS nosuchtype)", wantErr: 2715},
		{sql: "SELECT CAST(1 AS hierarchyid)", wantErr: 40517},
		{sql: "SELECT CAST(1 AS geometry)", wantErr: 40517},
	})
}

// Type names are spelled as sys.types spells them.
func TestTypeString(t *testing.T) {
	for _, tt := range []struct {
		typ  Type
		want string
	}{
		{Type{ID: TypeNull}, "null"}, {Type{ID: TypeBit}, "bit"}, {Type{ID: TypeTinyInt}, "tinyint"},
		{Type{ID: TypeSmallInt}, "smallint"}, {Type{ID: TypeInt}, "int"}, {Type{ID: TypeBigInt}, "bigint"},
		{Type{ID: TypeFloat}, "float"}, {Type{ID: TypeReal}, "real"}, {Type{ID: TypeChar, Length: 3}, "char(3)"},
		{Type{ID: TypeNVarChar, Length: MaxLength}, "nvarchar(max)"}, {Type{ID: TypeDate}, "date"},
		{Type{ID: TypeDateTime}, "datetime"}, {Type{ID: TypeDateTime2, Scale: 3}, "datetime2(3)"},
		{Type{ID: TypeDateTimeOffset, Scale: 7}, "datetimeoffset(7)"}, {Type{ID: TypeTable}, "table"},
		{Type{ID: TypeDecimal, Precision: 5, Scale: 2}, "decimal(5,2)"}, {Type{ID: TypeNumeric, Precision: 18}, "numeric(18,0)"},
		{Type{ID: TypeMoney}, "money"}, {Type{ID: TypeSmallMoney}, "smallmoney"}, {Type{ID: TypeSmallDateTime}, "smalldatetime"},
	} {
		if got := tt.typ.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

// typeFamily groups the types SQL Server compares without a
// CONVERT_IMPLICIT on the column.
func TestTypeFamily(t *testing.T) {
	same := [][2]TypeID{{TypeChar, TypeVarChar}, {TypeNChar, TypeNVarChar}, {TypeBinary, TypeVarBinary},
		{TypeTinyInt, TypeBigInt}, {TypeReal, TypeFloat}, {TypeDate, TypeDateTime2}}
	for _, p := range same {
		if typeFamily(p[0]) != typeFamily(p[1]) || typeFamily(p[0]) == 0 {
			t.Errorf("%v and %v: different families", Type{ID: p[0]}, Type{ID: p[1]})
		}
	}
	differ := [][2]TypeID{{TypeVarChar, TypeNVarChar}, {TypeInt, TypeFloat}, {TypeDateTime2, TypeDateTimeOffset}}
	for _, p := range differ {
		if typeFamily(p[0]) == typeFamily(p[1]) {
			t.Errorf("%v and %v: one family", Type{ID: p[0]}, Type{ID: p[1]})
		}
	}
	if typeFamily(TypeNull) != 0 {
		t.Errorf("NULL has a family")
	}
}
