package mssqlstoreprom_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/scs-contrib/mssqlstore"
	"github.com/scs-contrib/mssqlstore/mssqlstoreprom"
)

type fixed mssqlstore.Stats

func (f fixed) Stats() mssqlstore.Stats { return mssqlstore.Stats(f) }

// Every metric is scraped through a registry, with its type and the
// value of the Stats field it exports.
func TestCollectorScrapesEveryMetric(t *testing.T) {
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	st := fixed{
		CacheHits: 90, CacheMisses: 10, CacheEvictions: 3, CacheLen: 42,
		Commits: 100, CoalescedCommits: 20, CommitWaits: 1,
		Flushes: 8, RowsFlushed: 80, FlushTime: 1500 * time.Millisecond,
		FlushErrors: 2, FlushRetries: 2, RowsDropped: 1,
		Pending: 5, PendingBytes: 5000, OldestPending: 250 * time.Millisecond,
		LastFlushDuration: 20 * time.Millisecond, LastFlushRows: 9, LastFlushAt: at,
		Typeless: true, CleanupRuns: 4, RowsCleaned: 300, CleanupErrors: 1,
		Deletes: 7, DeleteErrors: 1, DeleteStatements: 5, FindErrors: 2, BackgroundErrors: 3, LastErrorAt: at,
		JournalRowsCleaned: 11, InvalidationPolls: 1200, InvalidationPollErrors: 4, Invalidations: 60,
		InvalidationPurges: 2, InvalidationLag: 30 * time.Millisecond, SinceLastPoll: 40 * time.Millisecond,
		InvalidationFallback: true,
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(mssqlstoreprom.NewCollector(st))
	want := `
# HELP mssqlstore_background_errors_total Errors of the background goroutines reported or logged.
# TYPE mssqlstore_background_errors_total counter
mssqlstore_background_errors_total 3
# HELP mssqlstore_cache_entries Sessions in the cache now.
# TYPE mssqlstore_cache_entries gauge
mssqlstore_cache_entries 42
# HELP mssqlstore_cache_evictions_total Cache entries dropped to make room.
# TYPE mssqlstore_cache_evictions_total counter
mssqlstore_cache_evictions_total 3
# HELP mssqlstore_cache_hits_total Finds answered from memory (the cache or a pending write).
# TYPE mssqlstore_cache_hits_total counter
mssqlstore_cache_hits_total 90
# HELP mssqlstore_cache_misses_total Finds that asked SQL Server.
# TYPE mssqlstore_cache_misses_total counter
mssqlstore_cache_misses_total 10
# HELP mssqlstore_cleaned_journal_rows_total Rows of the invalidation journal deleted by cleanup.
# TYPE mssqlstore_cleaned_journal_rows_total counter
mssqlstore_cleaned_journal_rows_total 11
# HELP mssqlstore_cleaned_rows_total Expired sessions deleted by cleanup.
# TYPE mssqlstore_cleaned_rows_total counter
mssqlstore_cleaned_rows_total 300
# HELP mssqlstore_cleanup_errors_total Cleanup passes that failed.
# TYPE mssqlstore_cleanup_errors_total counter
mssqlstore_cleanup_errors_total 1
# HELP mssqlstore_cleanup_runs_total Cleanup passes.
# TYPE mssqlstore_cleanup_runs_total counter
mssqlstore_cleanup_runs_total 4
# HELP mssqlstore_coalesced_commits_total Commits that replaced a pending write of the same session.
# TYPE mssqlstore_coalesced_commits_total counter
mssqlstore_coalesced_commits_total 20
# HELP mssqlstore_commit_waits_total Commits that waited for room under MaxPending or MaxPendingBytes.
# TYPE mssqlstore_commit_waits_total counter
mssqlstore_commit_waits_total 1
# HELP mssqlstore_commits_total Commits accepted.
# TYPE mssqlstore_commits_total counter
mssqlstore_commits_total 100
# HELP mssqlstore_delete_errors_total Deletes that returned an error.
# TYPE mssqlstore_delete_errors_total counter
mssqlstore_delete_errors_total 1
# HELP mssqlstore_delete_statements_total DELETE statements sent for Deletes: concurrent Deletes of one session share one.
# TYPE mssqlstore_delete_statements_total counter
mssqlstore_delete_statements_total 5
# HELP mssqlstore_deletes_total Deletes of a valid token.
# TYPE mssqlstore_deletes_total counter
mssqlstore_deletes_total 7
# HELP mssqlstore_dropped_rows_total Rows SQL Server rejected on their own, dropped.
# TYPE mssqlstore_dropped_rows_total counter
mssqlstore_dropped_rows_total 1
# HELP mssqlstore_find_errors_total Finds that returned an error.
# TYPE mssqlstore_find_errors_total counter
mssqlstore_find_errors_total 2
# HELP mssqlstore_flush_errors_total Failed flush attempts.
# TYPE mssqlstore_flush_errors_total counter
mssqlstore_flush_errors_total 2
# HELP mssqlstore_flush_retries_total Flush retries after a transient failure.
# TYPE mssqlstore_flush_retries_total counter
mssqlstore_flush_retries_total 2
# HELP mssqlstore_flush_seconds_total Time spent in flush statements that wrote rows.
# TYPE mssqlstore_flush_seconds_total counter
mssqlstore_flush_seconds_total 1.5
# HELP mssqlstore_flushed_rows_total Rows written by flushes.
# TYPE mssqlstore_flushed_rows_total counter
mssqlstore_flushed_rows_total 80
# HELP mssqlstore_flushes_total Flush statements that wrote rows.
# TYPE mssqlstore_flushes_total counter
mssqlstore_flushes_total 8
# HELP mssqlstore_invalidation_fallback 1 when the server could not run the invalidation journal's SQL and CacheMaxAge alone bounds staleness.
# TYPE mssqlstore_invalidation_fallback gauge
mssqlstore_invalidation_fallback 1
# HELP mssqlstore_invalidation_lag_seconds From another instance's statement to this cache applying it, for the last change applied.
# TYPE mssqlstore_invalidation_lag_seconds gauge
mssqlstore_invalidation_lag_seconds 0.03
# HELP mssqlstore_invalidation_poll_errors_total Invalidation polls that failed.
# TYPE mssqlstore_invalidation_poll_errors_total counter
mssqlstore_invalidation_poll_errors_total 4
# HELP mssqlstore_invalidation_polls_total Invalidation poll statements sent.
# TYPE mssqlstore_invalidation_polls_total counter
mssqlstore_invalidation_polls_total 1200
# HELP mssqlstore_invalidation_purges_total Times the whole cache was dropped because changes may have been missed.
# TYPE mssqlstore_invalidation_purges_total counter
mssqlstore_invalidation_purges_total 2
# HELP mssqlstore_invalidations_total Sessions other instances reported changed.
# TYPE mssqlstore_invalidations_total counter
mssqlstore_invalidations_total 60
# HELP mssqlstore_last_error_timestamp_seconds When the last background error happened (0: never).
# TYPE mssqlstore_last_error_timestamp_seconds gauge
mssqlstore_last_error_timestamp_seconds 1.79604e+09
# HELP mssqlstore_last_flush_rows Rows of the last flush that wrote rows.
# TYPE mssqlstore_last_flush_rows gauge
mssqlstore_last_flush_rows 9
# HELP mssqlstore_last_flush_seconds Duration of the last flush that wrote rows.
# TYPE mssqlstore_last_flush_seconds gauge
mssqlstore_last_flush_seconds 0.02
# HELP mssqlstore_last_flush_timestamp_seconds When the last flush that wrote rows ended (0: never).
# TYPE mssqlstore_last_flush_timestamp_seconds gauge
mssqlstore_last_flush_timestamp_seconds 1.79604e+09
# HELP mssqlstore_oldest_pending_seconds Age of the oldest pending write: what a crash would lose now.
# TYPE mssqlstore_oldest_pending_seconds gauge
mssqlstore_oldest_pending_seconds 0.25
# HELP mssqlstore_pending_bytes Session data held for writing now.
# TYPE mssqlstore_pending_bytes gauge
mssqlstore_pending_bytes 5000
# HELP mssqlstore_pending_writes Writes waiting in memory now.
# TYPE mssqlstore_pending_writes gauge
mssqlstore_pending_writes 5
# HELP mssqlstore_since_last_poll_seconds Time since the last successful invalidation poll was sent; above the bound the cache serves only what it read or wrote within the bound.
# TYPE mssqlstore_since_last_poll_seconds gauge
mssqlstore_since_last_poll_seconds 0.04
# HELP mssqlstore_typeless 1 when flushes use UPDATE then INSERT instead of a MERGE of the table type.
# TYPE mssqlstore_typeless gauge
mssqlstore_typeless 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	// Every figure of Stats is a metric but LastError, which has no
	// number: a field added to Stats without a metric fails here.
	if n, want := testutil.CollectAndCount(mssqlstoreprom.NewCollector(st)), reflect.TypeFor[mssqlstore.Stats]().NumField()-1; n != want {
		t.Fatalf("%d metrics, want %d (one per Stats field but LastError)", n, want)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) != 0 {
		t.Fatalf("metric names break Prometheus conventions: %v %v", problems, err)
	}
}

// The collector takes the store itself.
var _ mssqlstoreprom.Statser = (*mssqlstore.MSSQLStore)(nil)
