package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-sql/civil"
	_ "github.com/microsoft/go-mssqldb"
	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
	"github.com/scs-contrib/mssqlstore/internal/tsql"
)

// invoke runs the command in-process and returns its exit status and
// output.
func invoke(t *testing.T, ctx context.Context, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(ctx, args, func(k string) string { return env[k] }, &out, &errOut)
	return code, out.String(), errOut.String()
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// closedPort returns an address on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentServer returns the address of a server that accepts connections
// and never says a word, as a firewall that drops packets would look.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// assertOneLine checks that stderr holds exactly one line and nothing a
// panic would print.
func assertOneLine(t *testing.T, stderr string) {
	t.Helper()
	if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("stderr is not one line: %q", stderr)
	}
	for _, bad := range []string{"panic", "goroutine ", ".go:"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("stderr holds %q: %q", bad, stderr)
		}
	}
}

func TestBadInput(t *testing.T) {
	srv := mssqltest.Start(t, mssqltest.Options{})
	ctx := testContext(t)
	unreachable := "sqlserver://sa:pw@" + closedPort(t) + "?database=x&encrypt=disable"
	silent := "sqlserver://sa:pw@" + silentServer(t) + "?database=x&encrypt=disable"
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string // in the first line of stderr
		// code is the exit status: exitUsage for bad input; exitFailed
		// when the input is fine but the server cannot be reached or
		// refuses the login, as sqlcmd has it.
		code int
		// usage: the command's usage follows the error line on stderr.
		usage bool
	}{
		{"unknown command", nil, []string{"frob"}, `unknown command "frob"`, exitUsage, false},
		{"bad flag", nil, []string{"check", "-frob"}, "flag provided but not defined: -frob", exitUsage, true},
		// `init -dry-run -tabel x > schema.sql` must leave schema.sql empty.
		{"typo in dry-run", nil, []string{"init", "-dry-run", "-tabel", "x"}, "mssqlstore init: flag provided but not defined: -tabel", exitUsage, true},
		{"bad flag value", nil, []string{"purge", "-batch", "many"}, `invalid value "many" for flag -batch`, exitUsage, true},
		{"stray argument", nil, []string{"stats", "-dsn", srv.DSN(), "extra"}, `unexpected argument "extra"`, exitUsage, true},
		{"no DSN", nil, []string{"check"}, "no DSN: pass -dsn or set MSSQL_DSN", exitUsage, false},
		{"malformed URL DSN", nil, []string{"check", "-dsn", "sqlserver://sa:secret@%zz"}, "malformed DSN", exitUsage, false},
		{"not a DSN", nil, []string{"stats", "-dsn", "foo"}, "malformed DSN", exitUsage, false},
		{"other scheme", map[string]string{"MSSQL_DSN": "mysql://db"}, []string{"stats"}, "malformed DSN", exitUsage, false},
		{"bad DSN option", nil, []string{"purge", "-dsn", "sqlserver://sa:secret@127.0.0.1?encrypt=maybe"}, "malformed DSN: invalid encrypt", exitUsage, false},
		{"unreachable", nil, []string{"check", "-dsn", unreachable, "-timeout", "5s"}, "cannot reach the server", exitFailed, false},
		// With a DSN, a dry run reads the database: it never falls back to
		// the DDL for an empty one, which could be wrong for this one.
		{"dry run, unreachable", map[string]string{"MSSQL_DSN": unreachable}, []string{"init", "-dry-run", "-timeout", "5s"}, "cannot reach the server", exitFailed, false},
		{"server never answers", nil, []string{"stats", "-dsn", silent, "-timeout", "1s"}, "cannot reach the server within 1s", exitFailed, false},
		{"wrong password", nil, []string{"check", "-dsn", srv.DSNFor("sa", "wrong")}, "login failed (SQL Server error 18456)", exitFailed, false},
		{"wrong password from env", map[string]string{"MSSQL_DSN": srv.DSNFor("sa", "wrong")}, []string{"stats"}, "login failed (SQL Server error 18456)", exitFailed, false},
		{"bracket in table", nil, []string{"check", "-dsn", srv.DSN(), "-table", "dbo.a]b"}, "-table: invalid object name", exitUsage, false},
		{"bracket in type", nil, []string{"init", "-dry-run", "-type", "x]"}, "-type: invalid object name", exitUsage, false},
		{"unterminated bracket", nil, []string{"purge", "-table", "[dbo.sessions"}, "unterminated [", exitUsage, false},
		{"three-part table", nil, []string{"stats", "-table", "db.dbo.sessions"}, "want name or schema.name", exitUsage, false},
		{"batch too large", nil, []string{"purge", "-dsn", srv.DSN(), "-batch", "5000"}, "-batch 5000: want 1 to 4000", exitUsage, false},
		{"batch zero", nil, []string{"purge", "-dsn", srv.DSN(), "-batch", "0"}, "-batch 0: want 1 to 4000", exitUsage, false},
		{"bad collation", nil, []string{"init", "-collation", "ci"}, `-collation "ci": want bin2 or default`, exitUsage, false},
		{"bad timeout", nil, []string{"check", "-timeout", "0s"}, "-timeout 0s: want a positive duration", exitUsage, false},
		// SQL Server refuses a grant to dbo (error 4617): refused before
		// connecting, with or without -dry-run, however it is spelled.
		{"grant to dbo", nil, []string{"init", "-dsn", srv.DSN(), "-grant", "dbo"}, "mssqlstore init: -grant dbo: SQL Server refuses a grant to dbo, sys or INFORMATION_SCHEMA (error 4617), and dbo holds every permission already: name the application's database user", exitUsage, false},
		{"grant to [DBO], dry run", nil, []string{"init", "-dry-run", "-grant", "[DBO]"}, "-grant [DBO]: SQL Server refuses a grant to dbo", exitUsage, false},
		{"grant to sys", nil, []string{"init", "-dry-run", "-grant", "sys"}, "-grant sys: SQL Server refuses a grant to dbo", exitUsage, false},
		{"grant to nobody", nil, []string{"init", "-dry-run", "-grant", "[]"}, "-grant: invalid database user name: empty", exitUsage, false},
		{"grantee with a bare bracket", nil, []string{"init", "-dry-run", "-grant", "[a]b]"}, "-grant: invalid database user name \"[a]b]\": a ] inside brackets must be doubled", exitUsage, false},
		{"user too long", nil, []string{"check", "-dsn", srv.DSN(), "-user", strings.Repeat("u", 129)}, "-user: invalid database user name", exitUsage, false},
		{"user with a control character", nil, []string{"check", "-dsn", srv.DSN(), "-user", "a\x00b"}, "-user: invalid database user name", exitUsage, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := invoke(t, ctx, tt.env, tt.args...)
			want := tt.code
			if want == 0 {
				want = exitUsage
			}
			if code != want {
				t.Errorf("exit status %d, want %d; stdout %q, stderr %q", code, want, stdout, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing: a usage or an error there would end up in a redirected file", stdout)
			}
			first, rest, _ := strings.Cut(stderr, "\n")
			if !strings.Contains(first, tt.want) {
				t.Errorf("stderr %q, want its first line to contain %q", stderr, tt.want)
			}
			if strings.Contains(stderr, "secret") {
				t.Errorf("stderr repeats the password: %q", stderr)
			}
			if tt.usage {
				if cmd := tt.args[0]; !strings.HasPrefix(rest, "usage: mssqlstore "+cmd+" [flags]\n") || !strings.Contains(rest, "  -dsn string") {
					t.Errorf("stderr after the error line is not the usage of %s: %q", cmd, rest)
				}
				return
			}
			assertOneLine(t, stderr)
		})
	}
}

func TestUsage(t *testing.T) {
	ctx := testContext(t)
	tests := []struct {
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{nil, exitUsage, "", "mssqlstore: no command: want init, check, purge or stats (mssqlstore -h for help)\n"},
		{[]string{"-h"}, exitOK, "usage: mssqlstore <command>", ""},
		{[]string{"init", "-h"}, exitOK, "-collation", ""},
		{[]string{"init", "-h"}, exitOK, "CHAR compares case-insensitively", ""},
		{[]string{"purge", "-h"}, exitOK, "-batch", ""},
		{[]string{"check", "-help"}, exitOK, "-type", ""},
		{[]string{"check", "-h"}, exitOK, "-user string", ""},
		{[]string{"init", "-h"}, exitOK, "-grant string", ""},
		{[]string{"-h"}, exitOK, "-grant dbo", ""},
		{[]string{"-h"}, exitOK, "Exit status: 0 success; 1 a problem found", ""},
		{[]string{"-version"}, exitOK, "mssqlstore ", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := invoke(t, ctx, nil, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit status %d, want %d", code, tt.wantCode)
			}
			if !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("stdout %q, want it to contain %q", stdout, tt.wantStdout)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tt.wantStderr)
			}
		})
	}
}

func TestInitDryRun(t *testing.T) {
	ctx := testContext(t)
	tests := []struct {
		args     []string
		want     []string
		wantNot  string
		firstDDL string // in the CREATE TABLE statement
	}{
		{
			args:     []string{"init", "-dry-run"},
			want:     []string{"CREATE TABLE [dbo].[sessions]", "CREATE INDEX [sessions_expiry_idx] ON [dbo].[sessions] (expiry)", "CREATE TYPE [dbo].[sessions_batch] AS TABLE", "GO"},
			firstDDL: "token CHAR(43) COLLATE Latin1_General_BIN2 NOT NULL",
		},
		{
			args:     []string{"init", "-dry-run", "-collation", "default", "-table", "app.[web sessions]", "-type", "app.batch"},
			want:     []string{"CREATE TABLE [app].[web sessions]", "CREATE TYPE [app].[batch]"},
			firstDDL: "token CHAR(43) NOT NULL",
		},
		{
			// A name with ';' is quoted, never run as a second statement.
			args: []string{"init", "-dry-run", "-table", "dbo.x;DROP TABLE y"},
			want: []string{"CREATE TABLE [dbo].[x;DROP TABLE y]", "OBJECT_ID(N'[dbo].[x;DROP TABLE y]', N'U')"},
		},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := invoke(t, ctx, nil, tt.args...)
			if code != exitOK || stderr != "" {
				t.Fatalf("exit status %d, stderr %q", code, stderr)
			}
			// Without a DSN it cannot know the table: it says for which
			// database its DDL is.
			if !strings.HasPrefix(stdout, "-- The DDL for a database without the table ") {
				t.Errorf("stdout does not say the DDL is for a database without the table:\n%s", stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			first, _, _ := strings.Cut(stdout, "GO")
			if !strings.Contains(first, tt.firstDDL) {
				t.Errorf("CREATE TABLE lacks %q:\n%s", tt.firstDDL, first)
			}
		})
	}
}

// openDB opens a database/sql handle on the test server as its owner.
func openDB(t *testing.T, srv *mssqltest.Server) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlserver", srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(testContext(t), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// seed inserts n sessions expiring at expiry, with tokens numbered from
// first (43 digits: a valid token).
func seed(t *testing.T, db *sql.DB, first, n int, expiry time.Time) {
	t.Helper()
	for n > 0 {
		chunk := min(n, 500)
		var b strings.Builder
		b.WriteString("INSERT INTO sessions (token, data, expiry) VALUES ")
		for i := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "('%043d', 0x0102, @p1)", first+i)
		}
		mustExec(t, db, b.String(), civil.DateTimeOf(expiry.UTC()))
		first += chunk
		n -= chunk
	}
}

func count(t *testing.T, db *sql.DB, where string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRowContext(testContext(t), "SELECT COUNT_BIG(*) FROM sessions "+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestInitThenCheck(t *testing.T) {
	srv := mssqltest.Start(t, mssqltest.Options{Bare: true})
	ctx := testContext(t)
	env := map[string]string{"MSSQL_DSN": srv.DSN()}

	code, stdout, stderr := invoke(t, ctx, env, "check")
	if code != exitFailed || !strings.Contains(stdout, "error: table [dbo].[sessions] not found") {
		t.Fatalf("check before init: exit status %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for i, verb := range []string{"created", "found"} { // idempotent
		code, stdout, stderr = invoke(t, ctx, env, "init")
		if code != exitOK || stderr != "" {
			t.Fatalf("init #%d: exit status %d, stdout %q, stderr %q", i+1, code, stdout, stderr)
		}
		lines := strings.Split(stdout, "\n")
		for j, want := range []string{
			verb + ": table [dbo].[sessions], token collation Latin1_General_BIN2",
			verb + ": index [sessions_expiry_idx] on [dbo].[sessions]",
			verb + ": table type [dbo].[sessions_batch]",
		} {
			if j >= len(lines) || !strings.HasPrefix(lines[j], want) {
				t.Errorf("init #%d: line %d is not %q:\n%s", i+1, j+1, want, stdout)
			}
		}
		if !strings.Contains(stdout, "ok: primary key on token") {
			t.Errorf("init #%d does not check what it made:\n%s", i+1, stdout)
		}
	}
	code, stdout, stderr = invoke(t, ctx, env, "check")
	if code != exitOK || stderr != "" {
		t.Fatalf("check after init: exit status %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if !strings.HasPrefix(line, "ok: ") {
			t.Errorf("check after init: %q is not ok", line)
		}
	}
	for _, want := range []string{
		"ok: table [dbo].[sessions] exists",
		"ok: primary key on token",
		"ok: index [sessions_expiry_idx] leads with expiry",
		"ok: token collation Latin1_General_BIN2 is binary",
		"ok: table type [dbo].[sessions_batch] has columns token, data, expiry",
		"ok: database user [dbo] has SELECT, INSERT, UPDATE, DELETE on [dbo].[sessions]",
		"ok: database user [dbo] has EXECUTE on type [dbo].[sessions_batch]",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check after init lacks %q:\n%s", want, stdout)
		}
	}
}

func TestInitDenied(t *testing.T) {
	srv := mssqltest.Start(t, mssqltest.Options{Bare: true})
	srv.AddRestrictedLogin("app", "App-Passw0rd")
	ctx := testContext(t)
	code, stdout, stderr := invoke(t, ctx, nil, "init", "-dsn", srv.DSNFor("app", "App-Passw0rd"))
	if code != exitFailed {
		t.Errorf("exit status %d, want %d; stdout %q", code, exitFailed, stdout)
	}
	if !strings.Contains(stderr, "262") || !strings.Contains(stderr, "init -dry-run") {
		t.Errorf("stderr %q, want error 262 and the -dry-run hint", stderr)
	}
	// One prefix, the command's: not "mssqlstore init: mssqlstore:
	// create schema: mssql: ...".
	if want := "mssqlstore init: create table [dbo].[sessions]: "; !strings.HasPrefix(stderr, want) {
		t.Errorf("stderr %q, want it to begin %q", stderr, want)
	}
	for _, stutter := range []string{"mssqlstore: ", "mssql: "} {
		if strings.Contains(stderr, stutter) {
			t.Errorf("stderr %q repeats the prefix %q", stderr, stutter)
		}
	}
	assertOneLine(t, stderr)
}

func TestCheck(t *testing.T) {
	const pw = "App-Passw0rd"
	tests := []struct {
		name  string
		bare  bool
		setup []string
		// login, when set, is added with these grants and runs the check.
		grants   map[string]tsql.Permission
		args     []string
		wantCode int
		want     []string // lines of stdout, whole
		wantPart []string // parts of stdout
		wantNot  []string // not in stdout
	}{
		{
			name:     "test server default: no type, default collation",
			wantCode: exitOK,
			want: []string{
				"ok: table [dbo].[sessions] exists",
				"ok: columns token CHAR(43) NOT NULL, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL",
				"ok: primary key on token",
				"ok: index [sessions_expiry_idx] leads with expiry",
				// Checked as the owner: never a GRANT to dbo (SQL Server
				// refuses it, error 4617), a placeholder instead.
				"warning: table type [dbo].[sessions_batch] not found: the store falls back to a slower statement without a table-valued parameter; fix: run `mssqlstore init`, then GRANT EXECUTE ON TYPE::[dbo].[sessions_batch] TO <app_user>",
			},
			wantPart: []string{"compares case-insensitively", "COLLATE Latin1_General_BIN2"},
		},
		{
			name:     "missing table",
			bare:     true,
			wantCode: exitFailed,
			want: []string{
				"error: table [dbo].[sessions] not found; fix: run `mssqlstore init`",
			},
		},
		{
			name: "wrong columns",
			bare: true,
			setup: []string{
				"CREATE TABLE sessions (token CHAR(43) COLLATE Latin1_General_BIN2 NOT NULL PRIMARY KEY, data VARBINARY(100) NOT NULL, expiry DATETIME NULL, owner INT NOT NULL)",
				"CREATE INDEX sessions_expiry_idx ON sessions (expiry)",
			},
			wantCode: exitFailed,
			want: []string{
				"error: table [dbo].[sessions] column data is VARBINARY(100) NOT NULL, want VARBINARY(MAX) NOT NULL; fix: ALTER TABLE [dbo].[sessions] ALTER COLUMN [data] VARBINARY(MAX) NOT NULL, or recreate the table (`mssqlstore init -dry-run` prints its DDL)",
				"error: table [dbo].[sessions] column expiry is DATETIME NULL, want DATETIME2(6) NOT NULL; fix: ALTER TABLE [dbo].[sessions] ALTER COLUMN [expiry] DATETIME2(6) NOT NULL, or recreate the table (`mssqlstore init -dry-run` prints its DDL)",
				"warning: table [dbo].[sessions] has a NOT NULL column owner the store does not write: inserts fail unless it has a default; fix: give it a default or make it nullable: ALTER TABLE [dbo].[sessions] ALTER COLUMN [owner] INT NULL",
				"ok: token collation Latin1_General_BIN2 is binary",
			},
		},
		{
			name: "no primary key, no expiry index, missing column",
			bare: true,
			setup: []string{
				"CREATE TABLE sessions (token CHAR(43) NOT NULL, data VARBINARY(MAX) NOT NULL)",
				"CREATE INDEX by_token ON sessions (token)",
			},
			wantCode: exitFailed,
			want: []string{
				"error: table [dbo].[sessions] has no column expiry DATETIME2(6) NOT NULL; fix: ALTER TABLE [dbo].[sessions] ADD [expiry] DATETIME2(6) NOT NULL (a table with rows needs a DEFAULT too), or recreate the table (`mssqlstore init -dry-run` prints its DDL)",
				"error: table [dbo].[sessions] has no primary key: every Find scans the table and concurrent inserts can duplicate a token; fix: ALTER TABLE [dbo].[sessions] ADD PRIMARY KEY (token)",
				"error: table [dbo].[sessions] has no index leading with expiry: every cleanup scans the whole table and holds its locks longer; fix: CREATE INDEX [sessions_expiry_idx] ON [dbo].[sessions] (expiry)",
			},
		},
		{
			name: "primary key on the wrong column",
			bare: true,
			setup: []string{
				"CREATE TABLE sessions (id INT NOT NULL PRIMARY KEY, token CHAR(43) NOT NULL, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL)",
				"CREATE INDEX sessions_expiry_idx ON sessions (expiry, token)",
			},
			wantCode: exitFailed,
			want: []string{
				"error: the primary key of [dbo].[sessions] is (id), want (token); fix: recreate the table (`mssqlstore init -dry-run` prints its DDL)",
				"ok: index [sessions_expiry_idx] leads with expiry",
			},
		},
		{
			name: "table type with columns out of order",
			setup: []string{
				"CREATE TYPE dbo.sessions_batch AS TABLE (token CHAR(43) COLLATE Latin1_General_BIN2 NOT NULL PRIMARY KEY, expiry DATETIME2(6) NOT NULL, data VARBINARY(MAX) NOT NULL)",
			},
			wantCode: exitFailed,
			want: []string{
				"error: table type [dbo].[sessions_batch] column data is not column 2: a table-valued parameter is matched by position, so the store needs token, data, expiry in that order; fix: a table type cannot be altered: DROP TYPE [dbo].[sessions_batch], then run `mssqlstore init`, which makes it with the table's token collation SQL_Latin1_General_CP1_CI_AS",
			},
		},
		{
			name:     "restricted login: table rights, no type",
			setup:    []string{"CREATE TYPE dbo.sessions_batch AS TABLE (token CHAR(43) COLLATE Latin1_General_BIN2 NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL)"},
			grants:   map[string]tsql.Permission{"dbo.sessions": tsql.PermSelect | tsql.PermInsert | tsql.PermUpdate | tsql.PermDelete},
			wantCode: exitOK,
			want: []string{
				"ok: database user [app] has SELECT, INSERT, UPDATE, DELETE on [dbo].[sessions]",
				"warning: table type [dbo].[sessions_batch] not found, or database user [app] holds no permission on it: the store falls back to a slower statement without a table-valued parameter; fix: run `mssqlstore init`, or, if it exists: GRANT EXECUTE ON TYPE::[dbo].[sessions_batch] TO [app]",
			},
		},
		{
			name:     "restricted login: missing table rights",
			setup:    []string{"CREATE TYPE dbo.sessions_batch AS TABLE (token CHAR(43) COLLATE Latin1_General_BIN2 NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL)"},
			grants:   map[string]tsql.Permission{"dbo.sessions": tsql.PermSelect, "dbo.sessions_batch": tsql.PermExecute},
			wantCode: exitFailed,
			want: []string{
				"error: database user [app] lacks INSERT, UPDATE, DELETE on table [dbo].[sessions]; fix: GRANT INSERT, UPDATE, DELETE ON [dbo].[sessions] TO [app]",
				"ok: database user [app] has EXECUTE on type [dbo].[sessions_batch]",
			},
		},
		{
			name:     "restricted login: no rights at all",
			grants:   map[string]tsql.Permission{},
			wantCode: exitFailed,
			want: []string{
				"error: table [dbo].[sessions] not found, or database user [app] holds no permission on it; fix: run `mssqlstore init` as a database user allowed to create it, or, if it exists: GRANT SELECT, INSERT, UPDATE, DELETE ON [dbo].[sessions] TO [app]",
			},
		},
		{
			name:     "restricted login: type visible without EXECUTE",
			setup:    []string{"CREATE TYPE dbo.sessions_batch AS TABLE (token CHAR(43) COLLATE Latin1_General_BIN2 NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL)"},
			grants:   map[string]tsql.Permission{"dbo.sessions": tsql.PermSelect | tsql.PermInsert | tsql.PermUpdate | tsql.PermDelete, "dbo.sessions_batch": tsql.PermSelect},
			wantCode: exitOK,
			want: []string{
				"ok: table type [dbo].[sessions_batch] has columns token, data, expiry",
				"warning: database user [app] lacks EXECUTE on type [dbo].[sessions_batch]: the store falls back to a slower statement without a table-valued parameter; fix: GRANT EXECUTE ON TYPE::[dbo].[sessions_batch] TO [app]",
			},
		},
		{
			name:     "table and type collations differ",
			setup:    []string{"CREATE TYPE dbo.sessions_batch AS TABLE (token CHAR(43) COLLATE Latin1_General_BIN2 NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL)"},
			wantCode: exitOK,
			want: []string{
				"warning: the token columns of table [dbo].[sessions] (SQL_Latin1_General_CP1_CI_AS) and type [dbo].[sessions_batch] (Latin1_General_BIN2) have different collations: SQL Server cannot compare them (error 468), so every flush falls back to the slower statement without a table-valued parameter; fix: a table type cannot be altered: DROP TYPE [dbo].[sessions_batch], then run `mssqlstore init`, which makes it with the table's token collation SQL_Latin1_General_CP1_CI_AS",
			},
		},
		{
			// The type has the case-insensitive table's collation, as
			// init makes it: no advice to drop it, which would loop.
			name:     "case-insensitive table type on a case-insensitive table",
			setup:    []string{"CREATE TYPE dbo.sessions_batch AS TABLE (token CHAR(43) NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL)"},
			wantCode: exitOK,
			want:     []string{"ok: table type [dbo].[sessions_batch] has the table's token collation SQL_Latin1_General_CP1_CI_AS"},
			wantNot:  []string{"fix: a table type cannot be altered"},
		},
		{
			// No table: init would make it binary, next to this type.
			name:     "case-insensitive table type without a table",
			bare:     true,
			setup:    []string{"CREATE TYPE dbo.sessions_batch AS TABLE (token CHAR(43) NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL)"},
			wantCode: exitFailed,
			wantPart: []string{"warning: table type [dbo].[sessions_batch] compares tokens with collation \"SQL_Latin1_General_CP1_CI_AS\", not a binary one"},
		},
		{
			// Quoted, so looked up as one odd name; the real table survives.
			name:     "table name with a semicolon",
			args:     []string{"-table", "dbo.x;DROP TABLE sessions"},
			wantCode: exitFailed,
			wantPart: []string{"error: table [dbo].[x;DROP TABLE sessions] not found"},
		},
		{
			name:     "table name with a quoted bracket",
			args:     []string{"-table", "[dbo].[a]]b]", "-type", "[dbo].[t]]']"},
			wantCode: exitFailed,
			wantPart: []string{"error: table [dbo].[a]]b] not found", "warning: table type [dbo].[t]]'] not found"},
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
			dsn := srv.DSN()
			if tt.grants != nil {
				srv.AddLogin("app", pw, tt.grants)
				dsn = srv.DSNFor("app", pw)
			}
			code, stdout, stderr := invoke(t, ctx, nil, append([]string{"check", "-dsn", dsn}, tt.args...)...)
			if code != tt.wantCode {
				t.Errorf("exit status %d, want %d", code, tt.wantCode)
			}
			if stderr != "" {
				t.Errorf("stderr %q", stderr)
			}
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			for _, w := range tt.want {
				found := false
				for _, l := range lines {
					found = found || l == w
				}
				if !found {
					t.Errorf("stdout lacks the line\n%s\ngot:\n%s", w, stdout)
				}
			}
			for _, w := range tt.wantPart {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q; got:\n%s", w, stdout)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(stdout, w) {
					t.Errorf("stdout holds %q; got:\n%s", w, stdout)
				}
			}
			if strings.Contains(stdout, "TO [dbo]") {
				t.Errorf("stdout suggests a GRANT to dbo, which SQL Server refuses (error 4617):\n%s", stdout)
			}
			assertUserWording(t, stdout)
		})
	}
	t.Run("semicolon name leaves the table alone", func(t *testing.T) {
		srv := mssqltest.Start(t, mssqltest.Options{})
		ctx := testContext(t)
		invoke(t, ctx, nil, "check", "-dsn", srv.DSN(), "-table", "dbo.x;DROP TABLE sessions")
		invoke(t, ctx, nil, "stats", "-dsn", srv.DSN(), "-table", "dbo.x;DROP TABLE sessions")
		invoke(t, ctx, nil, "purge", "-dsn", srv.DSN(), "-table", "dbo.x;DROP TABLE sessions")
		if code, stdout, _ := invoke(t, ctx, nil, "check", "-dsn", srv.DSN()); !strings.Contains(stdout, "ok: table [dbo].[sessions] exists") {
			t.Errorf("exit status %d, the sessions table is gone:\n%s", code, stdout)
		}
	})
}

func TestPurge(t *testing.T) {
	srv := mssqltest.Start(t, mssqltest.Options{})
	db := openDB(t, srv)
	ctx := testContext(t)
	past := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	future := time.Now().Add(24 * time.Hour)
	seed(t, db, 0, 2500, past)
	seed(t, db, 10000, 7, future)

	code, stdout, stderr := invoke(t, ctx, nil, "purge", "-dsn", srv.DSN(), "-batch", "1000")
	if code != exitOK || stderr != "" {
		t.Fatalf("exit status %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// stdout is not a terminal: no progress line, only the count.
	if want := "deleted 2500 expired sessions\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	if n := count(t, db, ""); n != 7 {
		t.Errorf("%d rows left, want the 7 live ones", n)
	}

	code, stdout, _ = invoke(t, ctx, nil, "purge", "-dsn", srv.DSN())
	if code != exitOK || stdout != "deleted 0 expired sessions\n" {
		t.Errorf("second purge: exit status %d, stdout %q", code, stdout)
	}
}

func TestPurgeInterrupted(t *testing.T) {
	srv := mssqltest.Start(t, mssqltest.Options{})
	db := openDB(t, srv)
	past := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	seed(t, db, 0, 2500, past)

	// Interrupt after the first batch, as SIGINT would through
	// signal.NotifyContext.
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	afterBatch = func(int64) { cancel() }
	t.Cleanup(func() { afterBatch = nil })

	code, stdout, stderr := invoke(t, ctx, nil, "purge", "-dsn", srv.DSN(), "-batch", "1000")
	if code != exitInterrupted {
		t.Errorf("exit status %d, want %d; stderr %q", code, exitInterrupted, stderr)
	}
	if want := "interrupted: deleted 1000 expired sessions\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	// The first batch committed on its own; the rest is untouched.
	if n := count(t, db, ""); n != 1500 {
		t.Errorf("%d rows left, want 1500", n)
	}
}

func TestInterruptedBeforeConnecting(t *testing.T) {
	srv := mssqltest.Start(t, mssqltest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, cmd := range []string{"check", "stats", "purge", "init"} {
		code, _, stderr := invoke(t, ctx, nil, cmd, "-dsn", srv.DSN())
		if code != exitInterrupted || !strings.Contains(stderr, "interrupted while connecting") {
			t.Errorf("%s: exit status %d, stderr %q; want %d and an interruption", cmd, code, stderr, exitInterrupted)
		}
	}
}

func TestPurgeMissingTable(t *testing.T) {
	srv := mssqltest.Start(t, mssqltest.Options{Bare: true})
	code, _, stderr := invoke(t, testContext(t), nil, "purge", "-dsn", srv.DSN())
	if code != exitFailed {
		t.Errorf("exit status %d, want %d", code, exitFailed)
	}
	if !strings.Contains(stderr, "208") || !strings.Contains(stderr, "run mssqlstore init") {
		t.Errorf("stderr %q, want error 208 and the init hint", stderr)
	}
	assertOneLine(t, stderr)
}

func TestStats(t *testing.T) {
	tests := []struct {
		name  string
		seed  bool
		fault *mssqltest.Fault
		want  []string
	}{
		{
			name: "empty",
			want: []string{"table: [dbo].[sessions]", "live sessions: 0", "expired sessions: 0", "oldest expiry: none", "newest expiry: none"},
		},
		{
			name: "rows",
			seed: true,
			want: []string{
				"live sessions: 3", "expired sessions: 2",
				"oldest expiry: 2000-01-01T00:00:00Z", "newest expiry: 9000-06-01T12:30:00.5Z",
			},
		},
		{
			name:  "sp_spaceused denied",
			fault: &mssqltest.Fault{Kind: "EXECUTE", Error: 229},
			want:  []string{"live sessions: 0", "size: unavailable (sp_spaceused: ", "permission was denied"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mssqltest.Start(t, mssqltest.Options{})
			db := openDB(t, srv)
			if tt.seed {
				seed(t, db, 0, 2, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
				seed(t, db, 100, 2, time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC))
				seed(t, db, 200, 1, time.Date(9000, 6, 1, 12, 30, 0, 500_000_000, time.UTC))
			}
			if tt.fault != nil {
				srv.InjectFault(*tt.fault)
			}
			code, stdout, stderr := invoke(t, testContext(t), nil, "stats", "-dsn", srv.DSN())
			if code != exitOK || stderr != "" {
				t.Fatalf("exit status %d, stdout %q, stderr %q", code, stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			if tt.fault == nil && !strings.Contains(stdout, " KB reserved (data ") {
				t.Errorf("stdout lacks the size line:\n%s", stdout)
			}
		})
	}
}

func TestStatsMissingTable(t *testing.T) {
	srv := mssqltest.Start(t, mssqltest.Options{Bare: true})
	code, _, stderr := invoke(t, testContext(t), nil, "stats", "-dsn", srv.DSN())
	if code != exitFailed || !strings.Contains(stderr, "208") {
		t.Errorf("exit status %d, stderr %q; want %d and error 208", code, stderr, exitFailed)
	}
	assertOneLine(t, stderr)
}

func TestProgress(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		on   bool
		want string
	}{
		{"terminal", true, "\rdeleted 1000 rows (500 rows/s)   \rdeleted 3000 rows (750 rows/s)   \n"},
		{"not a terminal", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := start
			var buf bytes.Buffer
			p := newProgress(&buf, tt.on, func() time.Time { return now })
			now = start.Add(2 * time.Second)
			p.update(1000)
			now = start.Add(4 * time.Second)
			p.update(3000)
			p.done()
			if got := buf.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIsTerminal(t *testing.T) {
	var buf bytes.Buffer
	if isTerminal(&buf) {
		t.Error("a buffer is a terminal")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a regular file is a terminal")
	}
}

// TestBinary builds the command and runs it, to see the exit status and
// the output of a real process: no stack trace for bad input.
func TestBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "mssqlstore")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tests := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"malformed DSN", []string{"check", "-dsn", "sqlserver://sa:secret@%zz"}, nil, "mssqlstore check: malformed DSN"},
		{"malformed DSN from env", []string{"stats"}, []string{"MSSQL_DSN=foo"}, "mssqlstore stats: malformed DSN"},
		{"no DSN", []string{"purge"}, []string{"MSSQL_DSN="}, "mssqlstore purge: no DSN"},
		{"grant to dbo", []string{"init", "-dry-run", "-grant", "dbo"}, []string{"MSSQL_DSN="}, "mssqlstore init: -grant dbo: SQL Server refuses a grant to dbo"},
		{"Entra ID DSN", []string{"check"}, []string{"MSSQL_DSN=sqlserver://app@127.0.0.1:1?database=x&fedauth=ActiveDirectoryDefault"}, "mssqlstore check: the DSN asks for Microsoft Entra ID authentication"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Env = append(cmd.Environ(), tt.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			exitErr, ok := err.(*exec.ExitError)
			if !ok {
				t.Fatalf("run: %v, want an exit status", err)
			}
			if code := exitErr.ExitCode(); code != exitUsage {
				t.Errorf("exit status %d, want %d", code, exitUsage)
			}
			if !strings.HasPrefix(stderr.String(), tt.want) {
				t.Errorf("stderr %q, want it to start with %q", stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
			assertOneLine(t, stderr.String())
		})
	}
}
