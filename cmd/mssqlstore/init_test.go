package main

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore"
	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
)

// scsCollation is the test server's default collation, SQL Server's usual
// one: the collation SCS's own DDL gives the token column.
const scsCollation = "SQL_Latin1_General_CP1_CI_AS"

// TestMigrationFromSCS moves a database from SCS's own store: a table
// made by SCS's DDL (the test server's default schema: no COLLATE, so the
// database's case-insensitive default), then init -dry-run, init, check
// and init again, then the store, whose flushes must take the MERGE path.
func TestMigrationFromSCS(t *testing.T) {
	srv := mssqltest.Start(t, mssqltest.Options{}) // SCS's table and index, no type
	ctx := testContext(t)
	env := map[string]string{"MSSQL_DSN": srv.DSN()}

	// The DDL init would run: only the type, with the table's collation.
	code, stdout, stderr := invoke(t, ctx, env, "init", "-dry-run")
	if code != exitOK || stderr != "" {
		t.Fatalf("init -dry-run: exit status %d, stderr %q", code, stderr)
	}
	for _, want := range []string{
		"-- found: table [dbo].[sessions], token collation " + scsCollation + "\n",
		"-- found: index [sessions_expiry_idx] on [dbo].[sessions]\n",
		"CREATE TYPE [dbo].[sessions_batch] AS TABLE (token CHAR(43) COLLATE " + scsCollation + " NOT NULL",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("init -dry-run lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "CREATE TABLE") || strings.Contains(stdout, "Latin1_General_BIN2") {
		t.Errorf("init -dry-run would create the table, or a binary type next to a case-insensitive table:\n%s", stdout)
	}

	// init creates the type with the table's collation and says so.
	code, stdout, stderr = invoke(t, ctx, env, "init")
	if code != exitOK || stderr != "" {
		t.Fatalf("init: exit status %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if want := "created: table type [dbo].[sessions_batch], token collation " + scsCollation + ", the table's"; !strings.Contains(stdout, want) {
		t.Errorf("init does not say it gave the type the table's collation (%q):\n%s", want, stdout)
	}

	// check agrees with what init made: no advice to drop the type,
	// which init would make again the same (the loop this ends).
	code, stdout, stderr = invoke(t, ctx, env, "check")
	if code != exitOK || stderr != "" {
		t.Fatalf("check: exit status %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if want := "ok: table type [dbo].[sessions_batch] has the table's token collation " + scsCollation; !strings.Contains(stdout, want) {
		t.Errorf("check lacks %q:\n%s", want, stdout)
	}
	for _, line := range strings.Split(stdout, "\n") {
		if strings.Contains(line, "DROP TYPE") && !strings.Contains(line, "recreate the table") {
			t.Errorf("check advises dropping the type that init just made:\n%s", line)
		}
	}

	code, stdout, _ = invoke(t, ctx, env, "init")
	if code != exitOK || !strings.Contains(stdout, "found: table type [dbo].[sessions_batch]") {
		t.Errorf("init again: exit status %d:\n%s", code, stdout)
	}

	// The store's flushes take the MERGE of the table-valued parameter,
	// and report nothing.
	db := openDB(t, srv)
	var mu sync.Mutex
	var reported []error
	store, err := mssqlstore.NewWithConfig(db, mssqlstore.Config{
		CleanupInterval: -1,
		ErrorHandler: func(err error) {
			mu.Lock()
			reported = append(reported, err)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.ResetCounters()
	token := strings.Repeat("A", 43)
	if err := store.CommitCtx(ctx, token, []byte("v1"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	store.StopCleanup() // flushes
	if n := count(t, db, "WHERE token = @p1", token); n != 1 {
		t.Fatalf("%d rows for the token after the flush, want 1", n)
	}
	if st := srv.Counters().Statements; st["MERGE"] == 0 {
		t.Errorf("the flush did not MERGE; statements: %v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) > 0 {
		t.Errorf("the store reported %v", reported)
	}
}

// TestInitDryRunAgainstDatabase: with a DSN, init -dry-run prints what
// init would run against that database and nothing else, and changes
// nothing; the two token columns always get one collation.
func TestInitDryRunAgainstDatabase(t *testing.T) {
	tests := []struct {
		name  string
		bare  bool
		setup []string
		args  []string
		want  []string
		not   []string
	}{
		{
			name: "empty database",
			bare: true,
			want: []string{
				"-- to create: table [dbo].[sessions], token collation Latin1_General_BIN2\n",
				"CREATE TABLE [dbo].[sessions] (token CHAR(43) COLLATE Latin1_General_BIN2 NOT NULL",
				"CREATE INDEX [sessions_expiry_idx]",
				"CREATE TYPE [dbo].[sessions_batch] AS TABLE (token CHAR(43) COLLATE Latin1_General_BIN2 NOT NULL",
			},
		},
		{
			name: "empty database, default collation",
			bare: true,
			args: []string{"-collation", "default"},
			want: []string{
				"CREATE TABLE [dbo].[sessions] (token CHAR(43) NOT NULL",
				"CREATE TYPE [dbo].[sessions_batch] AS TABLE (token CHAR(43) NOT NULL",
			},
			not: []string{"COLLATE"},
		},
		{
			name: "binary table without its index",
			bare: true,
			setup: []string{
				"CREATE TABLE sessions (token CHAR(43) COLLATE Latin1_General_BIN2 NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL)",
			},
			// An existing table keeps its collation, whatever -collation says.
			args: []string{"-collation", "default"},
			want: []string{
				"-- found: table [dbo].[sessions], token collation Latin1_General_BIN2\n",
				"CREATE INDEX [sessions_expiry_idx]",
				"CREATE TYPE [dbo].[sessions_batch] AS TABLE (token CHAR(43) COLLATE Latin1_General_BIN2 NOT NULL",
			},
			not: []string{"CREATE TABLE"},
		},
		{
			name: "everything in place",
			setup: []string{
				"CREATE TYPE dbo.sessions_batch AS TABLE (token CHAR(43) NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL)",
			},
			want: []string{"-- found: table type [dbo].[sessions_batch]\n"},
			not:  []string{"CREATE", "GO"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := mssqltest.Start(t, mssqltest.Options{Bare: tt.bare})
			ctx := testContext(t)
			for _, s := range tt.setup {
				if err := srv.Exec(ctx, s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			code, stdout, stderr := invoke(t, ctx, nil, append([]string{"init", "-dry-run", "-dsn", srv.DSN()}, tt.args...)...)
			if code != exitOK || stderr != "" {
				t.Fatalf("exit status %d, stderr %q", code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(stdout, w) {
					t.Errorf("stdout holds %q:\n%s", w, stdout)
				}
			}
			// A dry run changes nothing.
			var typ any
			if err := openDB(t, srv).QueryRowContext(ctx, "SELECT TYPE_ID(N'dbo.sessions_batch')").Scan(&typ); err != nil {
				t.Fatal(err)
			}
			if (typ != nil) != (len(tt.setup) > 0 && strings.HasPrefix(tt.setup[0], "CREATE TYPE")) {
				t.Errorf("TYPE_ID after the dry run: %v", typ)
			}
		})
	}
}

// TestInitWrongColumns: init on a table whose columns are not the store's
// does not say all is well: it reports what it created and what it
// found, and fails where check fails.
func TestInitWrongColumns(t *testing.T) {
	srv := mssqltest.Start(t, mssqltest.Options{Bare: true})
	ctx := testContext(t)
	if err := srv.Exec(ctx, "CREATE TABLE sessions (token NVARCHAR(64) NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"MSSQL_DSN": srv.DSN()}
	code, stdout, stderr := invoke(t, ctx, env, "init")
	if code != exitFailed {
		t.Errorf("exit status %d, want %d", code, exitFailed)
	}
	for _, want := range []string{
		"found: table [dbo].[sessions], token collation " + scsCollation + "\n",
		"created: index [sessions_expiry_idx] on [dbo].[sessions]\n",
		"created: table type [dbo].[sessions_batch], token collation " + scsCollation,
		"error: table [dbo].[sessions] column token is NVARCHAR(64) NOT NULL, want CHAR(43) NOT NULL",
		"error: table [dbo].[sessions] column expiry is DATETIME NOT NULL, want DATETIME2(6) NOT NULL",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if want := "mssqlstore init: 2 problem(s) the store cannot work with (the lines beginning \"error:\")\n"; stderr != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
	// check fails the same way.
	if code, _, _ := invoke(t, ctx, env, "check"); code != exitFailed {
		t.Errorf("check: exit status %d, want %d", code, exitFailed)
	}
}

// TestCheckAsApplicationUser: the fixes name the DSN's database user, and
// an init by the owner reminds the DBA of the application user's grants
// with a placeholder, never a grant to dbo (SQL Server error 4617).
func TestCheckAsApplicationUser(t *testing.T) {
	srv := mssqltest.Start(t, mssqltest.Options{})
	srv.AddLogin("app", "App-Passw0rd", nil)
	ctx := testContext(t)
	_, stdout, _ := invoke(t, ctx, nil, "init", "-dsn", srv.DSN())
	if want := "GRANT SELECT, INSERT, UPDATE, DELETE ON [dbo].[sessions] TO <app_user> and GRANT EXECUTE ON TYPE::[dbo].[sessions_batch] TO <app_user>"; !strings.Contains(stdout, want) {
		t.Errorf("init as the owner lacks %q:\n%s", want, stdout)
	}
	if strings.Contains(stdout, "TO [dbo]") {
		t.Errorf("init suggests a grant to dbo:\n%s", stdout)
	}
	code, stdout, _ := invoke(t, ctx, nil, "check", "-dsn", srv.DSNFor("app", "App-Passw0rd"))
	if code != exitFailed {
		t.Errorf("check as a user without grants: exit status %d, want %d", code, exitFailed)
	}
	if want := "error: table [dbo].[sessions] not found, or database user [app] holds no permission on it; fix: run `mssqlstore init` as a database user allowed to create it, or, if it exists: GRANT SELECT, INSERT, UPDATE, DELETE ON [dbo].[sessions] TO [app]"; !strings.Contains(stdout, want) {
		t.Errorf("check as app lacks %q:\n%s", want, stdout)
	}
}
