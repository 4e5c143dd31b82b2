package mssqlstore

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/sqlname"
)

// Config holds every knob of the store. One rule holds for every field:
// zero means its default, so Config{} is a sensible store; a negative
// value turns the feature off where the field says so (FlushInterval,
// CacheSize, CacheMaxAge, InvalidationBound, CleanupInterval), and is
// an error from NewWithConfig everywhere else.
type Config struct {
	// FlushInterval is how long a Commit may wait in memory before the
	// batcher writes it. Default 10ms. Longer intervals coalesce more
	// commits of the same token and put more rows in each MERGE (fewer
	// round trips), but a crash of the process loses up to one interval
	// of writes, and another instance sees a write up to one interval
	// later. Negative: no batching; every Commit writes through before it
	// returns.
	FlushInterval time.Duration

	// MaxBatchRows is the most rows one flush statement carries. Default
	// 500. Larger batches mean fewer round trips and log flushes, but
	// longer statements holding locks on more keys, and (without the
	// table type) more parameters: 3 per row, and SQL Server takes at
	// most 2,100, so the typeless path sends at most 512 rows a
	// statement. With invalidation on, a MERGE of more than 512 rows is
	// journaled as "changed too many to name", which makes every other
	// instance drop its whole cache: keep it at 512 or below.
	MaxBatchRows int

	// MaxPending bounds the writes waiting in memory (distinct tokens).
	// Default 10,000. When it is reached, CommitCtx waits for room and
	// honours its context; it never drops a write. Larger values ride out
	// longer outages and bursts at the price of memory and of more writes
	// lost if the process crashes during an outage.
	MaxPending int

	// MaxPendingBytes bounds the session data waiting in memory. Default
	// 64 MiB. Pending writes may hold half of it (the other half is for
	// the copy of a batch the driver encodes); a Commit waits for room,
	// and a write larger than half the bound is written through to SQL
	// Server before Commit returns.
	MaxPendingBytes int64

	// DurableCommits makes CommitCtx return only once the flush holding
	// its write has reached SQL Server, and return that flush's error.
	// Concurrent commits share one round trip (group commit). Choose it
	// for a site that cannot lose a login to a crash; it costs each
	// Commit a round trip of latency, and throughput stays batched.
	DurableCommits bool

	// CacheSize is the number of sessions the LRU read cache holds.
	// Default 10,000. Negative: no cache; every Find that misses the
	// pending writes goes to SQL Server. Size it to the working set of
	// live sessions; Stats.CacheHits and CacheMisses tell the hit rate.
	CacheSize int

	// CacheMaxAge is how long a cached session is served without asking
	// SQL Server again. Default 2s. With InvalidationBound on, it bounds
	// only the staleness of changes made by instances that write no
	// invalidation journal (invalidation off, or an older version during a
	// rolling deploy); once every instance has it on, minutes are safe.
	// Without invalidation, another instance may serve a session up to
	// this long after it was changed or deleted here. Negative: no cache
	// (the same as a negative CacheSize). A single instance, or sticky load
	// balancing, can afford minutes.
	CacheMaxAge time.Duration

	// InvalidationBound is how long after another instance's write or
	// Delete of a session reaches SQL Server this instance's cache may
	// still serve the old value. Default 100ms. Every write statement also
	// writes a journal row in the sessions table (see the README), and
	// every instance with a cache polls the journal twice a bound (20
	// statements a second at the default) and drops what others changed;
	// while its polls fail or fall behind, the cache serves only what it
	// read or wrote within the bound. The poll keeps one connection of
	// the pool for itself, unless the pool allows fewer than 4 (see
	// sql.DB.SetMaxOpenConns), so that it never waits behind requests.
	// Shorter bounds cost more polls. It holds only when every instance
	// writing to the table has it on. Negative: no journal and no poll;
	// CacheMaxAge alone bounds staleness, which suits a single instance or
	// sticky load balancing.
	InvalidationBound time.Duration

	// CleanupInterval is how often expired sessions are deleted from
	// SQL Server and evicted from the cache. Default 5 minutes.
	// Negative: no cleanup goroutine.
	CleanupInterval time.Duration

	// CleanupBatchSize is the most rows one cleanup DELETE removes.
	// Default 1,000, at most 4,000: SQL Server escalates to a table lock
	// at 5,000 locks in one statement, which would block live traffic.
	CleanupBatchSize int

	// Table is the sessions table, optionally schema-qualified and
	// bracket-quoted. Default "dbo.sessions".
	Table string

	// TableType is the table type used to send a batch as one
	// table-valued parameter. Default "dbo.sessions_batch". When it does
	// not exist, or the login lacks EXECUTE on it, the store uses a
	// statement that needs no type and reports that once.
	TableType string

	// FlushTimeout bounds one flush statement. Default 30s. A statement
	// that takes longer is cancelled (and rolled back) and retried with
	// backoff, so a stalled server cannot hold the batcher forever.
	FlushTimeout time.Duration

	// StopTimeout bounds how long StopCleanup waits for the last flush.
	// Default 10s. Writes it could not flush are reported as an error.
	StopTimeout time.Duration

	// ErrorHandler, when set, receives every error the background
	// goroutines meet (flushes, cleanup, invalidation polls, Close), as it
	// is, and nothing is logged; a run of failed invalidation polls is
	// handed over once, at its first failure (Stats count them all).
	// Every such error's text begins with "mssqlstore: ". It must not
	// block for long.
	ErrorHandler func(error)

	// Logger logs the background errors when ErrorHandler is nil. Default
	// slog.Default(). A retried error is a warning, a permanent error or
	// a dropped row an error, and the first successful flush after
	// failures one info line. Errors of one kind are logged at most once
	// a minute, with a count of those held back. No message carries a
	// whole token or session data.
	Logger *slog.Logger

	// Now returns the current time; the store decides what has expired
	// and how old a cache entry is with it, so it must be the clock SCS
	// computes expiries with. Default time.Now.
	Now func() time.Time
}

// Defaults of Config.
const (
	DefaultFlushInterval     = 10 * time.Millisecond
	DefaultMaxBatchRows      = 500
	DefaultMaxPending        = 10_000
	DefaultMaxPendingBytes   = 64 << 20
	DefaultCacheSize         = 10_000
	DefaultCacheMaxAge       = 2 * time.Second
	DefaultInvalidationBound = 100 * time.Millisecond
	DefaultCleanupInterval   = 5 * time.Minute
	DefaultCleanupBatchSize  = 1_000
	DefaultTable             = "dbo.sessions"
	DefaultTableType         = "dbo.sessions_batch"
	DefaultStopTimeout       = 10 * time.Second
	DefaultFlushTimeout      = 30 * time.Second

	maxCleanupBatchSize  = 4_000
	minInvalidationBound = time.Millisecond
	maxTypelessRows      = 512 // a power of two; 3 parameters a row, SQL Server takes 2,100
)

// settings is a Config with its defaults applied and its names parsed.
type settings struct {
	Config
	clock            clock // timers, and Now unless Config sets it
	table, tableType sqlname.Name
	batching         bool
	caching          bool
	invalidating     bool // write the invalidation journal
}

func (c Config) resolve() (settings, error) { return c.resolveWith(realClock{}) }

// resolveWith is resolve with the store's timers on clk; tests in this
// package pass a fake clock.
func (c Config) resolveWith(clk clock) (settings, error) {
	orDefault(&c.FlushInterval, DefaultFlushInterval)
	orDefault(&c.MaxBatchRows, DefaultMaxBatchRows)
	orDefault(&c.MaxPending, DefaultMaxPending)
	orDefault(&c.MaxPendingBytes, DefaultMaxPendingBytes)
	orDefault(&c.CacheSize, DefaultCacheSize)
	orDefault(&c.CacheMaxAge, DefaultCacheMaxAge)
	orDefault(&c.InvalidationBound, DefaultInvalidationBound)
	orDefault(&c.CleanupInterval, DefaultCleanupInterval)
	orDefault(&c.CleanupBatchSize, DefaultCleanupBatchSize)
	orDefault(&c.Table, DefaultTable)
	orDefault(&c.TableType, DefaultTableType)
	orDefault(&c.FlushTimeout, DefaultFlushTimeout)
	orDefault(&c.StopTimeout, DefaultStopTimeout)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = clk.Now
	}
	s := settings{Config: c, clock: clk, batching: c.FlushInterval > 0, caching: c.CacheSize > 0 && c.CacheMaxAge > 0,
		invalidating: c.InvalidationBound > 0}
	switch {
	case c.MaxBatchRows < 0:
		return s, fmt.Errorf("mssqlstore: MaxBatchRows %d is negative", c.MaxBatchRows)
	case c.MaxPending < 0:
		return s, fmt.Errorf("mssqlstore: MaxPending %d is negative", c.MaxPending)
	case c.MaxPendingBytes < 0:
		return s, fmt.Errorf("mssqlstore: MaxPendingBytes %d is negative", c.MaxPendingBytes)
	case c.FlushTimeout < 0:
		return s, fmt.Errorf("mssqlstore: FlushTimeout %v is negative (a flush statement always has a bound)", c.FlushTimeout)
	case c.StopTimeout < 0:
		return s, fmt.Errorf("mssqlstore: StopTimeout %v is negative", c.StopTimeout)
	case c.InvalidationBound > 0 && c.InvalidationBound < minInvalidationBound:
		return s, fmt.Errorf("mssqlstore: InvalidationBound %v is below %v (the store polls twice a bound)", c.InvalidationBound, minInvalidationBound)
	case c.CleanupBatchSize < 0 || c.CleanupBatchSize > maxCleanupBatchSize:
		return s, fmt.Errorf("mssqlstore: CleanupBatchSize %d outside 1 to %d (SQL Server escalates to a table lock at 5,000 locks)", c.CleanupBatchSize, maxCleanupBatchSize)
	}
	var err error
	if s.table, err = sqlname.Parse(c.Table); err != nil {
		return s, fmt.Errorf("mssqlstore: Table: %w", err)
	}
	if s.tableType, err = sqlname.Parse(c.TableType); err != nil {
		return s, fmt.Errorf("mssqlstore: TableType: %w", err)
	}
	if err := checkTypeName(s.tableType); err != nil {
		return s, fmt.Errorf("mssqlstore: TableType %q: %w", c.TableType, err)
	}
	return s, nil
}

// orDefault sets *v to def when *v is its type's zero value.
func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
