package mssqlstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/sqlerr"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
	"github.com/scs-contrib/mssqlstore/internal/testdb"
)

// Guarantee 1: within one process, Find after Commit returns the new data
// before any flush.
func TestReadYourWrites(t *testing.T) {
	for _, cache := range []int{0, -1} {
		t.Run(fmt.Sprintf("cache=%d", cache), func(t *testing.T) {
			h := newHarness(t, testdb.Options{}, Config{CacheSize: cache})
			tok := newToken(t)
			h.commit(tok, "v1", h.later(time.Hour))
			if got, ok := h.find(tok); !ok || got != "v1" {
				t.Fatalf("Find before flush = %q, %v; want v1, true", got, ok)
			}
			if _, ok := h.inDB(tok); ok {
				t.Fatal("the row reached SQL Server before any flush: not write-behind")
			}
			h.commit(tok, "v2", h.later(time.Hour))
			if got, _ := h.find(tok); got != "v2" {
				t.Fatalf("Find after second commit = %q, want v2", got)
			}
			h.flush()
			if got, ok := h.inDB(tok); !ok || got != "v2" {
				t.Fatalf("after flush the table holds %q, %v; want v2", got, ok)
			}
			if got, _ := h.find(tok); got != "v2" {
				t.Fatalf("Find after flush = %q, want v2", got)
			}
		})
	}
}

// Coalescing: N commits of one token inside one flush window become one
// row written, and the last value wins.
func TestCoalescing(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{})
	srv := h.db.RequireServer(t)
	tok := newToken(t)
	const n = 50
	for i := range n {
		h.commit(tok, fmt.Sprintf("v%d", i), h.later(time.Hour))
	}
	srv.ResetCounters()
	h.flush()
	c := srv.Counters()
	if c.RowsWritten != 1 {
		t.Errorf("rows written = %d, want 1", c.RowsWritten)
	}
	if c.RoundTrips != 1 {
		t.Errorf("round trips = %d, want 1", c.RoundTrips)
	}
	if got, _ := h.inDB(tok); got != fmt.Sprintf("v%d", n-1) {
		t.Errorf("table holds %q, want the last value v%d", got, n-1)
	}
	st := h.store.Stats()
	if st.CoalescedCommits != n-1 || st.Commits != n {
		t.Errorf("Stats: commits %d, coalesced %d; want %d, %d", st.Commits, st.CoalescedCommits, n, n-1)
	}
	if st.Flushes != 1 || st.RowsFlushed != 1 || st.LastFlushRows != 1 || st.LastFlushDuration <= 0 || st.Pending != 0 {
		t.Errorf("Stats after one flush of one row: %+v", st)
	}
}

// Stats count cache hits, misses and evictions as a user tunes by them.
func TestCacheStats(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{CacheSize: 2, CacheMaxAge: time.Hour})
	a, b, c := newToken(t), newToken(t), newToken(t)
	for _, tok := range []string{a, b, c} { // c evicts a
		h.commit(tok, tok[:4], h.later(time.Hour))
	}
	h.flush()
	h.find(c) // a hit
	h.find(a) // a miss: read from SQL Server and cached, evicting b
	st := h.store.Stats()
	if st.CacheHits != 1 || st.CacheMisses != 1 || st.CacheEvictions != 2 || st.CacheLen != 2 {
		t.Fatalf("Stats: hits %d, misses %d, evictions %d, len %d; want 1, 1, 2, 2", st.CacheHits, st.CacheMisses, st.CacheEvictions, st.CacheLen)
	}
}

// One flush writes many tokens in one statement.
func TestBatching(t *testing.T) {
	for _, withType := range []bool{true, false} {
		t.Run(fmt.Sprintf("type=%v", withType), func(t *testing.T) {
			h := newHarness(t, testdb.Options{WithType: withType}, Config{MaxBatchRows: 200})
			srv := h.db.RequireServer(t)
			want := map[string]string{}
			// Hold the flush lock while committing, so the flusher that a
			// full batch wakes cannot split the rows differently each run.
			h.store.batcher.flushLock <- struct{}{}
			for i := range 450 {
				tok := newToken(t)
				want[tok] = fmt.Sprintf("data-%d", i)
				h.commit(tok, want[tok], h.later(time.Hour))
			}
			srv.ResetCounters()
			<-h.store.batcher.flushLock
			h.flush()
			c := srv.Counters()
			rows := h.db.Rows(t)
			for tok, data := range want {
				if string(rows[tok].Data) != data {
					t.Fatalf("token %s: table holds %q, want %q", tok[:6], rows[tok].Data, data)
				}
			}
			// 200 + 200 + 50, plus the MERGE that finds no type.
			wantRT := int64(3)
			if !withType {
				wantRT++
			}
			if c.RoundTrips != wantRT {
				t.Errorf("round trips = %d, want %d (450 rows in batches of 200)", c.RoundTrips, wantRT)
			}
			if c.RowsWritten != 450 {
				t.Errorf("rows written = %d, want 450", c.RowsWritten)
			}
			for kind, n := range c.MaxRowsWrittenPerStatement {
				if n > 200 {
					t.Errorf("one %s wrote %d rows, more than MaxBatchRows", kind, n)
				}
			}
			if st := h.store.Stats(); st.Typeless == withType {
				t.Errorf("Stats.Typeless = %v with the type present = %v", st.Typeless, withType)
			}
			if !withType {
				if err := h.errs.next(t); !strings.Contains(err.Error(), "UPDATE then INSERT") {
					t.Errorf("the switch to the typeless path was reported as %v", err)
				}
			}
		})
	}
}

// Guarantee 2: after a flush SQL Server holds the last value committed,
// also when commits straddle flushes, and when a commit arrives while its
// token is in a flush in flight.
func TestOrder(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{})
	srv := h.db.RequireServer(t)
	tok := newToken(t)
	h.commit(tok, "v1", h.later(time.Hour))
	h.flush()
	h.commit(tok, "v2", h.later(time.Hour))
	h.commit(tok, "v3", h.later(time.Hour))
	h.flush()
	if got, _ := h.inDB(tok); got != "v3" {
		t.Fatalf("table holds %q, want v3", got)
	}

	// v4 goes into a flush that is held in flight; v5 arrives meanwhile.
	h.commit(tok, "v4", h.later(time.Hour))
	release := h.holdNextFlush(srv)
	done := make(chan error, 1)
	go func() { done <- h.store.Flush(h.ctx()) }()
	<-release.inFlight
	h.commit(tok, "v5", h.later(time.Hour))
	close(release.proceed)
	if err := <-done; err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got, _ := h.inDB(tok); got != "v4" {
		t.Fatalf("after the held flush the table holds %q, want v4", got)
	}
	if st := h.store.Stats(); st.Pending != 1 {
		t.Fatalf("v5 is not pending after the in-flight flush completed: Pending = %d", st.Pending)
	}
	if got, _ := h.find(tok); got != "v5" {
		t.Fatalf("Find = %q, want v5", got)
	}
	h.flush()
	if got, _ := h.inDB(tok); got != "v5" {
		t.Fatalf("table holds %q, want v5", got)
	}
}

// flushHold holds a flush in flight: inFlight is closed once the flush has
// taken its rows, and the flush goes on when proceed is closed.
type flushHold struct {
	inFlight, proceed chan struct{}
}

// holdNextFlush makes the next flush stop after taking its rows, before
// it sends its statement, until the test lets it proceed.
func (h *harness) holdNextFlush(*mssqltest.Server) flushHold {
	fh := flushHold{inFlight: make(chan struct{}), proceed: make(chan struct{})}
	var once sync.Once
	h.store.batcher.testHookTaken = func() {
		once.Do(func() {
			close(fh.inFlight)
			<-fh.proceed
		})
	}
	return fh
}

// Guarantee 5: Delete is immediate and final.
func TestDelete(t *testing.T) {
	t.Run("flushed", func(t *testing.T) {
		h := newHarness(t, testdb.Options{WithType: true}, Config{})
		tok := newToken(t)
		h.commit(tok, "v1", h.later(time.Hour))
		h.flush()
		h.find(tok) // cache it
		if err := h.store.DeleteCtx(h.ctx(), tok); err != nil {
			t.Fatal(err)
		}
		if _, ok := h.inDB(tok); ok {
			t.Fatal("row still in SQL Server after Delete returned")
		}
		if _, ok := h.find(tok); ok {
			t.Fatal("Find found a deleted session")
		}
		h.flush()
		fresh := newHarnessOn(t, h.db, h.clock, Config{})
		if _, ok := fresh.find(tok); ok {
			t.Fatal("a fresh store found a deleted session")
		}
	})
	t.Run("pending", func(t *testing.T) {
		h := newHarness(t, testdb.Options{WithType: true}, Config{})
		tok := newToken(t)
		h.commit(tok, "v1", h.later(time.Hour))
		if err := h.store.DeleteCtx(h.ctx(), tok); err != nil {
			t.Fatal(err)
		}
		if st := h.store.Stats(); st.Pending != 0 {
			t.Fatalf("Pending = %d after Delete, want 0", st.Pending)
		}
		h.flush()
		if _, ok := h.inDB(tok); ok {
			t.Fatal("a flush after Delete brought the session back")
		}
	})
	t.Run("in flight", func(t *testing.T) {
		h := newHarness(t, testdb.Options{WithType: true}, Config{})
		srv := h.db.RequireServer(t)
		tok := newToken(t)
		h.commit(tok, "v1", h.later(time.Hour))
		// The MERGE is slow, and the flush is held until Delete is under way.
		srv.SetStatementLatency("MERGE", 50*time.Millisecond)
		hold := h.holdNextFlush(srv)
		flushed := make(chan error, 1)
		go func() { flushed <- h.store.Flush(h.ctx()) }()
		<-hold.inFlight
		waiting := make(chan struct{})
		var once sync.Once
		h.store.mem.onWait = func() { once.Do(func() { close(waiting) }) }
		deleted := make(chan error, 1)
		go func() { deleted <- h.store.DeleteCtx(h.ctx(), tok) }()
		<-waiting // Delete waits for the flush in flight
		close(hold.proceed)
		if err := <-deleted; err != nil {
			t.Fatal(err)
		}
		if _, ok := h.inDB(tok); ok {
			t.Fatal("the flush in flight brought the session back after Delete returned")
		}
		if err := <-flushed; err != nil {
			t.Fatal(err)
		}
		if _, ok := h.inDB(tok); ok {
			t.Fatal("session in SQL Server after Delete")
		}
	})
}

// Guarantee 8: Find never returns an expired session, wherever it is; All
// returns only live ones, and an empty non-nil map when there are none.
func TestExpiry(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{CacheMaxAge: time.Hour})
	all, err := h.store.AllCtx(h.ctx())
	if err != nil || all == nil || len(all) != 0 {
		t.Fatalf("All on an empty table = %v, %v; want an empty non-nil map", all, err)
	}
	short, long, pendingShort := newToken(t), newToken(t), newToken(t)
	h.commit(short, "short", h.later(time.Minute))
	h.commit(long, "long", h.later(time.Hour))
	h.flush()
	h.commit(pendingShort, "pending", h.later(time.Minute))

	// Cached (the commit cached it), pending, and in SQL Server.
	h.clock.Advance(2 * time.Minute)
	for _, tok := range []string{short, pendingShort} {
		if _, ok := h.find(tok); ok {
			t.Errorf("Find returned an expired session")
		}
	}
	fresh := newHarnessOn(t, h.db, h.clock, Config{CacheSize: -1})
	if _, ok := fresh.find(short); ok {
		t.Errorf("Find from SQL Server returned an expired session")
	}
	all, err = h.store.AllCtx(h.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || string(all[long]) != "long" {
		t.Errorf("All = %v, want only the live session", keys(all))
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k[:6])
	}
	return out
}

// Guarantee 3: a failed flush loses nothing: the rows stay pending, are
// retried with backoff, and the failure reaches the error callback and
// Stats.
func TestFailedFlushIsRetried(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{})
	srv := h.db.RequireServer(t)
	stop := make(chan struct{})
	defer close(stop)
	h.clock.autoAdvance(10*time.Second, stop)

	tok := newToken(t)
	h.commit(tok, "v1", h.later(time.Hour))
	srv.InjectFault(mssqltest.Fault{Kind: "MERGE", Error: 1205, Times: 2})
	h.clock.Advance(DefaultFlushInterval) // the flusher's tick
	for i := 0; i < 2; i++ {
		err := h.errs.next(t)
		if n, _ := sqlerr.Number(err); n != 1205 {
			t.Fatalf("background error %d = %v, want the deadlock 1205", i, err)
		}
	}
	waitFor(t, "the retried flush", func() bool { return h.store.Stats().Pending == 0 })
	if got, _ := h.inDB(tok); got != "v1" {
		t.Fatalf("table holds %q after the retries, want v1", got)
	}
	st := h.store.Stats()
	if st.FlushErrors != 2 || st.BackgroundErrors != 2 {
		t.Errorf("Stats: FlushErrors %d, BackgroundErrors %d; want 2, 2", st.FlushErrors, st.BackgroundErrors)
	}
}

// Guarantee 9: pending writes never exceed their bound; at the bound
// CommitCtx waits and honours its context; nothing is dropped.
func TestPendingBound(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{MaxPending: 3})
	srv := h.db.RequireServer(t)
	srv.InjectFault(mssqltest.Fault{Kind: "MERGE", Error: 40613, Times: -1})
	toks := []string{newToken(t), newToken(t), newToken(t), newToken(t)}
	for _, tok := range toks[:3] {
		h.commit(tok, tok[:4], h.later(time.Hour))
	}
	// A commit of a token already pending replaces it: no room needed.
	h.commit(toks[0], "again", h.later(time.Hour))

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := h.store.CommitCtx(ctx, toks[3], []byte("x"), h.later(time.Hour))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CommitCtx at the bound = %v, want context.DeadlineExceeded", err)
	}
	if st := h.store.Stats(); st.Pending != 3 || st.CommitWaits != 1 {
		t.Fatalf("Stats: Pending %d, CommitWaits %d; want 3, 1", st.Pending, st.CommitWaits)
	}
	// A commit waiting for room gets it when the server comes back.
	waiting := make(chan error, 1)
	go func() { waiting <- h.store.CommitCtx(h.ctx(), toks[3], []byte("x"), h.later(time.Hour)) }()
	srv.ClearFaults()
	h.flush()
	if err := <-waiting; err != nil {
		t.Fatal(err)
	}
	h.flush()
	rows := h.db.Rows(t)
	if len(rows) != 4 || string(rows[toks[0]].Data) != "again" {
		t.Fatalf("table holds %d rows (first %q); want all 4 with the last values", len(rows), rows[toks[0]].Data)
	}
}

// Guarantee 10: a token that is not 43 base64url characters never reaches
// SQL Server, and no token finds another session.
func TestBadTokens(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{CacheSize: -1})
	srv := h.db.RequireServer(t)
	victim := newToken(t)
	for strings.ToUpper(victim) == victim || strings.ToLower(victim) == victim {
		victim = newToken(t) // it needs letters of both cases
	}
	h.commit(victim, "secret", h.later(time.Hour))
	h.flush()

	bad := []struct{ name, token string }{
		{"empty", ""},
		{"short", victim[:42]},
		{"long", victim + "A"},
		{"trailing space", victim[:42] + " "},
		{"padded", victim + "   "},
		{"not base64url", victim[:42] + "+"},
		{"NUL", victim[:42] + "\x00"},
		{"non-ASCII", victim[:41] + "é"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			srv.ResetCounters()
			b, ok, err := h.store.FindCtx(h.ctx(), tc.token)
			if ok || err != nil || b != nil {
				t.Errorf("Find = %q, %v, %v; want not found, nil error", b, ok, err)
			}
			if err := h.store.CommitCtx(h.ctx(), tc.token, []byte("x"), h.later(time.Hour)); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Commit = %v, want ErrInvalidToken", err)
			}
			if err := h.store.DeleteCtx(h.ctx(), tc.token); err != nil {
				t.Errorf("Delete = %v, want nil (a no-op)", err)
			}
			h.flush()
			if c := srv.Counters(); c.RoundTrips != 0 {
				t.Errorf("a bad token cost %d round trips; it must never reach SQL Server", c.RoundTrips)
			}
		})
	}
	// Valid in form, equal to the victim under a case-insensitive collation.
	for _, other := range []string{strings.ToUpper(victim), strings.ToLower(victim), swapCase(victim)} {
		if _, ok := h.find(other); ok {
			t.Errorf("the token in other case found the victim's session")
		}
		if err := h.store.DeleteCtx(h.ctx(), other); err != nil {
			t.Fatal(err)
		}
	}
	if got, ok := h.inDB(victim); !ok || got != "secret" {
		t.Errorf("deleting the token in other case touched the victim's session")
	}
}

func swapCase(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			b[i] = c - 32
		case 'A' <= c && c <= 'Z':
			b[i] = c + 32
		}
	}
	return string(b)
}

// Bad expiries and data are refused at Commit with a clear error, and lose
// nothing that was there.
func TestBadInput(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{})
	tok := newToken(t)
	h.commit(tok, "kept", h.later(time.Hour))
	for _, tc := range []struct {
		name   string
		expiry time.Time
		want   error
	}{
		{"year 0", time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC), ErrInvalidExpiry},
		{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), ErrInvalidExpiry},
		{"zero time", time.Time{}, nil}, // 0001-01-01 is in range: an expired session
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := h.store.CommitCtx(h.ctx(), newToken(t), []byte("x"), tc.expiry)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Commit = %v, want %v", err, tc.want)
			}
		})
	}
	h.flush()
	if got, _ := h.inDB(tok); got != "kept" {
		t.Fatalf("a refused commit disturbed the others: table holds %q", got)
	}
}

// Seeks: parameters are typed as their columns, so SQL Server seeks
// the primary key and the expiry index.
func TestWireTypes(t *testing.T) {
	for _, withType := range []bool{true, false} {
		t.Run(fmt.Sprintf("type=%v", withType), func(t *testing.T) {
			h := newHarness(t, testdb.Options{WithType: withType}, Config{CacheSize: -1})
			srv := h.db.RequireServer(t)
			tok := newToken(t)
			h.commit(tok, "v1", h.later(time.Hour))
			h.flush()
			h.find(tok)
			if _, err := h.store.AllCtx(h.ctx()); err != nil {
				t.Fatal(err)
			}
			if _, err := h.store.DeleteExpired(h.ctx(), nil); err != nil {
				t.Fatal(err)
			}
			if err := h.store.DeleteCtx(h.ctx(), tok); err != nil {
				t.Fatal(err)
			}
			params := srv.Params()
			if len(params) == 0 {
				t.Fatal("the server recorded no parameters")
			}
			for _, p := range params {
				if !wireTypeOK(p.WireType) {
					t.Errorf("parameter %s of %q went out as %s", p.Name, firstLine(p.SQL), p.WireType)
				}
			}
			if c := srv.Counters(); c.ImplicitColumnConversions != 0 {
				t.Errorf("%d comparisons converted a column (index scan on SQL Server)", c.ImplicitColumnConversions)
			}
		})
	}
}

func wireTypeOK(w string) bool {
	for _, prefix := range []string{"VARCHAR(", "DATETIME2(", "VARBINARY(", "BIGINT", "TVP "} {
		if strings.HasPrefix(w, prefix) {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Guarantee 11: the Ctx methods honour cancellation: the statement is
// cancelled on the wire and the error wraps ctx.Err().
func TestContextCancel(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{CacheSize: -1, FlushInterval: -1})
	srv := h.db.RequireServer(t)
	tok := newToken(t)
	for _, tc := range []struct {
		kind string
		call func(ctx context.Context) error
	}{
		{"SELECT", func(ctx context.Context) error { _, _, err := h.store.FindCtx(ctx, tok); return err }},
		{"MERGE", func(ctx context.Context) error { return h.store.CommitCtx(ctx, tok, []byte("x"), h.later(time.Hour)) }},
		{"DELETE", func(ctx context.Context) error { return h.store.DeleteCtx(ctx, tok) }},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			srv.ResetCounters()
			srv.InjectFault(mssqltest.Fault{Kind: tc.kind, Stall: true})
			defer srv.ClearFaults()
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			err := tc.call(ctx)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("error = %v, want one wrapping context.DeadlineExceeded", err)
			}
			waitFor(t, "the attention to reach the server", func() bool { return srv.Counters().Attentions > 0 })
		})
	}
	// The pool is healthy afterwards.
	h.commit(tok, "after", h.later(time.Hour))
	if got, _ := h.find(tok); got != "after" {
		t.Fatalf("Find after cancellations = %q", got)
	}
}

// Guarantee 12: StopCleanup races nothing, may be called twice and from
// several goroutines, flushes, and leaves a store that writes through.
func TestStopCleanup(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{CleanupInterval: time.Minute})
	tok := newToken(t)
	h.commit(tok, "pending", h.later(time.Hour))
	h.clock.Advance(time.Minute) // the flusher and cleanup run now
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); h.store.StopCleanup() }()
	}
	wg.Wait()
	h.store.StopCleanup()
	if got, ok := h.inDB(tok); !ok || got != "pending" {
		t.Fatalf("StopCleanup did not flush: table holds %q, %v", got, ok)
	}
	tok2 := newToken(t)
	h.commit(tok2, "through", h.later(time.Hour))
	if got, ok := h.inDB(tok2); !ok || got != "through" {
		t.Fatalf("Commit after StopCleanup did not write through: table holds %q, %v", got, ok)
	}
	if errs := h.db.Unexpected(t, h.errs.all()); len(errs) != 0 {
		t.Fatalf("background errors: %v", errs)
	}
}

// Cleanup: cleanup deletes expired rows in batches well under the
// lock escalation threshold, evicts expired cache entries, reports errors
// and keeps going.
func TestCleanup(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{CleanupInterval: time.Minute, CleanupBatchSize: 500, CacheMaxAge: time.Hour, MaxBatchRows: 1000, MaxPending: 5000})
	srv := h.db.RequireServer(t)
	live := newToken(t)
	h.commit(live, "live", h.later(time.Hour))
	for range 1200 {
		h.commit(newToken(t), "old", h.later(time.Minute))
	}
	h.flush()
	if n := h.store.Stats().CacheLen; n != 1201 {
		t.Fatalf("cache holds %d entries, want 1201", n)
	}
	h.clock.Advance(2 * time.Minute) // expired; the flusher and cleanup tick

	srv.ResetCounters()
	waitFor(t, "the cleanup pass", func() bool { return h.store.Stats().RowsCleaned == 1200 })
	rows := h.db.Rows(t)
	if len(rows) != 1 || string(rows[live].Data) != "live" {
		t.Fatalf("after cleanup the table holds %d rows, want only the live one", len(rows))
	}
	if max := srv.Counters().MaxRowsWrittenPerStatement["DELETE"]; max > 500 {
		t.Fatalf("one DELETE removed %d rows, more than the batch size 500", max)
	}
	if n := h.store.Stats().CacheLen; n != 1 {
		t.Fatalf("cache holds %d entries after cleanup, want 1", n)
	}

	// A failing pass is reported, and the next pass runs.
	srv.InjectFault(mssqltest.Fault{Kind: "DELETE", Error: 229})
	h.commit(newToken(t), "old", h.later(time.Minute))
	h.flush()
	h.clock.Advance(2 * time.Minute)
	if err := h.errs.next(t); !strings.Contains(err.Error(), "cleanup") {
		t.Fatalf("cleanup error reported as %v", err)
	}
	h.clock.Advance(time.Minute)
	waitFor(t, "the next cleanup pass", func() bool { return h.store.Stats().RowsCleaned == 1201 })
	if st := h.store.Stats(); st.CleanupErrors != 1 {
		t.Fatalf("CleanupErrors = %d, want 1", st.CleanupErrors)
	}
}

// Sessions of 16 MiB go through both flush paths and come back whole.
func TestLargeSession(t *testing.T) {
	for _, withType := range []bool{true, false} {
		t.Run(fmt.Sprintf("type=%v", withType), func(t *testing.T) {
			h := newHarness(t, testdb.Options{WithType: withType}, Config{FlushTimeout: 3 * time.Minute})
			data := make([]byte, 16<<20)
			for i := range data {
				data[i] = byte(i * 7)
			}
			tok := newToken(t)
			// 16 MiB through the race detector on a busy machine can
			// take longer than h.ctx's 30 s: the deadline only guards
			// against a hang here, so it is generous.
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			if err := h.store.CommitCtx(ctx, tok, data, h.later(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := h.store.Flush(ctx); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			fresh := newHarnessOn(t, h.db, h.clock, Config{})
			got, ok, err := fresh.store.FindCtx(ctx, tok)
			if err != nil || !ok || !bytes.Equal(got, data) {
				t.Fatalf("Find after flush: %d bytes, %v, %v; want the 16 MiB committed", len(got), ok, err)
			}
		})
	}
}
