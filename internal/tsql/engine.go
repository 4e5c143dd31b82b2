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
	// ImplicitColumnConversions counts comparisons where the column side
	// had to be converted to the other side's type (lower data type
	// precedence, another type family). In SQL Server such a
	// CONVERT_IMPLICIT on the column defeats an index seek.
	ImplicitColumnConversions int64
}

// Database is one in-memory database: its catalog, its rows and the lock
// that serialises the sessions' statements and transactions.
//
// Isolation is modelled simply: one database-wide lock, taken by each
// statement in autocommit mode for its duration and by an explicit
// transaction from BEGIN TRANSACTION until COMMIT or ROLLBACK. That is
// far stricter than SQL Server's row and key locks, and serialisable by
// construction; it never produces deadlocks (1205) by itself, so tests
// inject those through the hooks.
type Database struct {
	name  string
	hooks Hooks

	nowMu sync.Mutex
	now   func() time.Time

	// lock is the database lock: a channel so that waiting honours ctx.
	lock chan struct{}

	stats struct{ seeks, scans, conversions atomic.Int64 }
	spids atomic.Int32

	// Guarded by lock.
	tables   map[string]*table // "dbo.name", lower case
	types    map[string]*table // table types, "dbo.name", lower case
	nextObj  int32
	nextType int32
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
	holdsLock bool
	undo      []undoEntry
	rowcount  int64
	lastError int32
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
		lock:     make(chan struct{}, 1),
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
		ImplicitColumnConversions: db.stats.conversions.Load(),
	}
}

// ResetStats sets the counters to zero.
func (db *Database) ResetStats() {
	db.stats.seeks.Store(0)
	db.stats.scans.Store(0)
	db.stats.conversions.Store(0)
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
	return &Session{db: db, p: p, spid: int(db.spids.Add(1))}
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
	s.releaseLock()
	s.xactAbort = false
	s.nocount = false
	s.rowcount = 0
	s.lastError = 0
}

// Close ends the session: SQL Server rolls back an open transaction when
// its connection ends.
func (s *Session) Close() {
	s.rollbackAll()
	s.releaseLock()
}

func (s *Session) acquireLock(ctx context.Context) error {
	if s.holdsLock {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s.db.lock <- struct{}{}:
		s.holdsLock = true
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Session) releaseLock() {
	if s.holdsLock {
		s.holdsLock = false
		<-s.db.lock
	}
}

// rollbackAll undoes the whole open transaction.
func (s *Session) rollbackAll() {
	for i := len(s.undo) - 1; i >= 0; i-- {
		if !s.undo[i].tableVar {
			s.undo[i].fn()
		}
	}
	s.undo = nil
	s.tranCount = 0
}

// rollbackTo undoes the changes after mark: a statement's rollback.
func (s *Session) rollbackTo(mark int) {
	for i := len(s.undo) - 1; i >= mark; i-- {
		s.undo[i].fn()
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
}

// statementLevel lists the errors after which SQL Server (with
// XACT_ABORT OFF) undoes only the failing statement and goes on with the
// batch. Other errors end the batch.
var statementLevel = map[int32]bool{
	2627: true, 2601: true, 515: true, 2628: true, 8152: true, 8672: true, 547: true, 229: true,
	8134: true, 3902: true, 3903: true, 2714: true, 1913: true, 3701: true, 262: true, 10738: true,
	517: true, 8115: true, 219: true, 218: true, 1505: true, 1088: true, 512: true, 3723: true,
	1902: true, 109: true, 110: true, 120: true, 121: true, 2812: true, 535: true, 536: true,
}

// Exec runs one batch. Params are those of sp_executesql (nil for a
// plain SQL batch). It returns one Result per statement that ran; a
// batch-aborting error ends the slice with a Result whose Err is set.
// When ctx is cancelled mid-batch it stops, rolls back the open
// transaction when XACT_ABORT is ON, and returns ctx's error.
func (s *Session) Exec(ctx context.Context, sql string, params []Param) ([]Result, error) {
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
			s.endBatch()
			return []Result{{Err: e}}, nil
		}
		s.endBatch()
		return nil, b.cancel(err)
	}
	b.runList(stmts)
	s.endBatch()
	if b.err != nil {
		return b.results, b.err
	}
	return b.results, nil
}

// endBatch releases the lock unless a transaction stays open.
func (s *Session) endBatch() {
	if s.tranCount == 0 {
		s.undo = nil
		s.releaseLock()
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
			if err := b.s.acquireLock(b.ctx); err != nil {
				return cancelled{err}
			}
			t, err := b.bindTVP(p, len(b.vars)+1)
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
		b.s.rollbackIfNoTran()
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
	case *whileStmt:
		for {
			if err := b.ctx.Err(); err != nil {
				b.err = b.cancel(err)
				b.s.rollbackIfNoTran()
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

func (s *Session) rollbackIfNoTran() {
	if s.tranCount == 0 {
		s.undo = nil
		s.releaseLock()
	}
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
				return b.fail(kind, e, len(s.undo))
			}
			b.err = b.cancel(err)
			s.rollbackIfNoTran()
			return false
		}
	}
	if needsLock(st) {
		if err := s.acquireLock(b.ctx); err != nil {
			b.err = b.cancel(err)
			s.rollbackIfNoTran()
			return false
		}
	}
	x := &execCtx{ctx: b.ctx, b: b, db: s.db, s: s, now: s.db.clock()}
	mark := len(s.undo)
	res, err := run(x)
	if err != nil {
		var c cancelled
		if errors.As(err, &c) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			s.rollbackTo(mark)
			b.err = b.cancel(err)
			s.rollbackIfNoTran()
			return false
		}
		var e *Error
		if !errors.As(err, &e) {
			e = errf(50000, 16, 1, "%s", err.Error())
		}
		return b.fail(kind, e, mark)
	}
	if s.tranCount == 0 {
		s.undo = nil
		s.releaseLock()
	}
	res.Kind = kind
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
	case s.xactAbort, e.Number == 1205, e.Class >= 20:
		// XACT_ABORT ON: any runtime error rolls back the transaction and
		// ends the batch. A deadlock victim's transaction is always
		// rolled back, and fatal errors end everything.
		s.rollbackAll()
		s.rollbackIfNoTran()
		return false
	case statementLevel[e.Number] && e.Class < 20:
		s.rollbackIfNoTran()
		return true
	}
	s.rollbackIfNoTran()
	return false
}

// needsLock reports whether a statement reads or writes shared state.
// Statements that touch nothing (SET options, SELECT 1, COMMIT) run
// without the lock so that a ping never waits for another session's
// transaction.
func needsLock(st stmt) bool {
	switch n := st.(type) {
	case *setOptionStmt, *commitStmt, *rollbackStmt, *breakStmt, *continueStmt, *blockStmt:
		return false
	case *printStmt:
		return exprTouches(n.x)
	case *setVarStmt:
		return exprTouches(n.set.x)
	case *declareStmt:
		for _, v := range n.vars {
			if v.init != nil && exprTouches(v.init) {
				return true
			}
		}
		return false
	case *ifStmt:
		return exprTouches(n.cond)
	case *whileStmt:
		return exprTouches(n.cond)
	case *selectStmt:
		if len(n.from) > 0 || n.top != nil && exprTouches(n.top) || n.where != nil && exprTouches(n.where) {
			return true
		}
		for _, it := range n.items {
			if it.x != nil && exprTouches(it.x) {
				return true
			}
		}
		return false
	}
	return true
}

// exprTouches reports whether an expression reads tables or the catalog.
func exprTouches(x expr) bool {
	switch n := x.(type) {
	case nil, *litExpr, *colExpr, *varExpr, *globalExpr:
		return false
	case *binExpr:
		return exprTouches(n.l) || exprTouches(n.r)
	case *unaryExpr:
		return exprTouches(n.x)
	case *isNullExpr:
		return exprTouches(n.x)
	case *collateExpr:
		return exprTouches(n.x)
	case *castExpr:
		return exprTouches(n.x) || exprTouches(n.style)
	case *betweenExpr:
		return exprTouches(n.x) || exprTouches(n.lo) || exprTouches(n.hi)
	case *likeExpr:
		return exprTouches(n.x) || exprTouches(n.pat) || exprTouches(n.esc)
	case *inExpr:
		if n.sub != nil {
			return true
		}
		for _, e := range n.list {
			if exprTouches(e) {
				return true
			}
		}
		return exprTouches(n.x)
	case *funcExpr:
		switch n.name {
		case "OBJECT_ID", "TYPE_ID", "HAS_PERMS_BY_NAME", "OBJECT_NAME":
			return true
		}
		for _, a := range n.args {
			if exprTouches(a) {
				return true
			}
		}
		return false
	case *caseExpr:
		if exprTouches(n.operand) || exprTouches(n.els) {
			return true
		}
		for _, w := range n.whens {
			if exprTouches(w.cond) || exprTouches(w.then) {
				return true
			}
		}
		return false
	}
	return true
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

func (x *execCtx) compiler() *compiler { return &compiler{x: x, sc: &scope{}} }

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
