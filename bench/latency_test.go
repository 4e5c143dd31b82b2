package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore"
)

// hotTokens is how many sessions the contended latency benchmark shares
// among its clients.
const hotTokens = 8

// BenchmarkHotLatency: each client in turn commits, finds and deletes one
// of hotTokens sessions drawn at random (a third of the ops each), in a
// table of 10,000 live sessions, at 1 client (uncontended) and at 64. It
// reports each operation's latency percentiles, in milliseconds
// (commit-p50-ms, find-p99-ms, ...), and the DELETE statements sent per
// Delete (stmts/delete). Stores: batch (write-behind Commit,
// no cache, so every Find and Delete reaches the server) and durable
// (the same with DurableCommits: each Commit waits for its flush).
func BenchmarkHotLatency(b *testing.B) {
	stores := []struct {
		name string
		tune func(*mssqlstore.Config)
	}{
		{"batch", nil},
		{"durable", func(c *mssqlstore.Config) { c.DurableCommits = true }},
	}
	for _, n := range clientCounts {
		for _, st := range stores {
			e := openEnv(b)
			h := contenderNamed("batch").open(b, e, st.tune)
			_, blob, expiry := populate(b, e, liveSessions)
			hot := e.tokens(famLive, 1, hotTokens)
			if err := e.insert(context.Background(), hot, blob, expiry); err != nil {
				b.Fatal(err)
			}
			if err := warmHot(context.Background(), h, hot, blob, expiry); err != nil {
				b.Fatal(err)
			}
			e.startLatency()
			b.Run(fmt.Sprintf("clients=%d/store=%s", n, st.name), func(b *testing.B) {
				hotLatency(b, h, n, hot, blob, expiry)
			})
			h.close()
			e.close()
		}
	}
}

var hotOps = [...]string{"commit", "find", "delete"}

// warmHot runs, untimed, a Find, a Delete and a Commit on as many
// goroutines as the pool has connections, a few times, then flushes: so
// that the measured ops meet connections that have run each statement
// once. Babelfish parses T-SQL with a parser that warms up in each
// server process: the first statements on a new connection take hundreds
// of milliseconds there, and would otherwise be most of a short run.
func warmHot(ctx context.Context, h *handle, hot []string, blob []byte, expiry time.Time) error {
	errs := make([]error, *flagPool)
	var wg sync.WaitGroup
	for i := range *flagPool {
		wg.Go(func() {
			tok := hot[i%len(hot)]
			for range 4 {
				if _, _, err := h.Find(tok); err != nil {
					errs[i] = fmt.Errorf("warm-up find: %w", err)
					return
				}
				if err := h.Delete(tok); err != nil {
					errs[i] = fmt.Errorf("warm-up delete: %w", err)
					return
				}
				if err := h.Commit(tok, blob, expiry); err != nil {
					errs[i] = fmt.Errorf("warm-up commit: %w", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return h.flush(ctx)
}

func hotLatency(b *testing.B, h *handle, clients int, hot []string, blob []byte, expiry time.Time) {
	ctx := context.Background()
	b.ReportAllocs()
	lat := make([][len(hotOps)][]time.Duration, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	b.ResetTimer()
	for c := range clients {
		ops := b.N / clients
		if c < b.N%clients {
			ops++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			for range ops {
				tok := hot[rng.IntN(len(hot))]
				op := rng.IntN(len(hotOps))
				t0 := time.Now()
				var err error
				switch op {
				case 0:
					err = h.Commit(tok, blob, expiry)
				case 1:
					_, _, err = h.Find(tok)
				case 2:
					err = h.Delete(tok)
				}
				lat[c][op] = append(lat[c][op], time.Since(t0))
				if err != nil {
					errs[c] = fmt.Errorf("%s: %w", hotOps[op], err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := h.flush(ctx); err != nil {
		b.Fatalf("flush: %v", err)
	}
	b.StopTimer()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	for op, name := range hotOps {
		var all []time.Duration
		for c := range lat {
			all = append(all, lat[c][op]...)
		}
		if len(all) == 0 {
			continue
		}
		slices.Sort(all)
		pct := func(p float64) float64 {
			return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
		}
		b.ReportMetric(pct(0.50), name+"-p50-ms")
		b.ReportMetric(pct(0.99), name+"-p99-ms")
	}
	st := h.stats()
	if st.Flushes > 0 {
		b.ReportMetric(float64(st.RowsFlushed)/float64(st.Flushes), "rows/flush")
	}
	if st.Deletes > 0 {
		// Below 1 when concurrent Deletes of a session share a DELETE.
		b.ReportMetric(float64(st.DeleteStatements)/float64(st.Deletes), "stmts/delete")
	}
	h.check(b)
}
