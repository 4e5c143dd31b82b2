package mssqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/sqlerr"
)

// batcher flushes the pending writes that memory holds, many rows a
// statement, through the writer. Batch flushes run one at a time
// (flushLock): one statement at a time keeps lock waits between an
// instance's own flushes out of SQL Server. Which rows a flush may carry,
// and what its result does to memory, memory decides.
type batcher struct {
	mem      *memory
	w        *writer
	clock    clock
	stats    *counters
	report   func(error)
	interval time.Duration // FlushInterval: the first backoff
	hints    func(error) string
	onFlush  func(error) // the result of each of the flusher's attempts

	kick      chan struct{} // wakes the flusher before its tick
	flushLock chan struct{} // a lock that waits can abandon (ctx)

	lastPermanent atomic.Int64 // the permanent error last reported, for reporting once

	// testHookTaken, when a test sets it, runs after a flush has taken its
	// rows and before it writes them.
	testHookTaken func()
}

// flushMode says what flushAll does about a pending write whose token a
// Delete or write-through holds.
type flushMode int

const (
	// skipHeld leaves it for a later flush: the flusher goroutine.
	skipHeld flushMode = iota
	// waitHeld waits until the token is released, and flushes the write
	// if it is still pending: Flush and Close, which promise every write
	// pending when they were called.
	waitHeld
)

func (b *batcher) wake() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// run is the flusher goroutine: it flushes on every tick, or sooner when a
// batch fills or a durable commit waits, until ctx ends. A failed flush
// is reported and retried with backoff; a permanent error is reported
// once until it changes.
func (b *batcher) run(ctx context.Context, t ticker) {
	defer t.Stop()
	policy := retryPolicy{attempts: untilContextEnds, retryable: anyError, base: b.interval}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		case <-b.kick:
		}
		flush := func(ctx context.Context) error {
			err := b.flushAll(ctx, skipHeld)
			if ctx.Err() == nil {
				b.onFlush(err)
			}
			return err
		}
		if err := policy.do(ctx, b.clock, flush, b.reportFlushError); err == nil {
			b.lastPermanent.Store(0)
		}
	}
}

// reportFlushError hands a failed background flush to the error callback:
// a transient error every time, a permanent one once until it changes.
func (b *batcher) reportFlushError(err error) {
	if cls := classify(err); cls != classTransient {
		key := int64(-cls)
		if n, ok := sqlerr.Number(err); ok {
			key = int64(n)
		}
		if b.lastPermanent.Swap(key) == key {
			return
		}
		if hint := b.hints(err); hint != "" {
			err = fmt.Errorf("%w; to fix: %s", err, hint)
		}
	}
	b.report(err)
}

// flushAll writes every write pending when it was called, a batch at a
// time, each batch tried once; a failed batch stays pending, and flushAll
// returns its error. mode says what to do with writes whose token is held.
func (b *batcher) flushAll(ctx context.Context, mode flushMode) error {
	select {
	case b.flushLock <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("mssqlstore: flush: %w", ctx.Err())
	}
	defer func() { <-b.flushLock }()

	target := b.mem.lastSeq()
	for {
		changed := b.mem.waitChange()
		fl, items, held := b.mem.take(target)
		if len(items) == 0 {
			if !held || mode == skipHeld {
				return nil
			}
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return fmt.Errorf("mssqlstore: flush: waiting for a Delete or write of the same session: %w", ctx.Err())
			}
		}
		if b.testHookTaken != nil {
			b.testHookTaken()
		}
		start := time.Now()
		results, err := b.writeIsolating(ctx, items)
		fate := answerWaiters
		if ctx.Err() != nil {
			fate = keepWaiters
		}
		b.mem.settle(fl, items, results, fate)
		b.account(results, time.Since(start))
		if err != nil {
			b.stats.flushErrors.Add(1)
			return fmt.Errorf("mssqlstore: flush of %d rows: %w", len(items), wrapCtx(ctx, err))
		}
	}
}

// account counts a flush's results, and reports the rows it dropped.
func (b *batcher) account(results []error, took time.Duration) {
	written := 0
	for _, err := range results {
		var rowErr *RowError
		switch {
		case err == nil:
			written++
		case errors.As(err, &rowErr):
			b.stats.rowsDropped.Add(1)
			b.report(rowErr)
		}
	}
	if written > 0 {
		b.stats.flushes.Add(1)
		b.stats.rowsFlushed.Add(int64(written))
		b.stats.flushNanos.Add(int64(took))
		b.stats.lastFlushRows.Store(int64(written))
		b.stats.lastFlushNanos.Store(int64(took))
		b.stats.lastFlushAt.Store(b.clock.Now().UnixNano())
	}
}

// writeIsolating writes items and returns, for each, nil (written), a
// *RowError (SQL Server rejects that row on its own: dropped), or the
// error that stopped it (still pending). When SQL Server rejects the batch
// for a value in some row, it splits the batch in halves until it finds
// the rows, so that one bad row cannot block the others.
func (b *batcher) writeIsolating(ctx context.Context, items []item) ([]error, error) {
	results := make([]error, len(items))
	err := b.w.write(ctx, items)
	// A duplicate key that survived the writer's retries is no race with
	// another instance but two tokens of this batch that the table type's
	// collation holds equal: split the batch, like any row error.
	if cls := classify(err); err == nil || cls != classRow && cls != classDuplicateKey {
		for i := range results {
			results[i] = err
		}
		return results, err
	}
	if len(items) == 1 {
		results[0] = &RowError{Token: items[0].token, Err: err}
		return results, nil
	}
	mid := len(items) / 2
	left, errLeft := b.writeIsolating(ctx, items[:mid])
	copy(results, left)
	if errLeft != nil {
		for i := mid; i < len(items); i++ {
			results[i] = errLeft
		}
		return results, errLeft
	}
	right, errRight := b.writeIsolating(ctx, items[mid:])
	copy(results[mid:], right)
	return results, errRight
}
