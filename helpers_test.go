package mssqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/testdb"
)

// harness is one store under test on a test database, with a fake clock
// and a recorder of background errors.
type harness struct {
	t     *testing.T
	db    *testdb.DB
	store *MSSQLStore
	clock *fakeClock
	errs  *errRecorder
}

type errRecorder struct {
	mu   sync.Mutex
	errs []error
	ch   chan error
}

func newErrRecorder() *errRecorder { return &errRecorder{ch: make(chan error, 1024)} }

func (r *errRecorder) handle(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
	select {
	case r.ch <- err:
	default:
	}
}

func (r *errRecorder) all() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

// next waits for the next background error.
func (r *errRecorder) next(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.ch:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("no background error reported")
		return nil
	}
}

// newHarness opens a test database and a store on it. cfg's names, clock
// and error handler are filled in; the flusher and cleanup tick only when
// the test advances the clock.
func newHarness(t *testing.T, opts testdb.Options, cfg Config) *harness {
	t.Helper()
	db := testdb.Open(t, opts)
	return newHarnessOn(t, db, newFakeClock(), cfg)
}

// newHarnessOn opens another store on an existing database and clock: a
// second application instance.
func newHarnessOn(t *testing.T, db *testdb.DB, clock *fakeClock, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, db: db, clock: clock, errs: newErrRecorder()}
	cfg.Table, cfg.TableType = db.Table, db.TableType
	cfg.ErrorHandler = h.errs.handle
	if cfg.InvalidationBound == 0 {
		// Tests opt in to cross-instance invalidation (invalidation_test.go,
		// the model): under the fake clock its poll would make the cache
		// serve only within a bound of the last poll, and the other tests
		// test the cache by its age.
		cfg.InvalidationBound = -1
	}
	s, err := newStore(db.DB, cfg, clock)
	if err != nil {
		t.Fatalf("NewWithConfig: %v", err)
	}
	h.store = s
	t.Cleanup(func() {
		// A test may leave a fault in place: let the clock run, so that
		// the last flush's backoff and StopTimeout pass.
		stop := make(chan struct{})
		defer close(stop)
		clock.autoAdvance(time.Second, stop)
		s.StopCleanup()
		// The default handler logs errors as they are: each must say
		// where it comes from.
		for _, err := range h.errs.all() {
			if !strings.HasPrefix(err.Error(), "mssqlstore: ") {
				t.Errorf("a background error does not begin with \"mssqlstore: \": %v", err)
			}
		}
	})
	return h
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

func (h *harness) commit(token string, data string, expiry time.Time) {
	h.t.Helper()
	if err := h.store.CommitCtx(h.ctx(), token, []byte(data), expiry); err != nil {
		h.t.Fatalf("Commit(%s): %v", token[:6], err)
	}
}

func (h *harness) flush() {
	h.t.Helper()
	if err := h.store.Flush(h.ctx()); err != nil {
		h.t.Fatalf("Flush: %v", err)
	}
}

// find returns what Find says of token, failing the test on an error.
func (h *harness) find(token string) (string, bool) {
	h.t.Helper()
	b, ok, err := h.store.FindCtx(h.ctx(), token)
	if err != nil {
		h.t.Fatalf("Find(%s): %v", token[:min(6, len(token))], err)
	}
	return string(b), ok
}

// inDB returns token's data as the table holds it.
func (h *harness) inDB(token string) (string, bool) {
	h.t.Helper()
	r, ok := h.db.Rows(h.t)[token]
	return string(r.Data), ok
}

func (h *harness) later(d time.Duration) time.Time { return h.clock.Now().Add(d) }

// newToken returns a random token of the form SCS generates.
func newToken(t testing.TB) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// waitFor polls cond until it holds, for background work the test cannot
// otherwise observe. It never asserts a duration: the deadline only turns
// a hang into a failure.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func openDSN(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlserver", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// checkMergePath checks the path the store flushed on: the MERGE of the
// table type, with no background error; or, on a server without MERGE
// (Babelfish), the typeless statement and the one report that says so.
func (h *harness) checkMergePath() {
	h.t.Helper()
	typeless := h.store.Stats().Typeless
	errs := h.errs.all()
	if h.db.HasMerge(h.t) {
		if typeless {
			h.t.Fatalf("flushes fell back to the typeless path: %v", errs)
		}
		return
	}
	if !typeless || len(errs) != 1 || !testdb.MergeReport(errs[0]) {
		h.t.Fatalf("on a server without MERGE: typeless %v, background errors %v; want the typeless path and its one report", typeless, errs)
	}
}
