package mssqlstore

import (
	"sync/atomic"
	"time"
)

// Stats are the figures to tune the store by. Counters count from the
// store's creation; Pending, PendingBytes and CacheLen are readings of now.
type Stats struct {
	// CacheHits counts Finds answered from memory: the cache, or a write
	// still pending. CacheMisses counts Finds that asked SQL Server.
	// The hit rate is CacheHits / (CacheHits + CacheMisses).
	CacheHits, CacheMisses int64
	// CacheEvictions counts entries the LRU dropped to make room: many
	// evictions with a low hit rate mean CacheSize is below the working set.
	CacheEvictions int64
	// CacheLen is the number of cached sessions now.
	CacheLen int

	// Commits counts accepted commits. CoalescedCommits counts those that
	// replaced a write of the same token still pending: writes that never
	// cost a row in SQL Server.
	Commits, CoalescedCommits int64
	// CommitWaits counts commits that had to wait for room under
	// MaxPending or MaxPendingBytes: raise the bounds, or the flush rate.
	CommitWaits int64

	// Flushes counts flush statements that wrote rows; RowsFlushed the
	// rows they wrote. RowsFlushed / Flushes is the mean batch size.
	Flushes, RowsFlushed int64
	// FlushErrors counts failed flush attempts, FlushRetries the retries
	// after a transient failure.
	FlushErrors, FlushRetries int64
	// FlushTime is the time spent in flush statements that wrote rows:
	// FlushTime / Flushes is the mean flush latency.
	FlushTime time.Duration
	// RowsDropped counts rows SQL Server rejected on their own (reported
	// to ErrorHandler as *RowError).
	RowsDropped int64
	// Pending and PendingBytes are the writes waiting in memory now, and
	// the bytes of session data held for writing (pending, and carried
	// by a flush after a newer write replaced them).
	Pending      int
	PendingBytes int64
	// OldestPending is how long the oldest pending write has waited: the
	// data a crash would lose now. It grows during an outage.
	OldestPending time.Duration
	// LastFlushDuration and LastFlushRows describe the last flush that
	// wrote rows, and LastFlushAt says when it ended (zero: never).
	LastFlushDuration time.Duration
	LastFlushRows     int64
	LastFlushAt       time.Time
	// Typeless reports that flushes use UPDATE then INSERT instead of a
	// MERGE of the table type.
	Typeless bool

	// CleanupRuns counts cleanup passes; RowsCleaned the expired sessions
	// they deleted; CleanupErrors the passes that failed.
	// JournalRowsCleaned counts the invalidation journal's rows they
	// deleted.
	CleanupRuns, RowsCleaned, CleanupErrors int64
	JournalRowsCleaned                      int64

	// Deletes counts calls of Delete with a valid token, DeleteErrors
	// those that returned an error; FindErrors counts Finds that failed.
	// DeleteStatements counts the DELETE statements those calls sent:
	// concurrent Deletes of one session share one.
	Deletes, DeleteErrors, DeleteStatements, FindErrors int64

	// Cross-instance invalidation (Config.InvalidationBound).
	// InvalidationPolls counts the poll statements sent (each a round
	// trip), InvalidationPollErrors those that failed. Invalidations
	// counts the sessions other instances reported changed, and
	// InvalidationPurges the times the whole cache was dropped instead
	// (the first poll, a poll that found journal rows deleted before it
	// read them, a table emptied, a statement of another instance that
	// changed more sessions than a journal row names: a MERGE of more
	// than 512 rows). InvalidationLag is how long after
	// another instance sent its statement the last change it reported
	// was applied here (by the two instances' clocks): the staleness the
	// poll achieves. SinceLastPoll is the time since the last successful
	// poll was sent; while it exceeds the bound, the cache serves only
	// what it read or wrote within the bound. InvalidationFallback reports that the server could not
	// run the journal's SQL, so invalidation is off and CacheMaxAge alone
	// bounds staleness (reported once to ErrorHandler).
	InvalidationPolls, InvalidationPollErrors int64
	Invalidations, InvalidationPurges         int64
	InvalidationLag, SinceLastPoll            time.Duration
	InvalidationFallback                      bool

	// BackgroundErrors counts the errors handed to ErrorHandler (or
	// logged); LastError is the last of them, at LastErrorAt.
	BackgroundErrors int64
	LastError        error
	LastErrorAt      time.Time
}

// counters are the store's own event counts; memory and the cache count
// theirs.
type counters struct {
	cacheHits, cacheMisses                     atomic.Int64
	commits                                    atomic.Int64
	flushes, rowsFlushed, flushNanos           atomic.Int64
	flushErrors, flushRetries, rowsDropped     atomic.Int64
	lastFlushNanos, lastFlushRows, lastFlushAt atomic.Int64
	cleanupRuns, rowsCleaned, cleanupErrs      atomic.Int64
	journalRowsCleaned                         atomic.Int64
	deletes, deleteErrors, findErrors          atomic.Int64
	deleteStatements                           atomic.Int64
	backgroundErrors                           atomic.Int64
}

// Stats returns the store's figures now.
func (s *MSSQLStore) Stats() Stats {
	m := s.mem.stats()
	st := Stats{
		CacheHits:          s.stats.cacheHits.Load(),
		CacheMisses:        s.stats.cacheMisses.Load(),
		CacheEvictions:     m.cacheEvictions,
		CacheLen:           m.cacheLen,
		Commits:            s.stats.commits.Load(),
		CoalescedCommits:   m.coalesced,
		CommitWaits:        m.waits,
		Flushes:            s.stats.flushes.Load(),
		RowsFlushed:        s.stats.rowsFlushed.Load(),
		FlushTime:          time.Duration(s.stats.flushNanos.Load()),
		FlushErrors:        s.stats.flushErrors.Load(),
		FlushRetries:       s.stats.flushRetries.Load(),
		RowsDropped:        s.stats.rowsDropped.Load(),
		Pending:            m.pending,
		PendingBytes:       m.pendingBytes,
		LastFlushDuration:  time.Duration(s.stats.lastFlushNanos.Load()),
		LastFlushRows:      s.stats.lastFlushRows.Load(),
		Typeless:           s.w.path.Load() == pathTypeless,
		CleanupRuns:        s.stats.cleanupRuns.Load(),
		RowsCleaned:        s.stats.rowsCleaned.Load(),
		CleanupErrors:      s.stats.cleanupErrs.Load(),
		JournalRowsCleaned: s.stats.journalRowsCleaned.Load(),
		Deletes:            s.stats.deletes.Load(),
		DeleteStatements:   s.stats.deleteStatements.Load(),
		DeleteErrors:       s.stats.deleteErrors.Load(),
		FindErrors:         s.stats.findErrors.Load(),
		BackgroundErrors:   s.stats.backgroundErrors.Load(),
	}
	if at := s.stats.lastFlushAt.Load(); at != 0 {
		st.LastFlushAt = time.Unix(0, at).UTC()
	}
	if p := s.poller; p != nil {
		st.InvalidationPolls = p.polls.Load()
		st.InvalidationPollErrors = p.pollErrors.Load()
		st.Invalidations = p.received.Load()
		st.InvalidationPurges = p.purges.Load()
		st.InvalidationLag = time.Duration(p.lagNanos.Load())
		since := s.created
		if polled, ok := p.cache.lastPoll(); ok {
			since = polled
		}
		st.SinceLastPoll = max(0, s.cfg.Now().Sub(since))
	}
	if s.w.j != nil {
		st.InvalidationFallback = s.w.j.fellBack.Load()
	}
	st.LastError, st.LastErrorAt, _ = s.rep.state()
	if !m.oldestPending.IsZero() {
		st.OldestPending = max(0, s.cfg.Now().Sub(m.oldestPending))
	}
	return st
}
