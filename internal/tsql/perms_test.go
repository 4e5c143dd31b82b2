package tsql

import (
	"context"
	"strings"
	"testing"
	"time"
)

// permsQuery reads the current user and its permissions on the store's
// objects, as mssqlstore check -user does.
const permsQuery = "SELECT USER_NAME(), HAS_PERMS_BY_NAME(N'dbo.sessions', N'OBJECT', N'SELECT'), " +
	"HAS_PERMS_BY_NAME(N'dbo.sessions', N'OBJECT', N'DELETE'), HAS_PERMS_BY_NAME(N'[dbo].[sessions_batch]', N'TYPE', N'EXECUTE')"

// perms runs permsQuery and returns its row.
func perms(t *testing.T, s *Session, prefix string, params ...Param) []any {
	t.Helper()
	res := mustExec(t, s, prefix+permsQuery, params...)
	for _, r := range res {
		if r.Columns != nil {
			return r.Rows[0]
		}
	}
	t.Fatalf("no result set")
	return nil
}

func newPermsDB(t *testing.T) *Database {
	t.Helper()
	db := newTestDB(t)
	db.SetUser("app", nil)
	db.SetUser("reader", map[string]Permission{"dbo.sessions": PermSelect})
	return db
}

func TestGrantChangesWhatTheUserMay(t *testing.T) {
	db := newPermsDB(t)
	sa := owner(db)
	app := db.NewSession(Principal{Name: "app", Restricted: true})

	tvp := Param{Name: "@rows", Type: Type{ID: TypeTable}, Value: &TableValue{TypeName: "dbo.sessions_batch"}}
	if got := errNumber(t, app, "SELECT COUNT(*) FROM dbo.sessions"); got != 229 {
		t.Fatalf("SELECT before any GRANT: error %d, want 229", got)
	}
	if got := errNumber(t, app, "SELECT COUNT(*) FROM @rows", tvp); got != 229 {
		t.Fatalf("a table-valued parameter before any GRANT: error %d, want 229", got)
	}
	mustExec(t, sa, "GRANT SELECT, INSERT, UPDATE, DELETE ON [dbo].[sessions] TO [app]")
	mustExec(t, sa, "GRANT EXECUTE ON TYPE::[dbo].[sessions_batch] TO [app]")
	// The session that was open before the GRANT sees it at once, as in
	// SQL Server, where permissions are checked at each statement.
	mustExec(t, app, "SELECT COUNT(*) FROM dbo.sessions; DELETE FROM sessions WHERE token = 'x'")
	got := perms(t, app, "")
	want := []any{"app", int64(1), int64(1), int64(1)}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("as app after GRANT: %v, want %v", got, want)
		}
	}
	// The type, usable now as a table-valued parameter's type.
	mustExec(t, app, "SELECT COUNT(*) FROM @rows", tvp)
}

func TestGrantRollsBackWithItsTransaction(t *testing.T) {
	db := newPermsDB(t)
	sa := owner(db)
	mustExec(t, sa, "BEGIN TRAN; GRANT SELECT ON OBJECT::dbo.sessions TO app; ROLLBACK")
	app := db.NewSession(Principal{Name: "app", Restricted: true})
	if got := errNumber(t, app, "SELECT COUNT(*) FROM dbo.sessions"); got != 229 {
		t.Fatalf("SELECT after a rolled-back GRANT: error %d, want 229", got)
	}
	mustExec(t, sa, "BEGIN TRAN; GRANT SELECT ON OBJECT::dbo.sessions TO app; COMMIT")
	mustExec(t, app, "SELECT COUNT(*) FROM dbo.sessions")
}

func TestGrantErrors(t *testing.T) {
	db := newPermsDB(t)
	reader := db.NewSession(Principal{Name: "reader", Restricted: true})
	app := db.NewSession(Principal{Name: "app", Restricted: true})
	tests := []struct {
		name string
		s    *Session
		sql  string
		want int32
		msg  string
	}{
		{"missing user", owner(db), "GRANT SELECT ON dbo.sessions TO nobody", 15151, "Cannot find the user 'nobody'"},
		{"missing table", owner(db), "GRANT SELECT ON dbo.nothing TO app", 15151, "Cannot find the object 'nothing'"},
		{"missing type", owner(db), "GRANT EXECUTE ON TYPE::dbo.nothing TO app", 15151, "Cannot find the type 'nothing'"},
		{"to dbo", owner(db), "GRANT SELECT ON dbo.sessions TO dbo", 4617, "dbo"},
		{"to sys", owner(db), "GRANT SELECT ON dbo.sessions TO [sys]", 4617, "sys"},
		{"to oneself", reader, "GRANT SELECT ON dbo.sessions TO reader", 4613, "Grantor does not have GRANT permission."},
		{"EXECUTE on a table", owner(db), "GRANT EXECUTE ON dbo.sessions TO app", 4606, "privilege EXECUTE"},
		{"SELECT on a type", owner(db), "GRANT SELECT ON TYPE::dbo.sessions_batch TO app", 4606, "privilege SELECT"},
		{"grantor sees the table", reader, "GRANT SELECT ON dbo.sessions TO app", 4613, "Grantor does not have GRANT permission."},
		{"grantor sees nothing", app, "GRANT SELECT ON dbo.sessions TO reader", 15151, "Cannot find the object 'sessions'"},
		{"REFERENCES", owner(db), "GRANT REFERENCES ON dbo.sessions TO app", 40517, "GRANT REFERENCES"},
		{"ALL", owner(db), "GRANT ALL ON dbo.sessions TO app", 40517, "GRANT ALL"},
		{"column list", owner(db), "GRANT SELECT (token) ON dbo.sessions TO app", 40517, "column list"},
		{"database permission", owner(db), "GRANT CREATE TABLE TO app", 40517, "GRANT CREATE"},
		{"schema", owner(db), "GRANT SELECT ON SCHEMA::dbo TO app", 40517, "SCHEMA::"},
		{"grant option", owner(db), "GRANT SELECT ON dbo.sessions TO app WITH GRANT OPTION", 40517, "GRANT OPTION"},
		{"to public", owner(db), "GRANT SELECT ON dbo.sessions TO public", 40517, "public"},
		{"REVOKE", owner(db), "REVOKE SELECT ON dbo.sessions FROM app", 40517, "REVOKE"},
		{"DENY", owner(db), "DENY SELECT ON dbo.sessions TO app", 40517, "DENY"},
		{"CLR method", owner(db), "SELECT geometry::Point(1, 2, 0)", 40517, "geometry::Point"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := tt.s.Exec(context.Background(), tt.sql, nil)
			if err != nil {
				t.Fatal(err)
			}
			e := firstErr(res)
			if e == nil {
				t.Fatalf("%s: no error, want %d", tt.sql, tt.want)
			}
			if e.Number != tt.want || !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("%s: error %d %q, want %d containing %q", tt.sql, e.Number, e.Message, tt.want, tt.msg)
			}
		})
	}
	// None of them granted anything.
	if got := errNumber(t, app, "SELECT COUNT(*) FROM dbo.sessions"); got != 229 {
		t.Fatalf("app after the refused GRANTs: error %d, want 229", got)
	}
}

func TestExecuteAsUser(t *testing.T) {
	db := newPermsDB(t)
	sa := owner(db)

	// In one batch, as mssqlstore check -user sends it.
	res := mustExec(t, sa, "EXECUTE AS USER = N'reader'; "+permsQuery+"; REVERT; SELECT USER_NAME()")
	var sets [][]any
	for _, r := range res {
		if r.Columns != nil {
			sets = append(sets, r.Rows[0])
		}
	}
	if len(sets) != 2 {
		t.Fatalf("%d result sets, want 2", len(sets))
	}
	if got, want := sets[0], []any{"reader", int64(1), int64(0), int64(0)}; !equalRow(got, want) {
		t.Fatalf("as reader: %v, want %v", got, want)
	}
	if got := sets[1][0]; got != "dbo" {
		t.Fatalf("after REVERT: USER_NAME() = %v, want dbo", got)
	}

	// Statements run as the impersonated user are checked as that user.
	if got := errNumber(t, sa, "EXECUTE AS USER = 'reader'; DELETE FROM dbo.sessions; REVERT"); got != 229 {
		t.Fatalf("DELETE as reader: error %d, want 229", got)
	}
	if got := scalar(t, sa, "REVERT; SELECT USER_NAME()"); got != "dbo" {
		t.Fatalf("after the failed DELETE: USER_NAME() = %v, want dbo", got)
	}

	// A variable names the user, as sp_executesql's parameter does.
	if got := perms(t, sa, "DECLARE @u sysname = N'app'; EXECUTE AS USER = @u; ")[0]; got != "app" {
		t.Fatalf("EXECUTE AS USER = @u: USER_NAME() = %v, want app", got)
	}
	mustExec(t, sa, "REVERT")
}

func equalRow(got, want []any) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func TestExecuteAsRefused(t *testing.T) {
	db := newPermsDB(t)
	sa := owner(db)
	reader := db.NewSession(Principal{Name: "reader", Restricted: true})
	tests := []struct {
		name string
		s    *Session
		sql  string
		want int32
	}{
		{"missing user", sa, "EXECUTE AS USER = N'nobody'", 15517},
		{"a login, not a user", sa, "EXECUTE AS USER = N'sa'", 15517},
		{"no IMPERSONATE", reader, "EXECUTE AS USER = N'app'", 15517},
		{"LOGIN", sa, "EXECUTE AS LOGIN = N'app'", 40517},
		{"CALLER", sa, "EXECUTE AS CALLER", 40517},
		{"NO REVERT", sa, "EXECUTE AS USER = N'app' WITH NO REVERT", 40517},
		{"COOKIE", sa, "REVERT WITH COOKIE = @c", 40517},
		// A loop that never REVERTs is bounded: past maxExecAsDepth the
		// server refuses instead of growing the session.
		{"nested without end", sa, "DECLARE @i INT = 0; WHILE @i < 100 BEGIN EXECUTE AS USER = 'dbo'; SET @i = @i + 1; END", 40517},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errNumber(t, tt.s, tt.sql); got != tt.want {
				t.Fatalf("%s: error %d, want %d", tt.sql, got, tt.want)
			}
		})
	}
	// 15517 ends the statement, not the batch: the SELECT runs, as the
	// caller. A client must not read its answer as the user's.
	res, err := sa.Exec(context.Background(), "EXECUTE AS USER = N'nobody'; SELECT USER_NAME()", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Err == nil || res[0].Err.Number != 15517 || res[1].Rows[0][0] != "dbo" {
		t.Fatalf("EXECUTE AS a missing user, then SELECT: %+v", res)
	}
	if !strings.Contains(res[0].Err.Message, `principal "nobody" does not exist`) {
		t.Fatalf("15517's message: %q", res[0].Err.Message)
	}
}

func TestExecuteAsLasts(t *testing.T) {
	db := newPermsDB(t)
	sa := owner(db)
	// A plain batch's context switch outlives the batch...
	mustExec(t, sa, "EXECUTE AS USER = 'app'")
	if got := scalar(t, sa, "SELECT USER_NAME()"); got != "app" {
		t.Fatalf("next batch: USER_NAME() = %v, want app", got)
	}
	// ... and app, without IMPERSONATE, may not switch further.
	if got := errNumber(t, sa, "EXECUTE AS USER = 'reader'"); got != 15517 {
		t.Fatalf("nested EXECUTE AS as app: error %d, want 15517", got)
	}
	// The reset-connection flag ends it.
	sa.Reset()
	if got := scalar(t, sa, "SELECT USER_NAME()"); got != "dbo" {
		t.Fatalf("after Reset: USER_NAME() = %v, want dbo", got)
	}
	// Contexts stack: REVERT returns to the previous one.
	if got := scalar(t, sa, "EXECUTE AS USER = 'dbo'; EXECUTE AS USER = 'app'; REVERT; SELECT USER_NAME()"); got != "dbo" {
		t.Fatalf("after one REVERT of two: USER_NAME() = %v, want dbo", got)
	}
	mustExec(t, sa, "REVERT; REVERT; REVERT") // one more REVERT than contexts: nothing happens
	// sp_executesql's batch is a module: the switch it made ends with it.
	mustExec(t, sa, "EXECUTE AS USER = @u", nvc("@u", "app"))
	if got := scalar(t, sa, "SELECT USER_NAME()"); got != "dbo" {
		t.Fatalf("after an sp_executesql batch: USER_NAME() = %v, want dbo", got)
	}
}

// FuzzPerms: no GRANT, EXECUTE AS or REVERT text makes the lexer, the
// parser or the engine panic, whoever runs it; and whatever ran, Reset
// leaves the session as its own principal.
func FuzzPerms(f *testing.F) {
	for _, s := range []string{
		"GRANT SELECT, INSERT ON [dbo].[sessions] TO [app]",
		"GRANT EXECUTE ON TYPE::dbo.sessions_batch TO app, reader",
		"GRANT SELECT ON OBJECT::sessions TO app WITH GRANT OPTION",
		"GRANT", "GRANT SELECT ON", "GRANT SELECT ON TYPE::", "GRANT SELECT ON x TO", "TYPE::", "x::y",
		"EXECUTE AS USER = N'app'; SELECT USER_NAME(); REVERT",
		"EXEC AS USER = @u", "EXECUTE AS", "EXECUTE AS USER", "EXECUTE AS USER =", "REVERT WITH", "REVERT; REVERT",
		"BEGIN TRAN; GRANT DELETE ON sessions TO app; EXECUTE AS USER = 'app'; DELETE FROM sessions; ROLLBACK",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		if _, err := parseBatch(sql); err != nil || len(sql) > 2000 {
			return
		}
		db := newPermsDB(t)
		for _, p := range []Principal{{Name: "sa"}, {Name: "reader", Restricted: true}} {
			s := db.NewSession(p)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, _ = s.Exec(ctx, sql, nil)
			cancel()
			s.Reset()
			if s.Principal().Name != p.Name {
				t.Fatalf("after Reset the session runs as %q, want %q", s.Principal().Name, p.Name)
			}
			s.Close()
		}
	})
}
