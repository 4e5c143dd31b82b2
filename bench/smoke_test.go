package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/golang-sql/civil"
	"github.com/scs-contrib/mssqlstore"
)

// Smoke sizes: small populations, so the whole smoke run stays well under
// a minute; the benchmarks use the full ones.
const (
	smokeLive    = 400
	smokeExpired = 3_000
	smokeBatch   = 250 // CleanupBatchSize in the smoke run
	smokeOps     = 300
)

var smokeClients = []int{1, 8}

// TestSmoke runs every workload a few hundred ops for every contender
// and checks the results: every read returns what its client last wrote
// (each session has one writer), and after Flush the table holds every
// committed token with its last value.
func TestSmoke(t *testing.T) {
	for _, n := range smokeClients {
		for _, c := range contenders() {
			t.Run(fmt.Sprintf("ReadHeavy/clients=%d/store=%s", n, c.name), func(t *testing.T) {
				e, h := smokeEnv(t, c)
				tokens, blob, expiry := smokePopulate(t, e, smokeLive)
				if h.caching {
					if err := warm(context.Background(), h, tokens); err != nil {
						t.Fatal(err)
					}
				}
				e.startLatency()
				w := newReadHeavy(h, tokens, blob, expiry, true)
				run(t, h, newClients(n), w)
				table := readTable(t, e)
				if len(table) != len(tokens) {
					t.Errorf("table has %d rows, want %d", len(table), len(tokens))
				}
				checkSlots(t, table, w.slots, string(blob))
			})
			t.Run(fmt.Sprintf("CommitHeavy/clients=%d/store=%s", n, c.name), func(t *testing.T) {
				e, h := smokeEnv(t, c)
				e.startLatency()
				// A small repeat set, so that tokens repeat within a few
				// hundred ops (and coalesce in a batch).
				w := newCommitHeavy(h, e, e.tokens(famRepeat, 0, 40), true)
				clients := newClients(n)
				run(t, h, clients, w)
				table := readTable(t, e)
				written := checkSlots(t, table, w.repeat, "")
				for _, cl := range clients {
					for tok, want := range cl.newWant {
						written++
						if got, ok := table[tok]; !ok || string(got.data) != want {
							t.Errorf("new token %s: in the table %v, holds %x..., want %x...", tok, ok, head(got.data), head([]byte(want)))
						}
					}
				}
				if len(table) != written {
					t.Errorf("table has %d rows, want the %d tokens committed", len(table), written)
				}
			})
			t.Run(fmt.Sprintf("Site/clients=%d/store=%s", n, c.name), func(t *testing.T) {
				e, h := smokeEnv(t, c)
				tokens, _, _ := smokePopulate(t, e, smokeLive)
				e.startLatency()
				w := newSite(h, tokens, true)
				clients := newClients(n)
				run(t, h, clients, w)
				checkSite(t, e, w, clients)
			})
			if c.name == "upstream" || c.name == "writethrough" || c.name == "both" {
				t.Run(fmt.Sprintf("CleanupUnderLoad/clients=%d/store=%s", n, c.name), func(t *testing.T) {
					smokeCleanup(t, c, n)
				})
			}
		}
	}
	t.Run("FindCacheHit", func(t *testing.T) {
		e, h := smokeEnv(t, contenderNamed("cache"))
		tokens, blob, _ := smokePopulate(t, e, 1)
		e.startLatency()
		for i := range 3 {
			data, ok, err := h.ours.FindCtx(context.Background(), tokens[0])
			if err != nil || !ok || string(data) != string(blob) {
				t.Fatalf("find %d: %d bytes, found %v, %v", i, len(data), ok, err)
			}
		}
		if st := h.stats(); st.CacheHits != 2 || st.CacheMisses != 1 {
			t.Errorf("cache hits %d, misses %d; want 2 and 1", st.CacheHits, st.CacheMisses)
		}
	})
}

func smokeEnv(t *testing.T, c contender) (*env, *handle) {
	t.Helper()
	e := openEnv(t)
	t.Cleanup(e.close)
	if skipUpstream(t, e, c) {
		t.SkipNow()
	}
	h := c.open(t, e, func(cfg *mssqlstore.Config) { cfg.CleanupBatchSize = smokeBatch })
	t.Cleanup(h.close) // runs before e.close
	return e, h
}

func smokePopulate(t *testing.T, e *env, n int) ([]string, []byte, time.Time) {
	t.Helper()
	expiry := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Microsecond)
	blob := sessionBlob(t, expiry)
	tokens := e.tokens(famLive, 0, n)
	if err := e.insert(context.Background(), tokens, blob, expiry); err != nil {
		t.Fatalf("populate: %v", err)
	}
	return tokens, blob, expiry
}

// run runs smokeOps ops of w, then flushes the store.
func run(t *testing.T, h *handle, clients []*client, w workload) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := runOps(ctx, clients, smokeOps, w); err != nil {
		t.Fatal(err)
	}
	if err := h.flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	h.check(t)
}

// journalPrefix begins the token of every row of the store's
// invalidation journal (its counter and journal rows, see journal.go at
// the repository root): rows that share the sessions table, are expired
// from their start, and are not sessions. No session token begins with
// '~', which is not a base64url character.
const journalPrefix = "~j"

// tableRow is a row read straight from the sessions table.
type tableRow struct {
	data   []byte
	expiry time.Time
}

func readTable(t *testing.T, e *env) map[string]tableRow {
	t.Helper()
	rows, err := e.db.QueryContext(context.Background(), "SELECT token, data, expiry FROM "+e.table)
	if err != nil {
		t.Fatalf("read table: %v", err)
	}
	defer rows.Close()
	out := map[string]tableRow{}
	for rows.Next() {
		var tok string
		var r tableRow
		if err := rows.Scan(&tok, &r.data, &r.expiry); err != nil {
			t.Fatalf("scan: %v", err)
		}
		if strings.HasPrefix(tok, journalPrefix) {
			continue // the invalidation journal's rows, not sessions
		}
		out[tok] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read table: %v", err)
	}
	return out
}

// checkSlots checks that every slot's token is in the table holding
// what it must; slots still holding untouched (their initial value) are
// skipped. It returns the number of slots written.
func checkSlots(t *testing.T, table map[string]tableRow, s slots, untouched string) int {
	t.Helper()
	written := 0
	for i := range s {
		sl := &s[i]
		if sl.want == untouched {
			if _, ok := table[sl.token]; !ok && untouched != "" {
				t.Errorf("token %s missing", sl.token)
			}
			continue
		}
		written++
		got, ok := table[sl.token]
		switch {
		case !ok:
			t.Errorf("token %s committed but not in the table", sl.token)
		case string(got.data) != sl.want:
			t.Errorf("token %s holds %x..., want its last value %x...", sl.token, head(got.data), head([]byte(sl.want)))
		}
	}
	if written == 0 {
		t.Error("no commits happened: the check checked nothing")
	}
	return written
}

// checkSite checks that every logged-in session is in the table holding
// the user last written, and that every destroyed session is gone.
func checkSite(t *testing.T, e *env, w *site, clients []*client) {
	t.Helper()
	table := readTable(t, e)
	writes, logouts := 0, 0
	for i := range w.slots {
		sl := &w.slots[i]
		if sl.token == "" {
			continue
		}
		if sl.want != "init" {
			writes++
		}
		r, ok := table[sl.token]
		if !ok {
			t.Errorf("session %s missing", sl.token)
			continue
		}
		_, values, err := scs.GobCodec{}.Decode(r.data)
		if err != nil {
			t.Errorf("session %s: %v", sl.token, err)
			continue
		}
		if got := values["user"]; got != sl.want {
			t.Errorf("session %s: user %v, want %q", sl.token, got, sl.want)
		}
	}
	for _, c := range clients {
		for _, tok := range c.destroyed {
			logouts++
			if _, ok := table[tok]; ok {
				t.Errorf("destroyed session %s still in the table", tok)
			}
		}
	}
	if writes == 0 || logouts == 0 {
		t.Errorf("%d writes and %d logouts: the check checked too little", writes, logouts)
	}
}

// smokeCleanup purges smokeExpired expired rows under the read-heavy load
// and checks that exactly the expired rows went, and (on the test server)
// that no statement of this store deleted more than its batch size.
func smokeCleanup(t *testing.T, c contender, n int) {
	e, h := smokeEnv(t, c)
	tokens, blob, expiry := smokePopulate(t, e, smokeLive)
	ctx := context.Background()
	if err := e.insert(ctx, e.tokens(famExpired, 0, smokeExpired), []byte("expired"), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	e.startLatency()
	w := newReadHeavy(h, tokens, blob, expiry, true)
	l := startLoad(ctx, newClients(n), w)
	deleted, err := h.purge(ctx)
	if lerr := l.stop(); lerr != nil {
		t.Fatal(lerr)
	}
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	if deleted != smokeExpired {
		t.Errorf("purge deleted %d rows, want %d", deleted, smokeExpired)
	}
	if err := h.flush(ctx); err != nil {
		t.Fatal(err)
	}
	table := readTable(t, e)
	if len(table) != smokeLive {
		t.Errorf("table has %d rows after the purge, want the %d live ones", len(table), smokeLive)
	}
	for _, tok := range tokens {
		if _, ok := table[tok]; !ok {
			t.Errorf("live session %s purged", tok)
		}
	}
	var left int
	if err := e.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+e.table+" WHERE expiry < @p1 AND token NOT LIKE '"+journalPrefix+"%'", civil.DateTimeOf(time.Now().UTC())).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d expired rows left", left)
	}
	if e.srv != nil {
		max := e.maxDeleteRows()
		switch {
		case h.ours != nil && max > int64(h.cleanupBatch):
			t.Errorf("a DELETE wrote %d rows, more than the cleanup batch of %d", max, h.cleanupBatch)
		case h.ours == nil && max != smokeExpired:
			t.Errorf("upstream's purge: the largest DELETE wrote %d rows, want all %d in one", max, smokeExpired)
		}
	}
	h.check(t)
}
