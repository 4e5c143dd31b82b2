package mssqlstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// memory owns the session data the store keeps in memory: the writes not
// yet in SQL Server (pending), the tokens a statement is writing or
// deleting right now (busy), the read cache, and the versions that stop a
// slow read from caching over a newer change. Its methods are the only
// way to change that state, and each keeps these rules, so that no path
// of the store can forget one:
//
//  1. A pending write leaves memory only when SQL Server has it, when SQL
//     Server rejected it on its own (a dropped row), or when a newer
//     write or a Delete of its token has reached SQL Server. A statement
//     that fails changes nothing but the cache.
//  2. At most one statement writes or deletes a token at a time. A flush
//     takes only tokens nobody holds; Delete and a write-through wait for
//     the token. So an older value can never land after a newer one, and
//     a flush never resurrects a token a Delete is removing. Deletes of a
//     token that wait join one group (deletes): its one DELETE, which
//     starts after each of them was called, answers them all, so at most
//     one DELETE of a token runs and one waits, however many callers.
//  3. Every change of a token bumps its version, including a change
//     another instance reports through the invalidation journal, and a
//     read from SQL Server is cached only if the version is unchanged and
//     no write of the token is pending: the cache never holds a value
//     older than the newest one this process knows of.
//  4. Every byte of session data held for writing is counted: pending
//     writes, and writes a flush still carries after a newer write
//     replaced them. A commit waits while the count would pass half of
//     MaxPendingBytes: the other half is for the copy of a batch that the
//     driver encodes, which is never larger than what is held. So the
//     bound is real.
type memory struct {
	mu sync.Mutex // guards every field below it

	pending   map[string]*pendingWrite
	busy      map[string]*flight
	deletes   map[string]*deleteGroup // the group waiting for the next DELETE of a token, not yet started
	bytes     int64                   // rule 4
	seq       uint64
	closed    bool          // Close ran: nothing flushes pending writes any more
	roomQueue []*int        // commits waiting for room, first in line first
	gaveUp    error         // Close's final flush gave up with this: no waiter is kept any more
	changed   chan struct{} // closed, and replaced, whenever a waiter may go on
	versions  [256]uint64   // rule 3; a fixed array keeps memory flat
	cache     *cache        // nil when caching is off; safe for concurrent use

	maxPending   int
	maxBytes     int64
	maxBatchRows int

	coalesced, commitWaits atomic.Int64

	// onWait, when a test sets it, runs when a caller starts to wait for
	// a token another statement holds.
	onWait func()
	// onJoin, when a test sets it, runs when a Delete caller has joined
	// the group of the next DELETE of its token.
	onJoin func()
	// afterStatement, when a test sets it, runs when a write-through's
	// statement has returned, before it settles.
	afterStatement func()
}

// pendingWrite is the newest accepted write of a token not yet in SQL
// Server.
type pendingWrite struct {
	data     []byte
	expiry   time.Time
	seq      uint64
	since    uint64       // seq of the oldest write it replaced that SQL Server lacks (its own if none)
	accepted time.Time    // when that write was accepted
	flying   bool         // a flush carries this very write now
	waiters  []chan error // DurableCommits callers waiting for this write
}

// flight is one statement that holds tokens: a flush, a write-through or
// a Delete. done is closed when it has settled. version, for a Delete or
// a write-through, is its token's version (rule 3) when it took the
// token.
type flight struct {
	done    chan struct{}
	version uint64
}

// deleteGroup is the Delete callers of one token answered by one DELETE
// statement. Callers join it while it is memory.deletes' group of the
// token, that is until its statement holds the token; from then on later
// callers form the next group. callers and cancel are guarded by
// memory.mu; err is written once before done is closed, and read after.
type deleteGroup struct {
	callers int                // joined callers still waiting for the answer
	cancel  context.CancelFunc // ends the statement's context: when the last caller leaves, or when it has ended
	done    chan struct{}
	err     error
}

// item is a pending write taken into a flush.
type item struct {
	token    string
	data     []byte
	expiry   time.Time
	seq      uint64
	since    uint64
	accepted time.Time
	waiters  []chan error
}

// waiterFate says what settle does with the durable waiters of a write
// whose flush failed.
type waiterFate int

const (
	// answerWaiters hands them the error: SQL Server refused or failed
	// the statement, and the commit is not confirmed.
	answerWaiters waiterFate = iota
	// keepWaiters leaves them waiting for the next flush of the write:
	// the flush's own context ended (Close interrupting the flusher, a
	// caller's Flush giving up), which says nothing about their write.
	keepWaiters
)

// errClosed tells a caller of put that the store is closed: the write must
// go straight to SQL Server.
var errClosed = errors.New("mssqlstore: store closed")

func newMemory(cfg settings) *memory {
	m := &memory{
		pending:      make(map[string]*pendingWrite),
		busy:         make(map[string]*flight),
		deletes:      make(map[string]*deleteGroup),
		changed:      make(chan struct{}),
		maxPending:   cfg.MaxPending,
		maxBytes:     cfg.MaxPendingBytes,
		maxBatchRows: cfg.MaxBatchRows,
	}
	if cfg.caching {
		m.cache = newCache(cfg.CacheSize, cfg.CacheMaxAge)
	}
	return m
}

// signalLocked wakes every waiter: room was freed, a token was released,
// or the store closed. Waiters check their condition again.
func (m *memory) signalLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// fits reports whether a write of n bytes may be accepted for a token
// whose bytes are held already (replacing a pending write that no flush
// carries frees them).
func (m *memory) fitsLocked(token string, n int64) bool {
	count, bytes := len(m.pending), m.bytes+n
	if old := m.pending[token]; old != nil {
		count--
		if !old.flying {
			bytes -= int64(len(old.data))
		}
	}
	return count < m.maxPending && bytes <= m.maxBytes/2
}

// oversized reports whether a write of n bytes can never fit: such a
// write goes straight to SQL Server instead of waiting for room.
func (m *memory) oversized(n int) bool { return int64(n) > m.maxBytes/2 }

// waitRoomLocked queues a commit until it is first in line and fits, or
// the store closes, or ctx ends. First come, first served: a large write
// is not overtaken for ever by small ones that keep filling the room it
// waits for.
func (m *memory) waitRoomLocked(ctx context.Context, token string, n int64) error {
	m.commitWaits.Add(1)
	me := new(int)
	m.roomQueue = append(m.roomQueue, me)
	defer func() {
		m.roomQueue = slices.DeleteFunc(m.roomQueue, func(t *int) bool { return t == me })
		m.signalLocked() // the next in line may go
	}()
	for !m.closed && (m.roomQueue[0] != me || !m.fitsLocked(token, n)) {
		changed := m.changed
		m.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			m.mu.Lock()
			return ctx.Err()
		}
		m.mu.Lock()
	}
	return nil
}

// lookup returns what memory knows of token: a live cached or pending
// value (found), or that a pending write has expired (known, not found).
// When memory knows nothing, it returns the version to pass to fill.
func (m *memory) lookup(token string, now time.Time) (data []byte, found, known bool, version uint64) {
	if m.cache != nil {
		if e, ok := m.cache.get(token, now); ok {
			return cloneBytes(e.data), true, true, 0
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if w := m.pending[token]; w != nil {
		if !now.Before(w.expiry) {
			return nil, false, true, 0
		}
		return cloneBytes(w.data), true, true, 0
	}
	return nil, false, false, m.versions[shard(token)]
}

// fill caches a value read from SQL Server, unless the token changed
// since lookup returned version (rule 3).
func (m *memory) fill(token string, version uint64, data []byte, expiry, now time.Time) {
	if m.cache == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.versions[shard(token)] == version && m.pending[token] == nil {
		m.cache.add(token, cacheEntry{data: data, expiry: expiry, cachedAt: now})
	}
}

// put makes a write pending, waiting for room under the bounds until ctx
// ends. With durable, the returned channel receives the result of the
// flush that writes it (or of the Delete or write that replaces it). full
// says a batch is ready. After close it returns errClosed and changes
// nothing.
func (m *memory) put(ctx context.Context, token string, data []byte, expiry, now time.Time, durable bool) (done <-chan error, full bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed && (len(m.roomQueue) > 0 || !m.fitsLocked(token, int64(len(data)))) {
		if err := m.waitRoomLocked(ctx, token, int64(len(data))); err != nil {
			return nil, false, err
		}
	}
	if m.closed {
		return nil, false, errClosed
	}
	m.seq++
	w := &pendingWrite{data: data, expiry: expiry, seq: m.seq, since: m.seq, accepted: now}
	if old := m.pending[token]; old != nil {
		m.coalesced.Add(1)
		// The newer write supersedes the older one: whoever waits for the
		// older one is answered when the newer one lands.
		w.waiters = old.waiters
		if !old.flying {
			m.bytes -= int64(len(old.data))
			// SQL Server lacks the older write too, so it lacks this
			// token since then. (A write in flight settles that itself:
			// if its flush fails, settle hands its age back.)
			w.since, w.accepted = old.since, old.accepted
		}
	}
	if durable {
		c := make(chan error, 1)
		w.waiters = append(w.waiters, c)
		done = c
	}
	m.pending[token] = w
	m.bytes += int64(len(data))
	m.versions[shard(token)]++
	if m.cache != nil {
		m.cache.add(token, cacheEntry{data: data, expiry: expiry, cachedAt: now})
	}
	return done, len(m.pending) >= m.maxBatchRows, nil
}

// take moves up to MaxBatchRows pending writes that stand for a write
// accepted up to maxSeq (also when a newer write replaced it since), of
// tokens nobody holds, into a new flight, sorted by token so that
// concurrent flushes from several instances lock keys in one order. held
// reports such writes it left because their token is held.
func (m *memory) take(maxSeq uint64) (fl *flight, items []item, held bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for token, w := range m.pending {
		if w.since > maxSeq {
			continue
		}
		if m.busy[token] != nil {
			held = true
			continue
		}
		if len(items) == m.maxBatchRows {
			break
		}
		items = append(items, item{token: token, data: w.data, expiry: w.expiry, seq: w.seq,
			since: w.since, accepted: w.accepted, waiters: w.waiters})
		w.waiters = nil
		w.flying = true
	}
	if len(items) == 0 {
		return nil, nil, held
	}
	slices.SortFunc(items, func(x, y item) int { return strings.Compare(x.token, y.token) })
	fl = &flight{done: make(chan struct{})}
	for _, it := range items {
		m.busy[it.token] = fl
	}
	return fl, items, held
}

// settle ends a flush. For each item, results holds nil (written), a
// *RowError (SQL Server rejected the row on its own: dropped), or the
// error that stopped it (it stays pending, rule 1). Waiters get their
// answer, or keep waiting for the next flush as fate says.
func (m *memory) settle(fl *flight, items []item, results []error, fate waiterFate) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, it := range items {
		err := results[i]
		var rowErr *RowError
		dropped := errors.As(err, &rowErr)
		failed := err != nil && !dropped
		w := m.pending[it.token] // never nil when failed: the flight held the token
		current := w != nil && w.seq == it.seq
		if failed && w != nil {
			if !current {
				// The newer write stands for this one too now.
				w.since, w.accepted = min(w.since, it.since), minTime(w.accepted, it.accepted)
			}
			if fate == keepWaiters && m.gaveUp == nil {
				w.waiters = append(w.waiters, it.waiters...)
				it.waiters = nil
			} else if fate == keepWaiters {
				err = m.gaveUp // the flush Close abandoned ends here
			}
		}
		switch {
		case !current:
			// A newer write replaced it meanwhile; the flight's copy goes.
			m.bytes -= int64(len(it.data))
		case err == nil || dropped:
			delete(m.pending, it.token)
			m.bytes -= int64(len(it.data))
			if dropped {
				// Never serve data SQL Server refused.
				m.versions[shard(it.token)]++
				if m.cache != nil {
					m.cache.remove(it.token)
				}
			}
		default:
			w.flying = false
		}
		for _, c := range it.waiters {
			c <- err
		}
		if m.busy[it.token] == fl {
			delete(m.busy, it.token)
		}
	}
	close(fl.done)
	m.signalLocked()
}

// acquire holds token for one statement (a Delete or a write-through),
// waiting until no other statement holds it. start is the sequence number
// of the newest write accepted so far: the statement, once it succeeds,
// replaces every pending write of token up to it.
func (m *memory) acquire(ctx context.Context, token string) (fl *flight, start uint64, err error) {
	return m.acquireThen(ctx, token, nil)
}

// joinDelete adds a Delete caller to the group waiting for the next
// DELETE of token. When there is none, it starts one: first is true, and
// the caller must run the group's statement with ctx (run), which ends
// only when every caller has left (leaveDelete) or the statement is over.
// ctx keeps the values of parent, not its cancellation.
func (m *memory) joinDelete(parent context.Context, token string) (g *deleteGroup, ctx context.Context, first bool) {
	m.mu.Lock()
	if g = m.deletes[token]; g != nil {
		g.callers++
	} else {
		g = &deleteGroup{callers: 1, done: make(chan struct{})}
		ctx, g.cancel = context.WithCancel(context.WithoutCancel(parent))
		m.deletes[token] = g
		first = true
	}
	m.mu.Unlock()
	if m.onJoin != nil {
		m.onJoin()
	}
	return g, ctx, first
}

// acquireDelete holds token for g's DELETE, as acquire does; from then
// on nobody joins g. If ctx ends first (every caller left), g is
// forgotten.
func (m *memory) acquireDelete(ctx context.Context, token string, g *deleteGroup) (fl *flight, start uint64, err error) {
	fl, start, err = m.acquireThen(ctx, token, func() {
		if m.deletes[token] == g {
			delete(m.deletes, token)
		}
	})
	if err != nil {
		m.mu.Lock()
		if m.deletes[token] == g {
			delete(m.deletes, token)
		}
		m.mu.Unlock()
	}
	return fl, start, err
}

// leaveDelete takes a caller whose context ended out of g. When it was
// the last, g's statement is cancelled (nobody waits for it: it ends as a
// failed Delete does, changing nothing but the cache), and a g not yet
// started is forgotten, so that the next caller starts a group of its
// own.
func (m *memory) leaveDelete(token string, g *deleteGroup) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g.callers--
	if g.callers > 0 {
		return
	}
	if m.deletes[token] == g {
		delete(m.deletes, token)
	}
	g.cancel()
}

// end answers every caller still in g with err.
func (g *deleteGroup) end(err error) {
	g.err = err
	close(g.done)
	g.cancel()
}

// acquireThen is acquire; held, if not nil, runs under m.mu the moment
// the token is held.
func (m *memory) acquireThen(ctx context.Context, token string, held func()) (fl *flight, start uint64, err error) {
	m.mu.Lock()
	for m.busy[token] != nil {
		done := m.busy[token].done
		m.mu.Unlock()
		if m.onWait != nil {
			m.onWait()
		}
		select {
		case <-done:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
		m.mu.Lock()
	}
	defer m.mu.Unlock()
	fl = &flight{done: make(chan struct{}), version: m.versions[shard(token)]}
	m.busy[token] = fl
	if held != nil {
		held()
	}
	return fl, m.seq, nil
}

// settleHeld ends a Delete or a write-through that acquire started. When
// its statement succeeded, it replaced the pending writes of token up to
// start: they leave memory, and their durable waiters are answered (the
// write was accepted, then replaced or deleted). A write accepted while
// the statement ran is newer, and stays. written is the write-through's
// value, nil for a Delete: on success it is cached, unless a newer write
// is pending or the token's version moved since acquire (rule 3: another
// instance's change, applied from the journal while the statement ran,
// may be newer than it). When the statement failed, SQL Server may or
// may not have run it: the cache forgets the token, and pending writes
// stay.
func (m *memory) settleHeld(token string, fl *flight, start uint64, written *cacheEntry, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		if w := m.pending[token]; w != nil && w.seq <= start {
			m.dropPendingLocked(token, w, nil)
		}
	}
	unchanged := m.versions[shard(token)] == fl.version
	m.versions[shard(token)]++
	if m.cache != nil && m.pending[token] == nil {
		if err == nil && written != nil && unchanged {
			m.cache.add(token, *written)
		} else {
			m.cache.remove(token)
		}
	}
	m.releaseLocked(token, fl)
}

// dropPendingLocked removes a pending write that no flush carries (its
// token is held by the caller) and answers its waiters with err.
func (m *memory) dropPendingLocked(token string, w *pendingWrite, err error) {
	delete(m.pending, token)
	m.bytes -= int64(len(w.data))
	for _, c := range w.waiters {
		c <- err
	}
}

func (m *memory) releaseLocked(token string, fl *flight) {
	if m.busy[token] == fl {
		delete(m.busy, token)
	}
	close(fl.done)
	m.signalLocked()
}

// waitChange returns a channel closed at the next change that may let a
// waiter go on.
func (m *memory) waitChange() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

// lastSeq is the sequence number of the newest write accepted so far.
func (m *memory) lastSeq() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seq
}

// close makes every later put return errClosed, and wakes the commits
// waiting for room so that they write through instead.
func (m *memory) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.signalLocked()
}

// failWaiters answers every durable commit still waiting with err: after
// the last flush, nothing else will. A flush Close abandoned that settles
// later answers its waiters with err too. The writes stay pending.
func (m *memory) failWaiters(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gaveUp = err
	for _, w := range m.pending {
		for _, c := range w.waiters {
			c <- err
		}
		w.waiters = nil
	}
}

// snapshot copies the pending writes, for All.
func (m *memory) snapshot() map[string]pendingWrite {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]pendingWrite, len(m.pending))
	for token, w := range m.pending {
		out[token] = pendingWrite{data: w.data, expiry: w.expiry}
	}
	return out
}

// evictExpired drops expired and stale cache entries.
func (m *memory) evictExpired(now time.Time) {
	if m.cache != nil {
		m.cache.evictExpired(now)
	}
}

// invalidate applies changes another instance made to the tokens of
// hashes: their cached copies go, and a read of them that started before
// is not cached (rule 3).
func (m *memory) invalidate(hashes []uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, h := range hashes {
		m.versions[uint8(h)]++
		if m.cache != nil {
			m.cache.removeHash(h)
		}
	}
}

// invalidateAll forgets every cached copy, and keeps every read under way
// from being cached: changes may have been missed.
func (m *memory) invalidateAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.versions {
		m.versions[i]++
	}
	if m.cache != nil {
		m.cache.purge()
	}
}

// memoryStats are memory's readings for Stats.
type memoryStats struct {
	pending          int
	pendingBytes     int64
	oldestPending    time.Time
	cacheLen         int
	cacheEvictions   int64
	coalesced, waits int64
}

func (m *memory) stats() memoryStats {
	st := memoryStats{coalesced: m.coalesced.Load(), waits: m.commitWaits.Load()}
	if m.cache != nil {
		st.cacheLen = m.cache.len()
		st.cacheEvictions = m.cache.evictions.Load()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st.pending = len(m.pending)
	st.pendingBytes = m.bytes
	for _, w := range m.pending {
		if st.oldestPending.IsZero() || w.accepted.Before(st.oldestPending) {
			st.oldestPending = w.accepted
		}
	}
	return st
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
