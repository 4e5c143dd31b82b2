package tsql

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Stats are the engine's cumulative counters, read with Database.Stats.
type Stats struct {
	// Seeks counts primary-key lookups: a source whose whole primary key
	// was pinned by equalities was read through the key map.
	Seeks int64
	// Scans counts full passes over a permanent table.
	Scans int64
	// RangeSeeks counts range seeks: reads of the rows of one index
	// (the primary key, or another index) whose leading column lies
	// between bounds known before the read (=, <, <=, >, >=, BETWEEN on
	// that column), in key order. SQL Server reads such a range from the
	// B-tree and shows it as an Index Seek with a range predicate (a
	// Clustered Index Seek for the primary key); a range seek is not a
	// scan. This engine uses only the leading column of an index (see
	// range.go).
	RangeSeeks int64
	// ImplicitColumnConversions counts comparisons where the column side
	// had to be converted to the other side's type (lower data type
	// precedence, another type family). In SQL Server such a
	// CONVERT_IMPLICIT on the column defeats an index seek.
	ImplicitColumnConversions int64
	// LatchWaits counts statements that found the database latch taken
	// and waited for it, LatchWait the time they waited. The latch runs
	// statements one at a time (SQL Server's latches are per page, held
	// for microseconds): this is the test server's own contention, which
	// SQL Server does not have, and which a benchmark must tell apart
	// from the store's.
	LatchWaits int64
	LatchWait  time.Duration
	// LockWaits counts lock requests that waited for another session's
	// lock (SQL Server's sys.dm_os_wait_stats LCK_M_* waiting_tasks_count).
	LockWaits int64
}

// Database is one in-memory database: its catalog, its rows, the latch
// that keeps them physically consistent and the lock manager that
// isolates the sessions' transactions (see lock.go).
type Database struct {
	name  string
	hooks Hooks

	nowMu sync.Mutex
	now   func() time.Time

	// latch is held while a statement runs (or a transaction is rolled
	// back): one statement touches the tables at a time. It is never held
	// while a session waits for a lock.
	latch sync.Mutex
	locks *lockManager

	stats struct {
		seeks, scans, rangeSeeks, conversions, latchWaits, latchWaitNanos atomic.Int64
	}
	// onLatchWait, when a test sets it before sessions run, is called
	// when a statement finds the latch taken, before it waits.
	onLatchWait func()
	spids       atomic.Int32

	// Guarded by latch.
	tables   map[string]*table // "dbo.name", lower case
	types    map[string]*table // table types, "dbo.name", lower case
	nextObj  int32
	nextType int32

	users users // database users and their grants (perms.go)
}

// Session is one connection's state: SET options, @@TRANCOUNT and the
// open transaction's undo log. A Session is used by one goroutine at a
// time.
type Session struct {
	db   *Database
	p    Principal
	spid int

	xactAbort bool
	nocount   bool
	tranCount int
	inLatch   bool           // the session's goroutine holds db.latch
	opts      userOptions    // SET options kept as @@OPTIONS bits (not NOCOUNT, XACT_ABORT)
	escalated map[int32]bool // tables the transaction holds in X after a lock escalation
	// deadlockPriority is SET DEADLOCK_PRIORITY, -10 to 10.
	deadlockPriority int
	isolation        int // isoReadCommitted, ...
	// lockTimeout is SET LOCK_TIMEOUT in milliseconds; -1 (the default)
	// waits for ever.
	lockTimeout int64
	undo        []undoEntry
	rowcount    int64
	lastError   int32
	execAs      []Principal // EXECUTE AS contexts REVERT returns to (perms.go)
	// dates is SET LANGUAGE and SET DATEFORMAT: what conversions between
	// strings and dates read (language.go).
	dates dateStyle
	// temps are the session's local temporary tables by lower-case
	// #name (temp.go).
	temps map[string]*table
	// identity is @@IDENTITY; identityInsert the table SET
	// IDENTITY_INSERT is ON for (identity.go).
	identity       any
	identityInsert *table
}

// undoEntry restores one change. tableVar entries belong to table
// variables, which SQL Server leaves untouched by a transaction rollback
// (only statement rollback undoes them).
type undoEntry struct {
	fn       func()
	tableVar bool
}

// NewDatabase returns an empty database configured by opts.
func NewDatabase(opts Options) *Database {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	name := opts.Name
	if name == "" {
		name = "mssqltest"
	}
	db := &Database{
		name:     name,
		hooks:    opts.Hooks,
		now:      now,
		locks:    newLockManager(),
		tables:   map[string]*table{},
		types:    map[string]*table{},
		nextObj:  581577110,
		nextType: 257,
	}
	db.spids.Store(50)
	return db
}

// SetNow replaces the server clock; nil means time.Now.
func (db *Database) SetNow(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	db.nowMu.Lock()
	db.now = now
	db.nowMu.Unlock()
}

func (db *Database) clock() time.Time {
	db.nowMu.Lock()
	f := db.now
	db.nowMu.Unlock()
	return f()
}

// Stats returns a snapshot of the engine's counters.
func (db *Database) Stats() Stats {
	return Stats{
		Seeks:                     db.stats.seeks.Load(),
		Scans:                     db.stats.scans.Load(),
		RangeSeeks:                db.stats.rangeSeeks.Load(),
		ImplicitColumnConversions: db.stats.conversions.Load(),
		LatchWaits:                db.stats.latchWaits.Load(),
		LatchWait:                 time.Duration(db.stats.latchWaitNanos.Load()),
		LockWaits:                 db.locks.waits.Load(),
	}
}

// ResetStats sets the counters to zero.
func (db *Database) ResetStats() {
	db.stats.seeks.Store(0)
	db.stats.scans.Store(0)
	db.stats.rangeSeeks.Store(0)
	db.stats.conversions.Store(0)
	db.stats.latchWaits.Store(0)
	db.stats.latchWaitNanos.Store(0)
	db.locks.waits.Store(0)
}

// ExecAdmin runs a batch as the database owner, for setup. It returns
// the first error a statement raised.
func (db *Database) ExecAdmin(ctx context.Context, sql string) error {
	s := db.NewSession(Principal{Name: "dbo"})
	defer s.Close()
	res, err := s.Exec(ctx, sql, nil)
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

// NewSession opens a session running as p.
func (db *Database) NewSession(p Principal) *Session {
	return &Session{db: db, p: p, spid: int(db.spids.Add(1)), lockTimeout: -1, opts: defaultOptions, dates: defaultStyle}
}

// Principal returns the principal the session runs as.
func (s *Session) Principal() Principal { return s.p }

// SPID returns the session id (@@SPID).
func (s *Session) SPID() int { return s.spid }

// TransactionDepth returns @@TRANCOUNT.
func (s *Session) TransactionDepth() int { return s.tranCount }

// XactAbort reports whether SET XACT_ABORT is ON.
func (s *Session) XactAbort() bool { return s.xactAbort }

// Reset implements the reset-connection flag: it rolls back an open
// transaction and restores the SET options to their defaults.
func (s *Session) Reset() {
	s.rollbackAll()
	s.releaseLocks()
	s.xactAbort = false
	s.isolation = isoReadCommitted
	s.lockTimeout = -1
	s.opts = defaultOptions
	s.deadlockPriority = 0
	s.nocount = false
	s.rowcount = 0
	s.lastError = 0
	s.revertTo(0) // perms.go
	// sp_reset_connection restores the login's language (us_english for
	// every login here) and its DATEFORMAT.
	s.dates = defaultStyle
	// sp_reset_connection also drops the connection's temporary tables.
	s.dropTemps()
	s.identityInsert = nil // IDENTITY_INSERT is a SET option
}

// Close ends the session: SQL Server rolls back an open transaction when
// its connection ends.
func (s *Session) Close() {
	s.rollbackAll()
	s.releaseLocks()
	s.dropTemps() // SQL Server drops a session's #tables when it ends
}

// latched runs f holding the database latch, taking it unless the
// session's goroutine already holds it.
func (s *Session) latched(f func()) {
	if s.inLatch {
		f()
		return
	}
	s.lockLatch()
	defer s.unlockLatch()
	f()
}

func (s *Session) lockLatch() {
	if !s.db.latch.TryLock() {
		if s.db.onLatchWait != nil {
			s.db.onLatchWait()
		}
		start := time.Now()
		s.db.latch.Lock()
		s.db.stats.latchWaits.Add(1)
		s.db.stats.latchWaitNanos.Add(int64(time.Since(start)))
	}
	s.inLatch = true
}

func (s *Session) unlockLatch() {
	s.inLatch = false
	s.db.latch.Unlock()
}

// releaseLocks ends the transaction's hold on its locks; call it once
// its changes are committed or undone.
func (s *Session) releaseLocks() {
	s.db.locks.release(s, true)
	s.escalated = nil
}

// rollbackAll undoes the whole open transaction.
func (s *Session) rollbackAll() {
	if len(s.undo) > 0 {
		s.latched(func() {
			for i := len(s.undo) - 1; i >= 0; i-- {
				if !s.undo[i].tableVar {
					s.undo[i].fn()
				}
			}
		})
	}
	s.undo = nil
	s.tranCount = 0
}

// rollbackTo undoes the changes after mark: a statement's rollback.
func (s *Session) rollbackTo(mark int) {
	if len(s.undo) > mark {
		s.latched(func() {
			for i := len(s.undo) - 1; i >= mark; i-- {
				s.undo[i].fn()
			}
		})
	}
	s.undo = s.undo[:mark]
}

// cancelled wraps the context's error when a batch is cancelled.
type cancelled struct{ err error }

func (c cancelled) Error() string { return c.err.Error() }
func (c cancelled) Unwrap() error { return c.err }

// flow signals BREAK and CONTINUE.
type flow int

const (
	flowNone flow = iota
	flowBreak
	flowContinue
	flowStop // the batch was aborted
)

// variable is a declared variable or a parameter.
type variable struct {
	name  string
	typ   Type
	val   any
	table *table
}

// batch is the state of one Exec call.
type batch struct {
	s       *Session
	ctx     context.Context
	vars    map[string]*variable
	results []Result
	err     error // cancellation

	// scopeIdentity is SCOPE_IDENTITY(): the batch is its scope (identity.go).
	scopeIdentity any
}

// statementLevel lists the errors after which SQL Server (with
// XACT_ABORT OFF) undoes only the failing statement and goes on with the
// batch. Other errors end the batch.
var statementLevel = map[int32]bool{
	2627: true, 2601: true, 515: true, 2628: true, 8152: true, 8672: true, 547: true, 229: true,
	8134: true, 3902: true, 3903: true, 2714: true, 1913: true, 3701: true, 262: true, 10738: true,
	517: true, 8115: true, 219: true, 218: true, 1505: true, 1088: true, 512: true, 3723: true,
	1902: true, 109: true, 110: true, 120: true, 121: true, 2812: true, 535: true, 536: true,
	1222: true, // a lock timeout ends the statement, not the batch or the transaction
}

// Exec runs one batch. Params are those of sp_executesql (nil for a
// plain SQL batch). It returns one Result per statement that ran; a
// batch-aborting error ends the slice with a Result whose Err is set.
// When ctx is cancelled mid-batch it stops, rolls back the open
// transaction when XACT_ABORT is ON, and returns ctx's error.
func (s *Session) Exec(ctx context.Context, sql string, params []Param) ([]Result, error) {
	if params != nil { // sp_executesql's batch ends the EXECUTE AS it opened (perms.go)
		defer s.revertTo(len(s.execAs))
	}
	stmts, perr := parseBatch(sql)
	if perr != nil {
		// SQL Server compiles the whole batch first: nothing runs.
		s.lastError = perr.Number
		return []Result{{Err: perr}}, nil
	}
	b := &batch{s: s, ctx: ctx, vars: map[string]*variable{}}
	if err := b.bindParams(params); err != nil {
		var e *Error
		if errors.As(err, &e) {
			s.lastError = e.Number
			s.finishAutocommit()
			return []Result{{Err: e}}, nil
		}
		s.finishAutocommit()
		return nil, b.cancel(err)
	}
	b.runList(stmts)
	s.finishAutocommit()
	if b.err != nil {
		return b.results, b.err
	}
	return b.results, nil
}

// finishAutocommit ends the unit of work when no transaction is open:
// outside a transaction SQL Server commits each statement on its own
// (autocommit), so its undo log is dropped and its locks are released.
// Inside a transaction both stay until COMMIT or ROLLBACK.
func (s *Session) finishAutocommit() {
	if s.tranCount == 0 {
		s.undo = nil
		s.releaseLocks()
	}
}

// cancel handles a cancellation: with XACT_ABORT ON SQL Server rolls the
// open transaction back on an attention; with it OFF the transaction
// stays open.
func (b *batch) cancel(err error) error {
	if b.s.xactAbort {
		b.s.rollbackAll()
	}
	var c cancelled
	if errors.As(err, &c) {
		return c.err
	}
	return err
}

func (b *batch) bindParams(params []Param) error {
	for _, p := range params {
		name := p.Name
		if !strings.HasPrefix(name, "@") {
			name = "@" + name
		}
		v := &variable{name: name, typ: p.Type, val: p.Value}
		if p.Type.ID == TypeTable {
			var t *table
			var err error
			b.s.latched(func() { t, err = b.bindTVP(p, len(b.vars)+1) })
			if err != nil {
				return err
			}
			v.table = t
		}
		b.vars[strings.ToLower(name)] = v
	}
	return nil
}

// runList runs statements in order; it reports how control leaves.
func (b *batch) runList(stmts []stmt) flow {
	for _, st := range stmts {
		if f := b.run(st); f != flowNone {
			return f
		}
	}
	return flowNone
}

func (b *batch) run(st stmt) flow {
	if err := b.ctx.Err(); err != nil {
		b.err = b.cancel(err)
		b.s.finishAutocommit()
		return flowStop
	}
	switch n := st.(type) {
	case *blockStmt:
		return b.runList(n.body)
	case *breakStmt:
		return flowBreak
	case *continueStmt:
		return flowContinue
	case *ifStmt:
		var cond bool
		ok := b.simple(n, func(x *execCtx) (Result, error) {
			v, err := x.condition(n.cond)
			cond = v
			return Result{Kind: "IF"}, err
		})
		if !ok {
			return flowStop
		}
		if cond {
			return b.run(n.then)
		}
		if n.els != nil {
			return b.run(n.els)
		}
		return flowNone
	case *waitforStmt:
		// The delay is computed as a statement; the wait itself holds no
		// latch and ends early when the batch is cancelled (an attention).
		var d time.Duration
		if !b.simple(n, func(x *execCtx) (Result, error) {
			var err error
			d, err = x.waitDelay(n.delay)
			return Result{}, err
		}) {
			return flowStop
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return flowNone
		case <-b.ctx.Done():
			b.err = b.cancel(b.ctx.Err())
			b.s.finishAutocommit()
			return flowStop
		}
	case *whileStmt:
		for {
			if err := b.ctx.Err(); err != nil {
				b.err = b.cancel(err)
				b.s.finishAutocommit()
				return flowStop
			}
			var cond bool
			ok := b.simple(n, func(x *execCtx) (Result, error) {
				v, err := x.condition(n.cond)
				cond = v
				return Result{Kind: "WHILE"}, err
			})
			if !ok {
				return flowStop
			}
			if !cond {
				return flowNone
			}
			switch b.run(n.body) {
			case flowStop:
				return flowStop
			case flowBreak:
				return flowNone
			}
		}
	}
	if !b.simple(st, func(x *execCtx) (Result, error) { return x.exec(st) }) {
		return flowStop
	}
	return flowNone
}

// targetName names a statement's target table for the hooks.
func targetName(st stmt) string {
	var r tableRef
	switch n := st.(type) {
	case *insertStmt:
		r = n.target
	case *updateStmt:
		r = n.target
		// UPDATE alias ... FROM table AS alias
		for _, f := range n.from {
			if f.alias != "" && r.name.Schema == "" && strings.EqualFold(f.alias, r.name.Name) {
				r = f
			}
		}
	case *deleteStmt:
		r = n.target
		for _, f := range n.from {
			if f.alias != "" && r.name.Schema == "" && strings.EqualFold(f.alias, r.name.Name) {
				r = f
			}
		}
	case *mergeStmt:
		r = n.target
	case *truncateStmt:
		r = tableRef{name: n.name}
	case *selectStmt:
		if len(n.from) == 0 {
			return ""
		}
		r = n.from[0]
	default:
		return ""
	}
	if r.varName != "" {
		return r.varName
	}
	if r.name.Name == "" {
		return ""
	}
	schema := r.name.Schema
	if schema == "" {
		schema = "dbo"
	}
	return schema + "." + r.name.Name
}

// simple runs one statement with the hooks, the lock, statement
// atomicity and SQL Server's error rules. It reports whether the batch
// goes on.
func (b *batch) simple(st stmt, run func(x *execCtx) (Result, error)) bool {
	s := b.s
	kind := st.kind()
	info := StatementInfo{Kind: kind, Table: targetName(st)}
	if h := s.db.hooks; h != nil {
		if err := h.BeforeStatement(b.ctx, s, info); err != nil {
			var e *Error
			if errors.As(err, &e) {
				return b.fail(kind, e.atLine(st.position().line), len(s.undo))
			}
			b.err = b.cancel(err)
			s.finishAutocommit()
			return false
		}
	}
	mark := len(s.undo)
	saved := b.saveVars()
	// Statement-duration locks end with the statement, whatever path it
	// leaves by; the latch is released before AfterStatement.
	defer func() {
		s.db.locks.release(s, false)
		if s.inLatch {
			s.unlockLatch()
		}
	}()
	var x *execCtx
	var res Result
	var err error
	for {
		s.lockLatch()
		x = &execCtx{ctx: b.ctx, b: b, db: s.db, s: s, now: s.db.clock()}
		res, err = run(x)
		var lc lockConflict
		if !errors.As(err, &lc) {
			break
		}
		// The statement needs a lock another session holds: undo what it
		// did, wait for the lock outside the latch, and run it again.
		s.rollbackTo(mark)
		b.restoreVars(saved)
		s.db.locks.release(s, false)
		s.unlockLatch()
		timeout := time.Duration(-1)
		if s.lockTimeout >= 0 {
			timeout = time.Duration(s.lockTimeout) * time.Millisecond
		}
		if lc.nowait {
			timeout = 0
		}
		if werr := s.db.locks.wait(b.ctx, s, lc, timeout, len(s.undo)); werr != nil {
			s.lockLatch()
			err = werr
			break
		}
	}
	if err != nil {
		var c cancelled
		if errors.As(err, &c) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			s.rollbackTo(mark)
			b.err = b.cancel(err)
			s.finishAutocommit()
			return false
		}
		var e *Error
		if !errors.As(err, &e) {
			e = errf(50000, 16, 1, "%s", err.Error())
		}
		// SQL Server reports the line the failing statement starts on.
		return b.fail(kind, e.atLine(st.position().line), mark)
	}
	s.finishAutocommit()
	s.db.locks.release(s, false)
	s.unlockLatch()
	res.Kind = kind
	for i, m := range res.Messages {
		res.Messages[i] = m.atLine(st.position().line)
	}
	if res.HasCount && s.nocount {
		res.HasCount = false
	}
	switch kind {
	case "SELECT", "INSERT", "UPDATE", "DELETE", "MERGE":
		s.rowcount = res.RowCount
	case "SET":
		if _, ok := st.(*setVarStmt); ok {
			s.rowcount = 1 // a simple assignment sets @@ROWCOUNT to 1
		} else {
			s.rowcount = 0
		}
	case "BEGIN TRAN", "COMMIT", "ROLLBACK", "EXECUTE":
		s.rowcount = 0
	}
	s.lastError = 0
	b.results = append(b.results, res)
	if h := s.db.hooks; h != nil {
		info.RowsRead, info.RowsWritten = x.rowsRead, x.rowsWritten
		h.AfterStatement(b.ctx, s, info)
	}
	return true
}

// fail applies SQL Server's error rules to a statement's error.
func (b *batch) fail(kind string, e *Error, mark int) bool {
	s := b.s
	s.rollbackTo(mark)
	s.lastError = e.Number
	s.rowcount = 0
	b.results = append(b.results, Result{Kind: kind, Err: e})
	switch {
	case e.raised:
		// RAISERROR ends nothing but its statement: SQL Server ignores
		// XACT_ABORT for it (THROW would honour it).
		s.finishAutocommit()
		return true
	case s.xactAbort, e.Number == 1205, e.Class >= 20:
		// XACT_ABORT ON: any runtime error rolls back the transaction and
		// ends the batch. A deadlock victim's transaction is always
		// rolled back, and fatal errors end everything.
		s.rollbackAll()
		s.finishAutocommit()
		return false
	case statementLevel[e.Number] && e.Class < 20:
		s.finishAutocommit()
		return true
	}
	s.finishAutocommit()
	return false
}

// savedVars is the state of the batch's variables before a statement,
// restored when the statement is run again after a lock wait.
type savedVars struct {
	vals map[*variable]any
	keys map[string]bool
}

func (b *batch) saveVars() savedVars {
	sv := savedVars{vals: make(map[*variable]any, len(b.vars)), keys: make(map[string]bool, len(b.vars))}
	for k, v := range b.vars {
		sv.keys[k] = true
		if v.table == nil {
			sv.vals[v] = v.val
		}
	}
	return sv
}

func (b *batch) restoreVars(sv savedVars) {
	for k := range b.vars {
		if !sv.keys[k] {
			delete(b.vars, k)
		}
	}
	for v, val := range sv.vals {
		v.val = val
	}
}

// execCtx is the state of one statement's execution.
type execCtx struct {
	ctx         context.Context
	b           *batch
	db          *Database
	s           *Session
	now         time.Time
	rowsRead    int64
	rowsWritten int64
	ticks       int
	keyLocks    map[int32]int // key locks this statement took, by table (for escalation)

	// ctes are the statement's common table expressions; cteLimit how
	// many of them the binder sees (cte.go).
	ctes     []*cteDef
	cteLimit int
}

// tick is called per row; every few thousand rows it checks for
// cancellation.
func (x *execCtx) tick() error {
	x.ticks++
	if x.ticks&4095 == 0 {
		if err := x.ctx.Err(); err != nil {
			return cancelled{err}
		}
	}
	return nil
}

func (x *execCtx) addUndo(fn func(), tableVar bool) {
	x.s.undo = append(x.s.undo, undoEntry{fn: fn, tableVar: tableVar})
}

func (x *execCtx) compiler() *compiler { return &compiler{cat: x, sc: &scope{}} }

// condition evaluates an IF or WHILE condition.
func (x *execCtx) condition(cond expr) (bool, error) {
	c := x.compiler()
	e, err := c.predicate(cond)
	if err != nil {
		return false, err
	}
	v, err := e.eval(&env{})
	if err != nil {
		return false, err
	}
	return v == true, nil
}
