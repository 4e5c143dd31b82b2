package mssqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// runCleanup is the cleanup goroutine: every CleanupInterval it deletes
// expired rows and evicts expired cache entries, until ctx ends. A failed
// pass is reported and the next one runs as usual.
func (s *MSSQLStore) runCleanup(ctx context.Context, t ticker) {
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		s.cleanupOnce(ctx)
	}
}

// cleanupOnce runs one cleanup pass. Close interrupts it through ctx:
// each DELETE commits on its own, so stopping halfway loses nothing.
func (s *MSSQLStore) cleanupOnce(ctx context.Context) {
	s.stats.cleanupRuns.Add(1)
	s.mem.evictExpired(s.cfg.Now())
	if _, err := s.deleteExpired(ctx, nil); err != nil && ctx.Err() == nil {
		s.stats.cleanupErrs.Add(1)
		s.report(fmt.Errorf("mssqlstore: cleanup (it runs again in %v): %w", s.cfg.CleanupInterval, err))
	}
}

// DeleteExpired deletes the expired sessions from SQL Server, at most
// CleanupBatchSize rows a statement, so that no statement takes enough
// locks to escalate to a table lock and block live traffic. It returns
// the sessions deleted. progress, if not nil, is called with the running
// total after each statement. Then it deletes the rows of the
// invalidation journal older than a minute, the same way (Stats counts
// them apart). Transient errors are retried with backoff; ctx can stop it
// between statements and cancels a statement under way (each statement
// commits on its own, so stopping loses nothing).
func (s *MSSQLStore) DeleteExpired(ctx context.Context, progress func(deleted int64)) (int64, error) {
	n, err := s.deleteExpired(ctx, progress)
	if err != nil {
		return n, fmt.Errorf("mssqlstore: delete expired: %w", err)
	}
	return n, nil
}

func (s *MSSQLStore) deleteExpired(ctx context.Context, progress func(deleted int64)) (int64, error) {
	total, err := s.deleteBatches(ctx, s.w.deleteExpired, &s.stats.rowsCleaned, progress)
	if err != nil {
		return total, err
	}
	_, err = s.deleteBatches(ctx, s.w.deleteJournal, &s.stats.journalRowsCleaned, nil)
	return total, err
}

// deleteBatches runs del until it deletes fewer rows than a batch, and
// counts the rows in count.
func (s *MSSQLStore) deleteBatches(ctx context.Context, del func(context.Context, int64, time.Time) (int64, error),
	count *atomic.Int64, progress func(deleted int64)) (int64, error) {
	var total int64
	batch := int64(s.cfg.CleanupBatchSize)
	policy := retryPolicy{attempts: cleanupAttempts, base: s.cfg.FlushInterval}
	for {
		var n int64
		err := policy.do(ctx, s.cfg.clock, func(ctx context.Context) error {
			var err error
			n, err = del(ctx, batch, s.cfg.Now())
			return err
		}, nil)
		if err != nil {
			return total, err
		}
		total += n
		count.Add(n)
		if progress != nil {
			progress(total)
		}
		if n < batch {
			return total, nil
		}
	}
}

// Close stops the store's goroutines, then flushes every pending write
// under ctx, and returns what it could not flush as an error that says
// how many writes are still pending and why. It is the shutdown a program
// must run before it exits: after http.Server.Shutdown, before
// sql.DB.Close.
//
// Close first interrupts the cleanup pass and the flusher (a statement
// under way is cancelled and rolled back; its rows stay pending), then
// retries transient errors until ctx ends. Durable commits still waiting
// when it gives up get its error. It returns when ctx ends even if the
// driver is still cancelling a statement.
//
// The store stays usable afterwards: every Commit writes through to SQL
// Server before it returns, Find and Delete work as before, and Flush
// retries what Close left pending. Close may be called more than once and
// from several goroutines: later calls wait for the first (or for their
// own ctx) and return its result.
func (s *MSSQLStore) Close(ctx context.Context) error {
	first := false
	s.closeOnce.Do(func() {
		first = true
		defer close(s.closeDone)
		s.stopBackground(ctx)
		s.closeErr = s.finalFlush(ctx)
	})
	if !first {
		select {
		case <-s.closeDone:
		case <-ctx.Done():
			return fmt.Errorf("mssqlstore: close: %w", ctx.Err())
		}
	}
	return s.closeErr
}

// StopCleanup is Close with StopTimeout to stop the goroutines and
// another StopTimeout for the final flush, reporting what it could not
// flush to ErrorHandler. It is kept for SCS's API; new code should call
// Close, which returns that error.
func (s *MSSQLStore) StopCleanup() {
	s.closeOnce.Do(func() {
		defer close(s.closeDone)
		ctx, cancel := s.timeout(s.cfg.StopTimeout)
		s.stopBackground(ctx)
		cancel()
		ctx, cancel = s.timeout(s.cfg.StopTimeout)
		defer cancel()
		s.closeErr = s.finalFlush(ctx)
		if s.closeErr != nil {
			s.report(s.closeErr)
		}
	})
	<-s.closeDone
}

// stopBackground interrupts the flusher and cleanup goroutines and waits
// for them, or for ctx. From then on Commit writes through.
func (s *MSSQLStore) stopBackground(ctx context.Context) {
	s.bgCancel()
	waitOrDone(ctx, s.wg.Wait)
	s.mem.close()
}

// finalFlush flushes what is pending, retrying transient errors until ctx
// ends; it returns at ctx's end even while the driver drains a cancelled
// statement. Durable commits still waiting get its error.
func (s *MSSQLStore) finalFlush(ctx context.Context) error {
	var mu sync.Mutex
	var last error // the last flush error, if ctx ends during a backoff or a statement
	res := make(chan error, 1)
	go func() {
		res <- s.flushPending(ctx, func(err error) {
			mu.Lock()
			last = err
			mu.Unlock()
		})
	}()
	var err error
	select {
	case err = <-res:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err == nil {
		return nil
	}
	mu.Lock()
	if last != nil && !errors.Is(err, last) {
		err = fmt.Errorf("%w (after %w)", err, last)
	}
	mu.Unlock()
	err = fmt.Errorf("mssqlstore: close: %d writes not flushed, still pending (Flush may retry them): %w", s.mem.stats().pending, err)
	s.mem.failWaiters(err)
	return err
}

// timeout is context.WithTimeout on the store's clock.
func (s *MSSQLStore) timeout(d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-s.cfg.clock.After(d):
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// waitOrDone runs f in a goroutine and returns when it returns or when ctx
// ends, whichever comes first.
func waitOrDone(ctx context.Context, f func()) {
	done := make(chan struct{})
	go func() {
		f()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
