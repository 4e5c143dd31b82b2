package mssqlstore

import (
	"context"
	"fmt"
)

// runCleanup is the cleanup goroutine: every CleanupInterval it deletes
// expired rows and evicts expired cache entries. A failed pass is reported
// and the next one runs as usual.
func (s *MSSQLStore) runCleanup(t ticker) {
	defer s.wg.Done()
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C():
		}
		s.cleanupOnce(s.bgCtx)
	}
}

// cleanupOnce runs one cleanup pass.
func (s *MSSQLStore) cleanupOnce(ctx context.Context) {
	s.stats.cleanupRuns.Add(1)
	if s.cache != nil {
		s.cache.evictExpired(s.cfg.Now())
	}
	if _, err := s.deleteExpired(ctx, nil); err != nil && s.bgCtx.Err() == nil {
		s.stats.cleanupErrs.Add(1)
		s.report(fmt.Errorf("mssqlstore: cleanup (it runs again in %v): %w", s.cfg.CleanupInterval, err))
	}
}

// DeleteExpired deletes the expired sessions from SQL Server, at most
// CleanupBatchSize rows a statement, so that no statement takes enough
// locks to escalate to a table lock and block live traffic. It returns
// the rows deleted. progress, if not nil, is called with the running total
// after each statement. Transient errors are retried with backoff; ctx
// can stop it between statements and cancels a statement under way (each
// statement commits on its own, so stopping loses nothing).
func (s *MSSQLStore) DeleteExpired(ctx context.Context, progress func(deleted int64)) (int64, error) {
	n, err := s.deleteExpired(ctx, progress)
	if err != nil {
		return n, fmt.Errorf("mssqlstore: delete expired: %w", err)
	}
	return n, nil
}

func (s *MSSQLStore) deleteExpired(ctx context.Context, progress func(deleted int64)) (int64, error) {
	var total int64
	batch := int64(s.cfg.CleanupBatchSize)
	bo := newBackoff(s.cfg.FlushInterval)
	for attempt := 1; ; {
		res, err := s.db.ExecContext(ctx, s.q.deleteExpired, batch, civilTime(s.cfg.Now()))
		if err != nil {
			if classify(err) != classTransient || attempt == 5 {
				return total, wrapCtx(ctx, err)
			}
			attempt++
			select {
			case <-s.cfg.clock.After(bo.next()):
			case <-ctx.Done():
				return total, fmt.Errorf("%w (after %w)", ctx.Err(), err)
			}
			continue
		}
		attempt = 1
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		s.stats.rowsCleaned.Add(n)
		if progress != nil {
			progress(total)
		}
		if n < batch {
			return total, nil
		}
	}
}

// StopCleanup flushes every pending write, then stops the batcher and
// cleanup goroutines and waits for them. It gives the last flush up to
// StopTimeout; what it could not flush by then stays pending, and is
// reported to ErrorHandler. It is safe to call more than once and from
// several goroutines: each call returns once the first has finished.
// The store stays usable: afterwards Commit writes through to SQL Server
// before it returns.
func (s *MSSQLStore) StopCleanup() {
	s.stopOnce.Do(func() {
		finished := make(chan struct{})
		defer close(finished)
		go func() {
			select {
			case <-s.cfg.clock.After(s.cfg.StopTimeout):
				s.bgCancel() // ends a flush or cleanup statement under way
			case <-finished:
			}
		}()
		close(s.stop)
		s.wg.Wait()
		// Under the batcher's lock: a commit either got into pending before
		// this, and the flush below takes it, or sees stopped and writes
		// through.
		s.batcher.mu.Lock()
		s.stopped.Store(true)
		s.batcher.mu.Unlock()
		if err := s.batcher.flushAll(s.bgCtx, true); err != nil {
			s.report(fmt.Errorf("%w; StopCleanup gave up and left %d writes pending (Flush may retry them)", err, s.Stats().Pending))
		}
		s.bgCancel()
	})
}
