package mssqlstore

import (
	"sync"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/testdb"
)

// Two store instances on one database, as two application servers.
func twoInstances(t *testing.T, cfg Config) (a, b *harness) {
	t.Helper()
	db := testdb.Open(t, testdb.Options{WithType: true})
	clock := newFakeClock()
	return newHarnessOn(t, db, clock, cfg), newHarnessOn(t, db, clock, cfg)
}

// A Delete on instance A: instance B stops serving the session no later
// than its cache's maximum age.
func TestInstancesDeleteStaleness(t *testing.T) {
	const maxAge = 5 * time.Second
	a, b := twoInstances(t, Config{CacheMaxAge: maxAge})
	tok := newToken(t)
	a.commit(tok, "v1", a.later(time.Hour))
	a.flush()
	if got, ok := b.find(tok); !ok || got != "v1" {
		t.Fatalf("B does not see A's flushed write: %q, %v", got, ok)
	}
	if err := a.store.DeleteCtx(a.ctx(), tok); err != nil {
		t.Fatal(err)
	}
	// B may still serve its cached copy, but only within the maximum age.
	b.clock.Advance(maxAge)
	if _, ok := b.find(tok); ok {
		t.Fatalf("B served a session deleted on A after its cache's maximum age")
	}
}

// Concurrent flushes of the same new tokens from A and B: no duplicate-key
// error reaches anyone, and every row is there once.
func TestInstancesConcurrentNewTokens(t *testing.T) {
	a, b := twoInstances(t, Config{})
	// On a real server two flushes may deadlock; the retry's backoff then
	// waits on the test clock.
	stop := make(chan struct{})
	defer close(stop)
	a.clock.autoAdvance(time.Second, stop)
	toks := make([]string, 300)
	for i := range toks {
		toks[i] = newToken(t)
	}
	for round := range 5 {
		for _, tok := range toks {
			a.commit(tok, "a", a.later(time.Hour))
			b.commit(tok, "b", b.later(time.Hour))
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, h := range []*harness{a, b} {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = h.store.Flush(h.ctx()) }()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: instance %d: %v", round, i, err)
			}
		}
	}
	rows := a.db.Rows(t)
	if len(rows) != len(toks) {
		t.Fatalf("table holds %d rows, want %d", len(rows), len(toks))
	}
	if errs := append(a.db.Unexpected(t, a.errs.all()), b.db.Unexpected(t, b.errs.all())...); len(errs) != 0 {
		t.Fatalf("background errors: %v", errs)
	}
}

// Cleanup running on both instances at once: no error, and no expired row
// survives a pass.
func TestInstancesConcurrentCleanup(t *testing.T) {
	a, b := twoInstances(t, Config{CleanupBatchSize: 100, MaxPending: 5000, MaxBatchRows: 1000})
	for range 2000 {
		a.commit(newToken(t), "old", a.later(time.Minute))
	}
	live := newToken(t)
	a.commit(live, "live", a.later(time.Hour))
	a.flush()
	a.clock.Advance(2 * time.Minute)
	stop := make(chan struct{})
	defer close(stop)
	a.clock.autoAdvance(time.Second, stop) // backoffs after a deadlock, on a real server
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, h := range []*harness{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = h.store.DeleteExpired(h.ctx(), nil) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
	}
	rows := a.db.Rows(t)
	if len(rows) != 1 {
		t.Fatalf("%d rows after both cleanups, want only the live one", len(rows))
	}
	if total := a.store.Stats().RowsCleaned + b.store.Stats().RowsCleaned; total != 2000 {
		t.Fatalf("the instances deleted %d rows between them, want 2000", total)
	}
}
