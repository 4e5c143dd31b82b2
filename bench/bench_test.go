package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore"
)

// clientCounts are the concurrency levels of every workload.
var clientCounts = []int{1, 64}

// measure takes the figures of one timed run.
type measure struct {
	e   *env
	h   *handle
	rt0 int64
	sc0 int64 // table scans, test server only
	st0 mssqlstore.Stats
	t0  time.Time
}

func startMeasure(e *env, h *handle) *measure {
	m := &measure{e: e, h: h, rt0: e.roundTrips(), st0: h.stats()}
	if e.srv != nil {
		m.sc0 = e.scans()
	}
	m.t0 = time.Now()
	return m
}

// report adds the custom figures of n ops: end-to-end time (from the
// first op until Flush returned), round trips, rows per flush and the
// cache hit rate.
func (m *measure) report(b *testing.B, n int) {
	elapsed := time.Since(m.t0)
	if n <= 0 {
		return
	}
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(n), "e2e-ns/op")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "ops/s")
	if rt := m.e.roundTrips(); rt >= 0 {
		b.ReportMetric(float64(rt-m.rt0)/float64(n), "rt/op")
		b.ReportMetric(float64(m.e.scans()-m.sc0)/float64(n), "scans/op")
	}
	if m.h.ours == nil {
		return
	}
	st := m.h.stats()
	if flushes := st.Flushes - m.st0.Flushes; flushes > 0 {
		b.ReportMetric(float64(st.RowsFlushed-m.st0.RowsFlushed)/float64(flushes), "rows/flush")
	}
	hits, misses := st.CacheHits-m.st0.CacheHits, st.CacheMisses-m.st0.CacheMisses
	if m.h.caching && hits+misses > 0 {
		b.ReportMetric(float64(hits)/float64(hits+misses), "hit-rate")
	}
}

// timed runs w: with one client in a b.Loop, with more in explicit
// goroutines over b.N ops; either way the store's Flush is inside the
// timed region, so a write-behind store pays for every write it took.
func timed(b *testing.B, e *env, h *handle, clients []*client, w workload) {
	ctx := context.Background()
	b.ReportAllocs()
	m := startMeasure(e, h)
	var n int
	if len(clients) == 1 {
		c := clients[0]
		for b.Loop() {
			if err := w.op(ctx, c); err != nil {
				b.Fatal(err)
			}
		}
		n = b.N
		b.StartTimer()
	} else {
		b.ResetTimer()
		m.t0 = time.Now()
		if err := runOps(ctx, clients, int64(b.N), w); err != nil {
			b.Fatal(err)
		}
		n = b.N
	}
	if err := h.flush(ctx); err != nil {
		b.Fatalf("flush: %v", err)
	}
	b.StopTimer()
	m.report(b, n)
	h.check(b)
}

// eachCase runs every client count and contender, each on a fresh
// database of its own, as Workload/clients=N/store=NAME. setup runs once
// per case, untimed; the function it returns is the benchmark body, which
// the testing package may call several times.
func eachCase(b *testing.B, setup func(b *testing.B, e *env, h *handle, clients int) func(*testing.B)) {
	for _, n := range clientCounts {
		for _, c := range contenders() {
			e := openEnv(b)
			if skipUpstream(b, e, c) {
				e.close()
				continue
			}
			h := c.open(b, e, nil)
			run := setup(b, e, h, n)
			b.Run(fmt.Sprintf("clients=%d/store=%s", n, c.name), run)
			h.close()
			e.close()
		}
	}
}

// populate fills e with the live sessions and returns their tokens and
// data.
func populate(b *testing.B, e *env, n int) ([]string, []byte, time.Time) {
	b.Helper()
	expiry := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Microsecond)
	blob := sessionBlob(b, expiry)
	tokens := e.tokens(famLive, 0, n)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := e.insert(ctx, tokens, blob, expiry); err != nil {
		b.Fatalf("populate: %v", err)
	}
	return tokens, blob, expiry
}

// populateWarm writes the live sessions and, for a store with a cache,
// reads each once, so that a benchmark starts in the steady state.
func populateWarm(b *testing.B, e *env, h *handle) ([]string, []byte, time.Time) {
	tokens, blob, expiry := populate(b, e, liveSessions)
	if h.caching {
		if err := warm(context.Background(), h, tokens); err != nil {
			b.Fatal(err)
		}
	}
	return tokens, blob, expiry
}

// BenchmarkReadHeavy: 95% Find, 5% Commit over 10,000 live sessions. The
// caches are warmed first (every session read once), so the hit rate is
// the steady state of CacheSize sessions out of 10,000.
func BenchmarkReadHeavy(b *testing.B) {
	eachCase(b, func(b *testing.B, e *env, h *handle, n int) func(*testing.B) {
		tokens, blob, expiry := populateWarm(b, e, h)
		e.startLatency()
		w := newReadHeavy(h, tokens, blob, expiry, false)
		clients := newClients(n)
		return func(b *testing.B) { timed(b, e, h, clients, w) }
	})
}

// BenchmarkCommitHeavy: every op commits, as when SCS renews an idle
// timeout on each request; half to a set of 1,000 tokens, half to new
// ones.
func BenchmarkCommitHeavy(b *testing.B) {
	eachCase(b, func(b *testing.B, e *env, h *handle, n int) func(*testing.B) {
		e.startLatency()
		w := newCommitHeavy(h, e, e.tokens(famRepeat, 0, repeatTokens), false)
		clients := newClients(n)
		return func(b *testing.B) { timed(b, e, h, clients, w) }
	})
}

// BenchmarkSite: HTTP requests through scs.SessionManager.LoadAndSave:
// 80% reads, 15% writes, 5% logouts, over 10,000 logged-in sessions.
func BenchmarkSite(b *testing.B) {
	eachCase(b, func(b *testing.B, e *env, h *handle, n int) func(*testing.B) {
		tokens, _, _ := populateWarm(b, e, h)
		e.startLatency()
		w := newSite(h, tokens, false)
		clients := newClients(n)
		return func(b *testing.B) { timed(b, e, h, clients, w) }
	})
}

// BenchmarkCleanupUnderLoad purges 100,000 expired sessions while the
// read-heavy workload runs on 10,000 live ones. One op is one purge; the
// load's throughput is measured over a window without a purge
// ("ops/s-base", with the expired rows present) and during the purge
// ("ops/s-purge"). ns/op is the purge's duration; B/op and allocs/op
// cover the whole op, load included.
func BenchmarkCleanupUnderLoad(b *testing.B) {
	for _, n := range clientCounts {
		for _, name := range []string{"upstream", "writethrough", "both"} {
			c := contenderNamed(name)
			e := openEnv(b)
			if skipUpstream(b, e, c) {
				e.close()
				continue
			}
			h := c.open(b, e, nil)
			tokens, blob, expiry := populate(b, e, liveSessions)
			if h.caching {
				if err := warm(context.Background(), h, tokens); err != nil {
					b.Fatal(err)
				}
			}
			e.startLatency()
			w := newReadHeavy(h, tokens, blob, expiry, false)
			clients := newClients(n)
			b.Run(fmt.Sprintf("clients=%d/store=%s", n, name), func(b *testing.B) {
				cleanupUnderLoad(b, e, h, clients, w, expiredSessions)
			})
			h.close()
			e.close()
		}
	}
}

func cleanupUnderLoad(b *testing.B, e *env, h *handle, clients []*client, w workload, expired int) {
	ctx := context.Background()
	b.ReportAllocs()
	small := []byte("expired")
	var (
		purgeTime, baseTime time.Duration
		purgeOps, baseOps   int64
		// The test server's own contention in each window: time
		// statements waited for its database latch, and lock waits.
		purgeLatch, baseLatch time.Duration
		purgeLocks, baseLocks int64
	)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		toks := e.tokens(famExpired, uint64(time.Now().UnixNano()), expired)
		if err := e.insert(ctx, toks, small, time.Now().Add(-time.Hour)); err != nil {
			b.Fatalf("insert expired rows: %v", err)
		}
		b.StartTimer()
		l := startLoad(ctx, clients, w)

		// A window without a purge, the expired rows present. The window
		// is a measurement period, not a wait for a condition.
		n0, t0, w0 := l.ops.Load(), time.Now(), e.waits()
		<-time.After(*flagWindow)
		baseOps += l.ops.Load() - n0
		baseTime += time.Since(t0)
		w1 := e.waits()
		baseLatch += w1.latch - w0.latch
		baseLocks += w1.locks - w0.locks

		n1, t1 := l.ops.Load(), time.Now()
		deleted, err := h.purge(ctx)
		purgeTime += time.Since(t1)
		purgeOps += l.ops.Load() - n1
		w2 := e.waits()
		purgeLatch += w2.latch - w1.latch
		purgeLocks += w2.locks - w1.locks
		if lerr := l.stop(); lerr != nil {
			b.Fatal(lerr)
		}
		if err != nil {
			b.Fatalf("purge: %v", err)
		}
		if deleted != int64(expired) {
			b.Fatalf("purge deleted %d rows, want %d", deleted, expired)
		}
	}
	b.StopTimer()
	if err := h.flush(ctx); err != nil {
		b.Fatalf("flush: %v", err)
	}
	b.ReportMetric(float64(purgeTime.Nanoseconds())/float64(b.N), "ns/op")
	b.ReportMetric(float64(baseOps)/baseTime.Seconds(), "ops/s-base")
	b.ReportMetric(float64(purgeOps)/purgeTime.Seconds(), "ops/s-purge")
	if e.srv != nil {
		b.ReportMetric(float64(e.maxDeleteRows()), "max-rows/delete")
		// Milliseconds of latch waiting per second of each window: the
		// in-process test server runs statements one at a time, which
		// SQL Server does not; lock waits are what SQL Server would
		// share.
		b.ReportMetric(float64(baseLatch.Milliseconds())/baseTime.Seconds(), "latch-ms/s-base")
		b.ReportMetric(float64(purgeLatch.Milliseconds())/purgeTime.Seconds(), "latch-ms/s-purge")
		b.ReportMetric(float64(baseLocks), "lock-waits-base")
		b.ReportMetric(float64(purgeLocks), "lock-waits-purge")
	}
	if h.cleanupBatch > 0 {
		b.ReportMetric(float64(h.cleanupBatch), "batch-limit")
	}
	h.check(b)
}

// BenchmarkFindCacheHit measures a Find answered by the cache: its
// allocations are the figure to watch.
func BenchmarkFindCacheHit(b *testing.B) {
	e := openEnv(b)
	defer e.close()
	h := contenderNamed("cache").open(b, e, nil)
	defer h.close()
	tokens, blob, _ := populate(b, e, 1)
	e.startLatency()
	ctx := context.Background()
	if _, ok, err := h.ours.FindCtx(ctx, tokens[0]); err != nil || !ok {
		b.Fatalf("find: found %v, %v", ok, err)
	}
	m := startMeasure(e, h)
	b.ReportAllocs()
	for b.Loop() {
		data, ok, err := h.ours.FindCtx(ctx, tokens[0])
		if err != nil || !ok || len(data) != len(blob) {
			b.Fatalf("find: %d bytes, found %v, %v", len(data), ok, err)
		}
	}
	m.report(b, b.N)
}
