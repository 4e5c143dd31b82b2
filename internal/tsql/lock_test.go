package tsql

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// lockWatch reports the sessions that start waiting for a lock.
func lockWatch(db *Database) <-chan *Session {
	ch := make(chan *Session, 16)
	db.locks.mu.Lock()
	db.locks.onWait = func(s *Session) { ch <- s }
	db.locks.mu.Unlock()
	return ch
}

// bounded gives a statement that should not wait a context that ends the
// test instead of hanging it if it does.
func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func execErr(t *testing.T, ctx context.Context, s *Session, sql string) (*Error, error) {
	t.Helper()
	res, err := s.Exec(ctx, sql, nil)
	return firstErr(res), err
}

func mustRun(t *testing.T, ctx context.Context, s *Session, sql string) {
	t.Helper()
	e, err := execErr(t, ctx, s, sql)
	if err != nil || e != nil {
		t.Fatalf("%s: %v %v", sql, err, e)
	}
}

const seed = "INSERT INTO sessions (token, data, expiry) VALUES ('k1', 0x01, '2030-01-01'), ('k2', 0x02, '2030-01-01')"

func TestLockingDoesNotBlock(t *testing.T) {
	tests := []struct {
		name        string
		first, then string // first leaves a transaction open; then must not wait
	}{
		{"empty transaction, scan", "BEGIN TRANSACTION", "SELECT COUNT(*) FROM sessions"},
		{"empty transaction, write", "BEGIN TRANSACTION", "UPDATE sessions SET data = 0x03 WHERE token = 'k1'"},
		{"writers of different keys", "BEGIN TRANSACTION; UPDATE sessions SET data = 0x03 WHERE token = 'k1'",
			"BEGIN TRANSACTION; UPDATE sessions SET data = 0x04 WHERE token = 'k2'; DELETE FROM sessions WHERE token = 'k2'; INSERT INTO sessions VALUES ('k3', 0x05, '2030-01-01'); COMMIT"},
		{"reader of another key", "BEGIN TRANSACTION; UPDATE sessions SET data = 0x03 WHERE token = 'k1'",
			"SELECT data FROM sessions WHERE token = 'k2'"},
		{"inserts into a heap (driver's TestConn_BeginTx)", "CREATE TABLE test (f int); BEGIN TRANSACTION; INSERT INTO test (f) VALUES (1)",
			"BEGIN TRANSACTION; INSERT INTO test (f) VALUES (2); COMMIT"},
		{"reader under NOLOCK", "BEGIN TRANSACTION; UPDATE sessions SET data = 0x03 WHERE token = 'k1'",
			"SELECT data FROM sessions WITH (NOLOCK)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newTestDB(t)
			waits := lockWatch(db)
			s1, s2 := owner(db), owner(db)
			defer s1.Close()
			defer s2.Close()
			ctx := bounded(t)
			mustRun(t, ctx, s1, seed)
			mustRun(t, ctx, s1, tt.first)
			mustRun(t, ctx, s2, tt.then)
			select {
			case s := <-waits:
				t.Fatalf("session %d waited for a lock", s.SPID())
			default:
			}
			if n := db.Stats().LockWaits; n != 0 {
				t.Fatalf("Stats().LockWaits = %d, want 0", n)
			}
		})
	}
}

func TestLockingBlocksReaderOfUncommittedRow(t *testing.T) {
	for _, end := range []string{"COMMIT", "ROLLBACK"} {
		t.Run(end, func(t *testing.T) {
			db := newTestDB(t)
			waits := lockWatch(db)
			s1, s2 := owner(db), owner(db)
			defer s1.Close()
			defer s2.Close()
			ctx := bounded(t)
			mustRun(t, ctx, s1, seed)
			mustRun(t, ctx, s1, "BEGIN TRANSACTION; UPDATE sessions SET data = 0x09 WHERE token = 'k1'")
			got := make(chan any, 1)
			go func() {
				res, err := s2.Exec(ctx, "SELECT data FROM sessions WHERE token = 'k1'", nil)
				if err != nil || firstErr(res) != nil {
					got <- err
					return
				}
				got <- res[0].Rows[0][0]
			}()
			if s := <-waits; s != s2 {
				t.Fatalf("session %d waited, want the reader %d", s.SPID(), s2.SPID())
			}
			mustRun(t, ctx, s1, end)
			if n := db.Stats().LockWaits; n != 1 {
				t.Errorf("Stats().LockWaits = %d, want 1", n)
			}
			want := []byte{0x09}
			if end == "ROLLBACK" {
				want = []byte{0x01}
			}
			if g, ok := (<-got).([]byte); !ok || string(g) != string(want) {
				t.Fatalf("reader got %v, want %x", g, want)
			}
		})
	}
}

func TestLockTimeout(t *testing.T) {
	db := newTestDB(t)
	s1, s2 := owner(db), owner(db)
	defer s1.Close()
	defer s2.Close()
	ctx := bounded(t)
	mustRun(t, ctx, s1, seed)
	mustRun(t, ctx, s1, "BEGIN TRANSACTION; DELETE FROM sessions WHERE token = 'k1'")
	for _, ms := range []string{"0", "200"} {
		res, err := s2.Exec(ctx, "SET LOCK_TIMEOUT "+ms+"; SELECT COUNT(*) FROM sessions; SELECT @@LOCK_TIMEOUT", nil)
		if err != nil {
			t.Fatal(err)
		}
		e := firstErr(res)
		if e == nil || e.Number != 1222 {
			t.Fatalf("LOCK_TIMEOUT %s: error %v, want 1222", ms, e)
		}
		// 1222 ends the statement only: the batch goes on.
		if last := res[len(res)-1]; last.Err != nil || len(last.Rows) != 1 || last.Rows[0][0] != mustInt(t, ms) {
			t.Fatalf("LOCK_TIMEOUT %s: last result %+v, want @@LOCK_TIMEOUT", ms, last)
		}
	}
}

func mustInt(t *testing.T, s string) int64 {
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
	}
	return n
}

func TestDeadlockVictim(t *testing.T) {
	db := newTestDB(t)
	waits := lockWatch(db)
	s1, s2 := owner(db), owner(db)
	defer s1.Close()
	defer s2.Close()
	ctx := bounded(t)
	mustRun(t, ctx, s1, seed)
	// s2 has done more work: the lock monitor rolls back the cheaper s1.
	mustRun(t, ctx, s1, "BEGIN TRANSACTION; UPDATE sessions SET data = 0x11 WHERE token = 'k1'")
	mustRun(t, ctx, s2, "BEGIN TRANSACTION; UPDATE sessions SET data = 0x22 WHERE token = 'k2'; INSERT INTO sessions VALUES ('k3', 0x33, '2030-01-01')")
	type out struct {
		e   *Error
		err error
	}
	first := make(chan out, 1)
	go func() {
		e, err := execErr(t, ctx, s1, "UPDATE sessions SET data = 0x12 WHERE token = 'k2'")
		first <- out{e, err}
	}()
	if s := <-waits; s != s1 {
		t.Fatalf("session %d waited, want %d", s.SPID(), s1.SPID())
	}
	e2, err := execErr(t, ctx, s2, "UPDATE sessions SET data = 0x21 WHERE token = 'k1'")
	if err != nil {
		t.Fatal(err)
	}
	o := <-first
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.e == nil || o.e.Number != 1205 {
		t.Fatalf("s1 (cheaper) got %v, want the deadlock victim's 1205", o.e)
	}
	if e2 != nil {
		t.Fatalf("s2 got %v, want its update to proceed", e2)
	}
	if n := s1.TransactionDepth(); n != 0 {
		t.Fatalf("victim's @@TRANCOUNT = %d, want 0 (rolled back)", n)
	}
	mustRun(t, ctx, s2, "COMMIT")
	if got := scalar(t, s1, "SELECT data FROM sessions WHERE token = 'k1'"); string(got.([]byte)) != "\x21" {
		t.Fatalf("k1 = %x, want the survivor's 21", got)
	}
}

// Two sessions that upsert the same new key, as the store does, must not
// both insert it: the second waits for the first and then updates.
func TestUpsertSameNewKeySerialises(t *testing.T) {
	upserts := []string{
		"MERGE sessions WITH (UPDLOCK, HOLDLOCK) AS t USING (VALUES ('new', 0x0%d)) AS s (token, data) ON t.token = s.token " +
			"WHEN MATCHED THEN UPDATE SET t.data = s.data WHEN NOT MATCHED THEN INSERT (token, data, expiry) VALUES (s.token, s.data, '2030-01-01');",
		"UPDATE t SET t.data = 0x0%[1]d FROM sessions AS t WITH (UPDLOCK, SERIALIZABLE) WHERE t.token = 'new'; " +
			"INSERT INTO sessions (token, data, expiry) SELECT 'new', 0x0%[1]d, '2030-01-01' WHERE NOT EXISTS (SELECT 1 FROM sessions AS t WITH (UPDLOCK, SERIALIZABLE) WHERE t.token = 'new');",
	}
	for i, up := range upserts {
		t.Run([]string{"MERGE", "UPDATE then INSERT"}[i], func(t *testing.T) {
			db := newTestDB(t)
			waits := lockWatch(db)
			s1, s2 := owner(db), owner(db)
			defer s1.Close()
			defer s2.Close()
			ctx := bounded(t)
			mustRun(t, ctx, s1, "SET XACT_ABORT ON; BEGIN TRANSACTION; "+fmt.Sprintf(up, 1))
			var wg sync.WaitGroup
			var e *Error
			var err error
			wg.Add(1)
			go func() {
				defer wg.Done()
				e, err = execErr(t, ctx, s2, "SET XACT_ABORT ON; BEGIN TRANSACTION; "+fmt.Sprintf(up, 2)+" COMMIT")
			}()
			if s := <-waits; s != s2 {
				t.Fatalf("session %d waited, want %d", s.SPID(), s2.SPID())
			}
			mustRun(t, ctx, s1, "COMMIT")
			wg.Wait()
			if err != nil || e != nil {
				t.Fatalf("second upsert: %v %v", err, e)
			}
			if got := scalar(t, s1, "SELECT data FROM sessions WHERE token = 'new'"); string(got.([]byte)) != "\x02" {
				t.Fatalf("data = %x, want the second upsert's 02", got)
			}
		})
	}
}

func TestLockHintsNowaitAndReadpast(t *testing.T) {
	db := newTestDB(t)
	s1, s2 := owner(db), owner(db)
	defer s1.Close()
	defer s2.Close()
	ctx := bounded(t)
	mustRun(t, ctx, s1, seed)
	mustRun(t, ctx, s1, "BEGIN TRANSACTION; UPDATE sessions SET data = 0x09 WHERE token = 'k1'")
	for _, sql := range []string{
		"SELECT data FROM sessions WITH (NOWAIT) WHERE token = 'k1'",
		"SELECT COUNT(*) FROM sessions WITH (NOWAIT)",
	} {
		if e, err := execErr(t, ctx, s2, sql); err != nil || e == nil || e.Number != 1222 {
			t.Errorf("%s: %v %v, want 1222 at once", sql, err, e)
		}
	}
	for sql, want := range map[string]int64{
		"SELECT COUNT(*) FROM sessions WITH (READPAST)":                    1,
		"SELECT COUNT(*) FROM sessions WITH (READPAST) WHERE token = 'k1'": 0,
		"SELECT COUNT(*) FROM sessions WITH (READPAST) WHERE token = 'k2'": 1,
	} {
		res, err := s2.Exec(ctx, sql, nil)
		if err != nil || firstErr(res) != nil {
			t.Fatalf("%s: %v %v", sql, err, firstErr(res))
		}
		if got := res[0].Rows[0][0]; got != want {
			t.Errorf("%s = %v, want %d (the locked row skipped)", sql, got, want)
		}
	}
}

// A statement that takes 5,000 key locks on a table escalates to a table
// lock, as SQL Server does: another session's insert of an unrelated key
// then waits; one lock fewer and it does not.
func TestLockEscalation(t *testing.T) {
	for _, tt := range []struct {
		deleted int
		blocked bool
	}{{escalationThreshold - 1, false}, {escalationThreshold, true}} {
		t.Run(fmt.Sprint(tt.deleted), func(t *testing.T) {
			db := newTestDB(t)
			s1, s2 := owner(db), owner(db)
			defer s1.Close()
			defer s2.Close()
			ctx := bounded(t)
			mustRun(t, ctx, s1, "CREATE TABLE e (k int PRIMARY KEY); DECLARE @i int = 0; WHILE @i < 6000 BEGIN INSERT INTO e VALUES (@i); SET @i += 1 END")
			mustRun(t, ctx, s1, fmt.Sprintf("BEGIN TRANSACTION; DELETE FROM e WHERE k < %d", tt.deleted))
			e, err := execErr(t, ctx, s2, "SET LOCK_TIMEOUT 0; INSERT INTO e VALUES (99999)")
			if err != nil {
				t.Fatal(err)
			}
			if got := e != nil && e.Number == 1222; got != tt.blocked {
				t.Fatalf("insert after %d deletes: error %v, want blocked %v", tt.deleted, e, tt.blocked)
			}
			mustRun(t, ctx, s1, "ROLLBACK")
			if tt.blocked {
				mustRun(t, ctx, s2, "INSERT INTO e VALUES (99999)")
			}
		})
	}
}

// A statement that finds the database latch taken waits for it, and the
// engine counts the wait and its time: the test server's own contention,
// which benchmarks report apart from the store's.
func TestLatchWaitsCounted(t *testing.T) {
	db := newTestDB(t)
	s1 := owner(db)
	defer s1.Close()
	ctx := bounded(t)
	mustRun(t, ctx, s1, seed)
	if st := db.Stats(); st.LatchWaits != 0 || st.LatchWait != 0 {
		t.Fatalf("before any contention: %+v", st)
	}
	waiting := make(chan struct{}, 1)
	db.onLatchWait = func() { waiting <- struct{}{} }
	db.latch.Lock() // as a long statement of another session would
	done := make(chan error, 1)
	go func() {
		_, err := execErr(t, ctx, s1, "SELECT data FROM sessions WHERE token = 'k1'")
		done <- err
	}()
	<-waiting
	db.latch.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := db.Stats(); st.LatchWaits != 1 || st.LatchWait <= 0 {
		t.Fatalf("Stats() = %+v, want one latch wait with its time", st)
	}
	db.ResetStats()
	if st := db.Stats(); st.LatchWaits != 0 || st.LatchWait != 0 || st.LockWaits != 0 {
		t.Fatalf("after ResetStats: %+v", st)
	}
}
