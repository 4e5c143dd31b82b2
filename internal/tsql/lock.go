package tsql

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Locking.
//
// SQL Server's lock manager grants locks on resources (keys, pages,
// tables) in modes (S, U, X and the intent modes IS, IU, IX). A session
// takes no lock when BEGIN TRANSACTION runs; it takes them as its
// statements touch data: shared (S) locks to read a row under READ
// COMMITTED, released as soon as the row has been read; update (U) locks
// on the rows an UPDATE, DELETE or MERGE reads, converted to exclusive
// (X) for the rows it changes; X locks on the keys it inserts, updates or
// deletes, held until the transaction ends. HOLDLOCK, SERIALIZABLE and
// REPEATABLE READ keep shared locks until the end of the transaction;
// SERIALIZABLE also locks key ranges, so that a key that was read as
// missing cannot be inserted by another session; UPDLOCK takes U locks
// and keeps them. A request that conflicts waits: for ever by default,
// LOCK_TIMEOUT milliseconds when set (error 1222 when it expires). The
// lock monitor finds cycles of waits and rolls back one transaction, the
// cheapest to roll back, with error 1205. A statement that holds 5,000
// key locks on one table tries to escalate them to a table lock.
//
// This engine models that at two levels: a key lock per primary-key value
// (per row for a table without a primary key) and a table lock. Where it
// is coarser than SQL Server:
//   - a range lock is a lock on the key that was sought, present or not
//     (SQL Server locks the gap up to the next key, which also blocks
//     other new keys in that gap);
//   - a scan (a read that is neither a seek on the whole primary key nor
//     a range seek, see range.go) waits for every incompatible key lock
//     of another session on the table, even on rows its predicate would
//     reject, and a serialisable scan takes a table lock;
//   - a range seek waits for the incompatible key locks of other
//     sessions whose key values fall in its range (the rows it reads, and
//     the keys of rows deleted in the range, which SQL Server meets as
//     ghosts), all of them before it reads its first row (SQL Server
//     meets them one at a time, and a TOP that stops early never meets
//     the ones past its last row); under SERIALIZABLE or HOLDLOCK it
//     locks the whole table, as a serialisable scan does (SQL Server
//     takes RangeS-S locks on the keys it read and the one past the end,
//     which block inserts into that range only);
//   - intent modes are IS and IX only (IU is IX).
//
// Physical consistency is a separate matter: statements run one at a
// time under the database latch (Database.latch), which is held only for
// a statement's execution, never while a session waits for a lock or
// while its transaction stays open. A statement that meets a conflicting
// lock is undone, leaves the latch, waits for the lock, and runs again
// holding it; the locks it already took stay held while it waits, as they
// would in SQL Server.

// lockMode is a set of lock modes.
type lockMode uint8

const (
	modeIS lockMode = 1 << iota
	modeIX
	modeS
	modeU
	modeX
)

// conflictsWith gives, for each requested mode, the granted modes of
// other sessions it cannot coexist with (SQL Server's compatibility
// matrix, restricted to these modes).
func conflictsWith(m lockMode) lockMode {
	switch m {
	case modeIS:
		return modeX
	case modeIX:
		return modeS | modeU | modeX
	case modeS:
		return modeIX | modeX
	case modeU:
		return modeIX | modeU | modeX
	}
	return modeIS | modeIX | modeS | modeU | modeX
}

// lockDuration says how long a granted lock is kept.
type lockDuration int

const (
	// durInstant: the lock is only tested (a READ COMMITTED read):
	// the statement waits until it could be granted, and keeps nothing.
	durInstant lockDuration = iota
	// durStatement: released at the end of the statement.
	durStatement
	// durTransaction: released when the transaction ends (at the end of
	// the statement in autocommit mode).
	durTransaction
)

// resource is a lockable thing: a whole table (key == "" and r == nil),
// one primary-key value, or one row of a table without a primary key.
type resource struct {
	table int32
	key   string
	r     *row
}

func tableRes(t *table) resource { return resource{table: t.id} }

// keyRes is the key lock of primary-key values (vals indexed like the
// table's columns).
func keyRes(t *table, vals []any) resource {
	return resource{table: t.id, key: "k" + t.key(t.pk, vals)}
}

// rowRes is the key lock of a row.
func rowRes(t *table, r *row) resource {
	if t.pk != nil {
		return keyRes(t, r.vals)
	}
	return resource{table: t.id, key: "r", r: r}
}

// grant is what one session holds on one resource.
type grant struct{ stmt, txn lockMode }

func (g grant) modes() lockMode { return g.stmt | g.txn }

// holder is one session's grant on a resource; most resources have one.
type holder struct {
	s *Session
	g grant
}

type holders []holder

func (hs holders) find(s *Session) int {
	for i := range hs {
		if hs[i].s == s {
			return i
		}
	}
	return -1
}

// waitReq is a session waiting for a lock.
type waitReq struct {
	res      resource
	mode     lockMode
	cost     int // undo entries: the lock monitor's rollback cost
	priority int // DEADLOCK_PRIORITY: the lowest is the victim first
	victim   bool
}

// lockManager grants and releases locks. mu guards everything below; no
// method is called with the database latch required.
type lockManager struct {
	mu      sync.Mutex
	held    map[resource]holders
	byTable map[int32]map[resource]struct{} // key resources by table
	// keyVals are the column values (indexed like the table's columns)
	// of held key resources, as their holders named them: a range seek
	// tests them against its range. A key resource without values is
	// taken to lie in every range.
	keyVals map[resource][][]any
	owned   map[*Session]map[resource]struct{}
	waiting map[*Session]*waitReq
	waits   atomic.Int64  // lock requests that waited, for Stats.LockWaits
	changed chan struct{} // closed and replaced when locks are released

	// onWait, when set (by tests), is called when a session starts to
	// wait, with mu held.
	onWait func(s *Session)
}

func newLockManager() *lockManager {
	return &lockManager{
		held:    map[resource]holders{},
		byTable: map[int32]map[resource]struct{}{},
		keyVals: map[resource][][]any{},
		owned:   map[*Session]map[resource]struct{}{},
		waiting: map[*Session]*waitReq{},
		changed: make(chan struct{}),
	}
}

// blockersLocked returns the sessions whose locks keep s from taking
// res in mode.
func (lm *lockManager) blockersLocked(s *Session, res resource, mode lockMode) []*Session {
	var out []*Session
	c := conflictsWith(mode)
	add := func(hs holders) {
		for _, h := range hs {
			if h.s != s && h.g.modes()&c != 0 {
				out = append(out, h.s)
			}
		}
	}
	add(lm.held[res])
	if res.key == "" && res.r == nil && mode&(modeS|modeU|modeX) != 0 {
		// A table lock in S, U or X mode covers every key of the table:
		// it conflicts with other sessions' key locks as their intent
		// locks on the table would.
		for kr := range lm.byTable[res.table] {
			add(lm.held[kr])
		}
	}
	return out
}

// tryLocked grants res in mode to s if nothing conflicts; vals, when not
// nil, are the values of the key res locks (keyVals).
func (lm *lockManager) tryLocked(s *Session, res resource, mode lockMode, d lockDuration, vals []any) bool {
	if len(lm.blockersLocked(s, res, mode)) > 0 {
		return false
	}
	if d == durInstant {
		return true
	}
	hs, ok := lm.held[res]
	if !ok {
		if res.key != "" {
			bt := lm.byTable[res.table]
			if bt == nil {
				bt = map[resource]struct{}{}
				lm.byTable[res.table] = bt
			}
			bt[res] = struct{}{}
		}
	}
	i := hs.find(s)
	if i < 0 {
		hs = append(hs, holder{s: s})
		i = len(hs) - 1
	}
	if d == durTransaction {
		hs[i].g.txn |= mode
	} else {
		hs[i].g.stmt |= mode
	}
	lm.held[res] = hs
	if vals != nil && res.key != "" {
		lm.noteValsLocked(res, vals)
	}
	o := lm.owned[s]
	if o == nil {
		o = map[resource]struct{}{}
		lm.owned[s] = o
	}
	o[res] = struct{}{}
	return true
}

// noteValsLocked records the values of a key resource, once per slice.
func (lm *lockManager) noteValsLocked(res resource, vals []any) {
	for _, v := range lm.keyVals[res] {
		if len(v) == len(vals) && len(v) > 0 && &v[0] == &vals[0] {
			return
		}
	}
	lm.keyVals[res] = append(lm.keyVals[res], vals)
}

// rangeConflictLocked reports whether a key lock of another session on
// table id, whose values in may place in a range, conflicts with mode:
// what a range seek of the table would meet.
func (lm *lockManager) rangeConflictLocked(s *Session, id int32, mode lockMode, in func(vals []any) (bool, error)) (resource, bool, error) {
	for kr := range lm.byTable[id] {
		if len(lm.blockersLocked(s, kr, mode)) == 0 {
			continue
		}
		vs, known := lm.keyVals[kr]
		if !known {
			return kr, true, nil
		}
		for _, v := range vs {
			ok, err := in(v)
			if err != nil {
				return resource{}, false, err
			}
			if ok {
				return kr, true, nil
			}
		}
	}
	return resource{}, false, nil
}

// scanConflictLocked reports whether any key lock of another session on
// table id conflicts with mode: what a scan of the table would meet.
func (lm *lockManager) scanConflictLocked(s *Session, id int32, mode lockMode) (resource, bool) {
	for kr := range lm.byTable[id] {
		if len(lm.blockersLocked(s, kr, mode)) > 0 {
			return kr, true
		}
	}
	return resource{}, false
}

// release drops s's statement-duration locks, and its transaction locks
// too when all is true.
func (lm *lockManager) release(s *Session, all bool) {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	freed := false
	for res := range lm.owned[s] {
		hs := lm.held[res]
		i := hs.find(s)
		if i < 0 {
			continue
		}
		g := hs[i].g
		if all {
			g = grant{}
		} else if g.stmt == 0 {
			continue
		} else {
			g.stmt = 0
		}
		freed = true
		if g.modes() != 0 {
			hs[i].g = g
			continue
		}
		hs[i] = hs[len(hs)-1]
		hs = hs[:len(hs)-1]
		lm.held[res] = hs
		delete(lm.owned[s], res)
		if len(hs) == 0 {
			delete(lm.held, res)
			delete(lm.keyVals, res)
			if bt := lm.byTable[res.table]; bt != nil {
				delete(bt, res)
				if len(bt) == 0 {
					delete(lm.byTable, res.table)
				}
			}
		}
	}
	if len(lm.owned[s]) == 0 {
		delete(lm.owned, s)
	}
	if freed {
		lm.broadcastLocked()
	}
}

func (lm *lockManager) broadcastLocked() {
	close(lm.changed)
	lm.changed = make(chan struct{})
}

// cycleLocked looks for a cycle of waits through s and returns its
// members, s first.
func (lm *lockManager) cycleLocked(s *Session) []*Session {
	var path []*Session
	onPath := map[*Session]bool{}
	done := map[*Session]bool{}
	var visit func(u *Session) bool
	visit = func(u *Session) bool {
		w := lm.waiting[u]
		if w == nil || done[u] {
			return false
		}
		path = append(path, u)
		onPath[u] = true
		for _, v := range lm.blockersLocked(u, w.res, w.mode) {
			if v == s {
				return true
			}
			if !onPath[v] && visit(v) {
				return true
			}
		}
		onPath[u] = false
		path = path[:len(path)-1]
		done[u] = true
		return false
	}
	if visit(s) {
		return path
	}
	return nil
}

// lockConflict is raised inside a statement that needs a lock another
// session holds: the statement is undone and waits outside the latch.
type lockConflict struct {
	res    resource
	mode   lockMode
	dur    lockDuration
	nowait bool  // the table hint NOWAIT: do not wait
	vals   []any // the values of a key resource, for keyVals
}

func (lockConflict) Error() string { return "lock conflict" }

// wait blocks s until res can be granted in mode (and grants it, unless
// the duration is instant), until timeout (negative: none) expires
// (1222), until the lock monitor makes s a deadlock victim (1205), or
// until ctx ends.
func (lm *lockManager) wait(ctx context.Context, s *Session, c lockConflict, timeout time.Duration, cost int) error {
	var expired <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	req := &waitReq{res: c.res, mode: c.mode, cost: cost, priority: s.deadlockPriority}
	lm.mu.Lock()
	defer func() {
		delete(lm.waiting, s)
		lm.mu.Unlock()
	}()
	for {
		if req.victim {
			return deadlockVictim(s)
		}
		if lm.tryLocked(s, c.res, c.mode, c.dur, c.vals) {
			return nil
		}
		if timeout == 0 {
			return lockTimeout()
		}
		if lm.waiting[s] == nil {
			lm.waiting[s] = req
			lm.waits.Add(1)
			if lm.onWait != nil {
				lm.onWait(s)
			}
			if cyc := lm.cycleLocked(s); cyc != nil {
				// SQL Server's lock monitor chooses the session with the
				// lowest DEADLOCK_PRIORITY, then the one whose transaction
				// is the cheapest to roll back; on a tie, here, the one
				// that closed the cycle.
				victim := s
				for _, o := range cyc[1:] {
					w, v := lm.waiting[o], lm.waiting[victim]
					if w.priority < v.priority || w.priority == v.priority && w.cost < v.cost {
						victim = o
					}
				}
				if victim == s {
					return deadlockVictim(s)
				}
				lm.waiting[victim].victim = true
				lm.broadcastLocked()
			}
		}
		ch := lm.changed
		lm.mu.Unlock()
		var err error
		select {
		case <-ch:
		case <-expired:
			err = lockTimeout()
		case <-ctx.Done():
			err = cancelled{ctx.Err()}
		}
		lm.mu.Lock()
		if err != nil {
			return err
		}
	}
}

func deadlockVictim(s *Session) *Error {
	return errf(1205, 13, 51, "Transaction (Process ID %d) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction.", s.spid)
}

func lockTimeout() *Error {
	return errf(1222, 16, 56, "Lock request time out period exceeded.")
}

// ---- what statements lock ----

// lockSpec is how a statement reads one base table: from its table
// hints, the session's isolation level and its role (the target of an
// UPDATE, DELETE or MERGE reads with U locks).
type lockSpec struct {
	none     bool     // NOLOCK, READUNCOMMITTED, a table variable
	mode     lockMode // modeS, modeU or modeX for the rows read
	hold     bool     // keep row locks until the transaction ends
	ranges   bool     // SERIALIZABLE: lock sought keys even when absent, lock the table for a scan
	readpast bool     // skip locked rows
	nowait   bool     // NOWAIT: a conflict is a lock timeout at once (1222)
	table    lockMode // TABLOCK (S) or TABLOCKX (X)
}

// Isolation levels (SET TRANSACTION ISOLATION LEVEL).
const (
	isoReadCommitted = iota // the default
	isoReadUncommitted
	isoRepeatableRead
	isoSerializable
)

// specFor builds the lock spec of a base-table source.
func (x *execCtx) specFor(hints []string, target bool) lockSpec {
	sp := lockSpec{mode: modeS}
	switch x.s.isolation {
	case isoReadUncommitted:
		sp.none = true
	case isoRepeatableRead:
		sp.hold = true
	case isoSerializable:
		sp.hold, sp.ranges = true, true
	}
	if target {
		sp.none, sp.mode = false, modeU
	}
	for _, h := range hints {
		switch h {
		case "NOLOCK", "READUNCOMMITTED":
			if !target {
				sp.none = true
			}
		case "READCOMMITTED", "READCOMMITTEDLOCK":
			sp.none, sp.hold, sp.ranges = false, false, false
		case "REPEATABLEREAD":
			sp.hold = true
		case "HOLDLOCK", "SERIALIZABLE":
			sp.hold, sp.ranges = true, true
		case "UPDLOCK":
			// UPDLOCK keeps its U locks until the transaction ends.
			sp.mode, sp.hold = modeU, true
		case "XLOCK":
			sp.mode, sp.hold = modeX, true
		case "READPAST":
			sp.readpast = true
		case "NOWAIT":
			sp.nowait = true
		case "TABLOCK":
			sp.table = modeS
		case "TABLOCKX":
			sp.table = modeX
		}
	}
	if sp.mode != modeS {
		sp.none = false
	}
	return sp
}

// rowDur is how long row locks of a spec are kept.
func (sp lockSpec) rowDur() lockDuration {
	if sp.hold || sp.mode == modeX {
		return durTransaction
	}
	return durInstant
}

// intent is the table intent mode for a spec.
func (sp lockSpec) intent() lockMode {
	if sp.mode == modeS {
		return modeIS
	}
	return modeIX
}

// lock takes res in mode for d, or raises lockConflict.
func (x *execCtx) lock(res resource, mode lockMode, d lockDuration) error {
	return x.lockKey(res, nil, mode, d)
}

// lockKey is lock for a key resource whose values are vals (indexed like
// the table's columns), which range seeks test (keyVals).
func (x *execCtx) lockKey(res resource, vals []any, mode lockMode, d lockDuration) error {
	lm := x.db.locks
	lm.mu.Lock()
	ok := lm.tryLocked(x.s, res, mode, d, vals)
	lm.mu.Unlock()
	if !ok {
		return lockConflict{res: res, mode: mode, dur: d, vals: vals}
	}
	return nil
}

// escalationThreshold is SQL Server's lock escalation point: when one
// statement holds this many key locks on a table, it tries to replace
// them with a table lock, and tries again every escalationRetry further
// locks while another session's locks prevent it.
const (
	escalationThreshold = 5000
	escalationRetry     = 1250
)

// lockWrite takes what a change of row values needs: IX on the table
// and X on the key, both until the transaction ends, unless the
// transaction holds the table in X after an escalation. vals are the
// row's values before and after the change, which range seeks test.
func (x *execCtx) lockWrite(t *table, res resource, vals ...[]any) error {
	if t.isVar || x.s.escalated[t.id] {
		return nil
	}
	if err := x.lock(tableRes(t), modeIX, durTransaction); err != nil {
		return err
	}
	var first []any
	if len(vals) > 0 {
		first = vals[0]
	}
	if err := x.lockKey(res, first, modeX, durTransaction); err != nil {
		return err
	}
	if len(vals) > 1 {
		lm := x.db.locks
		lm.mu.Lock()
		for _, v := range vals[1:] {
			lm.noteValsLocked(res, v)
		}
		lm.mu.Unlock()
	}
	if x.keyLocks == nil {
		x.keyLocks = map[int32]int{}
	}
	x.keyLocks[t.id]++
	if n := x.keyLocks[t.id]; n >= escalationThreshold && (n-escalationThreshold)%escalationRetry == 0 {
		// Escalation never waits: when it conflicts, SQL Server goes on
		// with key locks. The key locks already taken stay held here
		// (SQL Server releases them); they are covered by the table lock.
		lm := x.db.locks
		lm.mu.Lock()
		ok := lm.tryLocked(x.s, tableRes(t), modeX, durTransaction, nil)
		lm.mu.Unlock()
		if ok {
			if x.s.escalated == nil {
				x.s.escalated = map[int32]bool{}
			}
			x.s.escalated[t.id] = true
		}
	}
	return nil
}

// lockSchema takes the table lock DDL and TRUNCATE need (Sch-M in SQL
// Server; X here), until the transaction ends.
func (x *execCtx) lockSchema(t *table) error {
	return x.lock(tableRes(t), modeX, durTransaction)
}

// lockSeek locks what a seek on the whole primary key reads: the key
// (absent or not, SERIALIZABLE's range lock); found is the row with that
// key, if any. Under READPAST a locked
// key is skipped: skip reports it.
func (x *execCtx) lockSeek(src *source, keyVals []any, found *row) (skip bool, err error) {
	sp := src.lk
	t := src.tbl
	if t == nil || t.isVar || sp.none {
		return false, nil
	}
	if err := x.lockTableFor(t, sp); err != nil {
		return false, sp.withNowait(err)
	}
	full := make([]any, len(t.cols))
	for i, c := range t.pk.cols {
		full[c] = keyVals[i]
	}
	if found != nil {
		// The row's other values, which a range seek of another index
		// tests (keyVals).
		full = found.vals
	}
	err = x.lockKey(keyRes(t, full), full, sp.mode, sp.rowDur())
	var lc lockConflict
	if sp.readpast && errors.As(err, &lc) {
		return true, nil
	}
	return false, sp.withNowait(err)
}

// withNowait marks a conflict met under the NOWAIT hint.
func (sp lockSpec) withNowait(err error) error {
	var lc lockConflict
	if sp.nowait && errors.As(err, &lc) {
		lc.nowait = true
		return lc
	}
	return err
}

func (x *execCtx) lockTableFor(t *table, sp lockSpec) error {
	d := durStatement
	if sp.hold || sp.mode != modeS {
		d = durTransaction
	}
	if sp.table != 0 {
		if sp.table == modeX {
			d = durTransaction
		}
		return x.lock(tableRes(t), sp.table, d)
	}
	return x.lock(tableRes(t), sp.intent(), d)
}

// lockScan locks what a scan reads. Under SERIALIZABLE (or HOLDLOCK) the
// whole table is locked in the row mode, which keeps other sessions from
// inserting into the scanned range; otherwise the scan waits for every
// incompatible key lock of other sessions (the rows it passes, and the
// keys of rows they deleted, which SQL Server's scan meets as ghosts).
func (x *execCtx) lockScan(src *source) error {
	return src.lk.withNowait(x.lockScanSpec(src))
}

func (x *execCtx) lockScanSpec(src *source) error {
	sp := src.lk
	t := src.tbl
	if t == nil || t.isVar || sp.none {
		return nil
	}
	if sp.ranges || sp.table != 0 {
		if sp.table != 0 {
			return x.lockTableFor(t, sp)
		}
		return x.lock(tableRes(t), sp.mode, durTransaction)
	}
	if err := x.lockTableFor(t, sp); err != nil {
		return err
	}
	if sp.readpast {
		return nil
	}
	lm := x.db.locks
	lm.mu.Lock()
	kr, bad := lm.scanConflictLocked(x.s, t.id, sp.mode)
	lm.mu.Unlock()
	if bad {
		return lockConflict{res: kr, mode: sp.mode, dur: durInstant}
	}
	if sp.rowDur() == durTransaction {
		// REPEATABLE READ, UPDLOCK, XLOCK: the rows read stay locked.
		for _, r := range t.rows {
			if err := x.lockKey(rowRes(t, r), r.vals, sp.mode, durTransaction); err != nil {
				return err
			}
		}
	}
	return nil
}

// lockRange locks what a range seek reads: rows, the rows in the range,
// in tells whether a key's values are in it. Under SERIALIZABLE (or
// HOLDLOCK) it locks as a serialisable scan does, the whole table: the
// key model has no lock on a gap between keys. Otherwise it waits for
// the incompatible key locks of other sessions in the range only.
func (x *execCtx) lockRange(src *source, rows []*row, in func(vals []any) (bool, error)) error {
	return src.lk.withNowait(x.lockRangeSpec(src, rows, in))
}

func (x *execCtx) lockRangeSpec(src *source, rows []*row, in func(vals []any) (bool, error)) error {
	sp := src.lk
	t := src.tbl
	if t == nil || t.isVar || sp.none {
		return nil
	}
	if sp.ranges || sp.table != 0 {
		return x.lockScanSpec(src)
	}
	if err := x.lockTableFor(t, sp); err != nil {
		return err
	}
	if sp.readpast {
		return nil
	}
	lm := x.db.locks
	lm.mu.Lock()
	kr, bad, err := lm.rangeConflictLocked(x.s, t.id, sp.mode, in)
	lm.mu.Unlock()
	if err != nil {
		return err
	}
	if bad {
		return lockConflict{res: kr, mode: sp.mode, dur: durInstant}
	}
	if sp.rowDur() == durTransaction {
		// REPEATABLE READ, UPDLOCK, XLOCK: the rows read stay locked.
		for _, r := range rows {
			if err := x.lockKey(rowRes(t, r), r.vals, sp.mode, durTransaction); err != nil {
				return err
			}
		}
	}
	return nil
}

// skipLocked reports whether READPAST skips row r.
func (x *execCtx) skipLocked(src *source, r *row) bool {
	if !src.lk.readpast || src.tbl == nil || src.tbl.isVar {
		return false
	}
	lm := x.db.locks
	lm.mu.Lock()
	defer lm.mu.Unlock()
	return len(lm.blockersLocked(x.s, rowRes(src.tbl, r), src.lk.mode)) > 0
}
