package mssqlstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/sqlerr"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
	"github.com/scs-contrib/mssqlstore/internal/testdb"
)

// TestModel drives random sequences of Commit, Find, Delete, All, Flush,
// clock advances and injected faults, from several goroutines across two
// instances on one database (the second with DurableCommits), and checks every result against a reference
// model: nothing lost, nothing deleted comes back, nothing expired is
// served, the last write wins.
//
// Each goroutine owns its tokens and writes them through its home
// instance (sticky sessions); it reads them through both. The op
// sequences are reproducible from the seed (MSSQLSTORE_MODEL_SEED); the
// interleaving of goroutines is not. MSSQLSTORE_SOAK=10m turns it into a
// soak of that length.
func TestModel(t *testing.T) {
	seed := uint64(20261125)
	if s := os.Getenv("MSSQLSTORE_MODEL_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MSSQLSTORE_MODEL_SEED: %v", err)
		}
		seed = v
	}
	var soak time.Duration
	if s := os.Getenv("MSSQLSTORE_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("MSSQLSTORE_SOAK: %v", err)
		}
		soak = d
	}
	const workers, tokensPerWorker, opsPerWorker = 6, 6, 5000
	db := testdb.Open(t, testdb.Options{WithType: true})
	clock := newFakeClock()
	cfg := Config{CacheMaxAge: 20 * time.Second, CleanupInterval: time.Minute, CleanupBatchSize: 50, MaxBatchRows: 8}
	// The second instance confirms each commit (group commit).
	durable := cfg
	durable.DurableCommits = true
	instances := []*harness{newHarnessOn(t, db, clock, cfg), newHarnessOn(t, db, clock, durable)}
	stopClock := make(chan struct{})
	defer close(stopClock)
	clock.autoAdvance(500*time.Millisecond, stopClock) // backoffs pass at once

	m := &model{committed: map[string]time.Time{}}
	start := time.Now()
	var ops [workers]int
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			wk := &worker{t: t, id: w, m: m, rng: rng, clock: clock, srv: db.Server,
				home: instances[w%2], other: instances[(w+1)%2], state: map[string]*tokenState{}}
			for range tokensPerWorker {
				wk.tokens = append(wk.tokens, newToken(t))
			}
			for i := 0; soak > 0 && time.Since(start) < soak || soak == 0 && i < opsPerWorker; i++ {
				if t.Failed() {
					return
				}
				wk.step()
				ops[w]++
			}
			wk.finalState()
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.Fatalf("seed %d", seed)
	}
	if db.Server != nil {
		db.Server.ClearFaults()
	}
	for _, h := range instances {
		h.flush()
	}
	// Nothing lost, nothing deleted back, the last write wins.
	rows := db.Rows(t)
	now := clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for tok, st := range m.final {
		row, ok := rows[tok]
		switch {
		case st.deleted && ok:
			t.Errorf("seed %d: deleted token %s is in SQL Server", seed, tok[:6])
		case !st.deleted && now.Before(st.expiry) && (!ok || string(row.Data) != st.data):
			t.Errorf("seed %d: live token %s: SQL Server holds %q, %v; the last write was %q", seed, tok[:6], row.Data, ok, st.data)
		case ok && string(row.Data) != st.data:
			t.Errorf("seed %d: expired token %s holds %q, not its last write %q", seed, tok[:6], row.Data, st.data)
		}
	}
	total := 0
	for _, n := range ops {
		total += n
	}
	t.Logf("seed %d: %d operations by %d goroutines on 2 instances in %v", seed, total, workers, time.Since(start).Round(time.Millisecond))
}

// model knows every value ever committed, with its expiry (values are
// unique), and, at the end, each token's last state.
type model struct {
	mu        sync.Mutex
	committed map[string]time.Time
	final     map[string]tokenState
}

type tokenState struct {
	data    string
	expiry  time.Time
	deleted bool
}

type worker struct {
	t           *testing.T
	id          int
	m           *model
	rng         *rand.Rand
	clock       *fakeClock
	srv         *mssqltest.Server
	home, other *harness
	tokens      []string
	state       map[string]*tokenState
	seq         int
}

func (w *worker) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	w.t.Cleanup(cancel)
	return ctx
}

func (w *worker) step() {
	tok := w.tokens[w.rng.IntN(len(w.tokens))]
	switch r := w.rng.IntN(100); {
	case r < 35:
		w.commit(tok)
	case r < 60:
		w.find(w.home, tok, true)
	case r < 70:
		w.find(w.other, tok, false)
	case r < 78:
		w.delete(tok)
	case r < 82:
		w.all()
	case r < 90:
		if err := w.home.store.Flush(w.ctx()); err != nil {
			w.t.Errorf("worker %d: Flush: %v", w.id, err)
		}
	case r < 95:
		w.clock.Advance(time.Duration(w.rng.IntN(20)) * time.Second)
	default:
		if w.srv != nil {
			faults := []mssqltest.Fault{
				{Kind: "MERGE", Error: 1205},
				{Kind: "MERGE", Error: 40613},
				{Kind: "MERGE", DropAfter: true},
				{Kind: "DELETE", Error: 1222}, // hits cleanup (retried) or a Delete (reported to the caller)
			}
			w.srv.InjectFault(faults[w.rng.IntN(len(faults))])
		}
	}
}

func (w *worker) commit(tok string) {
	w.seq++
	data := fmt.Sprintf("w%d-%d", w.id, w.seq)
	expiry := w.clock.Now().Add(time.Duration(10+w.rng.IntN(120)) * time.Second).UTC().Truncate(time.Microsecond)
	w.m.mu.Lock()
	w.m.committed[data] = expiry
	w.m.mu.Unlock()
	if err := w.home.store.CommitCtx(w.ctx(), tok, []byte(data), expiry); err != nil {
		// A durable commit reports the failure of the flush that carried
		// it (an injected fault); the write stays pending and lands later.
		if _, isSQL := sqlerr.Number(err); !w.home.store.cfg.DurableCommits || !isSQL && classify(err) != classTransient {
			w.t.Errorf("worker %d: Commit: %v", w.id, err)
			return
		}
	}
	w.state[tok] = &tokenState{data: data, expiry: expiry}
}

func (w *worker) delete(tok string) {
	// An injected lock timeout may hit the DELETE: the caller sees it, as
	// from SQL Server, and deletes again.
	for attempt := 1; ; attempt++ {
		err := w.home.store.DeleteCtx(w.ctx(), tok)
		if err == nil {
			break
		}
		if n, _ := sqlerr.Number(err); n != 1222 || attempt == 20 {
			w.t.Errorf("worker %d: Delete: %v", w.id, err)
			return
		}
	}
	w.state[tok] = &tokenState{deleted: true}
}

// find checks one Find. Through any instance: a value found was committed
// for this token and had not expired. Through the home instance it must
// also be exact: the last write if live, nothing if deleted or expired.
func (w *worker) find(h *harness, tok string, home bool) {
	t0 := w.clock.Now()
	b, ok, err := h.store.FindCtx(w.ctx(), tok)
	t1 := w.clock.Now()
	if err != nil {
		w.t.Errorf("worker %d: Find: %v", w.id, err)
		return
	}
	if ok {
		w.m.mu.Lock()
		exp, known := w.m.committed[string(b)]
		w.m.mu.Unlock()
		if !known {
			w.t.Errorf("worker %d: Find returned %q, never committed", w.id, b)
			return
		}
		if !exp.After(t0) {
			w.t.Errorf("worker %d: Find served %q, expired at %v, at %v", w.id, b, exp, t0)
		}
	}
	if !home {
		return
	}
	st := w.state[tok]
	switch {
	case st == nil || st.deleted:
		if ok {
			w.t.Errorf("worker %d: Find through the home instance found %q for a deleted or never written token", w.id, b)
		}
	case st.expiry.After(t1):
		if !ok || string(b) != st.data {
			w.t.Errorf("worker %d: Find through the home instance = %q, %v; want the last write %q", w.id, b, ok, st.data)
		}
	case ok && string(b) != st.data:
		w.t.Errorf("worker %d: Find returned %q, not the last write %q", w.id, b, st.data)
	}
}

func (w *worker) all() {
	t0 := w.clock.Now()
	got, err := w.home.store.AllCtx(w.ctx())
	t1 := w.clock.Now()
	if err != nil {
		w.t.Errorf("worker %d: All: %v", w.id, err)
		return
	}
	for _, tok := range w.tokens {
		b, ok := got[tok]
		st := w.state[tok]
		switch {
		case st == nil || st.deleted:
			if ok {
				w.t.Errorf("worker %d: All holds a deleted token", w.id)
			}
		case st.expiry.After(t1):
			if !ok || string(b) != st.data {
				w.t.Errorf("worker %d: All = %q, %v for a live token; want %q", w.id, b, ok, st.data)
			}
		case ok && !st.expiry.After(t0):
			w.t.Errorf("worker %d: All holds an expired session", w.id)
		}
	}
}

func (w *worker) finalState() {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	if w.m.final == nil {
		w.m.final = map[string]tokenState{}
	}
	for tok, st := range w.state {
		w.m.final[tok] = *st
	}
}

// FuzzBatch commits random tokens, data of 0 bytes to 1 MiB and expiries,
// flushes, and checks that the table equals the model.
func FuzzBatch(f *testing.F) {
	f.Add([]byte{0}, uint16(0), int64(3600))
	f.Add([]byte("seed of several tokens"), uint16(1000), int64(1))
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, uint16(65535), int64(-5))
	db := testdb.Open(f, testdb.Options{WithType: true})
	clock := newFakeClock()
	errs := newErrRecorder()
	cfg := Config{Table: db.Table, TableType: db.TableType, clock: clock, ErrorHandler: errs.handle, MaxBatchRows: 7, CacheSize: -1}
	s, err := NewWithConfig(db.DB, cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.StopCleanup)
	f.Fuzz(func(t *testing.T, seed []byte, size uint16, expirySeconds int64) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, "DELETE FROM "+db.Table); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(uint64(len(seed)), uint64(size)))
		for _, b := range seed {
			rng = rand.New(rand.NewPCG(rng.Uint64()^uint64(b), uint64(b)))
		}
		want := map[string][]byte{}
		n := 1 + len(seed)%20
		tokens := make([]string, 0, n)
		for i := 0; i < n; i++ {
			tok := tokenFrom(rng)
			if len(tokens) > 0 && rng.IntN(3) == 0 {
				tok = tokens[rng.IntN(len(tokens))] // a repeat: coalesced
			}
			tokens = append(tokens, tok)
			dataLen := int(size) * rng.IntN(17) // up to 1 MiB
			data := make([]byte, dataLen)
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
			expiry := clock.Now().Add(time.Duration(expirySeconds%100000) * time.Second)
			if err := s.CommitCtx(ctx, tok, data, expiry); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			want[tok] = data
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		rows := db.Rows(t)
		if len(rows) != len(want) {
			t.Fatalf("table holds %d rows, want %d", len(rows), len(want))
		}
		for tok, data := range want {
			if string(rows[tok].Data) != string(data) {
				t.Fatalf("token %s: %d bytes in the table, want %d", tok[:6], len(rows[tok].Data), len(data))
			}
		}
		if e := db.Unexpected(t, errs.all()); len(e) != 0 {
			t.Fatalf("background errors: %v", e)
		}
	})
}

func tokenFrom(rng *rand.Rand) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, 43)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}
