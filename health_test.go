package mssqlstore

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
	"github.com/scs-contrib/mssqlstore/internal/sqlerr"
	"github.com/scs-contrib/mssqlstore/internal/testdb"
	"github.com/scs-contrib/mssqlstore/internal/tsql"
)

// A deploy whose database user may only SELECT looks healthy to every
// request (reads come from memory); Health shows the problem as soon as
// the first flush fails, without a round trip.
func TestHealthShowsMissingPermission(t *testing.T) {
	db := testdb.Open(t, testdb.Options{WithType: true})
	srv := db.RequireServer(t)
	srv.AddLogin("reader", "Reader-Passw0rd", map[string]tsql.Permission{"dbo.sessions": tsql.PermSelect})
	readOnly := *db
	readOnly.DB = openDSN(t, srv.DSNFor("reader", "Reader-Passw0rd"))
	h := newHarnessOn(t, &readOnly, newFakeClock(), Config{})
	if err := h.store.Health(); err != nil {
		t.Fatalf("Health before any write = %v", err)
	}
	tok := newToken(t)
	h.commit(tok, "v1", h.later(time.Hour))
	if got, ok := h.find(tok); !ok || got != "v1" {
		t.Fatalf("Find = %q, %v", got, ok)
	}
	h.clock.Advance(DefaultFlushInterval) // one flush interval
	waitFor(t, "Health to report the failing flushes", func() bool { return h.store.Health() != nil })
	err := h.store.Health()
	if n, _ := sqlerr.Number(err); n != 229 {
		t.Fatalf("Health = %v, want the permission error (229)", err)
	}
	if st := h.store.Stats(); st.LastError == nil || st.Pending != 1 || !st.LastFlushAt.IsZero() {
		t.Fatalf("Stats: last error %v, pending %d, last flush at %v", st.LastError, st.Pending, st.LastFlushAt)
	}
}

// An outage long enough shows as a pending write older than FlushTimeout.
func TestHealthShowsOldPendingWrite(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{FlushTimeout: 5 * time.Second})
	srv := h.db.RequireServer(t)
	srv.InjectFault(mssqltest.Fault{Kind: "MERGE", Error: 40613, Times: -1})
	h.commit(newToken(t), "v1", h.later(time.Hour))
	h.clock.Advance(4 * time.Second)
	if err := h.store.Health(); err != nil {
		t.Fatalf("Health within FlushTimeout = %v", err)
	}
	h.clock.Advance(2 * time.Second)
	if err := h.store.Health(); err == nil || !strings.Contains(err.Error(), "1 writes pending") {
		t.Fatalf("Health after FlushTimeout = %v, want the pending write", err)
	}
	srv.ClearFaults()
	h.flush()
	if err := h.store.Health(); err != nil {
		t.Fatalf("Health after recovery = %v", err)
	}
}

// Without an ErrorHandler, background errors go to the Logger: retries as
// warnings, at most one line a minute for one kind of error, and one info
// line on recovery.
func TestLogger(t *testing.T) {
	db := testdb.Open(t, testdb.Options{WithType: true})
	srv := db.RequireServer(t)
	rec := &logRecorder{}
	clock := newFakeClock()
	s, err := newStore(db.DB, Config{Table: db.Table, TableType: db.TableType, Logger: slog.New(rec)}, clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.StopCleanup)
	srv.InjectFault(mssqltest.Fault{Kind: "MERGE", Error: 1205, Times: 4})
	if err := s.CommitCtx(context.Background(), newToken(t), []byte("v"), clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	clock.autoAdvance(time.Second, stop) // the backoffs pass, within a minute
	clock.Advance(DefaultFlushInterval)
	waitFor(t, "the flush to succeed", func() bool { return s.Stats().Pending == 0 })
	waitFor(t, "the recovery line", func() bool { return rec.count(slog.LevelInfo) == 1 })
	if n := rec.count(slog.LevelWarn); n != 1 {
		t.Fatalf("%d warnings for 4 deadlocks within a minute, want 1: %v", n, rec.all())
	}
	if n := rec.count(slog.LevelError); n != 0 {
		t.Fatalf("%d errors logged for transient failures: %v", n, rec.all())
	}
}

type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec)
	return nil
}

func (r *logRecorder) count(level slog.Level) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range r.records {
		if rec.Level == level {
			n++
		}
	}
	return n
}

func (r *logRecorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.records {
		out = append(out, rec.Level.String()+" "+rec.Message)
	}
	return out
}
