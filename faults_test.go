package mssqlstore

import (
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

// A connection dropped after the MERGE ran, before its reply: the batch
// is retried, and since the MERGE is idempotent, each row ends up once
// with its newest value.
func TestConnectionDroppedMidFlush(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{})
	srv := h.db.RequireServer(t)
	stop := make(chan struct{})
	defer close(stop)
	h.clock.autoAdvance(time.Second, stop)

	want := map[string]string{}
	for i := range 20 {
		tok := newToken(t)
		want[tok] = "v" + string(rune('a'+i))
		h.commit(tok, want[tok], h.later(time.Hour))
	}
	srv.InjectFault(mssqltest.Fault{Kind: "MERGE", DropAfter: true})
	h.flush()
	if srv.FaultsHit() != 1 {
		t.Fatalf("the drop fault hit %d statements, want 1", srv.FaultsHit())
	}
	rows := h.db.Rows(t)
	if len(rows) != len(want) {
		t.Fatalf("table holds %d rows, want %d", len(rows), len(want))
	}
	for tok, data := range want {
		if string(rows[tok].Data) != data {
			t.Fatalf("token %s holds %q, want %q", tok[:6], rows[tok].Data, data)
		}
	}
	if st := h.store.Stats(); st.Pending != 0 {
		t.Fatalf("Pending = %d after the retried flush", st.Pending)
	}
}

// A row SQL Server rejects on its own (here: data longer than a user's
// narrower column) is isolated by splitting the batch, reported with its
// token, and dropped; the other rows land.
func TestPoisonRowIsIsolated(t *testing.T) {
	db := testdb.Open(t, testdb.Options{})
	srv := db.RequireServer(t)
	ctx := context.Background()
	if err := srv.Exec(ctx, "DROP TABLE sessions; CREATE TABLE sessions (token CHAR(43) PRIMARY KEY, data VARBINARY(100) NOT NULL, expiry DATETIME2(6) NOT NULL);"); err != nil {
		t.Fatal(err)
	}
	db.CreateType(t)
	h := newHarnessOn(t, db, newFakeClock(), Config{})
	var poison string
	good := map[string]bool{}
	for i := range 37 {
		tok := newToken(t)
		data := "ok"
		if i == 23 {
			poison, data = tok, strings.Repeat("x", 200)
		} else {
			good[tok] = true
		}
		h.commit(tok, data, h.later(time.Hour))
	}
	h.flush()
	rows := db.Rows(t)
	if len(rows) != len(good) {
		t.Fatalf("table holds %d rows, want the %d good ones", len(rows), len(good))
	}
	for tok := range good {
		if _, ok := rows[tok]; !ok {
			t.Fatalf("good row %s was lost with the poison row", tok[:6])
		}
	}
	var rowErr *RowError
	if err := h.errs.next(t); !errors.As(err, &rowErr) || rowErr.Token != poison {
		t.Fatalf("reported %v, want a *RowError for the poison row", err)
	}
	if n, _ := sqlerr.Number(rowErr); n != 2628 && n != 8152 {
		t.Fatalf("the row error wraps %v, want SQL Server's truncation error", rowErr.Err)
	}
	if st := h.store.Stats(); st.RowsDropped != 1 || st.Pending != 0 {
		t.Fatalf("Stats: RowsDropped %d, Pending %d; want 1, 0", st.RowsDropped, st.Pending)
	}
	// Commit cached the poison row; SQL Server refused it, so the cache
	// must not serve it.
	if got, ok := h.find(poison); ok {
		t.Fatalf("Find serves the dropped row (%d bytes) from the cache", len(got))
	}
	if strings.Contains(rowErr.Error(), poison) {
		t.Fatalf("the row error carries the whole token: %v", rowErr)
	}
}

// During an outage pending stays within its bound, CommitCtx waits and
// then returns its context's error, and Find serves the pending writes.
// When the server comes back every pending write lands.
func TestOutage(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{MaxPending: 10, MaxPendingBytes: 1 << 20})
	srv := h.db.RequireServer(t)
	srv.InjectFault(mssqltest.Fault{Kind: "MERGE", Error: 40613, Times: -1})
	srv.InjectFault(mssqltest.Fault{Kind: "UPDATE", Error: 40613, Times: -1})
	toks := map[string]string{}
	for i := range 10 {
		tok := newToken(t)
		toks[tok] = strings.Repeat("d", i+1)
		h.commit(tok, toks[tok], h.later(time.Hour))
	}
	for range 5 {
		h.clock.Advance(10 * time.Second) // ticks and backoffs: the flusher keeps failing
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err := h.store.CommitCtx(ctx, newToken(t), []byte("more"), h.later(time.Hour))
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("CommitCtx during the outage = %v, want context.DeadlineExceeded", err)
		}
		if st := h.store.Stats(); st.Pending != 10 || st.PendingBytes > 1<<20 {
			t.Fatalf("Pending %d (%d bytes) during the outage; the bound is 10", st.Pending, st.PendingBytes)
		}
	}
	for tok, data := range toks {
		if got, ok := h.find(tok); !ok || got != data {
			t.Fatalf("Find during the outage = %q, %v; want the pending %q", got, ok, data)
		}
	}
	if err := h.errs.next(t); !strings.Contains(err.Error(), "40613") {
		t.Fatalf("the outage was reported as %v", err)
	}
	srv.ClearFaults()
	h.clock.Advance(time.Minute)
	waitFor(t, "the pending writes to land", func() bool { return h.store.Stats().Pending == 0 })
	rows := h.db.Rows(t)
	for tok, data := range toks {
		if string(rows[tok].Data) != data {
			t.Fatalf("after the outage token %s holds %q, want %q", tok[:6], rows[tok].Data, data)
		}
	}
}

// StopCleanup during an outage returns within StopTimeout, reports what it
// could not flush, and never hangs; the writes stay pending.
func TestStopCleanupDuringOutage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault mssqltest.Fault
	}{
		{"failing", mssqltest.Fault{Kind: "MERGE", Error: 40613, Times: -1}},
		{"stalled", mssqltest.Fault{Kind: "MERGE", Stall: true, Times: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testdb.Options{WithType: true}, Config{StopTimeout: 7 * time.Second})
			srv := h.db.RequireServer(t)
			srv.InjectFault(tc.fault)
			tok := newToken(t)
			h.commit(tok, "stranded", h.later(time.Hour))
			stop := make(chan struct{})
			defer close(stop)
			h.clock.autoAdvance(time.Second, stop)
			start := h.clock.Now()
			stopped := make(chan struct{})
			go func() { h.store.StopCleanup(); close(stopped) }()
			if tc.fault.Stall {
				// A stalled statement waits on no timer: StopCleanup's
				// StopTimeout timers are what end it. Fire each as it is
				// set: a single Advance could come before StopCleanup's
				// goroutine set its timer (a background flush can stall
				// first), and then nothing would move the clock again.
				waitFor(t, "the flush to stall", func() bool { return srv.FaultsHit() > 0 })
				for deadline := time.Now().Add(30 * time.Second); ; {
					select {
					case <-stopped:
					default:
						if time.Now().After(deadline) {
							t.Fatal("StopCleanup hung during the outage")
						}
						if !h.clock.advanceToNext(7 * time.Second) {
							time.Sleep(time.Millisecond)
						}
						continue
					}
					break
				}
			}
			select {
			case <-stopped:
			case <-time.After(30 * time.Second):
				t.Fatal("StopCleanup hung during the outage")
			}
			if waited := h.clock.Now().Sub(start); waited > 30*time.Second {
				t.Errorf("StopCleanup took %v of store time, its timeout is 7s", waited)
			}
			var found bool
			for _, err := range h.errs.all() {
				if strings.Contains(err.Error(), "1 writes not flushed") {
					found = true
				}
			}
			if !found {
				t.Fatalf("StopCleanup did not report the stranded write; errors: %v", h.errs.all())
			}
			if got, ok := h.find(tok); !ok || got != "stranded" {
				t.Fatalf("the stranded write is not pending any more: %q, %v", got, ok)
			}
			srv.ClearFaults()
			h.flush()
			if got, _ := h.inDB(tok); got != "stranded" {
				t.Fatalf("a Flush after the outage did not land the write: %q", got)
			}
		})
	}
}

// Durable commits return once their write is in SQL Server; concurrent
// ones share a round trip; a failed flush's error reaches the caller.
func TestDurableCommits(t *testing.T) {
	t.Run("group commit", func(t *testing.T) {
		h := newHarness(t, testdb.Options{WithType: true}, Config{DurableCommits: true})
		srv := h.db.RequireServer(t)
		first := newToken(t)
		hold := h.holdNextFlush(srv)
		firstDone := make(chan error, 1)
		go func() { firstDone <- h.store.CommitCtx(h.ctx(), first, []byte("first"), h.later(time.Hour)) }()
		<-hold.inFlight // the first commit's flush is under way
		const n = 30
		var wg sync.WaitGroup
		errs := make(chan error, n)
		toks := make([]string, n)
		for i := range n {
			toks[i] = newToken(t)
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- h.store.CommitCtx(h.ctx(), toks[i], []byte("grouped"), h.later(time.Hour))
			}()
		}
		waitFor(t, "the commits to queue behind the flush", func() bool { return h.store.Stats().Pending == n+1 })
		srv.ResetCounters()
		close(hold.proceed)
		if err := <-firstDone; err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		rt := srv.Counters().RoundTrips
		rows := h.db.Rows(t)
		for _, tok := range append(toks, first) {
			if _, ok := rows[tok]; !ok {
				t.Fatalf("a durable commit returned before its row was in SQL Server")
			}
		}
		if rt != 2 {
			t.Fatalf("%d durable commits took %d round trips, want 2 (the held flush, then one for all the rest)", n+1, rt)
		}
	})
	t.Run("fault", func(t *testing.T) {
		h := newHarness(t, testdb.Options{WithType: true}, Config{DurableCommits: true})
		srv := h.db.RequireServer(t)
		stop := make(chan struct{})
		defer close(stop)
		h.clock.autoAdvance(time.Second, stop) // the backoffs after the failure pass
		srv.InjectFault(mssqltest.Fault{Kind: "MERGE", Error: 1205})
		tok := newToken(t)
		err := h.store.CommitCtx(h.ctx(), tok, []byte("v1"), h.later(time.Hour))
		if n, _ := sqlerr.Number(err); n != 1205 {
			t.Fatalf("durable commit during a deadlock = %v, want the flush's error 1205", err)
		}
		// Not confirmed, but not lost: it stays pending and lands.
		h.flush()
		if got, _ := h.inDB(tok); got != "v1" {
			t.Fatalf("the write of the failed durable commit was lost: %q", got)
		}
		if err := h.store.CommitCtx(h.ctx(), tok, []byte("v2"), h.later(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got, _ := h.inDB(tok); got != "v2" {
			t.Fatalf("durable commit returned before SQL Server had v2: %q", got)
		}
	})
}

// Permanent errors reach the callback once, with what to fix, and cause no
// hot retry loop.
func TestPermanentErrorReportedOnce(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{})
	srv := h.db.RequireServer(t)
	srv.InjectFault(mssqltest.Fault{Kind: "MERGE", Error: 208, Times: -1})
	srv.InjectFault(mssqltest.Fault{Kind: "UPDATE", Error: 208, Times: -1})
	h.commit(newToken(t), "v", h.later(time.Hour))
	for range 10 {
		h.clock.Advance(10 * time.Second)
	}
	waitFor(t, "a report", func() bool { return len(h.errs.all()) > 0 })
	srv.ResetCounters()
	for range 3 {
		h.clock.Advance(time.Second)
	}
	errs := h.errs.all()
	if len(errs) != 1 {
		t.Fatalf("the missing table was reported %d times, want once: %v", len(errs), errs)
	}
	if !strings.Contains(errs[0].Error(), "does not exist: create it") {
		t.Fatalf("the report does not say what to fix: %v", errs[0])
	}
	if rt := srv.Counters().RoundTrips; rt > 3 {
		t.Fatalf("%d round trips in 3 seconds of backoff: a hot retry loop", rt)
	}
}

// Without the table type, or without EXECUTE on it, the store switches to
// the typeless statement, reports it once, and loses nothing; a login with
// only SELECT, INSERT, UPDATE and DELETE on the table does everything.
func TestRestrictedLogin(t *testing.T) {
	for _, withType := range []bool{false, true} {
		t.Run(map[bool]string{false: "no type", true: "type without EXECUTE"}[withType], func(t *testing.T) {
			db := testdb.Open(t, testdb.Options{WithType: withType})
			srv := db.RequireServer(t)
			srv.AddRestrictedLogin("app", "App-Passw0rd")
			appDB := *db
			appDB.DB = openDSN(t, srv.DSNFor("app", "App-Passw0rd"))
			h := newHarnessOn(t, &appDB, newFakeClock(), Config{CleanupInterval: time.Minute})
			tok, old := newToken(t), newToken(t)
			h.commit(tok, "v1", h.later(time.Hour))
			h.commit(old, "old", h.later(time.Minute))
			h.flush()
			if got, _ := h.inDB(tok); got != "v1" {
				t.Fatalf("table holds %q, want v1", got)
			}
			h.commit(tok, "v2", h.later(time.Hour))
			h.flush()
			if got, ok := h.find(tok); !ok || got != "v2" {
				t.Fatalf("Find = %q, %v", got, ok)
			}
			if _, err := h.store.AllCtx(h.ctx()); err != nil {
				t.Fatal(err)
			}
			h.clock.Advance(2 * time.Minute)
			waitFor(t, "cleanup", func() bool { return h.store.Stats().RowsCleaned == 1 })
			if err := h.store.DeleteCtx(h.ctx(), tok); err != nil {
				t.Fatal(err)
			}
			errs := h.errs.all()
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), "UPDATE then INSERT") {
				t.Fatalf("want exactly one report of the switch to the typeless path, got %v", errs)
			}
			if !h.store.Stats().Typeless {
				t.Fatal("Stats.Typeless is false")
			}
		})
	}
}

// A server that rejects MERGE itself (Babelfish answers 33557097): the
// store switches to UPDATE then INSERT for good, reports it once, and
// loses nothing.
func TestMergeRejected(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{})
	srv := h.db.RequireServer(t)
	srv.InjectFault(mssqltest.Fault{Kind: "MERGE", Error: 33557097, Times: -1})
	tok := newToken(t)
	h.commit(tok, "v1", h.later(time.Hour))
	h.flush()
	srv.ResetCounters()
	h.commit(tok, "v2", h.later(time.Hour))
	h.commit(newToken(t), "other", h.later(time.Hour))
	h.flush()
	if got, _ := h.inDB(tok); got != "v2" {
		t.Fatalf("table holds %q, want v2", got)
	}
	if n := srv.Counters().Statements["MERGE"]; n != 0 {
		t.Fatalf("%d MERGE statements after the server rejected MERGE; want none", n)
	}
	errs := h.errs.all()
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "33557097") {
		t.Fatalf("want one report naming the rejection, got %v", errs)
	}
}

// A duplicate key from another instance inserting the same token at the
// same moment is no failure: the rows are retried, as updates.
func TestDuplicateKeyRetried(t *testing.T) {
	for _, withType := range []bool{true, false} {
		t.Run(map[bool]string{true: "merge", false: "typeless"}[withType], func(t *testing.T) {
			h := newHarness(t, testdb.Options{WithType: withType}, Config{})
			srv := h.db.RequireServer(t)
			kind := map[bool]string{true: "MERGE", false: "INSERT"}[withType]
			srv.InjectFault(mssqltest.Fault{Kind: kind, Error: 2627, Times: 2})
			tok := newToken(t)
			h.commit(tok, "v1", h.later(time.Hour))
			h.flush()
			if got, _ := h.inDB(tok); got != "v1" {
				t.Fatalf("table holds %q, want v1", got)
			}
			if srv.FaultsHit() != 2 {
				t.Fatalf("the duplicate-key fault hit %d times, want 2", srv.FaultsHit())
			}
			for _, err := range h.errs.all() {
				if n, _ := sqlerr.Number(err); n == 2627 {
					t.Fatalf("a duplicate key reached the error callback: %v", err)
				}
			}
			if st := h.store.Stats(); st.FlushErrors != 0 {
				t.Fatalf("FlushErrors = %d, want 0", st.FlushErrors)
			}
		})
	}
}

// A flush cancelled in the middle of its transaction (the typeless path's
// UPDATE ran, its INSERT stalls) leaves no transaction open on the pooled
// connection: XACT_ABORT rolls it back at the attention. Without it the
// idle connection would keep its locks until its next use.
func TestCancelledFlushLeavesNoTransaction(t *testing.T) {
	h := newHarness(t, testdb.Options{}, Config{})
	srv := h.db.RequireServer(t)
	old, fresh := newToken(t), newToken(t)
	h.commit(old, "v1", h.later(time.Hour))
	h.flush()
	h.commit(old, "v2", h.later(time.Hour))
	h.commit(fresh, "new", h.later(time.Hour))
	srv.InjectFault(mssqltest.Fault{Kind: "INSERT", Stall: true})
	ctx, cancel := context.WithCancel(context.Background())
	flushed := make(chan error, 1)
	go func() { flushed <- h.store.Flush(ctx) }()
	waitFor(t, "the INSERT to stall", func() bool { return srv.FaultsHit() > 0 })
	cancel()
	if err := <-flushed; !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush = %v, want context.Canceled", err)
	}
	// Another connection must neither wait for locks nor see the UPDATE.
	other := openDSN(t, srv.DSN())
	qctx, qcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer qcancel()
	var data []byte
	if err := other.QueryRowContext(qctx, "SELECT data FROM "+h.db.Table+" WHERE token = @p1", old).Scan(&data); err != nil {
		t.Fatalf("reading from another connection after the cancelled flush: %v (a transaction left open holds its locks)", err)
	}
	if string(data) != "v1" {
		t.Fatalf("the cancelled flush's UPDATE was not rolled back: table holds %q", data)
	}
	h.flush()
	rows := h.db.Rows(t)
	if string(rows[old].Data) != "v2" || string(rows[fresh].Data) != "new" {
		t.Fatalf("after the retry the table holds %q and %q", rows[old].Data, rows[fresh].Data)
	}
}

// Under normal conditions a write reaches SQL Server within one flush
// interval, with no Flush call.
func TestFlushInterval(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{FlushInterval: 50 * time.Millisecond})
	tok := newToken(t)
	h.commit(tok, "v1", h.later(time.Hour))
	h.clock.Advance(50 * time.Millisecond)
	waitFor(t, "the flusher's tick", func() bool { return h.store.Stats().Pending == 0 })
	if got, _ := h.inDB(tok); got != "v1" {
		t.Fatalf("table holds %q one flush interval after the commit, want v1", got)
	}
}

// A batch SQL Server keeps rejecting with a duplicate key (two tokens the
// table type's collation holds equal) is split like any row error, so the
// other rows land.
func TestPersistentDuplicateKeyIsSplit(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{})
	srv := h.db.RequireServer(t)
	srv.InjectFault(mssqltest.Fault{Kind: "MERGE", Error: 2627, Times: 4}) // exec's first try and its 3 retries
	want := map[string]string{}
	for i := range 8 {
		tok := newToken(t)
		want[tok] = fmt.Sprint(i)
		h.commit(tok, want[tok], h.later(time.Hour))
	}
	h.flush()
	rows := h.db.Rows(t)
	for tok, data := range want {
		if string(rows[tok].Data) != data {
			t.Fatalf("token %s holds %q, want %q", tok[:6], rows[tok].Data, data)
		}
	}
}
