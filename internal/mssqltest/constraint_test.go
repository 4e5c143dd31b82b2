package mssqltest_test

import (
	"errors"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
)

// TestConstraintErrorsReachTheDriver: a PRIMARY KEY on a column the table
// (or table type) does not have makes SQL Server send 1911, then 1750;
// the driver returns the last and keeps both in All, in order.
func TestConstraintErrorsReachTheDriver(t *testing.T) {
	_, db := open(t, mssqltest.Options{})
	ctx := testCtx(t)
	for _, sql := range []string{
		"CREATE TYPE t AS TABLE (id int, primary key (code))",
		"CREATE TABLE t (id int, primary key (code))",
	} {
		t.Run(sql, func(t *testing.T) {
			_, err := db.ExecContext(ctx, sql)
			var e mssql.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v, want an mssql.Error", err)
			}
			var got []int32
			for _, a := range e.All {
				got = append(got, a.Number)
			}
			if e.Number != 1750 || len(got) != 2 || got[0] != 1911 || got[1] != 1750 {
				t.Fatalf("error %d, all %v, want 1750 with all [1911 1750]", e.Number, got)
			}
			if want := "Column name 'code' does not exist in the target table or view."; e.All[0].Message != want {
				t.Errorf("first message %q, want %q", e.All[0].Message, want)
			}
			if want := "Could not create constraint or index. See previous errors."; e.Message != want {
				t.Errorf("message %q, want %q", e.Message, want)
			}
		})
	}
}
