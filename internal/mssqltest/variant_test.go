package mssqltest_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
)

// sql_variant through the driver: go-mssqldb decodes the SSVARIANTTYPE
// value by its base type token and properties, so each base type's
// encoding shows in the value it returns (the values are those its
// TestSelect expects from SQL Server).
func TestVariantThroughDriver(t *testing.T) {
	_, db := open(t, mssqltest.Options{})
	ctx := testCtx(t)
	guid := []byte{0x6F, 0x96, 0x19, 0xFF, 0x8B, 0x86, 0xD0, 0x11, 0xB4, 0x2D, 0x00, 0xC0, 0x4F, 0xC9, 0x64, 0xFF}
	tests := []struct {
		expr string
		want any
	}{
		{"cast(NULL as sql_variant)", nil},
		{"cast(cast(0x6F9619FF8B86D011B42D00C04FC964FF as uniqueidentifier) as sql_variant)", guid},
		{"cast(cast(1 as bit) as sql_variant)", true},
		{"cast(cast(10 as tinyint) as sql_variant)", int64(10)},
		{"cast(cast(-10 as smallint) as sql_variant)", int64(-10)},
		{"cast(cast(-20 as int) as sql_variant)", int64(-20)},
		{"cast(cast(-20 as bigint) as sql_variant)", int64(-20)},
		{"cast(cast('2000-01-01' as datetime) as sql_variant)", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"cast(cast('2000-01-01T12:13:00' as smalldatetime) as sql_variant)", time.Date(2000, 1, 1, 12, 13, 0, 0, time.UTC)},
		{"cast(cast(0.125 as real) as sql_variant)", float64(0.125)},
		{"cast(cast(0.125 as float) as sql_variant)", float64(0.125)},
		{"cast(cast(1.2345 as smallmoney) as sql_variant)", []byte("1.2345")},
		{"cast(cast(1.2345 as money) as sql_variant)", []byte("1.2345")},
		{"cast(cast(0x1234 as varbinary(2)) as sql_variant)", []byte{0x12, 0x34}},
		{"cast(cast(0x1234 as binary(2)) as sql_variant)", []byte{0x12, 0x34}},
		{"cast(cast(-0.5 as decimal(18,1)) as sql_variant)", []byte("-0.5")},
		{"cast(cast(-0.5 as numeric(18,1)) as sql_variant)", []byte("-0.5")},
		{"cast(cast('abc' as varchar(3)) as sql_variant)", "abc"},
		{"cast(cast('abc' as char(3)) as sql_variant)", "abc"},
		{"cast(N'abc' as sql_variant)", "abc"},
		{"cast(cast('2000-01-01' as date) as sql_variant)", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"cast(cast('00:00:45.123' as time(3)) as sql_variant)", time.Date(1, 1, 1, 0, 0, 45, 123000000, time.UTC)},
		{"cast(cast('2010-11-15T11:56:45.123' as datetime2(3)) as sql_variant)", time.Date(2010, 11, 15, 11, 56, 45, 123000000, time.UTC)},
		{"cast(cast('2010-11-15T11:56:45.123-14:00' as datetimeoffset(3)) as sql_variant)",
			time.Date(2010, 11, 15, 11, 56, 45, 123000000, time.FixedZone("", -14*60*60))},
		{"sql_variant_property(N'x', 'BaseType')", "nvarchar"},
		{"sql_variant_property(cast(1.5 as decimal(9,2)), 'Precision')", int64(9)},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			rows, err := db.QueryContext(ctx, "select "+tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			ct, err := rows.ColumnTypes()
			if err != nil {
				t.Fatal(err)
			}
			if got := ct[0].DatabaseTypeName(); got != "SQL_VARIANT" {
				t.Errorf("type %s, want SQL_VARIANT", got)
			}
			if got, want := ct[0].ScanType(), reflect.TypeOf((*any)(nil)).Elem(); got != want {
				t.Errorf("ScanType %v, want %v", got, want)
			}
			if !rows.Next() {
				t.Fatal("no row")
			}
			var got any
			if err := rows.Scan(&got); err != nil {
				t.Fatal(err)
			}
			if tm, ok := got.(time.Time); ok {
				want := tt.want.(time.Time)
				_, gotOff := tm.Zone()
				_, wantOff := want.Zone()
				if !tm.Equal(want) || gotOff != wantOff {
					t.Fatalf("got %v, want %v", tm, want)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}
