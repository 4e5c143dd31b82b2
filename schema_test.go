package mssqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/testdb"
)

// CreateSchema makes a schema the store flushes to with one MERGE, on an
// empty database and next to an existing table, whatever its collation,
// and is idempotent.
func TestCreateSchema(t *testing.T) {
	for _, tc := range []struct {
		name             string
		existing         bool // the table exists, with the database's default collation
		defaultCollation bool
	}{
		{"empty database", false, false},
		{"empty database, default collation", false, true},
		{"existing table", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := testdb.Open(t, testdb.Options{})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			opts := SchemaOptions{Table: db.Table, TableType: db.TableType, DefaultCollation: tc.defaultCollation}
			if !tc.existing {
				opts.Table, opts.TableType = db.Table+"_new", db.TableType+"_new"
				t.Cleanup(func() {
					db.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+opts.Table)
					db.ExecContext(context.Background(), "DROP TYPE IF EXISTS "+opts.TableType)
				})
			}
			for range 2 {
				if err := CreateSchema(ctx, db.DB, opts); err != nil {
					t.Fatalf("CreateSchema: %v", err)
				}
			}
			target := *db
			target.Table, target.TableType = opts.Table, opts.TableType
			h := newHarnessOn(t, &target, newFakeClock(), Config{})
			tok := newToken(t)
			h.commit(tok, "v1", h.later(time.Hour))
			h.flush()
			if got, _ := h.inDB(tok); got != "v1" {
				t.Fatalf("table holds %q, want v1", got)
			}
			h.checkMergePath()
			var collation string
			if err := db.QueryRowContext(ctx, "SELECT collation_name FROM sys.columns WHERE object_id = OBJECT_ID(@p1) AND name = N'token'", opts.Table).Scan(&collation); err != nil {
				t.Fatal(err)
			}
			// Babelfish stores Latin1_General_BIN2 as its own
			// bbf_unicode_bin2.
			bin := collation == "Latin1_General_BIN2" || db.Server == nil && collation == "bbf_unicode_bin2"
			if bin != (!tc.existing && !tc.defaultCollation) {
				t.Fatalf("token column collation %s", collation)
			}
		})
	}
}
