package mssqlstore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
	"github.com/scs-contrib/mssqlstore/internal/testdb"

	mssql "github.com/microsoft/go-mssqldb"
)

// Concurrent Deletes of one session share statements (rule 2 of memory):
// at most one DELETE of a token runs and one waits, and each waiting
// caller is answered by the one that starts after it was called.

// joinedDeletes is the harness of these tests: a first Delete whose
// DELETE stalls in the server (it holds the token until stopFirst), and
// the count of callers that have joined a group.
type joinedDeletes struct {
	h         *harness
	srv       *mssqltest.Server
	tok       string
	joined    atomic.Int64
	stopFirst context.CancelFunc
	first     chan error
}

func newJoinedDeletes(t *testing.T, cfg Config) *joinedDeletes {
	t.Helper()
	cfg.CleanupInterval = -1 // no cleanup DELETE among the ones counted
	h := newHarness(t, testdb.Options{WithType: true}, cfg)
	j := &joinedDeletes{h: h, srv: h.db.RequireServer(t), tok: newToken(t), first: make(chan error, 1)}
	h.store.mem.onJoin = func() { j.joined.Add(1) }
	h.commit(j.tok, "v1", h.later(time.Hour))
	h.flush()
	j.srv.ResetCounters()
	j.srv.InjectFault(mssqltest.Fault{Kind: "DELETE", Stall: true})
	var ctx context.Context
	ctx, j.stopFirst = context.WithCancel(context.Background())
	go func() { j.first <- h.store.DeleteCtx(ctx, j.tok) }()
	waitFor(t, "the first DELETE to stall", func() bool { return j.srv.FaultsHit() == 1 })
	return j
}

// deletes starts n Deletes of the token with ctx and waits until each has
// joined a group; their results arrive on the returned channel.
func (j *joinedDeletes) deletes(ctx context.Context, n int) <-chan error {
	j.h.t.Helper()
	want := j.joined.Load() + int64(n)
	res := make(chan error, n)
	for range n {
		go func() { res <- j.h.store.DeleteCtx(ctx, j.tok) }()
	}
	waitFor(j.h.t, "the Deletes to join", func() bool { return j.joined.Load() == want })
	return res
}

// releaseFirst cancels the stalled first Delete, which returns its
// context's error.
func (j *joinedDeletes) releaseFirst() {
	j.h.t.Helper()
	j.stopFirst()
	if err := <-j.first; !errors.Is(err, context.Canceled) {
		j.h.t.Fatalf("the stalled first Delete returned %v, want context.Canceled", err)
	}
}

func (j *joinedDeletes) deleteStatements() int64 {
	return j.srv.Counters().Statements["DELETE"]
}

func TestConcurrentDeletesShareOneStatement(t *testing.T) {
	const callers = 16
	j := newJoinedDeletes(t, Config{})
	res := j.deletes(j.h.ctx(), callers)
	j.releaseFirst()
	for range callers {
		if err := <-res; err != nil {
			t.Fatalf("a joined Delete: %v", err)
		}
	}
	// The stalled one and the one every caller joined.
	if got, want := j.deleteStatements(), int64(2); got != want {
		t.Fatalf("%d concurrent Deletes of one session behind a DELETE in flight sent %d DELETE statements, want %d", callers, got, want)
	}
	if got := j.h.store.Stats().DeleteStatements; got != 2 {
		t.Fatalf("Stats().DeleteStatements = %d, want 2", got)
	}
	if _, ok := j.h.inDB(j.tok); ok {
		t.Fatal("every Delete returned nil, and SQL Server still holds the session")
	}
	if _, ok := j.h.find(j.tok); ok {
		t.Fatal("every Delete returned nil, and Find serves the session")
	}
}

// A joined DELETE that fails fails every caller in it, and changes
// nothing but the cache: the pending write stays, and lands.
func TestJoinedDeleteFailureFailsEveryCaller(t *testing.T) {
	const callers = 8
	j := newJoinedDeletes(t, Config{})
	j.h.store.batcher.flushLock <- struct{}{} // no flush runs until released
	var release sync.Once
	releaseFlush := func() { release.Do(func() { <-j.h.store.batcher.flushLock }) }
	defer releaseFlush() // also when the test fails: the harness's Close flushes
	j.h.commit(j.tok, "v2", j.h.later(time.Hour))
	res := j.deletes(j.h.ctx(), callers)
	j.srv.InjectFault(mssqltest.Fault{Kind: "DELETE", Error: 1205})
	j.releaseFirst()
	for range callers {
		err := <-res
		var sqlErr mssql.Error
		if !errors.As(err, &sqlErr) || sqlErr.Number != 1205 {
			t.Fatalf("a caller of a failed joined DELETE got %v, want error 1205", err)
		}
	}
	if got := j.deleteStatements(); got != 2 {
		t.Fatalf("sent %d DELETE statements, want 2", got)
	}
	if got, ok := j.h.find(j.tok); !ok || got != "v2" {
		t.Fatalf("after the failed Deletes, Find = %q, %v; want the pending write v2", got, ok)
	}
	releaseFlush()
	j.h.flush()
	if got, _ := j.h.inDB(j.tok); got != "v2" {
		t.Fatalf("after the failed Deletes and a flush, SQL Server holds %q, want v2", got)
	}
}

// A caller whose context ends leaves at once with its error; the DELETE
// goes on for the others. When every caller of a group that has not
// started has left, no statement is sent for it.
func TestJoinedDeleteCallerContextEnds(t *testing.T) {
	t.Run("one of several leaves", func(t *testing.T) {
		j := newJoinedDeletes(t, Config{})
		ctx, cancel := context.WithCancel(context.Background())
		leaving := j.deletes(ctx, 1)
		staying := j.deletes(j.h.ctx(), 3)
		cancel()
		if err := <-leaving; !errors.Is(err, context.Canceled) {
			t.Fatalf("the caller whose context ended got %v, want context.Canceled", err)
		}
		select {
		case err := <-staying:
			t.Fatalf("a joined Delete returned %v before its DELETE ran", err)
		default:
		}
		j.releaseFirst()
		for range 3 {
			if err := <-staying; err != nil {
				t.Fatalf("a joined Delete: %v", err)
			}
		}
		if got := j.deleteStatements(); got != 2 {
			t.Fatalf("sent %d DELETE statements, want 2", got)
		}
		if _, ok := j.h.inDB(j.tok); ok {
			t.Fatal("the remaining callers' Delete returned nil, and SQL Server still holds the session")
		}
	})
	t.Run("all leave", func(t *testing.T) {
		j := newJoinedDeletes(t, Config{})
		ctx, cancel := context.WithCancel(context.Background())
		leaving := j.deletes(ctx, 2)
		cancel()
		for range 2 {
			if err := <-leaving; !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want context.Canceled", err)
			}
		}
		j.releaseFirst()
		if err := j.h.store.DeleteCtx(j.h.ctx(), j.tok); err != nil {
			t.Fatalf("a Delete after everyone left: %v", err)
		}
		// The stalled one and the last Delete's: none for the group
		// everyone left.
		if got := j.deleteStatements(); got != 2 {
			t.Fatalf("sent %d DELETE statements, want 2", got)
		}
		if _, ok := j.h.inDB(j.tok); ok {
			t.Fatal("Delete returned nil, and SQL Server still holds the session")
		}
	})
}

// Close while callers wait for a joined DELETE: Close returns, every
// caller gets its answer, and a write pending for the token does not
// outlive the Deletes.
func TestCloseWhileDeletesJoined(t *testing.T) {
	const callers = 4
	j := newJoinedDeletes(t, Config{})
	j.h.commit(j.tok, "v2", j.h.later(time.Hour)) // accepted before the joined callers
	res := j.deletes(j.h.ctx(), callers)
	closed := make(chan error, 1)
	go func() { closed <- j.h.store.Close(j.h.ctx()) }()
	waitFor(t, "Close to begin", func() bool {
		j.h.store.mem.mu.Lock()
		defer j.h.store.mem.mu.Unlock()
		return j.h.store.mem.closed
	})
	j.releaseFirst()
	for range callers {
		if err := <-res; err != nil {
			t.Fatalf("a joined Delete during Close: %v", err)
		}
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, ok := j.h.inDB(j.tok); ok {
		t.Fatal("every Delete returned nil, and SQL Server holds the session after Close")
	}
	if err := j.h.store.DeleteCtx(j.h.ctx(), j.tok); err != nil {
		t.Fatalf("Delete after Close: %v", err)
	}
}
