package main

import (
	"database/sql"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore"
	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
	"github.com/scs-contrib/mssqlstore/internal/tsql"
)

const appPassword = "App-Passw0rd"

// lines returns stdout's lines.
func lines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }

// hasLine reports whether out holds want as a whole line.
func hasLine(out, want string) bool {
	for _, l := range lines(out) {
		if l == want {
			return true
		}
	}
	return false
}

// assertUserWording fails on a message that calls a database user a
// login: check and init speak of database users, which GRANT names.
func assertUserWording(t *testing.T, out string) {
	t.Helper()
	for _, l := range lines(out) {
		if strings.Contains(strings.ToLower(l), "login [") || strings.Contains(strings.ToLower(l), "login app") {
			t.Errorf("a database user called a login: %s", l)
		}
	}
}

// TestInitGrant runs init -grant for an application user that holds
// nothing: init creates the objects, grants, and verifies the grants as
// the application's user; that user's store then takes the MERGE path.
func TestInitGrant(t *testing.T) {
	srv := mssqltest.Start(t, mssqltest.Options{Bare: true})
	srv.AddLogin("app", appPassword, map[string]tsql.Permission{})
	ctx := testContext(t)

	code, stdout, stderr := invoke(t, ctx, nil, "check", "-dsn", srv.DSN(), "-user", "app")
	if code != exitFailed || stderr != "" {
		t.Fatalf("check -user app before init: exit status %d, stderr %q, want %d and nothing", code, stderr, exitFailed)
	}

	code, stdout, stderr = invoke(t, ctx, nil, "init", "-dsn", srv.DSN(), "-grant", "app")
	if code != exitOK || stderr != "" {
		t.Fatalf("init -grant app: exit status %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, want := range []string{
		"granted: SELECT, INSERT, UPDATE, DELETE on table [dbo].[sessions] to database user [app]",
		"granted: EXECUTE on table type [dbo].[sessions_batch] to database user [app]",
		// Verified as app, not as the DSN's owner.
		"ok: database user [app] has SELECT, INSERT, UPDATE, DELETE on [dbo].[sessions]",
		"ok: database user [app] has EXECUTE on type [dbo].[sessions_batch]",
	} {
		if !hasLine(stdout, want) {
			t.Errorf("init -grant lacks the line\n%s\ngot:\n%s", want, stdout)
		}
	}
	assertUserWording(t, stdout)

	code, stdout, stderr = invoke(t, ctx, nil, "check", "-dsn", srv.DSN(), "-user", "[app]")
	if code != exitOK || stderr != "" || !hasLine(stdout, "ok: database user [app] has SELECT, INSERT, UPDATE, DELETE on [dbo].[sessions]") {
		t.Errorf("check -user [app] after init -grant: exit status %d, stderr %q:\n%s", code, stderr, stdout)
	}

	// The application's own connection can use the table and the type.
	db, err := sql.Open("sqlserver", srv.DSNFor("app", appPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var reported []error
	store, err := mssqlstore.NewWithConfig(db, mssqlstore.Config{CleanupInterval: -1, ErrorHandler: func(err error) { reported = append(reported, err) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CommitCtx(ctx, strings.Repeat("a", 43), []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(reported) > 0 {
		t.Errorf("the store reported %v: the GRANTs did not give it the MERGE path", reported)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM dbo.sessions WHERE expiry > SYSUTCDATETIME()").Scan(&n); err != nil || n != 1 {
		t.Errorf("live sessions after the store's flush, as app: %d, %v; want 1", n, err)
	}
}

// TestInitGrantQuoting grants to a user whose name holds ] and ': the
// GRANTs quote it, and the test server finds that very user.
func TestInitGrantQuoting(t *testing.T) {
	srv := mssqltest.Start(t, mssqltest.Options{Bare: true})
	const odd = "o'dd]user"
	srv.AddLogin(odd, appPassword, map[string]tsql.Permission{})
	ctx := testContext(t)
	code, stdout, stderr := invoke(t, ctx, nil, "init", "-dsn", srv.DSN(), "-grant", odd)
	if code != exitOK || stderr != "" {
		t.Fatalf("init -grant %s: exit status %d, stdout %q, stderr %q", odd, code, stdout, stderr)
	}
	if want := "granted: SELECT, INSERT, UPDATE, DELETE on table [dbo].[sessions] to database user [o'dd]]user]"; !hasLine(stdout, want) {
		t.Errorf("init -grant lacks the line\n%s\ngot:\n%s", want, stdout)
	}
	if want := "ok: database user [o'dd]]user] has SELECT, INSERT, UPDATE, DELETE on [dbo].[sessions]"; !hasLine(stdout, want) {
		t.Errorf("init -grant lacks the line\n%s\ngot:\n%s", want, stdout)
	}
}

func TestInitGrantDryRun(t *testing.T) {
	srv := mssqltest.Start(t, mssqltest.Options{})
	ctx := testContext(t)
	for _, env := range []map[string]string{nil, {"MSSQL_DSN": srv.DSN()}} {
		code, stdout, stderr := invoke(t, ctx, env, "init", "-dry-run", "-grant", "app", "-type", "dbo.[b]]t]")
		if code != exitOK || stderr != "" {
			t.Fatalf("init -dry-run -grant app (env %v): exit status %d, stderr %q", env, code, stderr)
		}
		for _, want := range []string{
			"-- to grant: SELECT, INSERT, UPDATE, DELETE on table [dbo].[sessions] to database user [app]\n" +
				"GRANT SELECT, INSERT, UPDATE, DELETE ON [dbo].[sessions] TO [app];\nGO\n",
			"-- to grant: EXECUTE on table type [dbo].[b]]t] to database user [app]\n" +
				"GRANT EXECUTE ON TYPE::[dbo].[b]]t] TO [app];\nGO\n",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("init -dry-run -grant (env %v) lacks\n%s\ngot:\n%s", env, want, stdout)
			}
		}
	}
	// A dry run grants nothing.
	srv.AddLogin("app", appPassword, map[string]tsql.Permission{})
	if code, stdout, _ := invoke(t, ctx, nil, "init", "-dry-run", "-dsn", srv.DSN(), "-grant", "app"); code != exitOK {
		t.Fatalf("init -dry-run: exit status %d:\n%s", code, stdout)
	}
	if code, stdout, _ := invoke(t, ctx, nil, "check", "-dsn", srv.DSN(), "-user", "app"); code != exitFailed || !strings.Contains(stdout, "error: database user [app] lacks SELECT, INSERT, UPDATE, DELETE on table [dbo].[sessions]") {
		t.Errorf("check -user app after a dry run: exit status %d:\n%s", code, stdout)
	}
}

// TestCheckUser checks an application user's permissions with the
// owner's DSN, as a DBA would.
func TestCheckUser(t *testing.T) {
	const typeDDL = "CREATE TYPE dbo.sessions_batch AS TABLE (token CHAR(43) NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL)"
	tests := []struct {
		name     string
		grants   map[string]tsql.Permission // app's; nil: no app user
		asReader bool                       // run with a restricted user's DSN
		user     string
		wantCode int
		want     []string
	}{
		{
			name:     "all granted",
			grants:   map[string]tsql.Permission{"dbo.sessions": tsql.PermSelect | tsql.PermInsert | tsql.PermUpdate | tsql.PermDelete, "dbo.sessions_batch": tsql.PermExecute},
			user:     "app",
			wantCode: exitOK,
			want: []string{
				"ok: database user [app] has SELECT, INSERT, UPDATE, DELETE on [dbo].[sessions]",
				"ok: database user [app] has EXECUTE on type [dbo].[sessions_batch]",
			},
		},
		{
			name:     "some granted",
			grants:   map[string]tsql.Permission{"dbo.sessions": tsql.PermSelect},
			user:     "app",
			wantCode: exitFailed,
			want: []string{
				"error: database user [app] lacks INSERT, UPDATE, DELETE on table [dbo].[sessions]; fix: GRANT INSERT, UPDATE, DELETE ON [dbo].[sessions] TO [app]",
				"warning: database user [app] lacks EXECUTE on type [dbo].[sessions_batch]: the store falls back to a slower statement without a table-valued parameter; fix: GRANT EXECUTE ON TYPE::[dbo].[sessions_batch] TO [app]",
			},
		},
		{
			name:     "no such user",
			user:     "nobody",
			wantCode: exitFailed,
			want: []string{
				"error: cannot check the permissions of database user [nobody]: SQL Server refused to impersonate it (error 15517): it does not exist in this database, or the DSN's database user [dbo] lacks IMPERSONATE on it; fix: create the user (CREATE USER [nobody] FOR LOGIN <login>), or run check -user with a DSN whose user is a member of db_owner",
			},
		},
		{
			name:     "DSN's user may not impersonate",
			grants:   map[string]tsql.Permission{},
			asReader: true,
			user:     "app",
			wantCode: exitFailed,
			want: []string{
				"error: cannot check the permissions of database user [app]: SQL Server refused to impersonate it (error 15517): it does not exist in this database, or the DSN's database user [reader] lacks IMPERSONATE on it; fix: create the user (CREATE USER [app] FOR LOGIN <login>), or run check -user with a DSN whose user is a member of db_owner",
			},
		},
		{
			// Oneself needs no impersonation.
			name:     "the DSN's own user",
			asReader: true,
			user:     "reader",
			wantCode: exitOK,
			want:     []string{"ok: database user [reader] has SELECT, INSERT, UPDATE, DELETE on [dbo].[sessions]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := mssqltest.Start(t, mssqltest.Options{})
			ctx := testContext(t)
			if err := srv.Exec(ctx, typeDDL); err != nil {
				t.Fatal(err)
			}
			if tt.grants != nil {
				srv.AddLogin("app", appPassword, tt.grants)
			}
			dsn := srv.DSN()
			if tt.asReader {
				srv.AddLogin("reader", appPassword, map[string]tsql.Permission{
					"dbo.sessions":       tsql.PermSelect | tsql.PermInsert | tsql.PermUpdate | tsql.PermDelete,
					"dbo.sessions_batch": tsql.PermExecute,
				})
				dsn = srv.DSNFor("reader", appPassword)
			}
			code, stdout, stderr := invoke(t, ctx, nil, "check", "-dsn", dsn, "-user", tt.user)
			if code != tt.wantCode || stderr != "" {
				t.Errorf("exit status %d, stderr %q; want %d and nothing", code, stderr, tt.wantCode)
			}
			for _, w := range tt.want {
				if !hasLine(stdout, w) {
					t.Errorf("stdout lacks the line\n%s\ngot:\n%s", w, stdout)
				}
			}
			assertUserWording(t, stdout)
			// The connection is back to the DSN's user: the owner still
			// sees and may do everything.
			if !tt.asReader {
				if code, out, _ := invoke(t, ctx, nil, "check", "-dsn", srv.DSN()); code != exitOK || !strings.Contains(out, "database user [dbo] has SELECT") {
					t.Errorf("check as the owner afterwards: exit status %d:\n%s", code, out)
				}
			}
		})
	}
}

// TestInitGrantRefused covers the GRANTs SQL Server refuses: one line on
// stderr, exit status 1, the step that fixes it, no stuttering prefix.
func TestInitGrantRefused(t *testing.T) {
	tests := []struct {
		name     string
		asReader bool
		grantee  string
		want     []string
	}{
		{"no such user", false, "nobody", []string{
			"mssqlstore init: GRANT SELECT, INSERT, UPDATE, DELETE ON [dbo].[sessions] TO [nobody]: Cannot find the user 'nobody', because it does not exist or you do not have permission.",
			"(is there a database user [nobody] in this database? A login is not enough: CREATE USER [nobody] FOR LOGIN <login>, then run init -grant again)",
		}},
		{"grantor is not the owner", true, "app", []string{
			"mssqlstore init: GRANT SELECT, INSERT, UPDATE, DELETE ON [dbo].[sessions] TO [app]: Grantor does not have GRANT permission.",
			"run init -grant as the database owner",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mssqltest.Start(t, mssqltest.Options{})
			ctx := testContext(t)
			if err := srv.Exec(ctx, "CREATE TYPE dbo.sessions_batch AS TABLE (token CHAR(43) NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL)"); err != nil {
				t.Fatal(err)
			}
			srv.AddLogin("app", appPassword, map[string]tsql.Permission{})
			dsn := srv.DSN()
			if tt.asReader {
				// It sees every object, so init creates nothing and
				// goes on to the GRANTs.
				srv.AddLogin("reader", appPassword, map[string]tsql.Permission{
					"dbo.sessions":       tsql.PermSelect | tsql.PermInsert | tsql.PermUpdate | tsql.PermDelete,
					"dbo.sessions_batch": tsql.PermExecute,
				})
				dsn = srv.DSNFor("reader", appPassword)
			}
			code, stdout, stderr := invoke(t, ctx, nil, "init", "-dsn", dsn, "-grant", tt.grantee)
			if code != exitFailed {
				t.Errorf("exit status %d, want %d; stdout %q", code, exitFailed, stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			for _, stutter := range []string{"mssqlstore: ", "mssql: "} {
				if strings.Contains(stderr, stutter) {
					t.Errorf("stderr %q repeats the prefix %q", stderr, stutter)
				}
			}
			assertOneLine(t, stderr)
			if strings.Contains(stdout, "granted:") {
				t.Errorf("stdout reports a grant that failed:\n%s", stdout)
			}
		})
	}
}

// TestEntraIDDSN: a DSN asking for Entra ID authentication is refused
// before any connection with a message that names it, not with the
// login failure the plain connector would end in ("check the user and
// password"). The server listens, so without the refusal the command
// would log in (with a password) or fail the login (without one).
func TestEntraIDDSN(t *testing.T) {
	srv := mssqltest.Start(t, mssqltest.Options{})
	ctx := testContext(t)
	withPassword := srv.DSN() + "&fedauth=ActiveDirectoryPassword"
	noPassword := strings.Replace(srv.DSN(), "sa:"+mssqltest.DefaultPassword+"@", "app@", 1) + "&fedauth=ActiveDirectoryDefault"
	if !strings.Contains(noPassword, "app@") {
		t.Fatalf("DSN %q: the password was not removed", noPassword)
	}
	for _, tt := range []struct {
		dsn, method string
	}{{withPassword, "ActiveDirectoryPassword"}, {noPassword, "ActiveDirectoryDefault"}} {
		for _, cmd := range []string{"check", "init", "stats", "purge"} {
			code, stdout, stderr := invoke(t, ctx, map[string]string{"MSSQL_DSN": tt.dsn}, cmd)
			if code != exitUsage || stdout != "" {
				t.Errorf("%s with fedauth=%s: exit status %d, stdout %q; want %d and nothing", cmd, tt.method, code, stdout, exitUsage)
			}
			if want := "mssqlstore " + cmd + ": the DSN asks for Microsoft Entra ID authentication (fedauth=" + tt.method + "), which this build of mssqlstore does not include"; !strings.HasPrefix(stderr, want) {
				t.Errorf("%s: stderr %q, want it to begin %q", cmd, stderr, want)
			}
			if strings.Contains(stderr, "check the user and password") || strings.Contains(stderr, mssqltest.DefaultPassword) {
				t.Errorf("%s: stderr %q", cmd, stderr)
			}
			assertOneLine(t, stderr)
		}
	}
	if n := srv.Counters().Logins; n != 0 {
		t.Errorf("%d logins: the DSN was not refused before connecting", n)
	}
}

// TestCheckFailure: a statement of check that fails (here a deadlock on
// its read of sys.types) is a failure: exit status 1, one line on stderr with
// the command's prefix only, nothing on stdout for -json.
func TestCheckFailure(t *testing.T) {
	srv := mssqltest.Start(t, mssqltest.Options{})
	ctx := testContext(t)
	for _, args := range [][]string{{"check"}, {"check", "-json"}, {"check", "-user", "app"}} {
		srv.InjectFault(mssqltest.Fault{Kind: "SELECT", Table: "sys.types", Error: 1205})
		code, stdout, stderr := invoke(t, ctx, nil, append(args, "-dsn", srv.DSN())...)
		if code != exitFailed {
			t.Errorf("%v: exit status %d, want %d", args, code, exitFailed)
		}
		if want := "mssqlstore check: read sys.types: Transaction (Process ID "; !strings.HasPrefix(stderr, want) {
			t.Errorf("%v: stderr %q, want it to begin %q", args, stderr, want)
		}
		if args[len(args)-1] == "-json" && stdout != "" {
			t.Errorf("%v: stdout %q, want nothing: no half a report", args, stdout)
		}
		assertOneLine(t, stderr)
	}
}

// TestCheckUserJSON: check -json -user names the user it checked, and
// the application user's missing grant is an error there too.
func TestCheckUserJSON(t *testing.T) {
	srv := mssqltest.Start(t, mssqltest.Options{})
	srv.AddLogin("app", appPassword, map[string]tsql.Permission{"dbo.sessions": tsql.PermSelect})
	code, stdout, stderr := invoke(t, testContext(t), nil, "check", "-json", "-dsn", srv.DSN(), "-user", "[app]")
	if code != exitFailed || stderr != "" {
		t.Errorf("exit status %d, stderr %q; want %d and nothing", code, stderr, exitFailed)
	}
	var got checkJSON
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("%v: %q", err, stdout)
	}
	if got.User != "app" || !got.Failed {
		t.Errorf("user %q, failed %v; want app, true", got.User, got.Failed)
	}
	found := false
	for _, f := range got.Findings {
		found = found || f.Level == "error" && f.Message == "database user [app] lacks INSERT, UPDATE, DELETE on table [dbo].[sessions]"
	}
	if !found {
		t.Errorf("no error finding for app's missing grants: %+v", got.Findings)
	}
	// Without -user, the field is absent.
	_, stdout, _ = invoke(t, testContext(t), nil, "check", "-json", "-dsn", srv.DSN())
	if strings.Contains(stdout, `"user"`) {
		t.Errorf("check -json without -user names a user: %s", stdout)
	}
}
