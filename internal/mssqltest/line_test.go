package mssqltest_test

import (
	"errors"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
)

// TestErrorLineNumber: the ERROR token carries the line SQL Server
// reports, as the driver sees it in mssql.Error.LineNo: for a syntax
// error the line of the offending token, for an error at execution the
// line its statement starts on within the batch.
func TestErrorLineNumber(t *testing.T) {
	_, db := open(t, mssqltest.Options{})
	ctx := testCtx(t)
	tests := []struct {
		name     string
		sql      string
		wantNum  int32
		wantLine int32
	}{
		{"syntax error on line 3", "SELECT 1;\nSELECT 2;\nSELECT FROM WHERE;", 156, 3},
		{"duplicate key on line 4", "INSERT INTO dbo.sessions VALUES (REPLICATE('l', 43), 0x01, '2030-01-01');\n\n\nINSERT INTO dbo.sessions VALUES (REPLICATE('l', 43), 0x02, '2030-01-01');", 2627, 4},
		{"divide by zero on line 4", "DECLARE @d INT = 0;\nSELECT 1;\n\nSELECT 1 / @d;", 8134, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := db.ExecContext(ctx, tt.sql)
			var e mssql.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v, want an mssql.Error", err)
			}
			if e.Number != tt.wantNum || e.LineNo != tt.wantLine {
				t.Errorf("error %d on line %d (%s), want %d on line %d", e.Number, e.LineNo, e.Message, tt.wantNum, tt.wantLine)
			}
		})
	}
}
