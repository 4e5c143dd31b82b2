package mssqltest_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
)

// DECIMAL, NUMERIC, MONEY, SMALLMONEY and SMALLDATETIME through the
// driver: the metadata go-mssqldb reports for them (as its
// TestColumnTypeIntrospection expects from SQL Server) and the values it
// decodes.
func TestExactTypesThroughDriver(t *testing.T) {
	_, db := open(t, mssqltest.Options{})
	ctx := testCtx(t)
	bytesType, timeType := reflect.TypeOf([]byte{}), reflect.TypeOf(time.Time{})
	tests := []struct {
		expr      string
		typeName  string
		prec      int64
		scale     int64
		hasPrec   bool
		scan      reflect.Type
		wantValue string
	}{
		{"cast(1 as decimal)", "DECIMAL", 18, 0, true, bytesType, "1"},
		{"cast(-1.5 as decimal(5, 2))", "DECIMAL", 5, 2, true, bytesType, "-1.50"},
		{"cast(12345678901234567890.123456 as numeric(38, 6))", "DECIMAL", 38, 6, true, bytesType, "12345678901234567890.123456"},
		{"1.5", "DECIMAL", 2, 1, true, bytesType, "1.5"},
		{"cast(-1234.56789 as money)", "MONEY", 0, 0, false, bytesType, "-1234.5679"},
		{"cast(1 as smallmoney)", "SMALLMONEY", 0, 0, false, bytesType, "1.0000"},
		{"cast('2024-05-06 07:08:30' as smalldatetime)", "SMALLDATETIME", 0, 0, false, timeType, "2024-05-06T07:09:00Z"},
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
			if got := ct[0].DatabaseTypeName(); got != tt.typeName {
				t.Errorf("type %s, want %s", got, tt.typeName)
			}
			p, s, ok := ct[0].DecimalSize()
			if ok != tt.hasPrec || ok && (p != tt.prec || s != tt.scale) {
				t.Errorf("DecimalSize %d, %d, %v; want %d, %d, %v", p, s, ok, tt.prec, tt.scale, tt.hasPrec)
			}
			if _, ok := ct[0].Length(); ok {
				t.Errorf("has a length")
			}
			if got := ct[0].ScanType(); got != tt.scan {
				t.Errorf("ScanType %v, want %v", got, tt.scan)
			}
			if !rows.Next() {
				t.Fatalf("no row: %v", rows.Err())
			}
			var v any
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			var got string
			switch x := v.(type) {
			case []byte:
				got = string(x)
			case time.Time:
				got = x.Format(time.RFC3339Nano)
			}
			if got != tt.wantValue {
				t.Errorf("value %q, want %q", got, tt.wantValue)
			}
		})
	}
}

// TEXT, NTEXT, IMAGE and XML through the driver: the metadata
// go-mssqldb's TestColumnTypeIntrospection expects and the values, NULL
// included.
func TestLOBTypesThroughDriver(t *testing.T) {
	_, db := open(t, mssqltest.Options{})
	ctx := testCtx(t)
	tests := []struct {
		expr     string
		typeName string
		length   int64
		scan     reflect.Type
		want     any
	}{
		{"cast('abc' as text)", "TEXT", 2147483647, reflect.TypeOf(""), "abc"},
		{"cast(N'wörld' as ntext)", "NTEXT", 1073741823, reflect.TypeOf(""), "wörld"},
		{"cast(0x1234 as image)", "IMAGE", 2147483647, reflect.TypeOf([]byte{}), []byte{0x12, 0x34}},
		{"cast(null as text)", "TEXT", 2147483647, reflect.TypeOf(""), nil},
		{"cast('<root> <a x=''1''></a> </root>' as xml)", "XML", 1073741822, reflect.TypeOf(""), `<root><a x="1"/></root>`},
		{"cast(null as xml)", "XML", 1073741822, reflect.TypeOf(""), nil},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			rows, err := db.QueryContext(ctx, "select "+tt.expr+", 7")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			ct, err := rows.ColumnTypes()
			if err != nil {
				t.Fatal(err)
			}
			if got := ct[0].DatabaseTypeName(); got != tt.typeName {
				t.Errorf("type %s, want %s", got, tt.typeName)
			}
			if l, ok := ct[0].Length(); !ok || l != tt.length {
				t.Errorf("Length %d, %v; want %d, true", l, ok, tt.length)
			}
			if got := ct[0].ScanType(); got != tt.scan {
				t.Errorf("ScanType %v, want %v", got, tt.scan)
			}
			if !rows.Next() {
				t.Fatalf("no row: %v", rows.Err())
			}
			var v any
			var after int
			if err := rows.Scan(&v, &after); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(v, tt.want) || after != 7 {
				t.Errorf("got %#v and %d, want %#v and 7", v, after, tt.want)
			}
		})
	}
}
