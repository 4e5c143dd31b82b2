// Package mssqlstoreprom exports an mssqlstore store's Stats as
// Prometheus metrics, in one line:
//
//	prometheus.MustRegister(mssqlstoreprom.NewCollector(store))
//
// It is a module of its own, so that the store's module does not depend
// on the Prometheus client. Metric names follow Prometheus conventions:
// counters end in _total, durations are in seconds, timestamps are Unix
// seconds.
package mssqlstoreprom

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/scs-contrib/mssqlstore"
)

// Statser is what the collector reads: *mssqlstore.MSSQLStore.
type Statser interface {
	Stats() mssqlstore.Stats
}

// Collector is a prometheus.Collector of one store's Stats. Each scrape
// calls Stats once; Stats takes no round trip to SQL Server.
type Collector struct {
	src     Statser
	metrics []metric
}

type metric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(mssqlstore.Stats) float64
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a collector of s's Stats, with the metric names
// prefixed mssqlstore_. Register one collector per store; to tell several
// stores apart, wrap it with prometheus.WrapRegistererWith and a label.
func NewCollector(s Statser) *Collector {
	c := &Collector{src: s}
	for _, d := range definitions {
		c.metrics = append(c.metrics, metric{
			desc:  prometheus.NewDesc("mssqlstore_"+d.name, d.help, nil, nil),
			kind:  d.kind,
			value: d.value,
		})
	}
	return c
}

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics {
		ch <- m.desc
	}
}

// Collect reads Stats once and sends every metric.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.Stats()
	for _, m := range c.metrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(st))
	}
}

const (
	counter = prometheus.CounterValue
	gauge   = prometheus.GaugeValue
)

var definitions = []struct {
	name, help string
	kind       prometheus.ValueType
	value      func(mssqlstore.Stats) float64
}{
	{"cache_hits_total", "Finds answered from memory (the cache or a pending write).", counter, func(s mssqlstore.Stats) float64 { return float64(s.CacheHits) }},
	{"cache_misses_total", "Finds that asked SQL Server.", counter, func(s mssqlstore.Stats) float64 { return float64(s.CacheMisses) }},
	{"cache_evictions_total", "Cache entries dropped to make room.", counter, func(s mssqlstore.Stats) float64 { return float64(s.CacheEvictions) }},
	{"cache_entries", "Sessions in the cache now.", gauge, func(s mssqlstore.Stats) float64 { return float64(s.CacheLen) }},
	{"commits_total", "Commits accepted.", counter, func(s mssqlstore.Stats) float64 { return float64(s.Commits) }},
	{"coalesced_commits_total", "Commits that replaced a pending write of the same session.", counter, func(s mssqlstore.Stats) float64 { return float64(s.CoalescedCommits) }},
	{"commit_waits_total", "Commits that waited for room under MaxPending or MaxPendingBytes.", counter, func(s mssqlstore.Stats) float64 { return float64(s.CommitWaits) }},
	{"flushes_total", "Flush statements that wrote rows.", counter, func(s mssqlstore.Stats) float64 { return float64(s.Flushes) }},
	{"flushed_rows_total", "Rows written by flushes.", counter, func(s mssqlstore.Stats) float64 { return float64(s.RowsFlushed) }},
	{"flush_seconds_total", "Time spent in flush statements that wrote rows.", counter, func(s mssqlstore.Stats) float64 { return s.FlushTime.Seconds() }},
	{"flush_errors_total", "Failed flush attempts.", counter, func(s mssqlstore.Stats) float64 { return float64(s.FlushErrors) }},
	{"flush_retries_total", "Flush retries after a transient failure.", counter, func(s mssqlstore.Stats) float64 { return float64(s.FlushRetries) }},
	{"dropped_rows_total", "Rows SQL Server rejected on their own, dropped.", counter, func(s mssqlstore.Stats) float64 { return float64(s.RowsDropped) }},
	{"pending_writes", "Writes waiting in memory now.", gauge, func(s mssqlstore.Stats) float64 { return float64(s.Pending) }},
	{"pending_bytes", "Session data held for writing now.", gauge, func(s mssqlstore.Stats) float64 { return float64(s.PendingBytes) }},
	{"oldest_pending_seconds", "Age of the oldest pending write: what a crash would lose now.", gauge, func(s mssqlstore.Stats) float64 { return s.OldestPending.Seconds() }},
	{"last_flush_seconds", "Duration of the last flush that wrote rows.", gauge, func(s mssqlstore.Stats) float64 { return s.LastFlushDuration.Seconds() }},
	{"last_flush_rows", "Rows of the last flush that wrote rows.", gauge, func(s mssqlstore.Stats) float64 { return float64(s.LastFlushRows) }},
	{"last_flush_timestamp_seconds", "When the last flush that wrote rows ended (0: never).", gauge, func(s mssqlstore.Stats) float64 { return unixSeconds(s.LastFlushAt) }},
	{"typeless", "1 when flushes use UPDATE then INSERT instead of a MERGE of the table type.", gauge, func(s mssqlstore.Stats) float64 { return bool01(s.Typeless) }},
	{"cleanup_runs_total", "Cleanup passes.", counter, func(s mssqlstore.Stats) float64 { return float64(s.CleanupRuns) }},
	{"cleaned_rows_total", "Expired sessions deleted by cleanup.", counter, func(s mssqlstore.Stats) float64 { return float64(s.RowsCleaned) }},
	{"cleaned_journal_rows_total", "Rows of the invalidation journal deleted by cleanup.", counter, func(s mssqlstore.Stats) float64 { return float64(s.JournalRowsCleaned) }},
	{"cleanup_errors_total", "Cleanup passes that failed.", counter, func(s mssqlstore.Stats) float64 { return float64(s.CleanupErrors) }},
	{"deletes_total", "Deletes of a valid token.", counter, func(s mssqlstore.Stats) float64 { return float64(s.Deletes) }},
	{"delete_statements_total", "DELETE statements sent for Deletes: concurrent Deletes of one session share one.", counter, func(s mssqlstore.Stats) float64 { return float64(s.DeleteStatements) }},
	{"delete_errors_total", "Deletes that returned an error.", counter, func(s mssqlstore.Stats) float64 { return float64(s.DeleteErrors) }},
	{"find_errors_total", "Finds that returned an error.", counter, func(s mssqlstore.Stats) float64 { return float64(s.FindErrors) }},
	{"invalidation_polls_total", "Invalidation poll statements sent.", counter, func(s mssqlstore.Stats) float64 { return float64(s.InvalidationPolls) }},
	{"invalidation_poll_errors_total", "Invalidation polls that failed.", counter, func(s mssqlstore.Stats) float64 { return float64(s.InvalidationPollErrors) }},
	{"invalidations_total", "Sessions other instances reported changed.", counter, func(s mssqlstore.Stats) float64 { return float64(s.Invalidations) }},
	{"invalidation_purges_total", "Times the whole cache was dropped because changes may have been missed.", counter, func(s mssqlstore.Stats) float64 { return float64(s.InvalidationPurges) }},
	{"invalidation_lag_seconds", "From another instance's statement to this cache applying it, for the last change applied.", gauge, func(s mssqlstore.Stats) float64 { return s.InvalidationLag.Seconds() }},
	{"since_last_poll_seconds", "Time since the last successful invalidation poll was sent; above the bound the cache serves only what it read or wrote within the bound.", gauge, func(s mssqlstore.Stats) float64 { return s.SinceLastPoll.Seconds() }},
	{"invalidation_fallback", "1 when the server could not run the invalidation journal's SQL and CacheMaxAge alone bounds staleness.", gauge, func(s mssqlstore.Stats) float64 { return bool01(s.InvalidationFallback) }},
	{"background_errors_total", "Errors of the background goroutines reported or logged.", counter, func(s mssqlstore.Stats) float64 { return float64(s.BackgroundErrors) }},
	{"last_error_timestamp_seconds", "When the last background error happened (0: never).", gauge, func(s mssqlstore.Stats) float64 { return unixSeconds(s.LastErrorAt) }},
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
