package mssqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	_ "time/tzdata" // the DSN's timezone must load on a machine without a zone database

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
	"github.com/scs-contrib/mssqlstore/internal/sqlerr"
	"github.com/scs-contrib/mssqlstore/internal/testdb"
)

// modelInstance is one store instance of TestModel and what the model
// knows of it.
type modelInstance struct {
	name string
	spec instSpec
	h    *harness
	// batching without DurableCommits: a Commit returns before its write
	// reaches SQL Server, and a row SQL Server rejects later is reported
	// only to ErrorHandler.
	async    bool
	batching bool
	durable  bool
	typeless bool // flushes with UPDATE and INSERT (no usable table type)
	stopped  atomic.Bool
	stopAt   int  // phase (1 or 2) half-way through which its worker stops it; 0: never
	redeploy bool // its worker replaces it by a new instance now and then
}

// instSpec is how to open an instance.
type instSpec struct {
	name     string
	db       *testdb.DB
	cfg      Config
	typeless bool
	stopAt   int
	redeploy bool
}

// confirms reports whether a Commit through in that returns nil has put
// its write in SQL Server: with DurableCommits, without batching, or
// after StopCleanup.
func (in *modelInstance) confirms() bool {
	return in.durable || !in.batching || in.stopped.Load()
}

// errCount is the number of background errors in has reported so far.
func (in *modelInstance) errCount() int {
	in.h.errs.mu.Lock()
	defer in.h.errs.mu.Unlock()
	return len(in.h.errs.errs)
}

// rowErrorSince reports whether in reported a *RowError for token among
// its background errors from index from on.
func (in *modelInstance) rowErrorSince(token string, from int) bool {
	errs := in.h.errs.all()
	for _, err := range errs[min(from, len(errs)):] {
		var rowErr *RowError
		if errors.As(err, &rowErr) && rowErr.Token == token {
			return true
		}
	}
	return false
}

// modelRun holds the instances of TestModel and the scenarios that
// involve several of them.
type modelRun struct {
	t     *testing.T
	db    *testdb.DB
	srv   *mssqltest.Server
	clock *fakeClock
	m     *model
	wd    *watchdog

	instances []*modelInstance // the homes, one per worker, as the run starts
	byName    map[string]*modelInstance
	mu        sync.Mutex
	all       []*modelInstance // every instance opened, for the final flush
}

// The instances of TestModel. Every one flushes at most 8 rows a
// statement, caches for 20 s of the model's clock, runs cleanup every
// minute, and gives a flush statement 1 s of real time (realBudget on a
// real engine); StopTimeout is 30 s of the model's clock (an hour on a
// real engine).
const (
	instBatching     = "batching"
	instDurable      = "durable"
	instWriteThrough = "write-through"
	instNoCache      = "no-cache"
	instTimezone     = "DSN-timezone"
	instNoExecute    = "no-EXECUTE-on-type"
	instOddType      = "odd-type-name"
	instTinyPending  = "tiny-MaxPending"
)

// oddTypeName is a valid table type name that the driver refuses as a
// TVP type name (it takes no space in an unquoted part): the store must
// either pass it in a form the driver accepts or refuse it at
// NewWithConfig, never fail every flush silently.
const oddTypeName = "[dbo].[sessions batch]"

// realBudget is d on the test server, and 30 s of real time on a real
// engine: there a statement takes milliseconds alone and seconds on a
// loaded machine, and the scenarios that must succeed (a healthy
// shutdown, the final flush) must not fail for want of time.
func (r *modelRun) realBudget(d time.Duration) time.Duration {
	if r.srv == nil {
		return 30 * time.Second
	}
	return d
}

func newModelRun(t *testing.T, db *testdb.DB, clock *fakeClock, m *model, wd *watchdog) *modelRun {
	r := &modelRun{t: t, db: db, srv: db.Server, clock: clock, m: m, wd: wd, byName: map[string]*modelInstance{}}
	base := Config{CacheMaxAge: 20 * time.Second, CleanupInterval: time.Minute, CleanupBatchSize: 50, MaxBatchRows: 8,
		FlushTimeout: time.Second, StopTimeout: 30 * time.Second, InvalidationBound: modelBound}
	if r.srv == nil {
		// The model's clock runs 50 to 75 times faster than real time, so
		// 30 s of it are under a second of real time: enough for the test
		// server, not for a real engine, where StopCleanup's last flush
		// after a cleanup pass may take longer (on Babelfish on two shared
		// cores a statement takes up to seconds). An hour of the model's
		// clock gives StopCleanup most of a minute of real time there, and
		// a flush statement gets realBudget.
		base.StopTimeout = time.Hour
		base.FlushTimeout = r.realBudget(time.Second)
	}
	with := func(f func(c *Config)) Config {
		c := base
		f(&c)
		return c
	}
	// Each instance has a pool of its own, as each application process
	// has: a statement stalled in one does not hold a connection another
	// needs.
	own := func() *testdb.DB { return r.reopen(db.DSN) }
	specs := []instSpec{
		{name: instBatching, db: own(), cfg: base},
		{name: instDurable, db: own(), cfg: with(func(c *Config) { c.DurableCommits = true })},
		{name: instWriteThrough, db: own(), cfg: with(func(c *Config) { c.FlushInterval = -1 })},
		{name: instNoCache, db: own(), cfg: with(func(c *Config) { c.CacheSize = -1 }), stopAt: 2},
		// West of UTC, with a cache that may serve minutes (sticky
		// sessions): an expiry read back in the DSN's zone is hours late.
		{name: instTimezone, db: r.reopen(timezoneDSN(db.DSN, "America/New_York")), cfg: with(func(c *Config) { c.CacheMaxAge = 2 * time.Minute })},
	}
	if r.srv != nil {
		// A login with the README's grants and no EXECUTE on the type: the
		// MERGE answers 229 and the store must fall back to UPDATE and
		// INSERT. Its worker redeploys it now and then, as a new instance
		// starts on the MERGE path again.
		r.srv.AddRestrictedLogin("app", "App-Passw0rd")
		specs = append(specs, instSpec{name: instNoExecute, db: r.reopen(r.srv.DSNFor("app", "App-Passw0rd")),
			cfg: with(func(c *Config) { c.DurableCommits = true }), typeless: true, redeploy: true})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := db.ExecContext(ctx, "CREATE TYPE "+oddTypeName+" AS TABLE (token CHAR(43) NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL)")
		cancel()
		if err != nil {
			t.Fatalf("CREATE TYPE %s: %v", oddTypeName, err)
		}
		specs = append(specs, instSpec{name: instOddType, db: own(), cfg: with(func(c *Config) { c.TableType = oddTypeName })})
	}
	specs = append(specs, instSpec{name: instTinyPending, db: own(), cfg: with(func(c *Config) { c.MaxPending = 2 })})
	for _, spec := range specs {
		in, err := r.open(spec)
		if err != nil && spec.name == instOddType {
			// Refusing the name at NewWithConfig is one of the two fixes.
			t.Logf("NewWithConfig refuses TableType %s: %v; that instance uses the default type", oddTypeName, err)
			spec.cfg.TableType = ""
			in, err = r.open(spec)
		}
		if err != nil {
			t.Fatalf("instance %s: NewWithConfig: %v", spec.name, err)
		}
		r.instances = append(r.instances, in)
		r.byName[spec.name] = in
	}
	if r.srv != nil {
		// The first instance of this login starts while a deadlock storm
		// hits the typeless path.
		r.srv.InjectFault(mssqltest.Fault{Kind: "UPDATE", Error: 1205})
	}
	return r
}

// timezoneDSN adds timezone=zone to dsn: go-mssqldb then reads DATETIME2
// values as wall clock in that zone.
func timezoneDSN(dsn, zone string) string {
	switch {
	case !strings.Contains(dsn, "://"):
		return dsn + ";timezone=" + zone
	case strings.Contains(dsn, "?"):
		return dsn + "&timezone=" + zone
	}
	return dsn + "?timezone=" + zone
}

// reopen returns the test database reached through another *sql.DB.
func (r *modelRun) reopen(dsn string) *testdb.DB {
	d := *r.db
	d.DB = openDSN(r.t, dsn)
	d.DSN = dsn
	return &d
}

// open opens an instance. It is newHarnessOn, except that cfg's names
// are kept when set and an error of NewWithConfig is returned.
func (r *modelRun) open(spec instSpec) (*modelInstance, error) {
	t := r.t
	cfg := spec.cfg
	h := &harness{t: t, db: spec.db, clock: r.clock, errs: newErrRecorder()}
	if cfg.Table == "" {
		cfg.Table = spec.db.Table
	}
	if cfg.TableType == "" {
		cfg.TableType = spec.db.TableType
	}
	cfg.ErrorHandler = h.errs.handle
	s, err := newStore(spec.db.DB, cfg, r.clock)
	if err != nil {
		return nil, err
	}
	h.store = s
	t.Cleanup(func() {
		// Time passes while the instance shuts down (a cleanup pass may be
		// stalled): StopTimeout comes.
		stopClock := r.runClock(time.Second)
		defer stopClock()
		s.StopCleanup()
		for _, err := range h.errs.all() {
			if !strings.HasPrefix(err.Error(), "mssqlstore: ") {
				t.Errorf("a background error does not begin with \"mssqlstore: \": %v", err)
			}
		}
	})
	in := &modelInstance{name: spec.name, spec: spec, h: h, batching: cfg.FlushInterval >= 0, durable: cfg.DurableCommits,
		typeless: spec.typeless, stopAt: spec.stopAt, redeploy: spec.redeploy}
	in.async = in.batching && !in.durable
	r.mu.Lock()
	r.all = append(r.all, in)
	r.mu.Unlock()
	return in, nil
}

// direct reads token's data straight from SQL Server, retrying what the
// injected faults do to the read itself.
func (r *modelRun) direct(token string) (string, bool, error) {
	var last error
	for range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var data []byte
		err := r.db.QueryRowContext(ctx, "SELECT data FROM "+r.db.Table+" WHERE token = @p1 AND token = @p1 COLLATE Latin1_General_BIN2",
			mssql.VarChar(token)).Scan(&data)
		cancel()
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return "", false, nil
		case err == nil:
			return string(data), true, nil
		}
		last = err
	}
	return "", false, last
}

var (
	modelKinds      = [...]string{"SELECT", "DELETE", "MERGE", "UPDATE", "INSERT"}
	modelWriteKinds = [...]string{"MERGE", "UPDATE", "INSERT"}
	// modelTransient are the transient errors the test server raises
	// (40501 and 10928 are of class 20: they also close the connection).
	modelTransient = [...]int32{1205, 1222, 40613, 40501, 49918, 41302, 10928}
)

// injectFault adds one fault: a transient error, a connection dropped
// before or after the statement, a row SQL Server rejects (2628), or a
// schema change that lasts a few statements (515: a NOT NULL column was
// added), on a statement kind of any of the store's paths.
func (w *worker) injectFault() {
	kind := modelKinds[w.rng.IntN(len(modelKinds))]
	write := modelWriteKinds[w.rng.IntN(len(modelWriteKinds))]
	number := modelTransient[w.rng.IntN(len(modelTransient))]
	times := 1 + w.rng.IntN(3)
	r := w.rng.IntN(100)
	if w.srv == nil {
		return
	}
	var f mssqltest.Fault
	switch {
	case r < 55:
		f = mssqltest.Fault{Kind: kind, Error: number, Times: times}
	case r < 70:
		f = mssqltest.Fault{Kind: kind, DropBefore: true}
	case r < 85:
		f = mssqltest.Fault{Kind: kind, DropAfter: true}
	case r < 93:
		f = mssqltest.Fault{Kind: write, Error: 2628, Times: times}
	default:
		f = mssqltest.Fault{Kind: write, Error: 515, Times: 3 + times}
	}
	w.srv.InjectFault(f)
}

// slowStatements makes a statement kind (or every round trip) slow for
// the worker's next few operations.
func (w *worker) slowStatements() {
	kind := modelKinds[w.rng.IntN(len(modelKinds))]
	roundTrip := w.rng.IntN(6) == 0
	d := time.Duration(1+w.rng.IntN(3)) * time.Millisecond
	left := 5 + w.rng.IntN(10)
	if w.srv == nil {
		return
	}
	w.endLatency()
	if roundTrip {
		kind = "round trip"
		w.srv.SetLatency(d)
	} else {
		w.srv.SetStatementLatency(kind, d)
	}
	w.latencyKind, w.latencyLeft = kind, left
}

func (w *worker) endLatency() {
	switch {
	case w.srv == nil || w.latencyKind == "":
	case w.latencyKind == "round trip":
		w.srv.SetLatency(0)
	default:
		w.srv.SetStatementLatency(w.latencyKind, 0)
	}
	w.latencyKind, w.latencyLeft = "", 0
}

// redeploy replaces the home instance by a new one (a rolling deploy):
// the old one stops, the new one starts on the MERGE path, during a
// deadlock on the typeless path.
func (w *worker) redeploy() {
	old := w.home
	end := w.wd.begin(fmt.Sprintf("worker %d: StopCleanup of %s (redeploy)", w.id, old.name))
	stopClock := w.run.runClock(time.Second)
	old.h.store.StopCleanup()
	stopClock()
	end()
	old.stopped.Store(true)
	in, err := w.run.open(old.spec)
	if err != nil {
		w.t.Errorf("redeploy of %s: %v", old.name, err)
		return
	}
	in.name = fmt.Sprintf("%s#%d", old.spec.name, len(w.run.all))
	if w.srv != nil {
		w.srv.InjectFault(mssqltest.Fault{Kind: "UPDATE", Error: 1205})
	}
	w.home = in
}

// stopHome runs StopCleanup on the home instance in the middle of the
// run, faults and all; its later Commits write through.
func (w *worker) stopHome() {
	end := w.wd.begin(fmt.Sprintf("worker %d: StopCleanup of %s", w.id, w.home.name))
	stopClock := w.run.runClock(time.Second)
	w.home.h.store.StopCleanup()
	stopClock()
	end()
	w.home.stopped.Store(true)
}

// clearFaults removes every fault and every latency.
func (r *modelRun) clearFaults() {
	if r.srv == nil {
		return
	}
	r.srv.ClearFaults()
	r.srv.SetLatency(0)
	r.srv.SetStatementLatency("", 0)
	for _, k := range modelKinds {
		r.srv.SetStatementLatency(k, 0)
	}
}

// runClock advances the model's clock by step every 20 ms of real time
// until the returned function is called: time passes while a shutdown is
// under way.
func (r *modelRun) runClock(step time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				r.clock.Advance(step)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// settleSoon waits, at most a few seconds of real time, for cond: for
// background work the test can observe only through Stats. It returns
// whether cond held.
func settleSoon(cond func() bool) bool {
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// stopScenarios runs, between the two phases, with the workers paused:
// StopCleanup on a healthy server during a slow cleanup pass, with
// commits in flight (batching and durable instances); then StopCleanup
// during an outage of the flush path, with commits waiting for room
// (tiny-MaxPending instance).
func (r *modelRun) stopScenarios(workers []*worker) {
	r.clearFaults()
	var healthy []*worker
	for _, w := range workers {
		if w.home.name == instBatching || w.home.name == instDurable {
			healthy = append(healthy, w)
		}
	}
	r.healthyStop(healthy)
	for _, w := range workers {
		if w.home.name == instTinyPending && r.srv != nil {
			r.outageStop(w)
		}
	}
	r.clearFaults()
}

// healthyStop: a cleanup pass is slow (3 s of real time a DELETE on the
// test server), the model's clock runs (StopTimeout, 30 s, passes in well
// under a second of real time; an hour on a real engine, most of a
// minute),
// StopCleanup is called while commits arrive. The server is healthy, so
// StopCleanup must interrupt the cleanup and flush everything, every
// Commit must succeed, and SQL Server must then hold every acknowledged
// write.
func (r *modelRun) healthyStop(ws []*worker) {
	t, seed := r.t, r.m.seed
	// First let the flushes of the first phase end (one may be on a
	// stalled statement until FlushTimeout): the shutdown starts from a
	// healthy state.
	for _, w := range ws {
		ctx, cancel := context.WithTimeout(context.Background(), r.realBudget(5*time.Second))
		end := r.wd.begin("Flush through " + w.home.name + " before StopCleanup")
		_ = w.home.h.store.Flush(ctx) // only to wait: a failure leaves writes pending, which the model allows
		end()
		cancel()
	}
	if r.srv != nil {
		r.srv.SetStatementLatency("DELETE", 3*time.Second)
		defer r.srv.SetStatementLatency("DELETE", 0)
	}
	runs := make([]int64, len(ws))
	for i, w := range ws {
		runs[i] = w.home.h.store.Stats().CleanupRuns
	}
	r.clock.Advance(time.Minute) // a cleanup pass starts on every instance
	if !settleSoon(func() bool {
		for i, w := range ws {
			if w.home.h.store.Stats().CleanupRuns == runs[i] {
				return false
			}
		}
		return true
	}) {
		t.Logf("seed %d: a cleanup pass of an instance was still under way from before", seed)
	}
	stopClock := r.runClock(500 * time.Millisecond)
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for _, tok := range w.tokens[:3] {
				ctx, cancel := context.WithTimeout(context.Background(), r.realBudget(5*time.Second))
				before := w.home.errCount()
				s := w.newValue(tok)
				o, err := w.doCommit(ctx, w.home, tok, s)
				cancel()
				switch {
				case o.ok:
					w.settle(tok, s, before)
				case !o.none:
					w.widen(tok, s)
				}
				if err != nil {
					r.m.fail("a Commit failed during StopCleanup on a healthy server", "Commit through %s: %v", w.home.name, err)
				}
			}
		}()
		go func() {
			defer wg.Done()
			end := r.wd.begin("StopCleanup of " + w.home.name + " during a slow cleanup pass")
			w.home.h.store.StopCleanup()
			end()
		}()
	}
	wg.Wait()
	stopClock()
	rows := r.db.Rows(t)
	now := r.clock.Now()
	for _, w := range ws {
		w.home.stopped.Store(true)
		if n := w.home.h.store.Stats().Pending; n != 0 {
			r.m.fail("StopCleanup left writes pending on a healthy server", "StopCleanup of %s, during a slow cleanup pass, returned with %d writes pending", w.home.name, n)
		}
		for _, tok := range w.tokens {
			row, ok := rows[tok]
			w.judge(tok, "after StopCleanup of "+w.home.name+", SQL Server", string(row.Data), ok, now, now)
		}
	}
}

// outageStop: every MERGE fails (1205) until further notice, so the
// tiny-MaxPending instance fills up and commits wait for room; then
// StopCleanup runs, gives up after StopTimeout and returns, and the
// outage ends. A Commit waiting for room must then return (write
// through, or fail with an error of its own), not wait for its context.
func (r *modelRun) outageStop(w *worker) {
	t, seed, in := r.t, r.m.seed, w.home
	r.srv.InjectFault(mssqltest.Fault{Kind: "MERGE", Error: 1205, Times: -1})
	waits := in.h.store.Stats().CommitWaits
	toks := w.tokens[:4]
	values := make([]mstate, len(toks))
	for i, tok := range toks {
		values[i] = w.newValue(tok)
	}
	before := in.errCount()
	outcomes := make([]outcome, len(toks))
	errs := make([]error, len(toks))
	var wg sync.WaitGroup
	for i, tok := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			outcomes[i], errs[i] = w.doCommit(ctx, in, tok, values[i])
		}()
	}
	if !settleSoon(func() bool { return in.h.store.Stats().CommitWaits > waits }) {
		t.Logf("seed %d: no Commit through %s waited for room", seed, in.name)
	}
	stopClock := r.runClock(time.Second)
	end := r.wd.begin("StopCleanup of " + in.name + " during an outage")
	in.h.store.StopCleanup()
	end()
	stopClock()
	in.stopped.Store(true)
	r.srv.ClearFaults()
	wg.Wait()
	for i, tok := range toks {
		switch o := outcomes[i]; {
		case o.ok:
			w.settle(tok, values[i], before)
		case !o.none:
			w.widen(tok, values[i])
		}
		if errors.Is(errs[i], context.DeadlineExceeded) {
			r.m.fail("a Commit waiting for room hung after StopCleanup", "a Commit through %s waiting for room did not return within 5 s, StopCleanup having returned: %v", in.name, errs[i])
		}
	}
	r.srv.ClearFaults()
}

// checkBackgroundErrors fails the test for a row dropped on a 515: the
// store never sends NULL, so a 515 says the table changed, not the row.
func (r *modelRun) checkBackgroundErrors() {
	for _, in := range r.all {
		if in.h.store.Stats().InvalidationFallback {
			// No fault of the run is a refusal of the journal's SQL.
			r.m.fail("invalidation fell back", "%s turned cross-instance invalidation off: %v", in.name, in.h.errs.all())
		}
		n := 0
		var first error
		for _, err := range in.h.errs.all() {
			var rowErr *RowError
			if num, _ := sqlerr.Number(err); num == 515 && errors.As(err, &rowErr) {
				if n++; first == nil {
					first = err
				}
			}
		}
		if n > 0 {
			r.m.fail("a 515 dropped a row", "%s dropped %d rows in the background as *RowError on a 515 (a schema change, not a bad row); the first: %v", in.name, n, first)
		}
	}
}

// modelBound is the instances' InvalidationBound, on the model's clock,
// which runs about 50 times faster than real time: 5 s of it are about
// 100 ms of real time, the default.
const modelBound = 5 * time.Second

// modelHang is how long an operation may take, in real time, before the
// watchdog declares it hung.
const modelHang = 60 * time.Second

// watchdog knows the operations under way; if one has not returned after
// modelHang it prints every goroutine and ends the test binary.
type watchdog struct {
	mu   sync.Mutex
	next int
	ops  map[int]watchedOp
	slow map[string]int
	done chan struct{}
}

type watchedOp struct {
	name  string
	start time.Time
}

func startWatchdog(t *testing.T, seed uint64) *watchdog {
	wd := &watchdog{ops: map[int]watchedOp{}, done: make(chan struct{})}
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-wd.done:
				return
			case <-tick.C:
			}
			wd.mu.Lock()
			for _, op := range wd.ops {
				if time.Since(op.start) > modelHang {
					buf := make([]byte, 8<<20)
					buf = buf[:runtime.Stack(buf, true)]
					fmt.Fprintf(os.Stderr, "%s\n", buf)
					panic(fmt.Sprintf("TestModel seed %d: %s has not returned after %v (goroutines above)", seed, op.name, modelHang))
				}
			}
			wd.mu.Unlock()
		}
	}()
	return wd
}

// begin records an operation under way; the function it returns records
// its end.
func (wd *watchdog) begin(name string) (end func()) {
	wd.mu.Lock()
	id := wd.next
	wd.next++
	wd.ops[id] = watchedOp{name: name, start: time.Now()}
	wd.mu.Unlock()
	return func() {
		wd.mu.Lock()
		if op := wd.ops[id]; time.Since(op.start) > 500*time.Millisecond {
			if wd.slow == nil {
				wd.slow = map[string]int{}
			}
			name := op.name
			if i := strings.Index(name, ": "); i >= 0 {
				name = name[i+2:]
			}
			wd.slow[name]++
		}
		delete(wd.ops, id)
		wd.mu.Unlock()
	}
}

// slowOps returns, by operation, how many took more than half a second.
func (wd *watchdog) slowOps() map[string]int {
	wd.mu.Lock()
	defer wd.mu.Unlock()
	return maps.Clone(wd.slow)
}

func (wd *watchdog) stop() { close(wd.done) }
