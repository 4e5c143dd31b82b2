package mssqlstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
	"github.com/scs-contrib/mssqlstore/internal/sqlerr"
	"github.com/scs-contrib/mssqlstore/internal/testdb"
)

// TestModel drives random sequences of Commit, Find, Delete, All, Flush,
// pairs of concurrent writes of one token, clock advances, injected faults
// of every kind on every statement kind, slow statements and operations
// whose context ends mid-statement, from one goroutine per instance, over
// eight instances on one database (see modelInstances: batching, durable,
// write-through, no cache, a DSN timezone, a login without EXECUTE on the
// table type, an unusual table type name, a tiny MaxPending). Half-way,
// StopCleanup runs on three of them (see stopScenarios) and the run goes
// on, those instances writing through.
//
// Each goroutine owns its tokens and writes them through its home
// instance (sticky sessions); it reads them through its home and through
// another instance. The model judges every operation by its result: one
// that returned nil took effect; one that returned an error may or may
// not have, so the token may hold the state before or after it until the
// next successful operation settles it. Through the home instance a read
// must return a state the model allows, not expired; through another, a
// value committed for that token, not expired, and not older than the
// cross-instance invalidation bound: once a newer state of the token has
// reached SQL Server (a Delete or a confirmed Commit returned nil, or a
// Flush did after the Commit), no instance may serve the older value a
// bound later, faults or not. A Commit
// that confirms its write (durable, write-through, after StopCleanup) is
// checked in SQL Server when it returns. At the end, with the faults
// cleared and everything flushed, SQL Server must hold an allowed state
// of every token. A watchdog fails the run if any operation has not
// returned within modelHang.
//
// The op sequences are reproducible from the seed (MSSQLSTORE_MODEL_SEED);
// the interleaving of goroutines is not. MSSQLSTORE_SOAK=10m turns it
// into a soak of that length.
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
	const tokensPerWorker = 6
	opsPerPhase := 1500
	db := testdb.Open(t, testdb.Options{WithType: true})
	if db.Server == nil {
		// A real engine answers in milliseconds, not microseconds (on
		// Babelfish on two cores, about 100 statements a second): a tenth
		// of the operations keeps the run within minutes. A soak sets its
		// own length.
		opsPerPhase /= 10
	}
	clock := newFakeClock()
	stopClock := make(chan struct{})
	defer close(stopClock)
	clock.autoAdvance(500*time.Millisecond, stopClock) // backoffs pass at once

	m := &model{t: t, seed: seed, committed: map[string]committedValue{}, rejected: map[string]bool{},
		values: map[string][]string{}, superseded: map[string]supersession{}}
	wd := startWatchdog(t, seed)
	defer wd.stop()
	r := newModelRun(t, db, clock, m, wd)
	// The model's clock also runs on its own, 50 times faster than real
	// time: backoffs end, caches age, sessions expire, also while every
	// worker waits.
	stopRunning := r.runClock(time.Second)
	defer stopRunning()
	start := time.Now()

	workers := make([]*worker, len(r.instances))
	for i, in := range r.instances {
		w := &worker{t: t, id: i, m: m, rng: rand.New(rand.NewPCG(seed, uint64(i))), clock: clock, db: db, srv: db.Server, wd: wd,
			run: r, home: in, other: r.instances[(i+1)%len(r.instances)], allowed: map[string][]mstate{}, from: map[string]int{}}
		for range tokensPerWorker {
			w.tokens = append(w.tokens, newToken(t))
		}
		workers[i] = w
	}
	phase := func(n int, d time.Duration, phaseStart time.Time) {
		var wg sync.WaitGroup
		for _, w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; d > 0 && time.Since(phaseStart) < d || d == 0 && i < n; i++ {
					w.step(i, n)
					w.ops++
				}
				w.endLatency()
			}()
		}
		wg.Wait()
	}
	phase(opsPerPhase, soak/2, time.Now())
	r.stopScenarios(workers)
	for _, w := range workers {
		w.phase = 1
	}
	phase(opsPerPhase, soak/2, time.Now())

	// Everything clears up: no fault, no latency. Every instance, old
	// and new, flushes what it still holds.
	r.clearFaults()
	for _, in := range r.all {
		ctx, cancel := context.WithTimeout(context.Background(), r.realBudget(10*time.Second))
		end := wd.begin("final Flush through " + in.name)
		err := in.h.store.Flush(ctx)
		end()
		cancel()
		if err != nil {
			m.fail("final Flush failed", "final Flush through %s, with no fault left: %v", in.name, err)
		}
	}
	rows := db.Rows(t)
	now := clock.Now()
	for _, w := range workers {
		for _, tok := range w.tokens {
			row, ok := rows[tok]
			w.judge(tok, "at the end, SQL Server", string(row.Data), ok, now, now)
		}
	}
	r.checkBackgroundErrors()
	m.report()
	total := 0
	for _, w := range workers {
		total += w.ops
	}
	shared := int64(0)
	for _, in := range r.all {
		st := in.h.store.Stats()
		shared += st.Deletes - st.DeleteStatements
	}
	t.Logf("seed %d: %d Deletes sent no DELETE of their own (they joined another's, or left first)", seed, shared)
	t.Logf("seed %d: operations that took more than 0.5 s of real time: %v", seed, wd.slowOps())
	t.Logf("seed %d: %d operations by %d goroutines on %d instances in %v", seed, total, len(workers), len(r.all), time.Since(start).Round(time.Millisecond))
}

// mstate is one state a token may be in: a value with its expiry, or
// deleted (data "": committed values are never empty).
type mstate struct {
	data   string
	expiry time.Time
}

func (s mstate) deleted() bool { return s.data == "" }

func (s mstate) String() string {
	if s.deleted() {
		return "deleted"
	}
	return fmt.Sprintf("%q until %s", s.data, s.expiry.Format("15:04:05.000"))
}

// model knows every value ever committed (values are unique), for which
// token and with which expiry, and collects the violations, judged at the
// end (a row SQL Server rejected excuses some; see report).
type model struct {
	t    *testing.T
	seed uint64

	mu         sync.Mutex
	committed  map[string]committedValue
	values     map[string][]string     // by token, every value committed for it
	superseded map[string]supersession // by value: when a newer state of its token was in SQL Server
	rejected   map[string]bool         // values whose durable Commit returned a *RowError
	violations []violation
	failures   map[string]*failureKind
	failOrder  []string
}

type committedValue struct {
	token  string
	expiry time.Time
}

// violation is a read or a final state outside the model. from is the
// length of the home instance's error record when the token's state was
// last settled: a *RowError for the token reported after that explains a
// write that vanished (SQL Server rejected it, the store dropped it and
// said so).
type violation struct {
	token string
	home  *modelInstance
	from  int
	kind  string // what went wrong, to group the report
	msg   string
}

func (m *model) violate(v violation) {
	m.mu.Lock()
	m.violations = append(m.violations, v)
	m.mu.Unlock()
}

// fail records a failure that needs no judging at the end; report
// prints the first of each kind, and how many there were.
func (m *model) fail(kind, format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failures == nil {
		m.failures = map[string]*failureKind{}
	}
	f := m.failures[kind]
	if f == nil {
		f = &failureKind{}
		m.failures[kind] = f
		m.failOrder = append(m.failOrder, kind)
	}
	if f.n++; len(f.first) < 2 {
		f.first = append(f.first, fmt.Sprintf(format, args...))
	}
}

type failureKind struct {
	n     int
	first []string
}

// report fails the test for each violation that no dropped row
// explains, and for each failure, grouped by kind.
func (m *model) report() {
	excused := 0
	for _, v := range m.violations {
		if v.home.async && v.home.rowErrorSince(v.token, v.from) {
			excused++
			continue
		}
		m.fail(v.kind+" (home "+v.home.spec.name+")", "token %s, home %s: %s", v.token[:6], v.home.name, v.msg)
	}
	if excused > 0 {
		m.t.Logf("seed %d: %d reads explained by a row the store reported as rejected", m.seed, excused)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, kind := range m.failOrder {
		f := m.failures[kind]
		for _, msg := range f.first {
			m.t.Errorf("seed %d: %s: %s", m.seed, kind, msg)
		}
		if f.n > len(f.first) {
			m.t.Errorf("seed %d: %s: %d more", m.seed, kind, f.n-len(f.first))
		}
	}
}

// supersession says when a newer state of a value's token was in SQL
// Server, by the model: at, and the length of the home instance's error
// record then (a *RowError for the token reported later explains a newer
// state that SQL Server rejected, which left the older one in place).
type supersession struct {
	at   time.Time
	home *modelInstance
	from int
}

// supersede records that tok's state keep (a value, or "" for deleted)
// was in SQL Server at t by the model: every other value of tok is older
// (a worker's writes of its tokens are sequential, and a pair settles
// before the next), so no instance may serve it from t plus the
// invalidation bound on.
func (w *worker) supersede(tok, keep string, t time.Time) {
	m := w.m
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range m.values[tok] {
		if old, ok := m.superseded[v]; v != keep && (!ok || t.Before(old.at)) {
			m.superseded[v] = supersession{at: t, home: w.home, from: w.from[tok]}
		}
	}
}

// supersededAt says when a newer state of data's token was in SQL
// Server.
func (m *model) supersededAt(data string) (supersession, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.superseded[data]
	return s, ok
}

func (m *model) describe(tok, data string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.committed[data]
	switch {
	case !ok:
		return " (never committed)"
	case c.token != tok:
		return " (committed for another token)"
	case m.rejected[data]:
		return " (its durable Commit returned a *RowError: SQL Server rejected it)"
	}
	return " (another write of this token)"
}

// worker is one goroutine of the run: its tokens, their allowed states,
// and its home instance.
type worker struct {
	t           *testing.T
	id          int
	m           *model
	rng         *rand.Rand
	clock       *fakeClock
	db          *testdb.DB
	srv         *mssqltest.Server
	wd          *watchdog
	run         *modelRun
	home, other *modelInstance
	tokens      []string
	allowed     map[string][]mstate // a token never written is deleted
	from        map[string]int      // see violation.from
	seq, ops    int
	phase       int
	latencyLeft int // ops until the slow-statement window this worker opened closes
	latencyKind string
}

// opBound is the real-time bound of every operation a worker runs,
// except those it gives a deliberately short deadline.
const opBound = time.Second

func (w *worker) states(tok string) []mstate {
	if s, ok := w.allowed[tok]; ok {
		return s
	}
	return []mstate{{}}
}

// settle records an operation that returned nil: the token is in its
// state now.
func (w *worker) settle(tok string, s mstate, errsBefore int) {
	w.allowed[tok] = []mstate{s}
	w.from[tok] = errsBefore
}

// widen records an operation that returned an error: it may or may not
// have taken effect.
func (w *worker) widen(tok string, s mstate) {
	for _, x := range w.states(tok) {
		if x == s {
			return
		}
	}
	w.allowed[tok] = append(w.states(tok), s)
}

func (w *worker) violate(tok, kind, format string, args ...any) {
	w.m.violate(violation{token: tok, home: w.home, from: w.from[tok], kind: kind, msg: fmt.Sprintf(format, args...)})
}

// judge checks a read of tok through the home instance, or of the table
// (what names "SQL Server"): found data (ok) or nothing, by a read that
// began at t0 and ended at t1 on the model's clock.
func (w *worker) judge(tok, what, data string, ok bool, t0, t1 time.Time) {
	al := w.states(tok)
	if ok {
		for _, s := range al {
			if !s.deleted() && s.data == data {
				// The table may hold an expired row until cleanup deletes
				// it; the store must not serve it.
				if !s.expiry.After(t0) && !strings.Contains(what, "SQL Server") {
					w.violate(tok, "served an expired session", "%s served %q, expired at %s, at %s", what, data, s.expiry.Format("15:04:05.000"), t0.Format("15:04:05.000"))
				}
				return
			}
		}
		w.violate(tok, "read a state the model does not allow", "%s = %q%s; the model allows %v", what, data, w.m.describe(tok, data), al)
		return
	}
	for _, s := range al {
		if s.deleted() || !s.expiry.After(t1) {
			return
		}
	}
	w.violate(tok, "lost an acknowledged write", "%s found nothing; the model allows only %v", what, al)
}

func (w *worker) bound() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opBound)
}

func (w *worker) step(i, n int) {
	if w.latencyLeft > 0 {
		if w.latencyLeft--; w.latencyLeft == 0 {
			w.endLatency()
		}
	}
	if w.home.stopAt == w.phase+1 && i == n/2 {
		w.stopHome() // StopCleanup in the middle of the run, faults and all
	}
	tok := w.tokens[w.rng.IntN(len(w.tokens))]
	switch r := w.rng.IntN(1000); {
	case r < 300:
		ctx, cancel := w.bound()
		w.commit(ctx, tok)
		cancel()
	case r < 520:
		ctx, cancel := w.bound()
		w.find(ctx, w.home, tok)
		cancel()
	case r < 600:
		ctx, cancel := w.bound()
		w.find(ctx, w.other, tok)
		cancel()
	case r < 680:
		ctx, cancel := w.bound()
		w.delete(ctx, tok)
		cancel()
	case r < 710:
		ctx, cancel := w.bound()
		w.all(ctx)
		cancel()
	case r < 770:
		ctx, cancel := w.bound()
		w.flush(ctx)
		cancel()
	case r < 820:
		w.clock.Advance(time.Duration(w.rng.IntN(20)) * time.Second)
	case r < 870:
		w.injectFault()
	case r < 872:
		w.slowStatements()
	case r < 922:
		w.deadlineOp(tok)
	case r < 957:
		w.pair(tok)
	case r < 958 && w.home.redeploy:
		w.redeploy()
	default:
		ctx, cancel := w.bound()
		w.find(ctx, w.home, tok)
		cancel()
	}
}

// newValue returns a value never committed before, and its expiry.
func (w *worker) newValue(tok string) mstate {
	w.seq++
	// Most sessions live minutes; a third live seconds, so that some
	// expire while they are cached or read.
	life := time.Duration(60+w.rng.IntN(540)) * time.Second
	if w.rng.IntN(3) == 0 {
		life = time.Duration(5+w.rng.IntN(25)) * time.Second
	}
	s := mstate{data: fmt.Sprintf("w%d-%d", w.id, w.seq),
		expiry: w.clock.Now().Add(life).UTC().Truncate(time.Microsecond)}
	w.m.mu.Lock()
	w.m.committed[s.data] = committedValue{token: tok, expiry: s.expiry}
	w.m.values[tok] = append(w.m.values[tok], s.data)
	w.m.mu.Unlock()
	return s
}

// outcome is what the model learns from one write: its effect, and
// whether it certainly took effect (returned nil) or certainly did not
// (a *RowError: SQL Server rejected the row).
type outcome struct {
	eff      mstate
	ok, none bool
}

// doCommit commits s through in and checks what the error says.
func (w *worker) doCommit(ctx context.Context, in *modelInstance, tok string, s mstate) (outcome, error) {
	end := w.wd.begin(fmt.Sprintf("worker %d: Commit through %s", w.id, in.name))
	err := in.h.store.CommitCtx(ctx, tok, []byte(s.data), s.expiry)
	end()
	var rowErr *RowError
	switch {
	case err == nil:
		return outcome{eff: s, ok: true}, nil
	case errors.As(err, &rowErr):
		w.checkErr("Commit through "+in.name, err)
		w.m.mu.Lock()
		w.m.rejected[s.data] = true
		w.m.mu.Unlock()
		return outcome{eff: s, none: true}, err
	}
	w.checkErr("Commit through "+in.name, err)
	return outcome{eff: s}, err
}

func (w *worker) commit(ctx context.Context, tok string) {
	in := w.home
	confirms := in.confirms()
	before := in.errCount()
	s := w.newValue(tok)
	o, _ := w.doCommit(ctx, in, tok, s)
	switch {
	case o.ok:
		w.settle(tok, s, before)
		if confirms {
			w.supersede(tok, s.data, w.clock.Now())
			w.checkStored(in, tok, s)
		}
	case o.none: // rejected: the token keeps its states
	default:
		w.widen(tok, s)
	}
}

func (w *worker) doDelete(ctx context.Context, in *modelInstance, tok string) (outcome, error) {
	end := w.wd.begin(fmt.Sprintf("worker %d: Delete through %s", w.id, in.name))
	err := in.h.store.DeleteCtx(ctx, tok)
	end()
	w.checkErr("Delete through "+in.name, err)
	return outcome{ok: err == nil}, err
}

func (w *worker) delete(ctx context.Context, tok string) {
	before := w.home.errCount()
	if o, _ := w.doDelete(ctx, w.home, tok); o.ok {
		w.settle(tok, mstate{}, before)
		w.supersede(tok, "", w.clock.Now())
	} else {
		w.widen(tok, mstate{})
	}
}

// find checks one Find. Through the home instance the model judges it;
// through another instance a value found was committed for this token
// and had not expired (it may be stale, within CacheMaxAge).
func (w *worker) find(ctx context.Context, in *modelInstance, tok string) {
	t0 := w.clock.Now()
	end := w.wd.begin(fmt.Sprintf("worker %d: Find through %s", w.id, in.name))
	b, ok, err := in.h.store.FindCtx(ctx, tok)
	end()
	t1 := w.clock.Now()
	if err != nil {
		w.checkErr("Find through "+in.name, err)
		return
	}
	if in == w.home {
		w.judge(tok, "Find through "+in.name, string(b), ok, t0, t1)
		return
	}
	if !ok {
		return
	}
	w.m.mu.Lock()
	c, known := w.m.committed[string(b)]
	w.m.mu.Unlock()
	sup, superseded := w.m.supersededAt(string(b))
	switch {
	case !known || c.token != tok:
		w.violate(tok, "another instance read a value not committed for the token", "Find through %s returned %q%s", in.name, b, w.m.describe(tok, string(b)))
	case !c.expiry.After(t0):
		w.violate(tok, "another instance served an expired session", "Find through %s served %q, expired at %s, at %s", in.name, b, c.expiry.Format("15:04:05.000"), t0.Format("15:04:05.000"))
	case superseded && !t0.Before(sup.at.Add(modelBound)):
		w.m.violate(violation{token: tok, home: sup.home, from: sup.from, kind: "another instance served a value older than the invalidation bound",
			msg: fmt.Sprintf("Find through %s served %q at %s; a newer state of the token was in SQL Server at %s, more than %v before",
				in.name, b, t0.Format("15:04:05.000"), sup.at.Format("15:04:05.000"), modelBound)})
	}
}

func (w *worker) all(ctx context.Context) {
	t0 := w.clock.Now()
	end := w.wd.begin(fmt.Sprintf("worker %d: All through %s", w.id, w.home.name))
	got, err := w.home.h.store.AllCtx(ctx)
	end()
	t1 := w.clock.Now()
	if err != nil {
		w.checkErr("All through "+w.home.name, err)
		return
	}
	for _, tok := range w.tokens {
		b, ok := got[tok]
		w.judge(tok, "All through "+w.home.name, string(b), ok, t0, t1)
	}
}

func (w *worker) flush(ctx context.Context) {
	end := w.wd.begin(fmt.Sprintf("worker %d: Flush through %s", w.id, w.home.name))
	err := w.home.h.store.Flush(ctx)
	end()
	// A Flush that fails leaves the writes pending: the model's states
	// do not change.
	w.checkErr("Flush through "+w.home.name, err)
	if err != nil {
		return
	}
	// Every write pending when it was called is in SQL Server: a token
	// whose last operation returned nil is in that state now.
	now := w.clock.Now()
	for _, tok := range w.tokens {
		if st := w.states(tok); len(st) == 1 {
			w.supersede(tok, st[0].data, now)
		}
	}
}

// checkErr fails the test for an error no fault of this run explains.
// The run injects no 229 and the login of every instance may write the
// table: a 229 can only concern the table type, which the store must work
// around (the typeless path), never hand to the caller. And 515 (NULL
// into a NOT NULL column) cannot concern a row the store sends, which
// never holds NULL: it means the table changed, so it must never drop a
// row as a *RowError.
func (w *worker) checkErr(op string, err error) {
	if err == nil {
		return
	}
	n, _ := sqlerr.Number(err)
	var rowErr *RowError
	switch {
	case n == 229:
		w.m.fail("a 229 reached the caller ("+op+")", "worker %d: %s: %v: a permission error on the table type reached the caller, though the login may write the table", w.id, op, err)
	case n == 515 && errors.As(err, &rowErr):
		w.m.fail("a 515 dropped a row", "worker %d: %s: %v: a statement-level schema error (515) was taken for a bad row, and the write dropped", w.id, op, err)
	}
}

// checkStored checks, when a Commit that confirms its write has
// returned nil, that SQL Server holds it (unless it has expired since:
// cleanup may have deleted it).
func (w *worker) checkStored(in *modelInstance, tok string, s mstate) {
	data, ok, err := w.run.direct(tok)
	if err != nil {
		w.t.Logf("worker %d: reading %s directly: %v (not checked)", w.id, tok[:6], err)
		return
	}
	if ok && data == s.data || !w.clock.Now().Before(s.expiry) {
		return
	}
	if !ok {
		data = "nothing"
	}
	w.violate(tok, "a confirmed Commit is not in SQL Server", "Commit(%q) through %s returned nil, and SQL Server holds %s", s.data, in.name, data)
}

// deadlineOp runs one operation with a deadline of a few milliseconds,
// often on a statement stalled until it is cancelled: the context ends
// mid-statement.
func (w *worker) deadlineOp(tok string) {
	op := w.rng.IntN(5)
	// A stall the operation does not reach stalls another statement of
	// that kind, for its bound: a few are enough.
	stall := w.rng.IntN(80) == 0
	d := time.Duration(1+w.rng.IntN(30)) * time.Millisecond
	if stall && w.srv != nil {
		kind := [...]string{"MERGE", "DELETE", "SELECT", "SELECT", "MERGE"}[op]
		if w.home.typeless && kind == "MERGE" {
			kind = "UPDATE"
		}
		w.srv.InjectFault(mssqltest.Fault{Kind: kind, Stall: true})
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	switch op {
	case 0:
		w.commit(ctx, tok)
	case 1:
		w.delete(ctx, tok)
	case 2:
		w.find(ctx, w.home, tok)
	case 3:
		w.all(ctx)
	case 4:
		w.flush(ctx)
	}
}

// pair runs two or three writes of tok at once through the home
// instance, as concurrent requests of one session do (a logout racing a
// page load): two Commits, a Commit and a Delete, or a Commit and two
// Deletes (which may share one DELETE statement). Any order is allowed; a
// write that failed may or may not have taken effect. When all returned
// nil and the home instance confirms writes, SQL Server holds the final
// state now: the model pins it, and the home instance must serve it.
func (w *worker) pair(tok string) {
	in := w.home
	before := in.errCount()
	confirms := in.confirms()
	writes := []mstate{w.newValue(tok)}
	switch w.rng.IntN(4) {
	case 0, 1:
		writes = append(writes, w.newValue(tok))
	case 2:
		writes = append(writes, mstate{})
	default:
		writes = append(writes, mstate{}, mstate{})
	}
	o := make([]outcome, len(writes))
	var wg sync.WaitGroup
	for i, s := range writes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := w.bound()
			defer cancel()
			if s.deleted() {
				o[i], _ = w.doDelete(ctx, in, tok)
				return
			}
			o[i], _ = w.doCommit(ctx, in, tok, s)
		}()
	}
	wg.Wait()
	var next []mstate
	certain, all := false, true
	for _, x := range o {
		all = all && x.ok
		if x.none {
			continue
		}
		if !slicesContains(next, x.eff) {
			next = append(next, x.eff)
		}
		certain = certain || x.ok
	}
	if !certain {
		for _, s := range w.states(tok) {
			if !slicesContains(next, s) {
				next = append(next, s)
			}
		}
	}
	w.allowed[tok] = next
	if certain {
		w.from[tok] = before
	}
	if !(all && confirms) {
		return
	}
	data, ok, err := w.run.direct(tok)
	if err != nil {
		w.t.Logf("worker %d: reading %s directly: %v (not pinned)", w.id, tok[:6], err)
		return
	}
	if ok {
		for _, s := range next {
			if s.data == data {
				w.allowed[tok] = []mstate{s}
				w.supersede(tok, s.data, w.clock.Now())
				return
			}
		}
		w.violate(tok, "concurrent writes: SQL Server holds none", "concurrent %v through %s all returned nil, and SQL Server holds %q%s", writes, in.name, data, w.m.describe(tok, data))
		return
	}
	switch {
	case slicesContains(next, mstate{}):
		w.allowed[tok] = []mstate{{}}
		w.supersede(tok, "", w.clock.Now())
	case !w.anyExpired(next): // else that one may have won, and cleanup deleted it
		w.violate(tok, "concurrent writes: SQL Server holds none", "concurrent %v through %s all returned nil, and SQL Server holds nothing at %s",
			writes, in.name, w.clock.Now().Format("15:04:05.000"))
	}
}

// anyExpired reports whether one of states is a session expired now.
func (w *worker) anyExpired(states []mstate) bool {
	now := w.clock.Now()
	for _, s := range states {
		if !s.deleted() && !now.Before(s.expiry) {
			return true
		}
	}
	return false
}

func slicesContains(ss []mstate, s mstate) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
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
	cfg := Config{Table: db.Table, TableType: db.TableType, ErrorHandler: errs.handle, MaxBatchRows: 7, CacheSize: -1}
	s, err := newStore(db.DB, cfg, clock)
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
