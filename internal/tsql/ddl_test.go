package tsql

import (
	"context"
	"testing"
)

// TestConstraintErrors: a PRIMARY KEY or UNIQUE constraint that cannot be
// created fails with the reason, then 1750, as SQL Server sends them; the
// object is not created.
func TestConstraintErrors(t *testing.T) {
	tests := []struct {
		name   string
		sql    string
		before int32  // the error sent before 1750
		create string // creates t: it succeeds only if the failed CREATE left nothing behind
	}{
		{"table type, key on a missing column", "CREATE TYPE t AS TABLE (id int, primary key (code))", 1911, "CREATE TYPE t AS TABLE (id int)"},
		{"table, key on a missing column", "CREATE TABLE t (id int, primary key (code))", 1911, "CREATE TABLE t (id int)"},
		{"table, unique on a missing column", "CREATE TABLE t (id int, UNIQUE (code))", 1911, "CREATE TABLE t (id int)"},
		{"table, key on a MAX column", "CREATE TABLE t (id varchar(max) PRIMARY KEY)", 1919, "CREATE TABLE t (id int)"},
		{"table, key on a nullable column", "CREATE TABLE t (id int NULL PRIMARY KEY)", 8111, "CREATE TABLE t (id int)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := owner(newTestDB(t))
			res, err := s.Exec(context.Background(), tt.sql+"\nSELECT 1", nil)
			if err != nil {
				t.Fatal(err)
			}
			e := firstErr(res)
			if e == nil || e.Number != 1750 || len(e.Preceding) != 1 || e.Preceding[0].Number != tt.before {
				t.Fatalf("error %+v, want %d then 1750", e, tt.before)
			}
			if e.Line != 1 || e.Preceding[0].Line != 1 {
				t.Errorf("lines %d, %d, want 1, 1", e.Preceding[0].Line, e.Line)
			}
			// Both errors abort the batch, and nothing named t exists.
			if len(res) != 1 {
				t.Errorf("%d results, want the batch to end at the error", len(res))
			}
			mustExec(t, s, tt.create)
		})
	}
}

// TestCreateIndexMissingColumn: CREATE INDEX on a missing column is 1911
// alone; no constraint is involved, so no 1750 follows.
func TestCreateIndexMissingColumn(t *testing.T) {
	s := owner(newTestDB(t))
	res, err := s.Exec(context.Background(), "CREATE INDEX ix ON sessions (code)", nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := firstErr(res); e == nil || e.Number != 1911 || len(e.Preceding) != 0 {
		t.Fatalf("error %+v, want 1911 alone", e)
	}
}
