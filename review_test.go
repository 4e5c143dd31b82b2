package mssqlstore

import (
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/testdb"
)

// Adversarial review of the failure-path design (issue 9). Each test names
// the guarantee or documented promise it holds the store to. A test that
// fails here is a finding for the lead engineer; see the review report.

// Flush "writes every write pending when it is called, and returns when
// they are in SQL Server". A write pending at the call, whose token is
// committed again while Flush is busy with an earlier batch, must still
// reach SQL Server (as itself or as the newer write) before Flush returns
// nil. A checkpoint (a handover to another instance, a benchmark's final
// Flush) relies on this.
func TestReview_FlushWritesEveryWritePendingAtCall(t *testing.T) {
	// One row a batch, and no background flusher tick: Flush alone runs.
	h := newHarness(t, testdb.Options{WithType: true}, Config{MaxBatchRows: 1, FlushInterval: time.Hour})
	tokA, tokB := newToken(t), newToken(t)
	h.commit(tokA, "a1", h.later(time.Hour))
	h.commit(tokB, "b1", h.later(time.Hour))
	var once bool
	h.store.batcher.testHookTaken = func() {
		if once {
			return
		}
		once = true
		// While the first batch (one of the two tokens) is in flight,
		// both sessions are committed again.
		h.commit(tokA, "a2", h.later(time.Hour))
		h.commit(tokB, "b2", h.later(time.Hour))
	}
	if err := h.store.Flush(h.ctx()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	for _, tok := range []string{tokA, tokB} {
		if got, ok := h.inDB(tok); !ok {
			t.Errorf("Flush returned nil, but session %s… (pending when Flush was called) is not in SQL Server at all (table holds %q)", tok[:6], got)
		}
	}
}

// Stats.OldestPending is "how long the oldest pending write has waited:
// the data a crash would lose now", and Health turns it into an outage
// signal past FlushTimeout. A hot session committed again during each
// flush must not look ever older while every flush succeeds: the writes
// it replaced reached SQL Server.
func TestReview_OldestPendingOfHotSessionWhileFlushesSucceed(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{FlushInterval: time.Hour, FlushTimeout: 5 * time.Second})
	tok := newToken(t)
	h.commit(tok, "v0", h.later(time.Hour))
	for i := 1; i <= 10; i++ {
		i := i
		var done bool
		h.store.batcher.testHookTaken = func() {
			if done {
				return
			}
			done = true
			// A request commits the session while its previous write is
			// in flight; the flight succeeds.
			h.clock.Advance(time.Second)
			h.commit(tok, "v"+string(rune('0'+i)), h.later(time.Hour))
		}
		h.flush()
		if got, _ := h.inDB(tok); got != "v"+string(rune('0'+i-1)) {
			t.Fatalf("round %d: table holds %q, want the write the flush carried", i, got)
		}
	}
	// Every write but the last is in SQL Server; the last was accepted
	// just now (no time passed since).
	st := h.store.Stats()
	if st.Pending != 1 {
		t.Fatalf("Pending = %d, want 1", st.Pending)
	}
	if st.OldestPending != 0 {
		t.Errorf("OldestPending = %v, want 0: the only write a crash would lose was accepted just now", st.OldestPending)
	}
	if err := h.store.Health(); err != nil {
		t.Errorf("Health = %v while every flush succeeded", err)
	}
}
