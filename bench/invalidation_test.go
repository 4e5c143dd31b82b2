package bench

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore"
)

// Cross-instance invalidation (Config.InvalidationBound): two instances
// of this store on one table model two application servers behind a
// load balancer without sticky sessions. Each instance has a *sql.DB of
// its own, of -pool connections, as two servers would; the first uses
// the env's pool, the second a pool opened on the same database.

// cluster is n instances of this store on one table.
type cluster struct {
	e   *env
	hs  []*handle
	dbs []*sql.DB // the pools opened for instances after the first
}

// openCluster opens n instances of contender c on e, each on a pool of
// its own; tune, if not nil, adjusts instance i's Config.
func openCluster(tb testing.TB, e *env, n int, c contender, tune func(i int, cfg *mssqlstore.Config)) *cluster {
	tb.Helper()
	cl := &cluster{e: e}
	for i := range n {
		ei := e
		if i > 0 {
			db := e.openPool(tb)
			cl.dbs = append(cl.dbs, db)
			cp := *e
			cp.db = db
			ei = &cp
		}
		var t func(*mssqlstore.Config)
		if tune != nil {
			t = func(cfg *mssqlstore.Config) { tune(i, cfg) }
		}
		h := c.open(tb, ei, t)
		h.name = fmt.Sprintf("%s#%d", c.name, i)
		cl.hs = append(cl.hs, h)
	}
	return cl
}

// close stops every instance, then closes the pools opened for them.
func (cl *cluster) close() {
	for _, h := range cl.hs {
		h.close()
	}
	for _, db := range cl.dbs {
		db.Close()
	}
}

// flush returns once every instance's writes are in the server.
func (cl *cluster) flush(ctx context.Context) error {
	var errs []error
	for _, h := range cl.hs {
		errs = append(errs, h.flush(ctx))
	}
	return errors.Join(errs...)
}

func (cl *cluster) check(tb testing.TB) {
	tb.Helper()
	for _, h := range cl.hs {
		h.check(tb)
	}
}

func (cl *cluster) stats() []mssqlstore.Stats {
	out := make([]mssqlstore.Stats, len(cl.hs))
	for i, h := range cl.hs {
		out[i] = h.stats()
	}
	return out
}

// warm reads every token once on every instance.
func (cl *cluster) warm(ctx context.Context, tokens []string) error {
	for _, h := range cl.hs {
		if h.caching {
			if err := warm(ctx, h, tokens); err != nil {
				return err
			}
		}
	}
	return nil
}

// openPool opens another pool on e's database, of -pool connections,
// all opened at once (see warmPool); the caller closes it.
func (e *env) openPool(tb testing.TB) *sql.DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := sql.Open("sqlserver", e.dsn)
	if err != nil {
		tb.Fatalf("bench: open a second pool: %v", err)
	}
	db.SetMaxOpenConns(*flagPool)
	db.SetMaxIdleConns(*flagPool)
	if err := warmPool(ctx, db, *flagPool); err != nil {
		db.Close()
		tb.Fatalf("bench: open the second pool: %v", err)
	}
	return db
}

// spread is readHeavy over several instances: 95% Find, 5% Commit,
// uniformly over live sessions, each op sent to an instance drawn at
// random (no sticky sessions). A Find that returns other data than the
// session's last Commit is counted as stale, not failed: without
// invalidation, that is what two caches do, and with it a read within
// the bound (plus the flush interval) of a change may still be.
type spread struct {
	hs           []*handle
	slots        slots
	expiry       time.Time
	finds, stale atomic.Int64

	mu     sync.Mutex          // guards lastBy
	lastBy map[string][]string // by token, the last value each instance accepted
}

func newSpread(hs []*handle, tokens []string, blob []byte, expiry time.Time) *spread {
	return &spread{hs: hs, slots: newSlots(tokens, string(blob)), expiry: expiry, lastBy: map[string][]string{}}
}

func (w *spread) op(ctx context.Context, c *client) error {
	sl := w.slots.lock(c.rng)
	defer sl.mu.Unlock()
	i := c.rng.IntN(len(w.hs))
	h := w.hs[i]
	if c.rng.IntN(100) < 5 {
		p := c.payload()
		if err := h.Commit(sl.token, p, w.expiry); err != nil {
			return fmt.Errorf("%s: commit: %w", h.name, err)
		}
		sl.want = string(p)
		w.mu.Lock()
		if w.lastBy[sl.token] == nil {
			w.lastBy[sl.token] = make([]string, len(w.hs))
		}
		w.lastBy[sl.token][i] = string(p)
		w.mu.Unlock()
		return nil
	}
	data, ok, err := h.Find(sl.token)
	if err != nil {
		return fmt.Errorf("%s: find: %w", h.name, err)
	}
	if !ok {
		return fmt.Errorf("%s: find %s: a live session was not found", h.name, sl.token)
	}
	w.finds.Add(1)
	if string(data) != sl.want {
		w.stale.Add(1)
	}
	return nil
}

// check checks the table after a run: a token never committed holds
// untouched; a committed one holds the last value one of the instances
// accepted for it. Between instances the last flush wins, not the last
// Commit (the README says so): with one instance that is its last value.
func (w *spread) check(t *testing.T, table map[string]tableRow, untouched string) {
	t.Helper()
	written := 0
	for i := range w.slots {
		token := w.slots[i].token
		got, ok := table[token]
		last := w.lastBy[token]
		switch {
		case !ok:
			t.Errorf("token %s missing from the table", token)
		case last == nil:
			if string(got.data) != untouched {
				t.Errorf("token %s, never committed, holds %x...", token, head(got.data))
			}
		case !slices.Contains(last, string(got.data)):
			written++
			t.Errorf("token %s holds %x..., none of the instances' last values", token, head(got.data))
		default:
			written++
		}
	}
	if written == 0 {
		t.Error("no commits happened: the check checked nothing")
	}
}

// invalidationCase is one configuration of BenchmarkInvalidationReadHeavy.
type invalidationCase struct {
	instances int
	on        bool
	maxAge    time.Duration // CacheMaxAge; 0: the bench's (one hour)
}

func (c invalidationCase) String() string {
	s := fmt.Sprintf("instances=%d/invalidation=%s", c.instances, map[bool]string{false: "off", true: "on"}[c.on])
	if c.maxAge > 0 {
		s += "/maxage=" + c.maxAge.String()
	}
	return s
}

func (c invalidationCase) tune(_ int, cfg *mssqlstore.Config) {
	if !c.on {
		cfg.InvalidationBound = -1
	}
	if c.maxAge > 0 {
		cfg.CacheMaxAge = c.maxAge
	}
}

// invalidationCases: one instance (the baseline), then two: without
// invalidation at the bench's CacheMaxAge of one hour (what a single
// instance can afford, and two cannot: the stale reads show it), without
// it at the default CacheMaxAge (2s, the staleness the README documents
// without invalidation), and with it at one hour (which the invalidation
// makes safe).
func invalidationCases() []invalidationCase {
	return []invalidationCase{
		{instances: 1, on: false},
		{instances: 1, on: true},
		{instances: 2, on: false},
		{instances: 2, on: false, maxAge: mssqlstore.DefaultCacheMaxAge},
		{instances: 2, on: true},
	}
}

// BenchmarkInvalidationReadHeavy: ReadHeavy (95% Find, 5% Commit over
// 10,000 live sessions) on one instance and on two, with invalidation
// off and on; each op goes to an instance drawn at random. Every
// instance is the `both` contender (batching and a cache of -cachesize
// sessions), warmed first. Reports the hit rate over all instances
// (hit-%), the Finds that returned an older value than the session's
// last Commit (stale-%), and the invalidation polls each instance sent
// per second (polls/s/instance, one round trip each).
func BenchmarkInvalidationReadHeavy(b *testing.B) {
	for _, n := range clientCounts {
		for _, ic := range invalidationCases() {
			lazyRun(b, fmt.Sprintf("clients=%d/%s", n, ic), func(b *testing.B) (func(*testing.B), func()) {
				e := openEnv(b)
				cl := openCluster(b, e, ic.instances, contenderNamed("both"), ic.tune)
				tokens, blob, expiry := populate(b, e, liveSessions)
				if err := cl.warm(context.Background(), tokens); err != nil {
					b.Fatal(err)
				}
				e.startLatency()
				w := newSpread(cl.hs, tokens, blob, expiry)
				clients := newClients(n)
				return func(b *testing.B) { timedCluster(b, cl, clients, w) }, func() { cl.close(); e.close() }
			})
		}
	}
}

// lazyRun runs the case name. Its setup runs at the first call of its
// body only, so that a case the -bench pattern leaves out costs nothing:
// on a real server a setup takes seconds (logins, 10,000 rows, a
// warm-up). The body resets the timer (b.Loop, or timed's ResetTimer).
// setup returns the body and what ends the case.
func lazyRun(b *testing.B, name string, setup func(b *testing.B) (body func(*testing.B), teardown func())) {
	var body func(*testing.B)
	var teardown func()
	b.Run(name, func(b *testing.B) {
		if body == nil {
			body, teardown = setup(b)
		}
		body(b)
	})
	if teardown != nil {
		teardown()
	}
}

// timedCluster is timed for several instances: the Flush of every
// instance is inside the timed region.
func timedCluster(b *testing.B, cl *cluster, clients []*client, w *spread) {
	ctx := context.Background()
	b.ReportAllocs()
	rt0, st0, f0, s0 := cl.e.roundTrips(), cl.stats(), w.finds.Load(), w.stale.Load()
	gs := startGateSampler(cl)
	t0 := time.Now()
	if len(clients) == 1 {
		for b.Loop() {
			if err := w.op(ctx, clients[0]); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
	} else {
		b.ResetTimer()
		t0 = time.Now()
		if err := runOps(ctx, clients, int64(b.N), w); err != nil {
			b.Fatal(err)
		}
	}
	if err := cl.flush(ctx); err != nil {
		b.Fatalf("flush: %v", err)
	}
	b.StopTimer()
	elapsed := time.Since(t0)
	gated, samples := gs.stop()
	f := clusterFigures(st0, cl.stats(), elapsed)
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N), "e2e-ns/op")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	if rt := cl.e.roundTrips(); rt >= 0 {
		b.ReportMetric(float64(rt-rt0)/float64(b.N), "rt/op")
	}
	if f.lookups > 0 {
		b.ReportMetric(f.hitPct, "hit-%")
	}
	if finds := w.finds.Load() - f0; finds > 0 {
		b.ReportMetric(100*float64(w.stale.Load()-s0)/float64(finds), "stale-%")
	}
	if f.polls > 0 {
		b.ReportMetric(f.pollsPerSec, "polls/s/instance")
		b.ReportMetric(f.invalPerSec, "invalidations/s/instance")
		if samples > 0 {
			b.ReportMetric(100*float64(gated)/float64(samples), "gated-%")
		}
	}
	if f.flushes > 0 {
		b.ReportMetric(f.rowsPerFlush, "rows/flush")
	}
	reportFallback(b, cl)
	cl.check(b)
}

// gateSampler reads every instance's Stats every gateSample during a
// run and counts the readings in which the last successful poll was sent
// a bound or more before (a late poll, most often one that waited for a
// processor): then that instance's cache serves only the entries read or
// written less than a bound before, and a Find of any other is a miss.
type gateSampler struct {
	quit           chan struct{}
	done           chan struct{}
	gated, samples int
}

const gateSample = 5 * time.Millisecond

func startGateSampler(cl *cluster) *gateSampler {
	g := &gateSampler{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(g.done)
		t := time.NewTicker(gateSample)
		defer t.Stop()
		for {
			select {
			case <-g.quit:
				return
			case <-t.C:
			}
			for _, st := range cl.stats() {
				if st.InvalidationPolls == 0 {
					continue // invalidation off
				}
				g.samples++
				if st.SinceLastPoll >= mssqlstore.DefaultInvalidationBound {
					g.gated++
				}
			}
		}
	}()
	return g
}

// stop ends the sampling and returns the gated readings and all readings.
func (g *gateSampler) stop() (gated, samples int) {
	close(g.quit)
	<-g.done
	return g.gated, g.samples
}

// figures are what the instances' Stats say of a run.
type figures struct {
	lookups, polls, flushes int64
	hitPct                  float64 // hits of every instance over their lookups, in percent
	pollsPerSec             float64 // poll statements per instance per second
	invalPerSec             float64 // sessions invalidated per instance per second
	rowsPerFlush            float64
	purges                  int64 // whole-cache drops during the run
}

func clusterFigures(st0, st1 []mssqlstore.Stats, elapsed time.Duration) figures {
	var f figures
	var hits, invals, rows int64
	for i := range st1 {
		h, m := st1[i].CacheHits-st0[i].CacheHits, st1[i].CacheMisses-st0[i].CacheMisses
		hits += h
		f.lookups += h + m
		f.polls += st1[i].InvalidationPolls - st0[i].InvalidationPolls
		invals += st1[i].Invalidations - st0[i].Invalidations
		f.purges += st1[i].InvalidationPurges - st0[i].InvalidationPurges
		f.flushes += st1[i].Flushes - st0[i].Flushes
		rows += st1[i].RowsFlushed - st0[i].RowsFlushed
	}
	if f.lookups > 0 {
		f.hitPct = 100 * float64(hits) / float64(f.lookups)
	}
	if s := elapsed.Seconds() * float64(len(st1)); s > 0 {
		f.pollsPerSec = float64(f.polls) / s
		f.invalPerSec = float64(invals) / s
	}
	if f.flushes > 0 {
		f.rowsPerFlush = float64(rows) / float64(f.flushes)
	}
	return f
}

// probeTokens is how many sessions the staleness benchmark changes, one
// per op, in turn.
const probeTokens = 1_000

// probeLimit is how long a probe waits for B to stop serving the old
// value before it reports a failure: far above the bound, so that only
// an invalidation that never comes reaches it (the benchmark's cache
// entries are kept for an hour).
const probeLimit = 30 * time.Second

// probePause is the pause between two Finds of a probe: a loop without
// one would take a whole processor of the two the benchmark, the test
// server and the poll share, and slow the poll it measures. Timers
// round it up to about a millisecond at worst, well below the poll
// period (50 ms).
const probePause = 100 * time.Microsecond

// changeKinds are the changes A makes in the staleness benchmark: a
// write-behind Commit followed by Flush, a Commit with DurableCommits
// (it returns once flushed), and a Delete.
var changeKinds = []string{"commit", "durable", "delete"}

// prober changes sessions on instance a and measures how long b goes on
// serving the old value.
type prober struct {
	a, b   *handle
	change string
	tokens []string
	cur    [][]byte // each token's data now
	expiry time.Time
	c      *client // for payloads
	next   int
}

func newProber(cl *cluster, change string, tokens []string, blob []byte, expiry time.Time) *prober {
	p := &prober{a: cl.hs[0], b: cl.hs[1], change: change, tokens: tokens, expiry: expiry, c: newClients(1)[0]}
	for range tokens {
		p.cur = append(p.cur, blob)
	}
	return p
}

// probeResult is what one probe measured.
type probeResult struct {
	// stale is the time from a's call returning to the start of the
	// first Find on b that did not return the old value: b served the
	// old value for at most this long.
	stale time.Duration
	// lastOld is the time from a's call returning to the start of the
	// last Find on b that returned the old value (negative: none did):
	// b served the old value for at least this long.
	lastOld time.Duration
	finds   int // Finds b answered, the last included
}

// probe waits a random fraction of a poll period (so that the changes
// fall at random points of b's poll cycle, as users' requests do; a
// probe that began as the last one ended would begin just after a poll),
// then makes one change on a, of a session b has just read (b serves
// it from its cache), and asks b for it until b no longer returns the
// old value, every probePause; a Find answered by the cache costs no
// round trip.
func (p *prober) probe(ctx context.Context) (probeResult, error) {
	r := probeResult{lastOld: -1}
	time.Sleep(time.Duration(p.c.rng.Int64N(int64(mssqlstore.DefaultInvalidationBound / 2))))
	i := p.next % len(p.tokens)
	p.next++
	tok, old := p.tokens[i], p.cur[i]
	if data, ok, err := p.b.Find(tok); err != nil || !ok || !bytes.Equal(data, old) {
		return r, fmt.Errorf("b: find %s before the change: found %v, %d bytes (want the %d before), %v", tok, ok, len(data), len(old), err)
	}
	var next []byte
	switch p.change {
	case "commit", "durable":
		next = bytes.Clone(p.c.payload())
		if err := p.a.Commit(tok, next, p.expiry); err != nil {
			return r, fmt.Errorf("a: commit: %w", err)
		}
		if p.change == "commit" {
			if err := p.a.flush(ctx); err != nil {
				return r, fmt.Errorf("a: flush: %w", err)
			}
		}
	case "delete":
		if err := p.a.Delete(tok); err != nil {
			return r, fmt.Errorf("a: delete: %w", err)
		}
	default:
		panic("bench: no change kind " + p.change)
	}
	t0 := time.Now()
	for {
		start := time.Now()
		data, ok, err := p.b.Find(tok)
		r.finds++
		if err != nil {
			return r, fmt.Errorf("b: find: %w", err)
		}
		if ok && bytes.Equal(data, old) {
			r.lastOld = start.Sub(t0)
			if r.lastOld > probeLimit {
				return r, fmt.Errorf("b served the old value of %s for %v after a's %s returned (%d Finds)", tok, probeLimit, p.change, r.finds)
			}
			time.Sleep(probePause)
			continue
		}
		r.stale = start.Sub(t0)
		switch {
		case next == nil && ok:
			return r, fmt.Errorf("b: find %s after its Delete on a: found %d bytes, neither the old value nor nothing", tok, len(data))
		case next != nil && (!ok || !bytes.Equal(data, next)):
			return r, fmt.Errorf("b: find %s after its Commit on a: found %v, %d bytes, not the new value", tok, ok, len(data))
		}
		break
	}
	// Put the session back for its next turn: a Delete is undone by a
	// Commit of the old value; a Commit's value is the next old one.
	if next == nil {
		if err := p.a.Commit(tok, old, p.expiry); err != nil {
			return r, fmt.Errorf("a: commit after delete: %w", err)
		}
		if err := p.a.flush(ctx); err != nil {
			return r, fmt.Errorf("a: flush: %w", err)
		}
	} else {
		p.cur[i] = next
	}
	return r, nil
}

// BenchmarkInvalidationStaleness: instance A changes a session (see
// changeKinds) that instance B has just read; a probe on B asks for it
// in a loop and measures the time from A's call returning to B's first
// answer without the old value: the staleness that B's clients see.
// Reports its percentiles (stale-p50-ms, stale-p99-ms, stale-max-ms) and
// the bound (bound-ms). Both instances are the `both` contender, cache
// entries kept an hour, invalidation at its default bound; A has
// DurableCommits for change=durable. With load=64, 64 clients run the
// read-heavy load spread over both instances (10,000 other sessions)
// meanwhile. One op is one change and its probe; ns/op includes putting
// a deleted session back.
func BenchmarkInvalidationStaleness(b *testing.B) {
	for _, loadClients := range []int{0, 64} {
		for _, change := range changeKinds {
			lazyRun(b, fmt.Sprintf("change=%s/load=%d", change, loadClients), func(b *testing.B) (func(*testing.B), func()) {
				e := openEnv(b)
				cl := openCluster(b, e, 2, contenderNamed("both"), func(i int, cfg *mssqlstore.Config) {
					cfg.DurableCommits = i == 0 && change == "durable"
				})
				ctx := context.Background()
				_, blob, expiry := populate(b, e, 0)
				probed := e.tokens(famLive, 2, probeTokens)
				if err := e.insert(ctx, probed, blob, expiry); err != nil {
					b.Fatal(err)
				}
				var l *load
				if loadClients > 0 {
					tokens, _, _ := populate(b, e, liveSessions)
					if err := cl.warm(ctx, tokens); err != nil {
						b.Fatal(err)
					}
					e.startLatency()
					l = startLoad(ctx, newClients(loadClients), newSpread(cl.hs, tokens, blob, expiry))
				}
				e.startLatency()
				p := newProber(cl, change, probed, blob, expiry)
				return func(b *testing.B) { staleness(b, cl, p) }, func() {
					if l != nil {
						if err := l.stop(); err != nil {
							b.Error(err)
						}
					}
					cl.close()
					e.close()
				}
			})
		}
	}
}
func staleness(b *testing.B, cl *cluster, p *prober) {
	if reportFallback(b, cl) {
		b.Skip("the server cannot run the invalidation journal's SQL: B's cache keeps the old value for CacheMaxAge")
	}
	ctx := context.Background()
	b.ReportAllocs()
	var lat []time.Duration
	finds, over := 0, 0
	var lastOld time.Duration
	st0 := cl.stats()
	t0 := time.Now()
	for b.Loop() {
		r, err := p.probe(ctx)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, r.stale)
		finds += r.finds
		lastOld = max(lastOld, r.lastOld)
		if r.lastOld >= mssqlstore.DefaultInvalidationBound {
			over++
		}
	}
	elapsed := time.Since(t0)
	slices.Sort(lat)
	b.ReportMetric(ms(pct(lat, 0.50)), "stale-p50-ms")
	b.ReportMetric(ms(pct(lat, 0.99)), "stale-p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "stale-max-ms")
	b.ReportMetric(ms(mssqlstore.DefaultInvalidationBound), "bound-ms")
	// The latest start, after a's change returned, of a Find on b that
	// returned the old value; and the probes in which one started a
	// bound or more after it: the bound broken.
	b.ReportMetric(ms(lastOld), "last-old-max-ms")
	b.ReportMetric(float64(over), "old-after-bound")
	b.ReportMetric(float64(finds)/float64(len(lat)), "probe-finds/op")
	f := clusterFigures(st0, cl.stats(), elapsed)
	b.ReportMetric(f.pollsPerSec, "polls/s/instance")
	cl.check(b)
}

// reportFallback reports, as fallback 1, that an instance found the
// server unable to run the invalidation journal's SQL (the store then
// bounds staleness by CacheMaxAge alone), and returns whether one did.
func reportFallback(b *testing.B, cl *cluster) bool {
	for _, st := range cl.stats() {
		if st.InvalidationFallback {
			b.ReportMetric(1, "fallback")
			return true
		}
	}
	return false
}

// pct returns the p-quantile of sorted (nearest rank, rounded down).
func pct(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkJournalCost measures what the journal costs writes, on one
// instance, with invalidation off and on: CommitHeavy (every op commits;
// store `writethrough`, where each Commit is a statement of its own, and
// `both`, where the flushes carry them), and Delete (each op writes a
// new session straight into the table, untimed by the latency figures,
// then Deletes it through the store, store `both`; delete-p50-ms and
// delete-p99-ms are the Delete's own latency). With invalidation on,
// every write statement also increments the counter row and inserts a
// journal row in its transaction, in the same round trip; the `both`
// store also polls.
func BenchmarkJournalCost(b *testing.B) {
	onOff := []struct {
		name  string
		bound time.Duration
	}{{"off", -1}, {"on", 0}}
	for _, n := range clientCounts {
		for _, store := range []string{"writethrough", "both"} {
			for _, inv := range onOff {
				lazyRun(b, fmt.Sprintf("CommitHeavy/clients=%d/store=%s/invalidation=%s", n, store, inv.name), func(b *testing.B) (func(*testing.B), func()) {
					e := openEnv(b)
					h := contenderNamed(store).open(b, e, func(c *mssqlstore.Config) { c.InvalidationBound = inv.bound })
					e.startLatency()
					w := newCommitHeavy(h, e, e.tokens(famRepeat, 0, repeatTokens), false)
					clients := newClients(n)
					return func(b *testing.B) {
						w0 := e.waits()
						timed(b, e, h, clients, w)
						reportLockWaits(b, e, w0)
					}, func() { h.close(); e.close() }
				})
			}
		}
	}
	for _, n := range clientCounts {
		for _, inv := range onOff {
			lazyRun(b, fmt.Sprintf("Delete/clients=%d/invalidation=%s", n, inv.name), func(b *testing.B) (func(*testing.B), func()) {
				e := openEnv(b)
				h := contenderNamed("both").open(b, e, func(c *mssqlstore.Config) { c.InvalidationBound = inv.bound })
				e.startLatency()
				clients := newClients(n)
				w := newDeleter(h, e, clients)
				return func(b *testing.B) {
					w.reset()
					st0, w0 := h.stats(), e.waits()
					timed(b, e, h, clients, w)
					reportLockWaits(b, e, w0)
					lat := w.latencies()
					if len(lat) == 0 {
						return
					}
					b.ReportMetric(ms(pct(lat, 0.50)), "delete-p50-ms")
					b.ReportMetric(ms(pct(lat, 0.99)), "delete-p99-ms")
					if st := h.stats(); st.Deletes > st0.Deletes {
						b.ReportMetric(float64(st.DeleteStatements-st0.DeleteStatements)/float64(st.Deletes-st0.Deletes), "stmts/delete")
					}
				}, func() { h.close(); e.close() }
			})
		}
	}
}

// reportLockWaits reports the lock requests that waited for another
// session's lock per op since w0 (test server only): journaled write
// statements queue for the counter row's lock.
func reportLockWaits(b *testing.B, e *env, w0 waitTotals) {
	if e.srv != nil {
		b.ReportMetric(float64(e.waits().locks-w0.locks)/float64(b.N), "lock-waits/op")
	}
}

// deleter: each op writes a new session straight into the table (one
// INSERT, not through the store, so not journaled), then Deletes it
// through the store, and records the Delete's latency.
type deleter struct {
	h      *handle
	e      *env
	blob   []byte
	expiry time.Time
	lat    [][]time.Duration // by client id
	tokens [][]string        // by client id: the sessions deleted
}

func newDeleter(h *handle, e *env, clients []*client) *deleter {
	expiry := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Microsecond)
	return &deleter{h: h, e: e, blob: []byte("to be deleted"), expiry: expiry,
		lat: make([][]time.Duration, len(clients)), tokens: make([][]string, len(clients))}
}

func (w *deleter) reset() {
	for i := range w.lat {
		w.lat[i], w.tokens[i] = w.lat[i][:0], w.tokens[i][:0]
	}
}

func (w *deleter) op(ctx context.Context, c *client) error {
	c.seq++
	tok := w.e.token(famNew, c.gen<<20|uint64(c.id), c.seq)
	if err := w.e.insert(ctx, []string{tok}, w.blob, w.expiry); err != nil {
		return err
	}
	t0 := time.Now()
	err := w.h.Delete(tok)
	w.lat[c.id] = append(w.lat[c.id], time.Since(t0))
	w.tokens[c.id] = append(w.tokens[c.id], tok)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}

// latencies returns every Delete's latency, sorted.
func (w *deleter) latencies() []time.Duration {
	var all []time.Duration
	for _, l := range w.lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	return all
}

// TestSmokeInvalidation runs the invalidation benchmarks' cases briefly
// and checks their results: the read-heavy load over one and two
// instances leaves every session holding its last Commit, and its hit
// rate is a percentage; every probe sees B stop serving the old value
// and then return the new one (or nothing after a Delete); the journaled
// CommitHeavy and Delete leave the table as they must.
func TestSmokeInvalidation(t *testing.T) {
	for _, ic := range invalidationCases() {
		t.Run("ReadHeavy/clients=8/"+ic.String(), func(t *testing.T) {
			e := openEnv(t)
			t.Cleanup(e.close)
			cl := openCluster(t, e, ic.instances, contenderNamed("both"), ic.tune)
			t.Cleanup(cl.close) // runs before e.close
			tokens, blob, expiry := smokePopulate(t, e, smokeLive)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := cl.warm(ctx, tokens); err != nil {
				t.Fatal(err)
			}
			e.startLatency()
			w := newSpread(cl.hs, tokens, blob, expiry)
			st0 := cl.stats()
			t0 := time.Now()
			if err := runOps(ctx, newClients(8), smokeOps, w); err != nil {
				t.Fatal(err)
			}
			if err := cl.flush(ctx); err != nil {
				t.Fatal(err)
			}
			f := clusterFigures(st0, cl.stats(), time.Since(t0))
			if f.lookups == 0 || f.hitPct < 0 || f.hitPct > 100 {
				t.Errorf("hit rate %v%% over %d lookups, want a percentage of some", f.hitPct, f.lookups)
			}
			if finds, stale := w.finds.Load(), w.stale.Load(); finds == 0 || stale > finds {
				t.Errorf("%d stale reads of %d Finds", stale, finds)
			}
			for i, st := range cl.stats() {
				if polled := st.InvalidationPolls > 0; polled != ic.on {
					t.Errorf("instance %d: invalidation on %v, and %d polls", i, ic.on, st.InvalidationPolls)
				}
			}
			table := readTable(t, e)
			if len(table) != len(tokens) {
				t.Errorf("table has %d sessions, want %d", len(table), len(tokens))
			}
			w.check(t, table, string(blob))
			cl.check(t)
		})
	}
	for _, change := range changeKinds {
		t.Run("Staleness/change="+change, func(t *testing.T) {
			e := openEnv(t)
			t.Cleanup(e.close)
			cl := openCluster(t, e, 2, contenderNamed("both"), func(i int, cfg *mssqlstore.Config) {
				cfg.DurableCommits = i == 0 && change == "durable"
			})
			t.Cleanup(cl.close)
			tokens, blob, expiry := smokePopulate(t, e, 3)
			e.startLatency()
			p := newProber(cl, change, tokens, blob, expiry)
			ctx := context.Background()
			for i := range 2 * len(tokens) { // each token twice: the second probe starts from the first's result
				r, err := p.probe(ctx)
				if err != nil {
					t.Fatalf("probe %d: %v", i, err)
				}
				if r.stale < 0 || r.finds < 1 || r.lastOld >= r.stale {
					t.Errorf("probe %d: stale %v, last old value at %v, %d Finds", i, r.stale, r.lastOld, r.finds)
				}
			}
			if got := cl.hs[1].stats(); got.InvalidationPolls == 0 {
				t.Error("b never polled")
			}
			table := readTable(t, e)
			for i, tok := range tokens {
				if r, ok := table[tok]; !ok || !bytes.Equal(r.data, p.cur[i]) {
					t.Errorf("session %s: in the table %v, holds %x..., want %x...", tok, ok, head(r.data), head(p.cur[i]))
				}
			}
			cl.check(t)
		})
	}
	for _, store := range []string{"writethrough", "both"} {
		t.Run("JournalCost/CommitHeavy/clients=8/store="+store+"/invalidation=on", func(t *testing.T) {
			e, h := smokeEnv(t, contenderNamed(store))
			e.startLatency()
			w := newCommitHeavy(h, e, e.tokens(famRepeat, 0, 40), true)
			clients := newClients(8)
			run(t, h, clients, w)
			table := readTable(t, e)
			written := checkSlots(t, table, w.repeat, "")
			for _, c := range clients {
				written += len(c.newWant)
			}
			if len(table) != written {
				t.Errorf("table has %d sessions, want the %d committed", len(table), written)
			}
			if !journaled(t, e) {
				t.Error("invalidation on, and no journal row in the table")
			}
		})
	}
	t.Run("JournalCost/Delete/clients=8/invalidation=on", func(t *testing.T) {
		e, h := smokeEnv(t, contenderNamed("both"))
		e.startLatency()
		clients := newClients(8)
		w := newDeleter(h, e, clients)
		run(t, h, clients, w)
		if lat := w.latencies(); len(lat) != smokeOps {
			t.Errorf("%d Delete latencies, want %d", len(lat), smokeOps)
		}
		table := readTable(t, e)
		for _, toks := range w.tokens {
			for _, tok := range toks {
				if _, ok := table[tok]; ok {
					t.Errorf("deleted session %s still in the table", tok)
				}
			}
		}
		if st := h.stats(); st.Deletes < smokeOps {
			t.Errorf("%d Deletes counted, want at least %d", st.Deletes, smokeOps)
		}
	})
}

// journaled reports whether the table holds a journal row.
func journaled(t *testing.T, e *env) bool {
	t.Helper()
	var n int
	if err := e.db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+e.table+" WHERE token LIKE '"+journalPrefix+"%'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}
