package mssqltest_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/scs-contrib/mssqlstore/mssqltest"
)

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlserver", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// sqlErrorNumber returns the SQL Server error number in err's chain, or 0.
func sqlErrorNumber(err error) int32 {
	var e mssql.Error
	if errors.As(err, &e) {
		return e.Number
	}
	return 0
}

func count(ctx context.Context, db *sql.DB) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM dbo.sessions").Scan(&n)
	return n, err
}

// Start's server answers during the test and is closed when it ends.
func TestStartClosesAtCleanup(t *testing.T) {
	var dsn string
	t.Run("inner", func(t *testing.T) {
		srv := mssqltest.Start(t, mssqltest.Options{})
		dsn = srv.DSN()
		if _, err := count(testContext(t), open(t, dsn)); err != nil {
			t.Fatalf("query while the test runs: %v", err)
		}
	})
	ctx := testContext(t)
	if _, err := count(ctx, open(t, dsn)); err == nil {
		t.Fatal("the server still answers after its test ended")
	}
}

func TestOptions(t *testing.T) {
	ctx := testContext(t)
	now := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	srv := mssqltest.Start(t, mssqltest.Options{Database: "app", User: "owner", Password: "Owner-Pass1", Bare: true,
		Now: func() time.Time { return now }})
	if !strings.Contains(srv.DSN(), "database=app") || !strings.Contains(srv.DSN(), "owner:Owner-Pass1@"+srv.Addr()) {
		t.Errorf("DSN %q does not name the database, the login and the address %s", srv.DSN(), srv.Addr())
	}
	db := open(t, srv.DSN())
	var name string
	if err := db.QueryRowContext(ctx, "SELECT DB_NAME()").Scan(&name); err != nil || name != "app" {
		t.Errorf("DB_NAME() = %q, %v; want app", name, err)
	}
	var got time.Time
	if err := db.QueryRowContext(ctx, "SELECT SYSUTCDATETIME()").Scan(&got); err != nil || !got.Equal(now) {
		t.Errorf("SYSUTCDATETIME() = %v, %v; want Options.Now's %v", got, err, now)
	}
	// Bare: no sessions table; SQL Server's answer is 208.
	if _, err := count(ctx, db); sqlErrorNumber(err) != 208 {
		t.Errorf("count on a bare database: %v, want error 208", err)
	}
	if err := srv.Exec(ctx, "CREATE TABLE dbo.sessions (token CHAR(43) NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if n, err := count(ctx, db); err != nil || n != 0 {
		t.Errorf("count after Exec created the table = %d, %v; want 0, nil", n, err)
	}
	if _, err := count(ctx, open(t, srv.DSNFor("owner", "wrong"))); sqlErrorNumber(err) != 18456 {
		t.Errorf("a wrong password: %v, want error 18456", err)
	}
}

func TestNewServerError(t *testing.T) {
	srv, err := mssqltest.NewServer(mssqltest.Options{Addr: "256.0.0.1:0"})
	if err == nil {
		srv.Close()
		t.Fatal("NewServer on an address that cannot be listened on succeeded")
	}
	if !strings.HasPrefix(err.Error(), "mssqltest: ") {
		t.Errorf("error %q does not say where it comes from", err)
	}
}

func TestCloseTwice(t *testing.T) {
	srv, err := mssqltest.NewServer(mssqltest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := srv.Close(); err != nil {
			t.Errorf("Close #%d: %v", i+1, err)
		}
	}
}

// The construct the server does not implement is refused with 40517,
// named, never run as something else.
func TestRefusesWhatItDoesNotKnow(t *testing.T) {
	ctx := testContext(t)
	db := open(t, mssqltest.Start(t, mssqltest.Options{}).DSN())
	_, err := db.ExecContext(ctx, "SELECT token FROM dbo.sessions FOR XML PATH")
	if sqlErrorNumber(err) != 40517 || !strings.Contains(err.Error(), "FOR XML") {
		t.Errorf("FOR XML: %v, want error 40517 naming FOR XML", err)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault mssqltest.Fault
		// wantErr is the error number of the first query; -1 any error
		// that is not a SQL Server error (a broken connection).
		wantErr int32
		hits    int // how many of three queries fail
	}{
		{"deadlock once", mssqltest.Fault{Statement: "SELECT", Error: 1205}, 1205, 1},
		{"twice", mssqltest.Fault{Error: 40613, Times: 2}, 40613, 2},
		{"until cleared", mssqltest.Fault{Statement: "select", Table: "sessions", Error: 229, Times: -1}, 229, 3},
		{"other kind", mssqltest.Fault{Statement: "MERGE", Error: 1205}, 0, 0},
		{"other table", mssqltest.Fault{Table: "dbo.other", Error: 1205}, 0, 0},
		{"unknown number", mssqltest.Fault{Error: 12345}, 50000, 1},
		{"drop connection", mssqltest.Fault{DropBefore: true}, -1, 1},
		{"drop after", mssqltest.Fault{DropAfter: true}, -1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			srv := mssqltest.Start(t, mssqltest.Options{})
			db := open(t, srv.DSN())
			db.SetMaxOpenConns(1)
			if err := srv.InjectFault(tt.fault); err != nil {
				t.Fatal(err)
			}
			failed := 0
			for i := range 3 {
				_, err := count(ctx, db)
				if err != nil {
					failed++
				}
				if i > 0 {
					continue
				}
				switch got := sqlErrorNumber(err); {
				case tt.wantErr == -1 && (err == nil || got != 0):
					t.Errorf("first query: %v, want a broken connection", err)
				case tt.wantErr != -1 && got != tt.wantErr:
					t.Errorf("first query: %v, want error %d", err, tt.wantErr)
				}
			}
			if failed != tt.hits {
				t.Errorf("%d of 3 queries failed, want %d", failed, tt.hits)
			}
			if got := srv.FaultsHit(); got != int64(tt.hits) {
				t.Errorf("FaultsHit = %d, want %d", got, tt.hits)
			}
			srv.ClearFaults()
			if _, err := count(ctx, db); err != nil {
				t.Errorf("after ClearFaults: %v", err)
			}
		})
	}
}

// A stalled statement waits for the client's cancellation, which the
// server counts.
func TestFaultStall(t *testing.T) {
	srv := mssqltest.Start(t, mssqltest.Options{})
	db := open(t, srv.DSN())
	if err := srv.InjectFault(mssqltest.Fault{Statement: "SELECT", Stall: true}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testContext(t))
	done := make(chan error, 1)
	go func() {
		_, err := count(ctx, db)
		done <- err
	}()
	// The statement stalls until cancelled: wait until it has reached the
	// server, then cancel.
	for deadline := time.Now().Add(30 * time.Second); srv.FaultsHit() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the stalled statement never reached the server")
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("stalled query: %v, want context.Canceled", err)
	}
	if _, err := count(testContext(t), db); err != nil {
		t.Errorf("after the stall: %v", err)
	}
	if c := srv.Counters(); c.Cancels != 1 {
		t.Errorf("Cancels = %d, want 1", c.Cancels)
	}
}

// With latency longer than the caller's deadline, the reply comes too
// late; without it, it comes.
func TestLatency(t *testing.T) {
	srv := mssqltest.Start(t, mssqltest.Options{})
	db := open(t, srv.DSN())
	if _, err := count(testContext(t), db); err != nil { // log in first
		t.Fatal(err)
	}
	srv.SetLatency(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := count(ctx, db); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("with 300 ms of latency and a 20 ms deadline: %v, want the deadline exceeded", err)
	}
	srv.SetLatency(0)
	if _, err := count(testContext(t), db); err != nil {
		t.Errorf("without latency: %v", err)
	}
}

func TestAddLogin(t *testing.T) {
	ctx := testContext(t)
	srv := mssqltest.Start(t, mssqltest.Options{})
	tests := []struct {
		grant    mssqltest.Permission
		stmt     string
		allowed  bool
		wantErr  int32
		stmtKind string
	}{
		{mssqltest.Select, "SELECT COUNT(*) FROM dbo.sessions", true, 0, "SELECT"},
		{mssqltest.Insert, "SELECT COUNT(*) FROM dbo.sessions", false, 229, "SELECT"},
		{mssqltest.Insert, "INSERT INTO dbo.sessions (token, data, expiry) VALUES ('a', 0x01, '2030-01-01')", true, 0, "INSERT"},
		{mssqltest.Select, "INSERT INTO dbo.sessions (token, data, expiry) VALUES ('b', 0x01, '2030-01-01')", false, 229, "INSERT"},
		{mssqltest.Select | mssqltest.Update, "UPDATE dbo.sessions SET data = 0x02", true, 0, "UPDATE"},
		{mssqltest.Select, "UPDATE dbo.sessions SET data = 0x02", false, 229, "UPDATE"},
		{mssqltest.Select | mssqltest.Delete, "DELETE FROM dbo.sessions WHERE token = 'zz'", true, 0, "DELETE"},
		{mssqltest.Select, "DELETE FROM dbo.sessions WHERE token = 'zz'", false, 229, "DELETE"},
		{mssqltest.Select | mssqltest.Insert | mssqltest.Update | mssqltest.Delete | mssqltest.Execute, "CREATE TABLE dbo.t (a INT)", false, 262, "DDL"},
	}
	for i, tt := range tests {
		user := "app" + string(rune('a'+i))
		if err := srv.AddLogin(user, "App-Passw0rd", map[string]mssqltest.Permission{"dbo.sessions": tt.grant}); err != nil {
			t.Fatal(err)
		}
		_, err := open(t, srv.DSNFor(user, "App-Passw0rd")).ExecContext(ctx, tt.stmt)
		if tt.allowed && err != nil {
			t.Errorf("%s granted %b: %v", tt.stmtKind, tt.grant, err)
		}
		if !tt.allowed && sqlErrorNumber(err) != tt.wantErr {
			t.Errorf("%s granted %b: %v, want error %d", tt.stmtKind, tt.grant, err, tt.wantErr)
		}
	}
}

func TestCounters(t *testing.T) {
	ctx := testContext(t)
	srv := mssqltest.Start(t, mssqltest.Options{})
	db := open(t, srv.DSN())
	if _, err := db.ExecContext(ctx, "INSERT INTO dbo.sessions (token, data, expiry) VALUES ('a', 0x01, '2030-01-01'), ('b', 0x01, '2030-01-01')"); err != nil {
		t.Fatal(err)
	}
	if _, err := count(ctx, db); err != nil {
		t.Fatal(err)
	}
	c := srv.Counters()
	if c.Logins < 1 || c.RoundTrips < 2 || c.Statements["INSERT"] != 1 || c.Statements["SELECT"] != 1 || c.RowsWritten != 2 || c.RowsRead < 2 {
		t.Errorf("Counters = %+v, want a login, 2 round trips, an INSERT of 2 rows and a SELECT reading them", c)
	}
	c.Statements["INSERT"] = 99 // a snapshot: changing it changes nothing
	srv.ResetCounters()
	if c := srv.Counters(); c.RoundTrips != 0 || c.RowsWritten != 0 || c.Statements["INSERT"] != 0 {
		t.Errorf("after ResetCounters: %+v, want zeros", c)
	}
	// Exec is the test's setup: not counted.
	if err := srv.Exec(ctx, "DELETE FROM dbo.sessions"); err != nil {
		t.Fatal(err)
	}
	if c := srv.Counters(); c.Statements["DELETE"] != 0 || c.RowsWritten != 0 {
		t.Errorf("Exec was counted: %+v", c)
	}
}

// Misuse is refused with an error, never taken as something else: a
// fault that would never fire (or fire two ways), a login that would
// replace the owner's, a permission outside the constants, Exec on a
// closed server. A SQL error from Exec carries its number and line.
func TestMisuse(t *testing.T) {
	ctx := testContext(t)
	srv := mssqltest.Start(t, mssqltest.Options{})
	for _, f := range []mssqltest.Fault{
		{Statement: "SELECT"},
		{Error: 1205, Stall: true},
		{DropBefore: true, DropAfter: true},
	} {
		if err := srv.InjectFault(f); err == nil {
			t.Errorf("InjectFault(%+v) = nil, want an error", f)
		}
	}
	if srv.FaultsHit() != 0 {
		t.Errorf("FaultsHit = %d after refused faults", srv.FaultsHit())
	}
	db := open(t, srv.DSN())
	if _, err := count(ctx, db); err != nil {
		t.Errorf("a refused fault fired: %v", err)
	}
	for _, tt := range []struct {
		user   string
		grants map[string]mssqltest.Permission
	}{
		{"", nil},
		{"sa", nil},
		{"SA", nil},
		{"app", map[string]mssqltest.Permission{"": mssqltest.Select}},
		{"app", map[string]mssqltest.Permission{"dbo.sessions": 1 << 7}},
	} {
		if err := srv.AddLogin(tt.user, "App-Passw0rd", tt.grants); err == nil {
			t.Errorf("AddLogin(%q, %v) = nil, want an error", tt.user, tt.grants)
		}
	}
	if _, err := count(ctx, db); err != nil {
		t.Errorf("the owner's login no longer works: %v", err)
	}
	// A name without a schema is the dbo schema's object.
	if err := srv.AddLogin("app", "App-Passw0rd", map[string]mssqltest.Permission{"sessions": mssqltest.Select}); err != nil {
		t.Fatal(err)
	}
	if _, err := count(ctx, open(t, srv.DSNFor("app", "App-Passw0rd"))); err != nil {
		t.Errorf("SELECT granted on \"sessions\": %v", err)
	}
	err := srv.Exec(ctx, "SELECT 1\nSELECT * FROM dbo.missing")
	var se *mssqltest.Error
	if !errors.As(err, &se) || se.Number != 208 || se.Line != 2 {
		t.Errorf("Exec of a missing table on line 2 = %v, want *Error 208 on line 2", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Exec(ctx, "SELECT 1"); !errors.Is(err, mssqltest.ErrClosed) {
		t.Errorf("Exec after Close = %v, want ErrClosed", err)
	}
}
