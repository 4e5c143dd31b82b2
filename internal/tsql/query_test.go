package tsql

import (
	"context"
	"strings"
	"testing"
)

// Query shapes and statements the store does not send, with SQL
// Server's answers: a value, or an error number.
func TestQueryAnswers(t *testing.T) {
	tests := []struct {
		name    string
		sql     string
		want    any
		wantErr int32
	}{
		{"CONVERT binary style 1", `SELECT CONVERT(VARCHAR(10), 0x0A0B, 1)`, "0x0A0B", 0},
		{"CONVERT binary style 2", `SELECT CONVERT(VARCHAR(10), 0x0A0B, 2)`, "0A0B", 0},
		{"CONVERT style 120", `SELECT CONVERT(VARCHAR(30), CAST('2024-01-02T03:04:05' AS DATETIME2(0)), 120)`, "2024-01-02 03:04:05", 0},
		{"TOP", `SELECT TOP (1) a FROM (VALUES (2), (1)) AS v(a) ORDER BY a`, int64(1), 0},
		{"ORDER BY an alias", `SELECT TOP (1) a AS x FROM (VALUES (2), (1)) AS v(a) ORDER BY x DESC`, int64(2), 0},
		{"negative TOP", `SELECT TOP (-1) 1`, nil, 1060},
		{"ORDER BY position out of range", `SELECT a FROM (VALUES (1)) AS v(a) ORDER BY 2`, nil, 108},
		{"three-part name of this database", `SELECT COUNT(*) FROM db.dbo.sessions`, int64(0), 0},
		{"three-part name of no database", `SELECT COUNT(*) FROM nodb.dbo.sessions`, nil, 911},
		{"composite key ignores case", `CREATE TABLE k (a INT NOT NULL, b VARCHAR(10) NOT NULL, PRIMARY KEY (a, b));
			INSERT INTO k VALUES (1, 'x'); INSERT INTO k VALUES (1, 'X')`, nil, 2627},
		{"composite key seek", `CREATE TABLE k2 (a INT NOT NULL, b VARCHAR(10) NOT NULL, PRIMARY KEY (a, b));
			INSERT INTO k2 VALUES (1, 'x'); INSERT INTO k2 VALUES (2, 'x');
			SELECT COUNT(*) FROM k2 WHERE a = 1 AND b = 'X'`, int64(1), 0},
		{"MERGE clauses with conditions", `CREATE TABLE m (id INT PRIMARY KEY, v INT);
			INSERT INTO m VALUES (1, 10); INSERT INTO m VALUES (2, 20);
			MERGE m AS t USING (VALUES (1, 11), (2, 21), (3, 31)) AS s(id, v) ON t.id = s.id
			WHEN MATCHED AND s.v > 15 THEN UPDATE SET v = s.v
			WHEN MATCHED THEN DELETE
			WHEN NOT MATCHED THEN INSERT (id, v) VALUES (s.id, s.v);
			SELECT SUM(v) * 10 + COUNT(*) FROM m`, int64(522), 0},
		{"MERGE not matched by source", `CREATE TABLE m2 (id INT PRIMARY KEY, v INT);
			INSERT INTO m2 VALUES (1, 10); INSERT INTO m2 VALUES (2, 20);
			MERGE m2 AS t USING (VALUES (2)) AS s(id) ON t.id = s.id
			WHEN NOT MATCHED BY SOURCE THEN DELETE;
			SELECT SUM(id) FROM m2`, int64(2), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := owner(newTestDB(t))
			defer s.Close()
			if tt.wantErr != 0 {
				if got := errNumber(t, s, tt.sql); got != tt.wantErr {
					t.Errorf("error %d, want %d", got, tt.wantErr)
				}
				return
			}
			if got := scalar(t, s, tt.sql); got != tt.want {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

// What the engine does not model it refuses with 40517, naming the
// construct, where SQL Server would run it.
func TestQueryRefusals(t *testing.T) {
	tests := []struct {
		sql  string
		what string
	}{
		{`SELECT CONVERT(INT, 1, 7)`, "CONVERT style 7"},
		{`SELECT * FROM tempdb.dbo.t`, "cross-database reference to tempdb"},
	}
	s := owner(newTestDB(t))
	defer s.Close()
	for _, tt := range tests {
		res, err := s.Exec(context.Background(), tt.sql, nil)
		if err != nil {
			t.Fatal(err)
		}
		e := firstErr(res)
		if e == nil || e.Number != 40517 || !strings.Contains(e.Message, tt.what) {
			t.Errorf("%s: error %v, want 40517 naming %q", tt.sql, e, tt.what)
		}
	}
}

// SET options: the values the engine behaves as are accepted; any other
// value changes semantics the engine does not model and is refused with
// 40517 naming the option and its value.
func TestSetOptions(t *testing.T) {
	tests := []struct {
		sql     string
		want    any    // the SELECT's answer after the SET
		refused string // what a 40517 names, when refused
	}{
		{`SET LOCK_TIMEOUT 500; SELECT @@LOCK_TIMEOUT`, int64(500), ""},
		{`SET DEADLOCK_PRIORITY LOW; SELECT 1`, int64(1), ""},
		{`SET DEADLOCK_PRIORITY -10; SELECT 1`, int64(1), ""},
		{`SET TEXTSIZE 2147483647; SELECT 1`, int64(1), ""},
		{`SET DATEFIRST 7; SELECT 1`, int64(1), ""},
		{`SET LANGUAGE us_english; SELECT 1`, int64(1), ""},
		{`SET DATEFORMAT mdy; SELECT 1`, int64(1), ""},
		{`SET IMPLICIT_TRANSACTIONS OFF; SELECT 1`, int64(1), ""},
		{`SET ROWCOUNT 0; SELECT 1`, int64(1), ""},
		{`SET TRANSACTION ISOLATION LEVEL SERIALIZABLE; SELECT 1`, int64(1), ""},
		{`SET TEXTSIZE 100`, nil, "SET TEXTSIZE 100"},
		{`SET DATEFIRST 1`, nil, "SET DATEFIRST 1"},
		{`SET ROWCOUNT 5`, nil, "SET ROWCOUNT"},
		{`SET LANGUAGE Deutsch`, nil, "SET LANGUAGE"},
		{`SET DATEFORMAT myd`, nil, "SET DATEFORMAT"},
		{`SET IMPLICIT_TRANSACTIONS ON`, nil, "SET IMPLICIT_TRANSACTIONS ON"},
		{`SET TRANSACTION ISOLATION LEVEL SNAPSHOT`, nil, "SNAPSHOT"},
	}
	for _, tt := range tests {
		s := owner(newTestDB(t))
		if tt.refused == "" {
			if got := scalar(t, s, tt.sql); got != tt.want {
				t.Errorf("%s = %#v, want %#v", tt.sql, got, tt.want)
			}
			s.Close()
			continue
		}
		res, err := s.Exec(context.Background(), tt.sql, nil)
		if err != nil {
			t.Fatal(err)
		}
		if e := firstErr(res); e == nil || e.Number != 40517 || !strings.Contains(strings.ToUpper(e.Message), strings.ToUpper(tt.refused)) {
			t.Errorf("%s: error %v, want 40517 naming %q", tt.sql, e, tt.refused)
		}
		s.Close()
	}
	s := owner(newTestDB(t))
	defer s.Close()
	if got := errNumber(t, s, `SET DEADLOCK_PRIORITY 11`); got != 1463 {
		t.Errorf("SET DEADLOCK_PRIORITY 11: error %d, want 1463", got)
	}
}

// RAISERROR substitutes its arguments printf-style: %d and %i decimal,
// %x hexadecimal, %o octal, %s text, %% a percent sign, and "(null)" for
// a NULL or missing argument. Width and precision are refused.
func TestRaiserrorFormat(t *testing.T) {
	tests := []struct {
		sql  string
		want string
	}{
		{`RAISERROR('a %d b %s c %x %%', 16, 1, 5, 'z', 255)`, "a 5 b z c ff %"},
		{`RAISERROR('%i %X %o', 16, 1, -3, 255, 8)`, "-3 FF 10"},
		{`RAISERROR('%s and %s', 16, 1, 'one')`, "one and (null)"},
		{`RAISERROR('%d', 16, 1, NULL)`, "(null)"},
	}
	s := owner(newTestDB(t))
	defer s.Close()
	for _, tt := range tests {
		res, err := s.Exec(context.Background(), tt.sql, nil)
		if err != nil {
			t.Fatal(err)
		}
		if e := firstErr(res); e == nil || e.Number != 50000 || e.Message != tt.want {
			t.Errorf("%s: error %v, want 50000 %q", tt.sql, e, tt.want)
		}
	}
	res, err := s.Exec(context.Background(), `RAISERROR('%5d', 16, 1, 1)`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := firstErr(res); e == nil || e.Number != 40517 {
		t.Errorf("RAISERROR with a width: error %v, want 40517", e)
	}
}

// Catalog functions: OBJECT_NAME, TYPE_ID and HAS_PERMS_BY_NAME, for the
// owner and for a principal granted SELECT on dbo.sessions only. A
// securable that does not exist, or that the principal cannot see,
// gives NULL.
func TestCatalogFunctions(t *testing.T) {
	db := newTestDB(t)
	own := owner(db)
	defer own.Close()
	app := db.NewSession(Principal{Name: "app", Restricted: true, Grants: map[string]Permission{"dbo.sessions": PermSelect}})
	defer app.Close()
	none := db.NewSession(Principal{Name: "none", Restricted: true})
	defer none.Close()
	id := scalar(t, own, `SELECT OBJECT_ID('dbo.sessions')`).(int64)
	tests := []struct {
		s    *Session
		sql  string
		want any
	}{
		{own, `SELECT OBJECT_NAME(OBJECT_ID('[dbo].[sessions]'))`, "sessions"},
		{own, `SELECT OBJECT_NAME(12345)`, nil},
		{app, `SELECT OBJECT_NAME(@id)`, "sessions"},
		{none, `SELECT OBJECT_NAME(@id)`, nil},
		{own, `SELECT TYPE_ID('int')`, int64(56)},
		{own, `SELECT TYPE_ID('sys.nvarchar')`, int64(231)},
		{own, `SELECT TYPE_ID('dbo.nosuch')`, nil},
		{own, `SELECT HAS_PERMS_BY_NAME('dbo.sessions', 'OBJECT', 'DELETE')`, int64(1)},
		{app, `SELECT HAS_PERMS_BY_NAME('dbo.sessions', 'OBJECT', 'SELECT')`, int64(1)},
		{app, `SELECT HAS_PERMS_BY_NAME('dbo.sessions', 'OBJECT', 'DELETE')`, int64(0)},
		{own, `SELECT HAS_PERMS_BY_NAME('dbo.nosuch', 'OBJECT', 'SELECT')`, nil},
		{own, `SELECT HAS_PERMS_BY_NAME('dbo.sessions_batch', 'TYPE', 'EXECUTE')`, int64(1)},
		{app, `SELECT HAS_PERMS_BY_NAME('db', 'DATABASE', 'CONNECT')`, int64(1)},
		{app, `SELECT HAS_PERMS_BY_NAME('db', 'DATABASE', 'CREATE TABLE')`, int64(0)},
		{own, `SELECT HAS_PERMS_BY_NAME('db', 'DATABASE', 'CREATE TABLE')`, int64(1)},
	}
	for _, tt := range tests {
		if got := scalar(t, tt.s, tt.sql, Param{Name: "@id", Type: Type{ID: TypeInt}, Value: id}); got != tt.want {
			t.Errorf("%s as %s = %#v, want %#v", tt.sql, tt.s.Principal().Name, got, tt.want)
		}
	}
}

// How long a reader's locks last, by isolation level and table hint, as
// in SQL Server: the first session reads row k1 in an open transaction;
// the second then touches k1 with LOCK_TIMEOUT 0, and gets 1222 if and
// only if the first still holds a conflicting lock.
func TestIsolationAndHints(t *testing.T) {
	const update = "UPDATE sessions SET data = 0x09 WHERE token = 'k1'"
	const read = "SELECT data FROM sessions WHERE token = 'k1'"
	tests := []struct {
		name    string
		first   string // run in an open transaction
		then    string
		blocked bool
	}{
		{"READ COMMITTED releases S", "SELECT data FROM sessions WHERE token = 'k1'", update, false},
		{"READ UNCOMMITTED takes none", "SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED; SELECT data FROM sessions WHERE token = 'k1'", update, false},
		{"REPEATABLE READ holds S", "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; SELECT data FROM sessions WHERE token = 'k1'", update, true},
		{"SERIALIZABLE holds S", "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE; SELECT data FROM sessions WHERE token = 'k1'", update, true},
		{"REPEATABLEREAD hint", "SELECT data FROM sessions WITH (REPEATABLEREAD) WHERE token = 'k1'", update, true},
		{"READCOMMITTED hint under SERIALIZABLE", "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE; SELECT data FROM sessions WITH (READCOMMITTED) WHERE token = 'k1'", update, false},
		{"UPDLOCK blocks a writer", "SELECT data FROM sessions WITH (UPDLOCK) WHERE token = 'k1'", update, true},
		{"UPDLOCK lets a reader in", "SELECT data FROM sessions WITH (UPDLOCK) WHERE token = 'k1'", read, false},
		{"XLOCK blocks a reader", "SELECT data FROM sessions WITH (XLOCK) WHERE token = 'k1'", read, true},
		{"TABLOCKX blocks a reader of another row", "SELECT data FROM sessions WITH (TABLOCKX) WHERE token = 'k1'", "SELECT data FROM sessions WHERE token = 'k2'", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newTestDB(t)
			ctx := bounded(t)
			s1, s2 := owner(db), owner(db)
			defer s1.Close()
			defer s2.Close()
			mustRun(t, ctx, s1, seed)
			mustRun(t, ctx, s1, "BEGIN TRANSACTION; "+tt.first)
			e, err := execErr(t, ctx, s2, "SET LOCK_TIMEOUT 0; "+tt.then)
			if err != nil {
				t.Fatal(err)
			}
			if blocked := e != nil && e.Number == 1222; blocked != tt.blocked || (e != nil && !blocked) {
				t.Errorf("%s after %s: error %v, want blocked %v", tt.then, tt.first, e, tt.blocked)
			}
		})
	}
}
