package mssqlstore

import (
	"testing"
	"time"
)

// An adversarial review of cross-instance invalidation (issue 14). Each
// test states the interleaving it drives and the bound it checks.

// A's write-through commits; B's newer write of the same token commits
// after it, and A's poll applies B's journal row before A's write-through
// has settled (its reply is still on the wire). A must not then cache its
// own, older value: the poll that would have dropped it has passed, so A
// would serve it for CacheMaxAge, not the bound.
func TestReviewWriteThroughSettlesAfterNewerChange(t *testing.T) {
	a, b := invalidating(t, Config{FlushInterval: -1}) // every Commit writes through
	tok := newToken(t)
	a.store.mem.afterStatement = func() {
		a.store.mem.afterStatement = nil
		b.commit(tok, "vB", b.later(time.Hour))
		a.poll()
	}
	a.commit(tok, "vA", a.later(time.Hour))
	if got, _ := a.inDB(tok); got != "vB" {
		t.Fatalf("table holds %q, want vB", got)
	}
	// Polls keep succeeding, bound after bound.
	for range 3 {
		a.clock.Advance(testBound)
		a.poll()
	}
	if got, _, hit := a.served(tok); hit || got != "vB" {
		t.Fatalf("three bounds after B's write, A serves %q (from cache: %v); want vB from SQL Server", got, hit)
	}
}

// The same race while A's polls stall: A's cached copy of its
// write-through counts as fresh from when its statement was sent, not
// from when its reply came back, since B's newer write may have committed
// in between. Once a bound has passed since B's write returned, A serves
// nothing older.
func TestReviewWriteThroughFreshFromItsSend(t *testing.T) {
	a, b := invalidating(t, Config{FlushInterval: -1})
	tok := newToken(t)
	a.store.poller.mu.Lock() // A's polls wait from here on
	defer a.store.poller.mu.Unlock()
	a.store.mem.afterStatement = func() {
		a.store.mem.afterStatement = nil
		b.commit(tok, "vB", b.later(time.Hour)) // returns now
		a.clock.Advance(testBound / 2)          // A's reply is slow
	}
	a.commit(tok, "vA", a.later(time.Hour))
	a.clock.Advance(testBound / 2) // a bound after B's write returned
	if got, _, hit := a.served(tok); hit {
		t.Fatalf("a bound after B's write returned, A serves %q from its cache; want vB from SQL Server", got)
	}
}
