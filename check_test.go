package mssqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore"
	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
	"github.com/scs-contrib/mssqlstore/internal/testdb"
	"github.com/scs-contrib/mssqlstore/internal/tsql"
)

func checkContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// A healthy schema passes, also with the database's case-insensitive
// default collation on both token columns (a warning, not a failure: the
// store guards its reads).
func TestCheckSchemaHealthy(t *testing.T) {
	d := testdb.Open(t, testdb.Options{WithType: true})
	if err := mssqlstore.CheckSchema(checkContext(t), d.DB, mssqlstore.Config{Table: d.Table, TableType: d.TableType}); err != nil {
		t.Fatalf("CheckSchema: %v", err)
	}
}

// Every fatal problem comes back in one *SchemaError, each with its fix,
// the fatal ones first, the others after them.
func TestCheckSchemaProblems(t *testing.T) {
	const pw = "App-Passw0rd"
	tests := []struct {
		name   string
		bare   bool
		setup  []string
		grants map[string]tsql.Permission // when set, check as the user "app"
		want   []string                   // the problems, as SchemaProblem.String, in order
	}{
		{
			// Reads work, from the cache and the pending writes, while
			// every flush would fail: the check says which permissions
			// are missing, and to whom to grant them.
			name:   "user with only SELECT",
			grants: map[string]tsql.Permission{"dbo.sessions": tsql.PermSelect},
			want: []string{
				"error: database user [app] lacks INSERT, UPDATE, DELETE on table [dbo].[sessions]; fix: GRANT INSERT, UPDATE, DELETE ON [dbo].[sessions] TO [app]",
				"warning: token collation SQL_Latin1_General_CP1_CI_AS compares case-insensitively",
				"warning: table type [dbo].[sessions_batch] not found, or database user [app] holds no permission on it",
			},
		},
		{
			name: "no table",
			bare: true,
			want: []string{
				"error: table [dbo].[sessions] not found; fix: run `mssqlstore init`",
				"warning: table type [dbo].[sessions_batch] not found",
			},
		},
		{
			name: "wrong column, no expiry index",
			bare: true,
			setup: []string{
				"CREATE TABLE sessions (token CHAR(43) COLLATE Latin1_General_BIN2 NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME NOT NULL)",
			},
			want: []string{
				"error: table [dbo].[sessions] column expiry is DATETIME NOT NULL, want DATETIME2(6) NOT NULL; fix: ALTER TABLE [dbo].[sessions] ALTER COLUMN [expiry] DATETIME2(6) NOT NULL",
				"error: table [dbo].[sessions] has no index leading with expiry",
				"warning: table type [dbo].[sessions_batch] not found",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := mssqltest.Start(t, mssqltest.Options{Bare: tt.bare})
			ctx := checkContext(t)
			for _, s := range tt.setup {
				if err := srv.Exec(ctx, s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			dsn := srv.DSN()
			if tt.grants != nil {
				srv.AddLogin("app", pw, tt.grants)
				dsn = srv.DSNFor("app", pw)
			}
			db, err := sql.Open("sqlserver", dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			err = mssqlstore.CheckSchema(ctx, db, mssqlstore.Config{})
			var se *mssqlstore.SchemaError
			if !errors.As(err, &se) {
				t.Fatalf("CheckSchema: %v, want a *SchemaError", err)
			}
			if len(se.Problems) != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%v", len(se.Problems), len(tt.want), err)
			}
			for i, want := range tt.want {
				if i < len(se.Problems) && !strings.HasPrefix(se.Problems[i].String(), want) {
					t.Errorf("problem %d:\n%s\nwant it to begin\n%s", i+1, se.Problems[i], want)
				}
			}
			for _, p := range se.Problems {
				if p.Fix == "" {
					t.Errorf("problem without a fix: %s", p)
				}
			}
			if first, _, _ := strings.Cut(err.Error(), "\n"); !strings.HasPrefix(first, "mssqlstore: schema check: ") {
				t.Errorf("error begins %q", first)
			}
		})
	}
}

// A name the store would refuse is an error, not a SchemaError.
func TestCheckSchemaBadName(t *testing.T) {
	d := testdb.Open(t, testdb.Options{})
	err := mssqlstore.CheckSchema(checkContext(t), d.DB, mssqlstore.Config{Table: "a]b"})
	var se *mssqlstore.SchemaError
	if err == nil || errors.As(err, &se) || !strings.Contains(err.Error(), "invalid object name") {
		t.Errorf("CheckSchema with a bad name: %v", err)
	}
}
