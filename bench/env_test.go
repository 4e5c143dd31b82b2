package bench

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	upstream "github.com/alexedwards/scs/mssqlstore"
	"github.com/alexedwards/scs/v2"
	"github.com/golang-sql/civil"
	mssql "github.com/microsoft/go-mssqldb" // also registers the "sqlserver" driver
	"github.com/scs-contrib/mssqlstore"
	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
)

// envDSN points the benchmarks at a real SQL Server.
const envDSN = "MSSQL_TEST_DSN"

// Flags; each defaults to an environment variable, then to a constant.
var (
	flagLatency = flag.Duration("latency", envDuration("BENCH_LATENCY", 500*time.Microsecond),
		"network latency the test server adds to every round trip (env BENCH_LATENCY); ignored with "+envDSN)
	flagPool = flag.Int("pool", envInt("BENCH_POOL", 16),
		"connection pool bound, SetMaxOpenConns (env BENCH_POOL)")
	flagCacheSize = flag.Int("cachesize", envInt("BENCH_CACHE_SIZE", 9000),
		"CacheSize of the cache and both contenders, of 10,000 live sessions (env BENCH_CACHE_SIZE)")
	flagWindow = flag.Duration("cleanup-window", envDuration("BENCH_CLEANUP_WINDOW", time.Second),
		"how long the cleanup benchmark measures the load without a purge (env BENCH_CLEANUP_WINDOW)")
)

// envErrs collects malformed environment variables; TestMain reports them.
var envErrs []string

func envDuration(name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		envErrs = append(envErrs, fmt.Sprintf("%s=%q: %v", name, v, err))
		return def
	}
	return d
}

func envInt(name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		envErrs = append(envErrs, fmt.Sprintf("%s=%q: %v", name, v, err))
		return def
	}
	return n
}

func TestMain(m *testing.M) {
	flag.Parse()
	if len(envErrs) > 0 {
		fmt.Fprintln(os.Stderr, "bench: bad environment:", strings.Join(envErrs, "; "))
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// warmPool opens n connections at once and returns them to the pool
// idle, so that no measured op waits for a login: a login to a real
// server costs far more than a statement (on Babelfish on two shared
// cores, 1.3 s alone and 2 to 3.5 s when 16 open at once, against 4 ms
// for a SELECT 1 on an open connection), and a pool that grows during the
// 64-client run would put those seconds into the latencies measured.
func warmPool(ctx context.Context, db *sql.DB, n int) error {
	conns := make([]*sql.Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { conns[i], errs[i] = db.Conn(ctx) })
	}
	wg.Wait()
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	return errors.Join(errs...)
}

// Populations of the workloads.
const (
	liveSessions    = 10_000
	expiredSessions = 100_000
	repeatTokens    = 1_000
	payloadSize     = 128
	insertChunk     = 500 // rows per INSERT: 3 parameters a row, at most 2,100
)

// env is one database with one sessions table: a fresh test server, or a
// table of its own on the real server named by MSSQL_TEST_DSN.
type env struct {
	db        *sql.DB
	dsn       string            // for a second pool (openPool)
	srv       *mssqltest.Server // nil against a real server
	table     string            // for this store's Config.Table and upstream's TableName
	tableType string
	salt      uint64 // makes the tokens of this env its own
	close     func()
}

// openEnv opens a database with an empty sessions table and the batch
// table type, both made by mssqlstore.CreateSchema. Latency is not
// injected yet: populate first, then call startLatency.
func openEnv(tb testing.TB) *env {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e := &env{salt: randomUint64(tb)}
	var dsn string
	if d := os.Getenv(envDSN); d != "" {
		dsn = d
		suffix := fmt.Sprintf("%012x", e.salt&0xffffffffffff)
		e.table = "dbo.bench_sessions_" + suffix
		e.tableType = "dbo.bench_sessions_batch_" + suffix
	} else {
		// A bare server: the schema is the store's own, as against a real
		// server.
		srv, err := mssqltest.NewServer(mssqltest.Options{Bare: true})
		if err != nil {
			tb.Fatalf("bench: start test server: %v", err)
		}
		e.srv = srv
		dsn = srv.DSN()
		e.table = "dbo.sessions"
		e.tableType = "dbo.sessions_batch"
	}
	e.dsn = dsn
	db, err := sql.Open("sqlserver", dsn)
	if err != nil {
		tb.Fatalf("bench: open: %v", err)
	}
	db.SetMaxOpenConns(*flagPool)
	db.SetMaxIdleConns(*flagPool)
	e.db = db
	e.close = func() {
		if e.srv != nil {
			db.Close()
			e.srv.Close()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		db.ExecContext(ctx, "DROP TABLE IF EXISTS "+e.table)
		db.ExecContext(ctx, "DROP TYPE IF EXISTS "+e.tableType)
		db.Close()
	}
	if err := mssqlstore.CreateSchema(ctx, db, mssqlstore.SchemaOptions{Table: e.table, TableType: e.tableType}); err != nil {
		e.close()
		tb.Fatalf("bench: create schema: %v", err)
	}
	if err := warmPool(ctx, db, *flagPool); err != nil {
		e.close()
		tb.Fatalf("bench: open the pool: %v", err)
	}
	if e.noMerge(tb) {
		// Without MERGE the store flushes with its typeless statement
		// anyway, and Babelfish's table-valued parameters fail with 515
		// for some row counts (500 among them), which the store takes
		// for a schema error and keeps retrying on the MERGE path. With
		// no type, the store switches at its first flush.
		if _, err := db.ExecContext(ctx, "DROP TYPE "+e.tableType); err != nil {
			e.close()
			tb.Fatalf("bench: drop type: %v", err)
		}
	}
	return e
}

// startLatency injects the configured latency on every round trip (test
// server only).
func (e *env) startLatency() {
	if e.srv != nil {
		e.srv.SetLatency(*flagLatency)
	}
}

// roundTrips returns the server's round trips so far, or -1 against a
// real server.
func (e *env) roundTrips() int64 {
	if e.srv == nil {
		return -1
	}
	return e.srv.Counters().RoundTrips
}

// scans returns the table scans the server's engine made so far.
func (e *env) scans() int64 {
	return e.srv.Counters().Scans
}

// waitTotals are the test server's own waits so far: time statements
// waited for its database latch, and lock requests that waited.
type waitTotals struct {
	latch time.Duration
	locks int64
}

// waits returns the server's waits so far; zero against a real server.
func (e *env) waits() waitTotals {
	if e.srv == nil {
		return waitTotals{}
	}
	c := e.srv.Counters()
	return waitTotals{latch: c.LatchWait, locks: c.LockWaits}
}

// maxDeleteRows returns the most rows one DELETE statement wrote.
func (e *env) maxDeleteRows() int64 {
	return e.srv.Counters().MaxRowsWrittenPerStatement["DELETE"]
}

// token returns the token (a, b) of a family (live, repeat, new,
// expired): 43 base64url characters, as SCS makes them. The bytes are a
// hash, random-looking as SCS's are: structured tokens would differ in a
// few characters only, and under a case-insensitive collation two tokens
// that differ only in case are one key.
func (e *env) token(family byte, a, b uint64) string {
	var raw [32]byte
	binary.LittleEndian.PutUint64(raw[0:], e.salt)
	raw[8] = family
	binary.LittleEndian.PutUint64(raw[16:], a)
	binary.LittleEndian.PutUint64(raw[24:], b)
	sum := sha256.Sum256(raw[:])
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Token families.
const (
	famLive byte = iota + 1
	famRepeat
	famNew
	famExpired
)

// tokens returns n tokens of a family.
func (e *env) tokens(family byte, gen uint64, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = e.token(family, gen, uint64(i))
	}
	return out
}

// insert writes rows straight into the table, insertChunk rows a
// statement, with the same data and expiry for every row.
func (e *env) insert(ctx context.Context, tokens []string, data []byte, expiry time.Time) error {
	exp := civil.DateTimeOf(expiry.UTC())
	for start := 0; start < len(tokens); start += insertChunk {
		chunk := tokens[start:min(start+insertChunk, len(tokens))]
		var q strings.Builder
		q.WriteString("INSERT INTO " + e.table + " (token, data, expiry) VALUES ")
		args := make([]any, 0, 3*len(chunk))
		for i, tok := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			fmt.Fprintf(&q, "(@p%d, @p%d, @p%d)", 3*i+1, 3*i+2, 3*i+3)
			args = append(args, mssql.VarChar(tok), data, exp)
		}
		if _, err := e.db.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("insert %d rows: %w", len(chunk), err)
		}
	}
	return nil
}

// sessionBlob is the data of every pre-populated session: what SCS's gob
// codec makes of {"user": "init"}, so that the Site workload can load it.
func sessionBlob(tb testing.TB, deadline time.Time) []byte {
	tb.Helper()
	b, err := scs.GobCodec{}.Encode(deadline, map[string]any{"user": "init"})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// contender is one of the stores compared.
type contender struct {
	name string
	// cfg configures this store; nil means upstream (SCS's own store).
	cfg *mssqlstore.Config
}

func contenders() []contender {
	cache := func(c mssqlstore.Config) *mssqlstore.Config {
		if c.CacheSize == 0 {
			c.CacheSize = *flagCacheSize
			c.CacheMaxAge = time.Hour
		}
		return &c
	}
	return []contender{
		{name: "upstream"},
		{name: "writethrough", cfg: cache(mssqlstore.Config{FlushInterval: -1, CacheSize: -1})},
		{name: "cache", cfg: cache(mssqlstore.Config{FlushInterval: -1})},
		{name: "batch", cfg: cache(mssqlstore.Config{CacheSize: -1})},
		{name: "both", cfg: cache(mssqlstore.Config{})},
	}
}

func contenderNamed(name string) contender {
	for _, c := range contenders() {
		if c.name == name {
			return c
		}
	}
	panic("bench: no contender " + name)
}

// handle is an open store of either kind.
type handle struct {
	scs.Store
	name    string
	ours    *mssqlstore.MSSQLStore // nil for upstream
	caching bool                   // this store has its read cache on
	// cleanupBatch is the most rows one purge statement may delete (0:
	// no bound, upstream).
	cleanupBatch int
	e            *env
	bgErrors     atomic.Int64
	// mergeReported: the store reported flushing without MERGE.
	mergeReported atomic.Bool
	// fallbackReported: the store reported that the server cannot run
	// the invalidation journal's SQL (Stats.InvalidationFallback).
	fallbackReported atomic.Bool
	lastErr          atomic.Value // error
}

// open opens the contender's store on e; tune, if not nil, adjusts this
// store's Config (not upstream's).
func (c contender) open(tb testing.TB, e *env, tune func(*mssqlstore.Config)) *handle {
	tb.Helper()
	h := &handle{name: c.name, e: e}
	if c.cfg == nil {
		// No cleanup goroutine (interval 0): the cleanup benchmark runs
		// upstream's purge statement itself.
		h.Store = upstream.NewWithConfig(e.db, upstream.Config{TableName: e.table})
		return h
	}
	cfg := *c.cfg
	cfg.Table = e.table
	cfg.TableType = e.tableType
	cfg.CleanupInterval = -1 // the cleanup benchmark purges explicitly
	noMerge := e.noMerge(tb)
	cfg.ErrorHandler = func(err error) {
		// A server without MERGE (Babelfish) gets the typeless
		// statement, reported once: expected, not a failure. The cause
		// is the missing type there (see openEnv).
		if noMerge && strings.HasPrefix(err.Error(), "mssqlstore: flushing with UPDATE then INSERT instead of a MERGE") && !h.mergeReported.Swap(true) {
			return
		}
		// The journal's fallback, reported once, is a figure of the
		// server (Stats.InvalidationFallback), which the benchmarks
		// report; a second report would be a failure.
		if strings.HasPrefix(err.Error(), "mssqlstore: cross-instance invalidation is off from now on") && !h.fallbackReported.Swap(true) {
			return
		}
		h.bgErrors.Add(1)
		h.lastErr.Store(err)
	}
	if tune != nil {
		tune(&cfg)
	}
	s, err := mssqlstore.NewWithConfig(e.db, cfg)
	if err != nil {
		tb.Fatalf("bench: %s: %v", c.name, err)
	}
	h.ours = s
	h.Store = s
	h.caching = cfg.CacheSize > 0 && cfg.CacheMaxAge >= 0
	if cfg.InvalidationBound >= 0 {
		if err := h.primeJournal(tb); err != nil {
			tb.Fatalf("bench: %s: %v", c.name, err)
		}
	}
	h.cleanupBatch = cfg.CleanupBatchSize
	if h.cleanupBatch == 0 {
		h.cleanupBatch = mssqlstore.DefaultCleanupBatchSize
	}
	return h
}

// primeJournal makes sure the invalidation journal's counter exists,
// and, for a store with a cache, waits until its poll has seen it: so
// that no cache is dropped during a measurement for a reason that
// happens once per table. The cache serves nothing before the first
// poll, and two polls drop the whole cache: the first one, and the first
// after the counter is created (a poll that found no counter takes the
// new counter's first number, random, for a gap). So a warm-up that ran
// before would be lost, and the first write of a run would empty every
// cache. It commits a session, flushes, deletes it (each a journaled
// write statement; the table is left as it was), then waits for a poll
// sent after that.
func (h *handle) primeJournal(tb testing.TB) error {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tok := h.e.token(famNew, randomUint64(tb), 0)
	if err := h.ours.CommitCtx(ctx, tok, []byte("prime"), time.Now().Add(time.Hour)); err != nil {
		return fmt.Errorf("prime the journal: commit: %w", err)
	}
	if err := h.ours.Flush(ctx); err != nil {
		return fmt.Errorf("prime the journal: flush: %w", err)
	}
	if err := h.ours.DeleteCtx(ctx, tok); err != nil {
		return fmt.Errorf("prime the journal: delete: %w", err)
	}
	if !h.caching {
		return nil // no poll
	}
	written := time.Now()
	for {
		// Read the reference before Stats: a poll sent after written
		// has SinceLastPoll below it.
		since := time.Since(written)
		st := h.ours.Stats()
		if st.SinceLastPoll < since || st.InvalidationFallback {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("no invalidation poll succeeded within a minute: %d polls, %d failed, last error %v",
				st.InvalidationPolls, st.InvalidationPollErrors, st.LastError)
		}
		// The poll is the store's own goroutine, and Stats the only
		// window onto it.
		time.Sleep(time.Millisecond)
	}
}

// flush returns once every write is in the server. Upstream writes
// before Commit returns: nothing to do.
func (h *handle) flush(ctx context.Context) error {
	if h.ours == nil {
		return nil
	}
	return h.ours.Flush(ctx)
}

// stats returns this store's figures (zero for upstream).
func (h *handle) stats() mssqlstore.Stats {
	if h.ours == nil {
		return mssqlstore.Stats{}
	}
	return h.ours.Stats()
}

// purge deletes the expired rows. Upstream's own purge is unexported (its
// cleanup goroutine calls it on a timer), so its exact statement is run
// here: one DELETE of every expired row.
func (h *handle) purge(ctx context.Context) (int64, error) {
	if h.ours != nil {
		return h.ours.DeleteExpired(ctx, nil)
	}
	res, err := h.e.db.ExecContext(ctx, "DELETE FROM "+h.e.table+" WHERE expiry < GETUTCDATE()")
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// check fails tb if a background goroutine of the store reported errors.
func (h *handle) check(tb testing.TB) {
	tb.Helper()
	if n := h.bgErrors.Load(); n > 0 {
		tb.Errorf("%s: %d background errors, the last: %v", h.name, n, h.lastErr.Load())
	}
}

// close stops this store's goroutines (upstream has none running).
func (h *handle) close() {
	if h.ours != nil {
		h.ours.StopCleanup()
	}
}

func randomUint64(tb testing.TB) uint64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return binary.LittleEndian.Uint64(b[:])
}

var (
	mergeOnce sync.Once
	noMerge   bool
)

// noMerge reports whether the server refuses MERGE with 33557097, as
// Babelfish does; SCS's own store cannot run there. It asks once.
func (e *env) noMerge(tb testing.TB) bool {
	if e.srv != nil {
		return false
	}
	mergeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := e.db.ExecContext(ctx, "MERGE "+e.table+" AS t USING (SELECT 1 AS x) AS s ON 1 = 0 WHEN MATCHED THEN DELETE;")
		var me mssql.Error
		noMerge = errors.As(err, &me) && me.Number == 33557097
	})
	return noMerge
}

// skipUpstream skips SCS's own store on a server without MERGE: its
// Commit is a MERGE.
func skipUpstream(tb testing.TB, e *env, c contender) bool {
	if c.cfg == nil && e.noMerge(tb) {
		tb.Logf("upstream skipped: SCS's own store commits with MERGE, which this server refuses (33557097)")
		return true
	}
	return false
}
