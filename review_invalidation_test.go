package mssqlstore

import (
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
	"github.com/scs-contrib/mssqlstore/internal/schemacheck"
	"github.com/scs-contrib/mssqlstore/internal/testdb"
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

// The counter deleted by another program's cleanup (an expiry-based
// DELETE, such as SCS's own store runs during a rolling deploy), together
// with the journal rows that expired before the cleanup's cut-off. The
// journal rows' expiries are their writers' clocks, so with two clocks
// apart the newest row can go while an older one stays. The counter is
// then created again at the oldest-surviving-plus-one, a number B has
// applied already: B must not take the next change for one it has seen.
func TestReviewCounterRecreatedBelowAppliedNumber(t *testing.T) {
	db := testdb.Open(t, testdb.Options{WithType: true})
	clock := newFakeClock()
	cfg := Config{InvalidationBound: testBound, CacheMaxAge: time.Hour}
	ahead := cfg
	ahead.Now = func() time.Time { return clock.Now().Add(time.Minute) } // A's clock is a minute ahead
	a, b := newHarnessOn(t, db, clock, ahead), newHarnessOn(t, db, clock, cfg)
	a.poll()
	b.poll()

	tok := newToken(t)
	a.commit(tok, "v1", a.later(time.Hour))
	a.flush()
	b.poll()
	if got, ok := b.find(tok); !ok || got != "v1" {
		t.Fatalf("B reads %q, %v; want v1", got, ok)
	}
	// A journal row from A (expiry a minute ahead), then one from B.
	a.commit(newToken(t), "x", a.later(time.Hour))
	a.flush()
	b.commit(newToken(t), "y", b.later(time.Hour))
	b.flush()
	b.poll()
	if _, _, hit := b.served(tok); !hit {
		t.Fatal("B does not serve v1 from its cache")
	}
	// Another program's cleanup, half a minute ahead of the fake clock.
	cut := clock.Now().Add(30 * time.Second).UTC().Format("2006-01-02T15:04:05.000000")
	if _, err := db.ExecContext(a.ctx(), "DELETE FROM "+db.Table+" WHERE expiry < CAST('"+cut+"' AS DATETIME2(6))"); err != nil {
		t.Fatal(err)
	}
	// A changes the session B caches.
	a.commit(tok, "v2", a.later(time.Hour))
	a.flush()
	for range 3 {
		clock.Advance(testBound)
		b.poll()
	}
	if got, _, hit := b.served(tok); hit || got != "v2" {
		t.Fatalf("three bounds after A's change, B serves %q (from cache: %v); want v2 from SQL Server", got, hit)
	}
}

// A Delete that meets a duplicate key on the journal's counter (another
// instance created it at the same moment, the race journalSQL's comment
// describes) is retried, as a flush is: a logout does not fail because
// the counter was being created. The counter is deleted first, so that
// the INSERT the fault hits is the counter's creation.
func TestReviewDeleteRetriesCounterCreationRace(t *testing.T) {
	a, b, tok := cachedOnB(t)
	srv := a.db.RequireServer(t)
	if _, err := a.db.ExecContext(a.ctx(), "DELETE FROM "+a.db.Table+" WHERE token = CAST('"+counterKey+"' AS CHAR(43))"); err != nil {
		t.Fatal(err)
	}
	srv.InjectFault(mssqltest.Fault{Kind: "INSERT", Error: 2627})
	if err := a.store.DeleteCtx(a.ctx(), tok); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, ok := a.inDB(tok); ok {
		t.Fatal("the session is still in the table")
	}
	b.poll()
	if _, ok := b.find(tok); ok {
		t.Fatal("B serves the deleted session after its poll")
	}
}

// Close with the invalidation poll stalled in SQL Server: Close cancels
// it, the poller's goroutine ends, and the cancelled poll is not
// reported as a failure.
func TestReviewCloseEndsStalledPoll(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{InvalidationBound: testBound, CacheMaxAge: time.Hour})
	h.poll()
	srv := h.db.RequireServer(t)
	srv.InjectFault(mssqltest.Fault{Kind: "SELECT", Stall: true, Times: -1})
	h.clock.Advance(testBound / 2) // the poller's tick
	waitFor(t, "the poll to stall", func() bool { return srv.FaultsHit() >= 1 })
	if err := h.store.Close(h.ctx()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	done := make(chan struct{})
	go func() {
		h.store.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // a hang, not a duration asserted
		t.Fatal("the poller's goroutine outlived Close")
	}
	srv.ClearFaults()
	for _, err := range h.errs.all() {
		t.Errorf("background error: %v", err)
	}
}

// One instance's poll refused once as unsupported: that instance falls
// back to CacheMaxAge. Its writes must still reach the others' caches
// within the bound: their polls succeed, and nothing tells them that one
// writer stopped journaling.
func TestReviewOneInstanceFallbackKeepsOthersBound(t *testing.T) {
	a, b, tok := cachedOnB(t)
	srv := a.db.RequireServer(t)
	srv.InjectFault(mssqltest.Fault{Kind: "SELECT", Error: 40517})
	a.poll()
	if !a.store.Stats().InvalidationFallback {
		t.Fatal("A did not fall back")
	}
	a.commit(tok, "v2", a.later(time.Hour))
	a.flush()
	for range 3 {
		b.clock.Advance(testBound)
		b.poll()
	}
	if got, _, hit := b.served(tok); hit || got != "v2" {
		t.Fatalf("three bounds after A's change, B serves %q (from cache: %v); want v2 from SQL Server", got, hit)
	}
}

// `mssqlstore stats` (schemacheck.ReadStats) counts sessions: the
// invalidation journal's rows, expired from the start, are none, and the
// counter's 0001-01-01 is no session's expiry.
func TestReviewTableStatsLeaveOutJournal(t *testing.T) {
	a, _ := invalidating(t, Config{})
	expiry := a.later(time.Hour).UTC().Truncate(time.Microsecond)
	for range 2 {
		a.commit(newToken(t), "v", expiry)
		a.flush()
	}
	st, err := schemacheck.ReadStats(a.ctx(), a.db.DB, schemacheck.Options{Table: a.db.Table}, a.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st.Live != 2 || st.Expired != 0 || !st.Oldest.Equal(expiry) {
		t.Fatalf("stats: %d live, %d expired, oldest expiry %v; want 2, 0, %v", st.Live, st.Expired, st.Oldest, expiry)
	}
}

// A connection dropped in the middle of a poll (after the server ran
// it, before its reply): whether the poll fails or database/sql runs it
// again on another connection, the next poll succeeds and applies what
// the dropped one read.
func TestReviewPollConnectionDropped(t *testing.T) {
	a, b, tok := cachedOnB(t)
	srv := a.db.RequireServer(t)
	if err := a.store.DeleteCtx(a.ctx(), tok); err != nil {
		t.Fatal(err)
	}
	srv.InjectFault(mssqltest.Fault{Kind: "SELECT", DropAfter: true})
	err := b.store.poller.poll(b.ctx())
	if srv.FaultsHit() != 1 {
		t.Fatalf("%d faults hit, want B's poll's", srv.FaultsHit())
	}
	t.Logf("the dropped poll: %v", err)
	b.poll()
	if got, ok := b.find(tok); ok {
		t.Fatalf("B serves %q after A's Delete and B's poll", got)
	}
}

// DeleteExpired returns the sessions it deleted: the journal's rows it
// deletes too, past their retention, are counted apart.
func TestReviewDeleteExpiredCountsSessionsOnly(t *testing.T) {
	a, _ := invalidating(t, Config{})
	for range 3 {
		a.commit(newToken(t), "v", a.later(time.Second))
		a.flush()
	}
	a.clock.Advance(journalRetention + time.Second)
	n, err := a.store.DeleteExpired(a.ctx(), nil)
	if err != nil {
		t.Fatal(err)
	}
	st := a.store.Stats()
	if n != 3 || st.RowsCleaned != 3 || st.JournalRowsCleaned != 3 {
		t.Fatalf("DeleteExpired = %d, RowsCleaned %d, JournalRowsCleaned %d; want 3, 3, 3", n, st.RowsCleaned, st.JournalRowsCleaned)
	}
	if _, ok := a.db.JournalRows(t)[counterKey]; !ok {
		t.Fatal("cleanup deleted the counter")
	}
}

// The journal's counter holding a value it cannot be incremented from
// (the largest BIGINT: a program or a person wrote it). The journal's
// error must not be taken for the session's: no session is dropped, and
// the other instance still hears the change.
func TestReviewCounterOverflowDropsNoSession(t *testing.T) {
	for _, value := range []string{"0x7FFFFFFFFFFFFFFF"} {
		t.Run(value, func(t *testing.T) {
			a, b, tok := cachedOnB(t)
			if _, err := a.db.ExecContext(a.ctx(), "UPDATE "+a.db.Table+" SET data = "+value+" WHERE token = CAST('"+counterKey+"' AS CHAR(43))"); err != nil {
				t.Fatal(err)
			}
			a.commit(tok, "v2", a.later(time.Hour))
			a.flush()
			if got, _ := a.inDB(tok); got != "v2" {
				t.Fatalf("table holds %q, want v2; A's background errors: %v", got, a.errs.all())
			}
			if n := a.store.Stats().RowsDropped; n != 0 {
				t.Fatalf("%d sessions dropped", n)
			}
			b.clock.Advance(testBound)
			b.poll()
			if got, _, hit := b.served(tok); hit || got != "v2" {
				t.Fatalf("after A's change and B's poll, B serves %q (from cache: %v); want v2 from SQL Server", got, hit)
			}
		})
	}
}
