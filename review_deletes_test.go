package mssqlstore

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
	"github.com/scs-contrib/mssqlstore/internal/testdb"

	mssql "github.com/microsoft/go-mssqldb"
)

// Adversarial tests of concurrent Deletes of one session sharing a
// DELETE statement (rule 2 of memory; guarantees 3, 5, 11 and 12).

// runDeletes counts the goroutines running a group's DELETE
// (runDelete): a goroutine-leak check without a new dependency.
func runDeletes() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return strings.Count(string(buf), ").runDelete(")
}

// waitNoRunDelete fails the test unless every runDelete goroutine ends.
func waitNoRunDelete(t *testing.T) {
	t.Helper()
	waitFor(t, "every runDelete goroutine to end", func() bool { return runDeletes() == 0 })
}

// holdRowLock holds an exclusive lock on token's row from another
// connection until the returned func commits: a DELETE of it blocks in
// SQL Server, then succeeds.
func holdRowLock(t *testing.T, h *harness, srv *mssqltest.Server, token string) (release func()) {
	t.Helper()
	other := openDSN(t, srv.DSN())
	tx, err := other.BeginTx(h.ctx(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(h.ctx(), "UPDATE "+h.db.Table+" SET data = data WHERE token = @p1", token); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if err := tx.Commit(); err != nil {
				t.Errorf("committing the lock holder: %v", err)
			}
		})
	}
	t.Cleanup(release)
	return release
}

// A Commit accepted before the Delete call is deleted with the session; a
// Commit accepted after the group's DELETE started is newer, survives the
// Delete, is served, and lands.
func TestReviewDeletes_CommitAfterStatementStartedSurvives(t *testing.T) {
	const callers = 6
	j := newJoinedDeletes(t, Config{}) // v1 in SQL Server; the first DELETE stalls
	h := j.h
	h.commit(j.tok, "v2", h.later(time.Hour)) // pending, accepted before the calls
	release := holdRowLock(t, h, j.srv, j.tok)
	res := j.deletes(h.ctx(), callers) // one group, waiting for the token
	j.releaseFirst()
	waitFor(t, "the group's DELETE to start and block on the row lock", func() bool {
		return j.deleteStatements() == 2
	})
	h.commit(j.tok, "v3", h.later(time.Hour)) // accepted after the DELETE started
	select {
	case err := <-res:
		t.Fatalf("a Delete returned %v while its DELETE is blocked", err)
	default:
	}
	release()
	for range callers {
		if err := <-res; err != nil {
			t.Fatalf("a Delete: %v", err)
		}
	}
	if got := j.deleteStatements(); got != 2 {
		t.Fatalf("sent %d DELETE statements, want 2", got)
	}
	if got, ok := h.find(j.tok); !ok || got != "v3" {
		t.Fatalf("after the Deletes, Find = %q, %v; want v3, accepted after the DELETE started", got, ok)
	}
	h.flush()
	if got, ok := h.inDB(j.tok); !ok || got != "v3" {
		t.Fatalf("after the Deletes and a flush, SQL Server holds %q, %v; want v3", got, ok)
	}
	waitNoRunDelete(t)
}

// A failed shared DELETE fails every caller, and the counters say so:
// each call is a Delete and a DeleteError; DeleteStatements matches the
// statements SQL Server received.
func TestReviewDeletes_FailureCounters(t *testing.T) {
	const callers = 5
	j := newJoinedDeletes(t, Config{})
	before := j.h.store.Stats()
	res := j.deletes(j.h.ctx(), callers)
	j.srv.InjectFault(mssqltest.Fault{Kind: "DELETE", Error: 1205})
	j.releaseFirst()
	for range callers {
		var sqlErr mssql.Error
		if err := <-res; !errors.As(err, &sqlErr) || sqlErr.Number != 1205 {
			t.Fatalf("a caller got %v, want error 1205", err)
		}
	}
	st := j.h.store.Stats()
	if got := st.Deletes - before.Deletes; got != callers {
		t.Fatalf("Stats().Deletes grew by %d, want %d", got, callers)
	}
	// The stalled first Delete returned its error after the snapshot.
	if got := st.DeleteErrors - before.DeleteErrors; got != callers+1 {
		t.Fatalf("Stats().DeleteErrors grew by %d, want %d", got, callers+1)
	}
	if got, want := st.DeleteStatements, j.deleteStatements(); got != want || got != 2 {
		t.Fatalf("Stats().DeleteStatements = %d, SQL Server received %d DELETE statements; want 2 and 2", got, want)
	}
	waitNoRunDelete(t)
}

// Every caller of a group whose DELETE is running (stalled in SQL
// Server) leaves: each returns its context's error without waiting for
// the statement, the statement is then cancelled (an attention), the
// token is released, the pending write stays and lands, and no
// goroutine is left.
func TestReviewDeletes_AllLeaveWhileStatementRuns(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{CleanupInterval: -1})
	srv := h.db.RequireServer(t)
	tok := newToken(t)
	var joined atomic.Int64
	h.store.mem.onJoin = func() { joined.Add(1) }
	h.commit(tok, "v1", h.later(time.Hour))
	h.commit(tok, "v2", h.later(time.Hour))
	// A flush holds the token while both callers join: they share one
	// group, and its DELETE stalls.
	hold := h.holdNextFlush(srv)
	flushed := make(chan error, 1)
	go func() { flushed <- h.store.Flush(h.ctx()) }()
	<-hold.inFlight
	srv.ResetCounters()
	srv.InjectFault(mssqltest.Fault{Kind: "DELETE", Stall: true})

	ctxA, cancelA := context.WithCancel(context.Background())
	ctxB, cancelB := context.WithCancel(context.Background())
	defer cancelA()
	defer cancelB()
	resA, resB := make(chan error, 1), make(chan error, 1)
	go func() { resA <- h.store.DeleteCtx(ctxA, tok) }()
	go func() { resB <- h.store.DeleteCtx(ctxB, tok) }()
	waitFor(t, "both callers to join", func() bool { return joined.Load() == 2 })
	close(hold.proceed)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the DELETE to stall", func() bool { return srv.FaultsHit() == 1 })
	h.commit(tok, "v3", h.later(time.Hour)) // pending, accepted after the DELETE started

	cancelA()
	if err := <-resA; !errors.Is(err, context.Canceled) {
		t.Fatalf("the first caller to leave got %v, want context.Canceled", err)
	}
	if got := srv.Counters().Attentions; got != 0 {
		t.Fatalf("one caller of two left, and the shared DELETE was cancelled (%d attentions)", got)
	}
	select {
	case err := <-resB:
		t.Fatalf("the caller that stayed returned %v while its DELETE stalls", err)
	default:
	}
	cancelB()
	if err := <-resB; !errors.Is(err, context.Canceled) {
		t.Fatalf("the last caller to leave got %v, want context.Canceled", err)
	}
	waitNoRunDelete(t)
	if got := srv.Counters().Attentions; got < 1 {
		t.Fatal("every caller left, and the DELETE was never cancelled")
	}
	if got, ok := h.find(tok); !ok || got != "v3" {
		t.Fatalf("after the abandoned Delete, Find = %q, %v; want the pending v3", got, ok)
	}
	h.flush()
	if got, ok := h.inDB(tok); !ok || got != "v3" {
		t.Fatalf("after the abandoned Delete and a flush, SQL Server holds %q, %v; want v3", got, ok)
	}
	if err := h.store.DeleteCtx(h.ctx(), tok); err != nil {
		t.Fatalf("a Delete after the abandoned one: %v", err)
	}
	if _, ok := h.find(tok); ok {
		t.Fatal("Delete returned nil, and Find serves the session")
	}
	if st := h.store.Stats(); st.DeleteStatements != srv.Counters().Statements["DELETE"] {
		t.Fatalf("Stats().DeleteStatements = %d, SQL Server received %d", st.DeleteStatements, srv.Counters().Statements["DELETE"])
	}
}

// Every caller of a group waiting for its token leaves: no statement is
// sent for it and its goroutine ends.
func TestReviewDeletes_AllLeaveWhileWaitingNoGoroutineLeft(t *testing.T) {
	j := newJoinedDeletes(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	leaving := j.deletes(ctx, 3)
	cancel()
	for range 3 {
		if err := <-leaving; !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	}
	// The first Delete still stalls: only its runDelete is left.
	waitFor(t, "the abandoned group's goroutine to end", func() bool { return runDeletes() == 1 })
	j.releaseFirst()
	waitNoRunDelete(t)
	if got := j.deleteStatements(); got != 1 {
		t.Fatalf("sent %d DELETE statements, want 1 (the stalled one)", got)
	}
	if got := j.h.store.Stats().DeleteStatements; got != 1 {
		t.Fatalf("Stats().DeleteStatements = %d, want 1", got)
	}
}

// A Delete whose context has ended before the call sends no DELETE that
// it does not count: Stats().DeleteStatements stays equal to the DELETE
// statements SQL Server received.
func TestReviewDeletes_CancelledBeforeCallCountsNoStatement(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{CleanupInterval: -1})
	srv := h.db.RequireServer(t)
	tok := newToken(t)
	h.commit(tok, "v1", h.later(time.Hour))
	h.flush()
	srv.ResetCounters()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 50 {
		if err := h.store.DeleteCtx(ctx, tok); !errors.Is(err, context.Canceled) {
			t.Fatalf("Delete %d with an ended context = %v, want context.Canceled", i, err)
		}
		waitNoRunDelete(t)
		if got, sent := h.store.Stats().DeleteStatements, srv.Counters().Statements["DELETE"]; got != sent {
			t.Fatalf("after %d Deletes with an ended context, Stats().DeleteStatements = %d, SQL Server received %d DELETE statements", i+1, got, sent)
		}
	}
}

// Close while a group of Deletes waits behind a stalled DELETE and its
// callers leave: Close waits for the held token, the callers return at
// once, the abandoned group sends nothing, the write pending before the
// failed Deletes is not lost (Close flushes it), and no goroutine of
// the group outlives Close.
func TestReviewDeletes_CloseWhileGroupWaitsAndCallersLeave(t *testing.T) {
	const callers = 3
	j := newJoinedDeletes(t, Config{})
	h := j.h
	h.commit(j.tok, "v2", h.later(time.Hour)) // pending
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := j.deletes(ctx, callers)
	closed := make(chan error, 1)
	go func() { closed <- h.store.Close(h.ctx()) }()
	waitFor(t, "Close to begin", func() bool {
		h.store.mem.mu.Lock()
		defer h.store.mem.mu.Unlock()
		return h.store.mem.closed
	})
	cancel()
	for range callers {
		if err := <-res; !errors.Is(err, context.Canceled) {
			t.Fatalf("a caller that left during Close got %v, want context.Canceled", err)
		}
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while a DELETE holds the token of a pending write", err)
	default:
	}
	j.releaseFirst()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitNoRunDelete(t)
	if got := j.deleteStatements(); got != 1 {
		t.Fatalf("sent %d DELETE statements, want 1: the abandoned group sends none", got)
	}
	if got, ok := h.inDB(j.tok); !ok || got != "v2" {
		t.Fatalf("every Delete failed, and after Close SQL Server holds %q, %v; want the pending v2", got, ok)
	}
}

// Finds racing shared Deletes never leave the deleted session in the
// cache: once every Delete has returned nil, Find misses (guarantee 5).
func TestReviewDeletes_FindsRacingSharedDeletes(t *testing.T) {
	const rounds, deleters, finders = 8, 4, 2
	h := newHarness(t, testdb.Options{WithType: true}, Config{CleanupInterval: -1})
	for round := range rounds {
		tok := newToken(t)
		h.commit(tok, "v1", h.later(time.Hour))
		h.flush()
		h.find(tok) // cached
		stop := make(chan struct{})
		var finds sync.WaitGroup
		for range finders {
			finds.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, _, err := h.store.FindCtx(h.ctx(), tok); err != nil {
						t.Errorf("Find: %v", err)
						return
					}
				}
			})
		}
		var dels sync.WaitGroup
		for range deleters {
			dels.Go(func() {
				if err := h.store.DeleteCtx(h.ctx(), tok); err != nil {
					t.Errorf("Delete: %v", err)
				}
			})
		}
		dels.Wait()
		if _, ok := h.find(tok); ok {
			t.Fatalf("round %d: every Delete returned nil while Finds ran, and Find serves the session", round)
		}
		close(stop)
		finds.Wait()
		if _, ok := h.find(tok); ok {
			t.Fatalf("round %d: after the Finds, Find serves the deleted session", round)
		}
	}
	if st := h.store.Stats(); st.DeleteStatements > rounds*deleters || st.DeleteErrors != 0 {
		t.Fatalf("Stats: %d DELETE statements, %d Delete errors", st.DeleteStatements, st.DeleteErrors)
	}
}

// A durable Commit accepted after the group's DELETE started is not
// answered by the Delete: it returns nil only once a flush has written
// it, and SQL Server holds it (guarantee 6). A durable Commit accepted
// before the Delete call is answered when the Delete removes it.
func TestReviewDeletes_DurableCommitsAroundSharedDelete(t *testing.T) {
	for _, after := range []bool{false, true} {
		name := "accepted before the call"
		if after {
			name = "accepted after the DELETE started"
		}
		t.Run(name, func(t *testing.T) {
			j := newJoinedDeletes(t, Config{DurableCommits: true})
			h := j.h
			committed := make(chan error, 1)
			commit := func(v string) {
				go func() { committed <- h.store.CommitCtx(h.ctx(), j.tok, []byte(v), h.later(time.Hour)) }()
				waitFor(t, "the durable commit to be pending", func() bool { return h.store.Stats().Pending == 1 })
			}
			if !after {
				commit("v2")
			}
			release := holdRowLock(t, h, j.srv, j.tok)
			res := j.deletes(h.ctx(), 2)
			j.releaseFirst()
			waitFor(t, "the group's DELETE to start", func() bool { return j.deleteStatements() == 2 })
			if after {
				// No flush runs until the test says: only the Delete could
				// answer the commit meanwhile.
				h.store.batcher.flushLock <- struct{}{}
				commit("v3")
			}
			release()
			for range 2 {
				if err := <-res; err != nil {
					t.Fatalf("a Delete: %v", err)
				}
			}
			if !after {
				if err := <-committed; err != nil {
					t.Fatalf("the durable Commit the Delete removed: %v", err)
				}
				if _, ok := h.inDB(j.tok); ok {
					t.Fatal("the Deletes returned nil, and SQL Server holds the session")
				}
				return
			}
			select {
			case err := <-committed:
				t.Fatalf("the durable Commit accepted after the DELETE started returned %v before any flush wrote it", err)
			default:
			}
			<-h.store.batcher.flushLock
			h.flush()
			if err := <-committed; err != nil {
				t.Fatalf("durable Commit: %v", err)
			}
			if got, ok := h.inDB(j.tok); !ok || got != "v3" {
				t.Fatalf("the durable Commit returned nil, and SQL Server holds %q, %v", got, ok)
			}
		})
	}
}

// Every caller of a waiting group leaves at the moment the token is
// released: the group's goroutine may see both at once, and must then
// send no DELETE it counts. Stats().DeleteStatements stays equal to the
// DELETE statements SQL Server received.
func TestReviewDeletes_AllLeaveAsTokenIsReleased(t *testing.T) {
	const rounds = 16
	// No batching: every Commit writes through, holding the token.
	h := newHarness(t, testdb.Options{WithType: true}, Config{FlushInterval: -1, CleanupInterval: -1})
	srv := h.db.RequireServer(t)
	tok := newToken(t)
	h.commit(tok, "v1", h.later(time.Hour))
	srv.ResetCounters()
	for round := range rounds {
		srv.InjectFault(mssqltest.Fault{Kind: "MERGE", Stall: true})
		wctx, stopWrite := context.WithCancel(context.Background())
		written := make(chan error, 1)
		go func() { written <- h.store.CommitCtx(wctx, tok, []byte("v2"), h.later(time.Hour)) }()
		waitFor(t, "the write-through to stall", func() bool { return srv.FaultsHit() == int64(round+1) })

		dctx, leave := context.WithCancel(context.Background())
		deleted := make(chan error, 1)
		done := make(chan struct{}) // onWait has run
		// onWait runs in the group's goroutine just before it waits: the
		// caller leaves, then the write-through ends and releases the
		// token, so both are ready when the goroutine waits.
		h.store.mem.onWait = func() {
			leave()
			if err := <-deleted; !errors.Is(err, context.Canceled) {
				t.Errorf("the caller that left got %v, want context.Canceled", err)
			}
			stopWrite()
			<-written
			// This runs in the group's goroutine, where t.Fatal must not
			// be called: poll with a deadline and report with t.Error.
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
				h.store.mem.mu.Lock()
				free := h.store.mem.busy[tok] == nil
				h.store.mem.mu.Unlock()
				if free {
					break
				}
				if time.Now().After(deadline) {
					t.Error("the write-through never released the token")
					break
				}
			}
			close(done)
		}
		go func() { deleted <- h.store.DeleteCtx(dctx, tok) }()
		<-done
		waitNoRunDelete(t)
		h.store.mem.onWait = nil
		if got, sent := h.store.Stats().DeleteStatements, srv.Counters().Statements["DELETE"]; got != sent {
			t.Fatalf("round %d: Stats().DeleteStatements = %d, SQL Server received %d DELETE statements", round, got, sent)
		}
	}
	if got, ok := h.inDB(tok); !ok || got != "v1" && got != "v2" {
		t.Fatalf("SQL Server holds %q, %v; want v1 or v2", got, ok)
	}
}

// StopCleanup while a DELETE of a token with a pending write stalls and
// a group waits behind it: StopCleanup ends (after StopTimeout of the
// store's clock) and reports the write it could not flush; the callers
// still get their answer when they leave, and no goroutine is left.
func TestReviewDeletes_StopCleanupWhileDeleteStalls(t *testing.T) {
	j := newJoinedDeletes(t, Config{StopTimeout: 5 * time.Second})
	h := j.h
	h.commit(j.tok, "v2", h.later(time.Hour)) // pending, its token held
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := j.deletes(ctx, 2)
	stop := make(chan struct{})
	h.clock.run(time.Second, stop) // StopTimeout passes
	stopped := make(chan struct{})
	go func() { h.store.StopCleanup(); close(stopped) }()
	<-stopped
	close(stop)
	if err := h.errs.next(t); !strings.Contains(err.Error(), "mssqlstore: ") {
		t.Fatalf("StopCleanup reported %v", err)
	}
	if got := h.store.Stats().Pending; got != 1 {
		t.Fatalf("StopCleanup could not flush the held write, and %d writes are pending, want 1", got)
	}
	cancel()
	for range 2 {
		if err := <-res; !errors.Is(err, context.Canceled) {
			t.Fatalf("a caller that left after StopCleanup got %v, want context.Canceled", err)
		}
	}
	j.releaseFirst()
	waitNoRunDelete(t)
	if got := j.deleteStatements(); got != 1 {
		t.Fatalf("sent %d DELETE statements, want 1", got)
	}
	if got, ok := h.inDB(j.tok); !ok || got != "v1" {
		t.Fatalf("every Delete failed, and SQL Server holds %q, %v; want v1", got, ok)
	}
}
