package mssqlstore

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
	"github.com/scs-contrib/mssqlstore/internal/testdb"
)

const testBound = 100 * time.Millisecond

// invalidating returns two instances on one database with cross-instance
// invalidation on, each having polled once.
func invalidating(t *testing.T, cfg Config) (a, b *harness) {
	t.Helper()
	if cfg.InvalidationBound == 0 {
		cfg.InvalidationBound = testBound
	}
	if cfg.CacheMaxAge == 0 {
		cfg.CacheMaxAge = time.Hour // the bound, not the age, must keep B coherent
	}
	a, b = twoInstances(t, cfg)
	a.poll()
	b.poll()
	return a, b
}

// poll runs one invalidation poll now, failing the test on its error.
func (h *harness) poll() {
	h.t.Helper()
	if err := h.store.poller.poll(h.ctx()); err != nil {
		h.t.Fatalf("poll: %v", err)
	}
}

// served says whether a Find of token was answered from memory, and what
// it returned.
func (h *harness) served(token string) (data string, found, hit bool) {
	h.t.Helper()
	before := h.store.Stats().CacheHits
	data, found = h.find(token)
	return data, found, h.store.Stats().CacheHits > before
}

// cachedOnB returns two instances with invalidation on, and a session
// that A wrote (v1) and B read into its cache after applying A's write
// (a copy B read before would be dropped by the poll that applies it).
func cachedOnB(t *testing.T) (a, b *harness, tok string) {
	t.Helper()
	a, b = invalidating(t, Config{})
	tok = newToken(t)
	a.commit(tok, "v1", a.later(time.Hour))
	a.flush()
	b.poll()
	if got, ok := b.find(tok); !ok || got != "v1" {
		t.Fatalf("B reads %q, %v; want v1", got, ok)
	}
	return a, b, tok
}

// A change on A reaches SQL Server; once B has polled, B no longer serves
// its cached copy, whatever the cache's maximum age.
func TestInvalidationReachesOtherInstance(t *testing.T) {
	tests := []struct {
		name   string
		change func(a *harness, tok string)
		want   string // "" : not found
	}{
		{"Delete", func(a *harness, tok string) {
			if err := a.store.DeleteCtx(a.ctx(), tok); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"flushed Commit", func(a *harness, tok string) {
			a.commit(tok, "v2", a.later(time.Hour))
			a.flush()
		}, "v2"},
		{"written-through Commit", func(a *harness, tok string) {
			a.store.mem.close() // after Close, a Commit writes through
			a.commit(tok, "v2", a.later(time.Hour))
		}, "v2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b, tok := cachedOnB(t)
			if got, _, hit := b.served(tok); !hit || got != "v1" {
				t.Fatalf("B does not serve v1 from its cache before the change (%q, hit %v)", got, hit)
			}
			tt.change(a, tok)
			// Within the bound of its last poll B may still serve v1; its
			// next poll drops it.
			b.poll()
			got, ok, hit := b.served(tok)
			if hit || (tt.want == "" && ok) || (tt.want != "" && got != tt.want) {
				t.Fatalf("after A's change and B's poll, B serves %q, %v (from cache: %v); want %q", got, ok, hit, tt.want)
			}
			if st := b.store.Stats(); st.Invalidations == 0 {
				t.Fatalf("B's Stats: %d invalidations; want at least 1", st.Invalidations)
			}
			if errs := append(a.db.Unexpected(t, a.errs.all()), b.db.Unexpected(t, b.errs.all())...); len(errs) != 0 {
				t.Fatalf("background errors: %v", errs)
			}
		})
	}
}

// Without a successful poll, B stops serving from its cache once the
// bound has passed since the last one, and asks SQL Server instead.
func TestInvalidationCacheStopsServingWithoutPoll(t *testing.T) {
	a, b, tok := cachedOnB(t)
	if _, _, hit := b.served(tok); !hit {
		t.Fatal("B does not serve from its cache right after a poll")
	}
	if err := a.store.DeleteCtx(a.ctx(), tok); err != nil {
		t.Fatal(err)
	}
	// No poll: B's poller waits for the lock the test holds while the
	// bound passes.
	b.store.poller.mu.Lock()
	b.clock.Advance(testBound)
	got, ok, hit := b.served(tok)
	since := b.store.Stats().SinceLastPoll
	b.store.poller.mu.Unlock()
	if ok || hit {
		t.Fatalf("a bound after its last poll, B serves %q (from cache: %v); want SQL Server's answer, not found", got, hit)
	}
	if since < testBound {
		t.Fatalf("SinceLastPoll %v, want at least %v", since, testBound)
	}
}

// An instance's own writes do not empty its own cache: its polls skip its
// journal rows.
func TestInvalidationKeepsOwnWrites(t *testing.T) {
	a, _ := invalidating(t, Config{})
	tok := newToken(t)
	a.commit(tok, "v1", a.later(time.Hour))
	a.flush()
	a.poll()
	a.find(tok)
	if got, _, hit := a.served(tok); !hit || got != "v1" {
		t.Fatalf("A serves %q (from cache: %v) after its own write and poll; want v1 from its cache", got, hit)
	}
	if n := a.store.Stats().Invalidations; n != 0 {
		t.Fatalf("A received %d invalidations of its own writes", n)
	}
}

// While polls fail, the cache serves nothing read before the last
// success; the run of failures is
// reported once; the first successful poll makes it serve again.
func TestInvalidationPollFails(t *testing.T) {
	a, b, tok := cachedOnB(t)
	srv := a.db.RequireServer(t)
	srv.InjectFault(mssqltest.Fault{Kind: "SELECT", Error: 1205, Times: -1})
	for range 3 {
		b.clock.Advance(testBound / 2)
		if err := b.store.poller.poll(b.ctx()); err == nil || !strings.Contains(err.Error(), "deadlock") {
			t.Fatalf("poll: %v, want the injected deadlock", err)
		}
	}
	// The cache does not serve: the Find goes to SQL Server, which fails.
	if _, _, err := b.store.FindCtx(b.ctx(), tok); err == nil {
		t.Fatal("Find answered from the cache while the polls failed")
	}
	st := b.store.Stats() // the background poller's ticks fail too
	if st.InvalidationPollErrors < 3 {
		t.Fatalf("InvalidationPollErrors %d, want at least 3", st.InvalidationPollErrors)
	}
	var reports int
	for _, err := range b.errs.all() {
		if strings.Contains(err.Error(), "invalidation poll failed") {
			reports++
		}
	}
	if reports != 1 {
		t.Fatalf("%d reports of the failing polls, want 1 (once a run)", reports)
	}
	srv.ClearFaults()
	b.poll()
	b.find(tok) // fills the cache from SQL Server
	if got, _, hit := b.served(tok); !hit || got != "v1" {
		t.Fatalf("after a successful poll B serves %q (from cache: %v); want v1 from its cache", got, hit)
	}
}

// A poll that takes longer than the bound: the cache stops serving while
// it runs.
func TestInvalidationSlowPoll(t *testing.T) {
	a, b, tok := cachedOnB(t)
	srv := a.db.RequireServer(t)
	if _, _, hit := b.served(tok); !hit {
		t.Fatal("B does not serve from its cache right after a poll")
	}
	srv.InjectFault(mssqltest.Fault{Kind: "SELECT", Stall: true})
	ctx, cancel := context.WithCancel(b.ctx())
	done := make(chan error, 1)
	go func() { done <- b.store.poller.poll(ctx) }()
	waitFor(t, "the poll to stall", func() bool { return srv.FaultsHit() == 1 })
	b.clock.Advance(testBound)
	if _, _, hit := b.served(tok); hit {
		t.Fatal("B served from its cache a bound after its last successful poll, while the next one stalled")
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the stalled poll returned no error")
	}
}

// A server that cannot run the journal's SQL, met by the poll or by a
// write: the store falls back to CacheMaxAge alone, reports it once, says
// so in Stats, and loses no write.
func TestInvalidationFallback(t *testing.T) {
	tests := []struct {
		name  string
		fault mssqltest.Fault
	}{
		{"poll refused", mssqltest.Fault{Kind: "SELECT", Error: 40517}},
		// The journal's counter UPDATE; the MERGE without the journal
		// has no UPDATE, and goes through.
		{"journaled write refused", mssqltest.Fault{Kind: "UPDATE", Error: 40517}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := testdb.Open(t, testdb.Options{WithType: true})
			srv := db.RequireServer(t)
			srv.InjectFault(tt.fault)
			h := newHarnessOn(t, db, newFakeClock(), Config{InvalidationBound: testBound, CacheMaxAge: time.Hour})
			h.poll() // the first poll is over: it drops the whole cache
			tok := newToken(t)
			h.commit(tok, "v1", h.later(time.Hour))
			h.flush()
			waitFor(t, "the fallback", func() bool { return h.store.Stats().InvalidationFallback })
			h.commit(tok, "v2", h.later(time.Hour))
			h.flush()
			if got, _ := h.inDB(tok); got != "v2" {
				t.Fatalf("table holds %q, want v2", got)
			}
			// The cache serves by its age again, with no poll.
			h.clock.Advance(time.Minute)
			if got, _, hit := h.served(tok); !hit || got != "v2" {
				t.Fatalf("after the fallback the cache serves %q (from cache: %v); want v2 from its cache", got, hit)
			}
			var reports int
			for _, err := range h.errs.all() {
				if strings.Contains(err.Error(), "cross-instance invalidation is off") {
					reports++
				}
			}
			if reports != 1 {
				t.Fatalf("%d reports of the fallback, want 1: %v", reports, h.errs.all())
			}
			polls := h.store.Stats().InvalidationPolls
			h.clock.Advance(time.Second)
			h.poll()
			if got := h.store.Stats().InvalidationPolls; got != polls {
				t.Fatalf("%d polls after the fallback, want none", got-polls)
			}
		})
	}
}

// Journal rows deleted before B read them (B did not poll for longer than
// their retention, and a cleanup ran): B's next poll drops its whole
// cache instead of serving what it may have missed.
func TestInvalidationMissedRowsPurge(t *testing.T) {
	a, b, tok := cachedOnB(t)
	a.commit(tok, "v2", a.later(time.Hour))
	a.flush()
	a.commit(newToken(t), "other", a.later(time.Hour))
	a.flush()
	// B's poller waits for the lock the test holds meanwhile.
	b.store.poller.mu.Lock()
	a.clock.Advance(journalRetention + time.Second)
	if _, err := a.store.DeleteExpired(a.ctx(), nil); err != nil {
		t.Fatal(err)
	}
	purges := b.store.Stats().InvalidationPurges
	b.store.poller.mu.Unlock()
	b.poll()
	if got := b.store.Stats().InvalidationPurges; got != purges+1 {
		t.Fatalf("InvalidationPurges %d after the poll, want %d", got, purges+1)
	}
	if got, _, hit := b.served(tok); hit || got != "v2" {
		t.Fatalf("B serves %q (from cache: %v); want v2 from SQL Server", got, hit)
	}
}

// The table emptied (the counter with it): the counter starts again below
// what B applied, and B drops its cache.
func TestInvalidationTableEmptied(t *testing.T) {
	a, b := invalidating(t, Config{})
	srv := a.db.RequireServer(t)
	tok := newToken(t)
	for _, v := range []string{"v1", "v2", "v3"} {
		a.commit(tok, v, a.later(time.Hour))
		a.flush()
	}
	b.find(tok)
	b.poll()
	if err := srv.Exec(a.ctx(), "DELETE FROM dbo.sessions"); err != nil {
		t.Fatal(err)
	}
	a.commit(tok, "v4", a.later(time.Hour))
	a.flush()
	purges := b.store.Stats().InvalidationPurges
	b.poll()
	if got := b.store.Stats().InvalidationPurges; got != purges+1 {
		t.Fatalf("InvalidationPurges %d, want %d", got, purges+1)
	}
	if got, _, hit := b.served(tok); hit || got != "v4" {
		t.Fatalf("B serves %q (from cache: %v); want v4 from SQL Server", got, hit)
	}
}

// More journal rows than one poll reads: the poll reads on until it has
// applied them all.
func TestInvalidationManyRows(t *testing.T) {
	a, b := invalidating(t, Config{MaxBatchRows: 1})
	toks := make([]string, pollRows+10)
	for i := range toks {
		toks[i] = newToken(t)
		a.commit(toks[i], "v1", a.later(time.Hour))
	}
	a.flush()
	for _, tok := range toks[:20] {
		b.find(tok)
	}
	b.poll()
	for _, tok := range toks[:20] {
		a.commit(tok, "v2", a.later(time.Hour))
	}
	for _, tok := range toks[20:] {
		a.commit(tok, "v3", a.later(time.Hour))
	}
	a.flush()
	polls := b.store.Stats().InvalidationPolls
	b.poll()
	st := b.store.Stats()
	if st.InvalidationPolls-polls < 2 {
		t.Fatalf("%d poll statements for %d journal rows, want at least 2", st.InvalidationPolls-polls, len(toks))
	}
	for _, tok := range toks[:20] {
		if got, _, hit := b.served(tok); hit || got != "v2" {
			t.Fatalf("B serves %q (from cache: %v); want v2 from SQL Server", got, hit)
		}
	}
}

// Two instances writing the journal at once from an empty table: one of
// the counter's two creations meets a duplicate key and retries, no error
// reaches anyone, and the journal's numbers have no gap.
func TestInvalidationConcurrentWriters(t *testing.T) {
	a, b := invalidating(t, Config{})
	stop := make(chan struct{})
	defer close(stop)
	a.clock.autoAdvance(time.Second, stop) // retries' backoff
	var wg sync.WaitGroup
	for _, h := range []*harness{a, b} {
		wg.Go(func() {
			for range 20 {
				tok := newToken(t)
				if err := h.store.CommitCtx(h.ctx(), tok, []byte("x"), h.later(time.Hour)); err != nil {
					t.Error(err)
				}
				if err := h.store.Flush(h.ctx()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	rows := a.db.JournalRows(t)
	counter := beUint64(rows[counterKey].Data)
	delete(rows, counterKey)
	if len(rows) != 40 {
		t.Fatalf("%d journal rows, want 40", len(rows))
	}
	for n := counter - 39; n <= counter; n++ {
		if _, ok := rows[journalKey(n)]; !ok {
			t.Fatalf("journal row %d of %d..%d is missing", n, counter-39, counter)
		}
	}
	if errs := append(a.db.Unexpected(t, a.errs.all()), b.db.Unexpected(t, b.errs.all())...); len(errs) != 0 {
		t.Fatalf("background errors: %v", errs)
	}
}

// A login with only SELECT, INSERT, UPDATE and DELETE on the table keeps
// the caches coherent.
func TestInvalidationRestrictedLogin(t *testing.T) {
	db := testdb.Open(t, testdb.Options{})
	srv := db.RequireServer(t)
	srv.AddRestrictedLogin("app", "App-Passw0rd")
	appDB := *db
	appDB.DB = openDSN(t, srv.DSNFor("app", "App-Passw0rd"))
	clock := newFakeClock()
	cfg := Config{InvalidationBound: testBound, CacheMaxAge: time.Hour}
	a, b := newHarnessOn(t, &appDB, clock, cfg), newHarnessOn(t, &appDB, clock, cfg)
	b.poll()
	tok := newToken(t)
	a.commit(tok, "v1", a.later(time.Hour))
	a.flush()
	b.find(tok)
	if err := a.store.DeleteCtx(a.ctx(), tok); err != nil {
		t.Fatal(err)
	}
	b.poll()
	if got, ok := b.find(tok); ok {
		t.Fatalf("B serves %q after A's Delete and B's poll", got)
	}
	for _, err := range append(a.errs.all(), b.errs.all()...) {
		if !strings.Contains(err.Error(), "UPDATE then INSERT") {
			t.Fatalf("background error: %v", err)
		}
	}
}

// A read from SQL Server that started before an invalidation of its
// token is not cached (memory rule 3).
func TestInvalidationRacingRead(t *testing.T) {
	m := newMemory(settings{Config: Config{MaxPending: 10, MaxPendingBytes: 1 << 20, MaxBatchRows: 10, CacheSize: 10, CacheMaxAge: time.Hour}, caching: true})
	tok := strings.Repeat("A", 43)
	now := time.Now()
	_, _, known, version := m.lookup(tok, now)
	if known {
		t.Fatal("memory knows an unknown token")
	}
	m.invalidate([]uint64{tokenHash(tok)})
	m.fill(tok, version, []byte("old"), now.Add(time.Hour), now)
	if _, found, _, _ := m.lookup(tok, now); found {
		t.Fatal("a read that started before the invalidation was cached")
	}
	_, _, _, version = m.lookup(tok, now)
	m.invalidateAll()
	m.fill(tok, version, []byte("old"), now.Add(time.Hour), now)
	if _, found, _, _ := m.lookup(tok, now); found {
		t.Fatal("a read that started before a purge was cached")
	}
}

func TestDecodeJournal(t *testing.T) {
	j, err := newJournal(time.Now, func(error) {})
	if err != nil {
		t.Fatal(err)
	}
	toks := []string{strings.Repeat("A", 43), strings.Repeat("b", 43)}
	payload := j.payload(toks)
	if n := len(j.payload(make([]string, journalMaxHashes+1))); n != journalHeader {
		t.Fatalf("the payload of %d tokens is %d bytes, want the header alone (%d): too many to name", journalMaxHashes+1, n, journalHeader)
	}
	tests := []struct {
		name  string
		token string
		data  []byte
		ok    bool
	}{
		{"padded key", journalKey(42) + strings.Repeat(" ", 43-len(journalKey(42))), payload, true},
		{"session token", toks[0], payload, false},
		{"counter", counterKey, make([]byte, 8), false},
		{"short data", journalKey(1), payload[:15], false},
		{"ragged hashes", journalKey(1), payload[:journalHeader+7], false},
		{"letters in the number", journalPrefix + "00000000000000000a1", payload, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := decodeJournal(tt.token, tt.data)
			if (err == nil) != tt.ok {
				t.Fatalf("decodeJournal error %v, want ok %v", err, tt.ok)
			}
			if !tt.ok {
				return
			}
			if e.seq != 42 || e.writer != j.id || len(e.hashes) != 2 || e.hashes[0] != tokenHash(toks[0]) || e.hashes[1] != tokenHash(toks[1]) {
				t.Fatalf("decoded %+v", e)
			}
		})
	}
}

// The journal's rows are no sessions: All leaves them out, and cleanup
// keeps them for the retention (they expire when written), then deletes
// them.
func TestJournalRowsAndCleanup(t *testing.T) {
	a, _ := invalidating(t, Config{})
	tok := newToken(t)
	a.commit(tok, "v1", a.later(time.Hour))
	a.flush()
	all, err := a.store.AllCtx(a.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || string(all[tok]) != "v1" {
		t.Fatalf("All = %d sessions, want only the one committed", len(all))
	}
	journalRows := func() int { return len(a.db.JournalRows(t)) - 1 } // but the counter
	if n := journalRows(); n != 1 {
		t.Fatalf("%d journal rows after one flush, want 1", n)
	}
	a.clock.Advance(journalRetention - time.Second)
	if _, err := a.store.DeleteExpired(a.ctx(), nil); err != nil {
		t.Fatal(err)
	}
	if n := journalRows(); n != 1 {
		t.Fatalf("%d journal rows after a cleanup within the retention, want 1", n)
	}
	a.clock.Advance(time.Second)
	if _, err := a.store.DeleteExpired(a.ctx(), nil); err != nil {
		t.Fatal(err)
	}
	if n := journalRows(); n != 0 {
		t.Fatalf("%d journal rows after a cleanup past the retention, want 0", n)
	}
	if _, ok := a.db.JournalRows(t)[counterKey]; !ok {
		t.Fatal("cleanup deleted the journal's counter")
	}
}

// The poll's bookkeeping, one case a sequence of journal rows: which rows
// apply, when the cache is purged, and when the poll must read on.
func TestPollerApply(t *testing.T) {
	self, other := [8]byte{1}, [8]byte{2}
	row := func(seq uint64, writer [8]byte) journalEntry {
		return journalEntry{seq: seq, writer: writer, hashes: []uint64{seq}}
	}
	tests := []struct {
		name         string
		last         uint64 // 0: the first poll
		counter      uint64
		rows         []journalEntry
		full         bool
		wantCaughtUp bool
		wantLast     uint64
		wantPurges   int64
		wantReceived int64
	}{
		{"first poll: a baseline, whatever came before", 0, 40, []journalEntry{row(39, other)}, false, true, 40, 1, 0},
		{"nothing new", 10, 10, nil, false, true, 10, 0, 0},
		{"in order", 10, 12, []journalEntry{row(11, other), row(12, other)}, false, true, 12, 0, 2},
		{"own rows advance, apply nothing", 10, 12, []journalEntry{row(11, self), row(12, other)}, false, true, 12, 0, 1},
		{"rows beyond the counter (committed since) apply too", 10, 11, []journalEntry{row(11, other), row(12, other)}, false, true, 12, 0, 2},
		{"a gap beyond the counter is not yet committed: stop there", 10, 11, []journalEntry{row(11, other), row(13, other)}, false, true, 11, 0, 1},
		{"a gap at or below the counter was deleted: purge", 10, 13, []journalEntry{row(11, other), row(13, other)}, false, true, 13, 1, 1},
		{"rows deleted, none left: purge", 10, 13, nil, false, true, 13, 1, 0},
		{"counter below the last row applied: the table was emptied", 10, 3, nil, false, true, 3, 1, 0},
		{"a full read behind the counter: read on", 10, 20, []journalEntry{row(11, other), row(12, other)}, true, false, 12, 0, 2},
		{"a row naming no session (too many to name): purge", 10, 11, []journalEntry{{seq: 11, writer: other}}, false, true, 11, 1, 0},
		{"own row naming no session: nothing", 10, 11, []journalEntry{{seq: 11, writer: self}}, false, true, 11, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemory(settings{Config: Config{CacheSize: 10, CacheMaxAge: time.Hour}, caching: true})
			p := &poller{j: &journal{id: self}, mem: m, cache: m.cache, now: time.Now}
			p.last, p.based = tt.last, tt.last != 0
			caughtUp := p.apply(tt.counter, tt.rows, tt.full)
			if caughtUp != tt.wantCaughtUp || p.last != tt.wantLast || p.purges.Load() != tt.wantPurges || p.received.Load() != tt.wantReceived {
				t.Fatalf("caught up %v, last %d, purges %d, received %d; want %v, %d, %d, %d",
					caughtUp, p.last, p.purges.Load(), p.received.Load(), tt.wantCaughtUp, tt.wantLast, tt.wantPurges, tt.wantReceived)
			}
		})
	}
}

// While no poll succeeds, an entry read from SQL Server less than a bound
// ago is still served: the read saw every change committed before it was
// sent, as a poll would have. Older entries are not.
func TestInvalidationFreshRead(t *testing.T) {
	_, b, tok := cachedOnB(t)
	b.store.poller.mu.Lock() // no poll from here on
	defer b.store.poller.mu.Unlock()
	b.clock.Advance(2 * testBound)
	if _, _, hit := b.served(tok); hit {
		t.Fatal("B served an entry read two bounds ago, with no poll since")
	}
	// That miss read it again.
	b.clock.Advance(testBound - time.Millisecond)
	if got, _, hit := b.served(tok); !hit || got != "v1" {
		t.Fatalf("B serves %q (from cache: %v) a bound after reading it; want v1 from its cache", got, hit)
	}
	b.clock.Advance(time.Millisecond)
	if _, _, hit := b.served(tok); hit {
		t.Fatal("B served an entry read a bound ago, with no poll since")
	}
}

// The poll keeps a connection of the pool for itself: with every other
// connection of the pool taken by requests, it still goes through. A pool
// too small to spare one is shared.
func TestInvalidationPollKeepsAConnection(t *testing.T) {
	for _, pool := range []int{minPoolToKeep, minPoolToKeep - 1} {
		t.Run(fmt.Sprintf("pool=%d", pool), func(t *testing.T) {
			db := testdb.Open(t, testdb.Options{MaxOpenConns: pool})
			h := newHarnessOn(t, db, newFakeClock(), Config{InvalidationBound: testBound})
			h.poll()
			kept := pool >= minPoolToKeep
			if inUse := db.Stats().InUse; kept != (inUse == 1) {
				t.Fatalf("%d connections in use after a poll on a pool of %d; want the poll's own: %v", inUse, pool, kept)
			}
			if !kept {
				return
			}
			// Requests take every other connection.
			for range pool - 1 {
				c, err := db.Conn(h.ctx())
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := h.store.poller.poll(ctx); err != nil {
				t.Fatalf("a poll with the pool's other connections taken: %v", err)
			}
		})
	}
}

// InvalidationLag is how long before this poll the writer of the last row
// applied sent its statement (by the writer's clock).
func TestPollerLag(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	m := newMemory(settings{Config: Config{CacheSize: 10, CacheMaxAge: time.Hour}, caching: true})
	p := &poller{j: &journal{id: [8]byte{1}}, mem: m, cache: m.cache, now: func() time.Time { return now }, last: 10, based: true}
	p.apply(12, []journalEntry{
		{seq: 11, writer: [8]byte{2}, at: now.Add(-70 * time.Millisecond), hashes: []uint64{1}},
		{seq: 12, writer: [8]byte{2}, at: now.Add(-30 * time.Millisecond), hashes: []uint64{2}},
	}, false)
	if got := time.Duration(p.lagNanos.Load()); got != 30*time.Millisecond {
		t.Fatalf("lag %v, want 30ms (the last row applied)", got)
	}
}
