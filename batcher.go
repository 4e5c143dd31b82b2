package mssqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/sqlerr"

	"github.com/golang-sql/civil"
	mssql "github.com/microsoft/go-mssqldb"
)

// batcher holds the writes not yet in SQL Server and flushes them, many
// rows a statement.
//
// A pending write stays in pending until SQL Server has it, also while a
// flush carries it, so Find and All always see it. Each write has a
// sequence number; a flush removes a write only if it is still the one it
// sent, so a Commit that arrives while its token is in flight stays
// pending for the next flush. Flushes run one at a time (flushLock), so an
// older value can never overwrite a newer one.
type batcher struct {
	s *MSSQLStore

	mu           sync.Mutex
	pending      map[string]*pendingWrite
	pendingBytes int64
	seq          uint64
	room         chan struct{} // closed, and replaced, when writes leave pending
	inflight     map[string]uint64
	inflightDone chan struct{} // closed when the flush carrying inflight ends

	kick      chan struct{} // wakes the flusher before its tick
	flushLock chan struct{} // a lock that waits can abandon (ctx)

	// testHookTaken, when set by a test, runs after a flush has taken its
	// rows and before it writes them.
	testHookTaken func()

	path          atomic.Int32 // pathMerge or pathTypeless
	lastPermanent atomic.Int32 // error number last reported as permanent, for reporting once
}

const (
	pathMerge int32 = iota
	pathTypeless
)

type pendingWrite struct {
	data    []byte
	expiry  time.Time
	seq     uint64
	waiters []chan error // DurableCommits callers waiting for this write
}

// item is a pending write taken into a flush.
type item struct {
	token   string
	data    []byte
	expiry  time.Time
	seq     uint64
	waiters []chan error
}

// tvpRow is one row of the batch table type. The field order is the type's
// column order. mssql.VarChar and civil.DateTime type the columns as
// VARCHAR and DATETIME2; a string and a time.Time would go out as
// NVARCHAR and DATETIMEOFFSET.
type tvpRow struct {
	Token  mssql.VarChar
	Data   []byte
	Expiry civil.DateTime
}

func newBatcher(s *MSSQLStore) *batcher {
	return &batcher{
		s:         s,
		pending:   make(map[string]*pendingWrite),
		room:      make(chan struct{}),
		inflight:  make(map[string]uint64),
		kick:      make(chan struct{}, 1),
		flushLock: make(chan struct{}, 1),
	}
}

// add makes a write pending, waiting for room under the bounds.
func (b *batcher) add(ctx context.Context, token string, data []byte, expiry time.Time) error {
	s := b.s
	var done chan error
	if s.cfg.DurableCommits {
		done = make(chan error, 1)
	}
	waited := false
	b.mu.Lock()
	for {
		if s.stopped.Load() {
			// StopCleanup ran while this commit was on its way: nothing
			// flushes pending writes any more.
			b.mu.Unlock()
			return b.writeThrough(ctx, token, data, expiry)
		}
		old := b.pending[token]
		n, bytes := len(b.pending), b.pendingBytes+int64(len(data))
		if old != nil {
			n--
			bytes -= int64(len(old.data))
		}
		if n < s.cfg.MaxPending && (bytes <= s.cfg.MaxPendingBytes || n == 0) {
			break
		}
		room := b.room
		b.mu.Unlock()
		if !waited {
			waited = true
			s.stats.commitWaits.Add(1)
		}
		b.wake()
		select {
		case <-room:
		case <-ctx.Done():
			return fmt.Errorf("mssqlstore: commit waited for room among %d pending writes: %w", s.cfg.MaxPending, ctx.Err())
		}
		b.mu.Lock()
	}
	b.seq++
	w := &pendingWrite{data: data, expiry: expiry, seq: b.seq}
	if old := b.pending[token]; old != nil {
		s.stats.coalesced.Add(1)
		b.pendingBytes -= int64(len(old.data))
		// The newer write supersedes the older one: whoever waited for the
		// older one is answered when the newer one lands.
		w.waiters = old.waiters
	}
	if done != nil {
		w.waiters = append(w.waiters, done)
	}
	b.pending[token] = w
	b.pendingBytes += int64(len(data))
	s.versions[shard(token)]++
	if s.cache != nil {
		s.cache.add(token, cacheEntry{data: data, expiry: expiry, cachedAt: s.cfg.Now()})
	}
	full := len(b.pending) >= s.cfg.MaxBatchRows
	b.mu.Unlock()

	if full || done != nil {
		b.wake()
	}
	if done == nil {
		return nil
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("mssqlstore: durable commit: the write is pending but not yet confirmed: %w", ctx.Err())
	}
}

func (b *batcher) wake() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// detach drops the pending write of token, if any, and waits for a flush
// in flight that carries it, so that nothing written before this call can
// land after it. Delete uses it before its DELETE.
func (b *batcher) detach(ctx context.Context, token string) error {
	s := b.s
	b.mu.Lock()
	if w := b.pending[token]; w != nil {
		delete(b.pending, token)
		b.pendingBytes -= int64(len(w.data))
		for _, c := range w.waiters {
			c <- nil // superseded by the caller's delete or write
		}
		b.freeRoom()
	}
	s.versions[shard(token)]++
	if s.cache != nil {
		s.cache.remove(token)
	}
	var wait chan struct{}
	if _, ok := b.inflight[token]; ok {
		wait = b.inflightDone
	}
	b.mu.Unlock()
	if wait == nil {
		return nil
	}
	select {
	case <-wait:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for a flush in flight: %w", ctx.Err())
	}
}

// freeRoom wakes commits waiting for room. Called with mu held.
func (b *batcher) freeRoom() {
	close(b.room)
	b.room = make(chan struct{})
}

// writeThrough writes one row now: the path of Commit when batching is off
// or the store is stopped.
func (b *batcher) writeThrough(ctx context.Context, token string, data []byte, expiry time.Time) error {
	s := b.s
	if s.cfg.batching {
		// Stopped: an older write of token may still be pending.
		if err := b.detach(ctx, token); err != nil {
			return fmt.Errorf("mssqlstore: commit: %w", err)
		}
	}
	bo := newBackoff(s.cfg.FlushInterval)
	for attempt := 1; ; attempt++ {
		err := b.exec(ctx, []item{{token: token, data: data, expiry: expiry}})
		if err == nil {
			break
		}
		if classify(err) != classTransient || attempt == 3 {
			return fmt.Errorf("mssqlstore: commit: %w", wrapCtx(ctx, err))
		}
		select {
		case <-s.cfg.clock.After(bo.next()):
		case <-ctx.Done():
			return fmt.Errorf("mssqlstore: commit: %w (after %w)", ctx.Err(), err)
		}
	}
	b.mu.Lock()
	s.versions[shard(token)]++
	if s.cache != nil {
		s.cache.add(token, cacheEntry{data: data, expiry: expiry, cachedAt: s.cfg.Now()})
	}
	b.mu.Unlock()
	return nil
}

// run is the flusher goroutine: it flushes on every tick, or sooner when a
// batch fills or a durable commit waits, and backs off after failures.
func (b *batcher) run(t ticker) {
	s := b.s
	defer s.wg.Done()
	defer t.Stop()
	bo := newBackoff(s.cfg.FlushInterval)
	for {
		select {
		case <-s.stop:
			return
		case <-t.C():
		case <-b.kick:
		}
		err := b.flushAll(s.bgCtx, false)
		if err == nil {
			bo.reset()
			continue
		}
		if s.bgCtx.Err() != nil {
			return
		}
		b.reportFlushError(err)
		select {
		case <-s.stop:
			return
		case <-s.cfg.clock.After(bo.next()):
		}
	}
}

// reportFlushError hands a failed background flush to the error callback:
// a transient error every time, a permanent one once until it changes.
func (b *batcher) reportFlushError(err error) {
	s := b.s
	if classify(err) != classTransient {
		n, _ := sqlerr.Number(err)
		if n != 0 && b.lastPermanent.Swap(n) == n {
			return
		}
		if hint := fixHint(err, s.cfg.table.Quoted(), s.cfg.tableType.Quoted()); hint != "" {
			err = fmt.Errorf("%w; to fix: %s", err, hint)
		}
	}
	s.report(err)
}

// flushAll writes every write pending when it was called, a batch at a
// time. With retry, transient errors are retried with backoff until ctx
// ends; without it (the flusher goroutine, which reports each failure and
// backs off itself) the first error ends it, as any non-transient error
// does. Failed writes stay pending.
func (b *batcher) flushAll(ctx context.Context, retry bool) error {
	s := b.s
	select {
	case b.flushLock <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("mssqlstore: flush: %w", ctx.Err())
	}
	defer func() { <-b.flushLock }()

	b.mu.Lock()
	target := b.seq
	b.mu.Unlock()
	bo := newBackoff(s.cfg.FlushInterval)
	for {
		items := b.take(target)
		if len(items) == 0 {
			return nil
		}
		if b.testHookTaken != nil {
			b.testHookTaken()
		}
		start := time.Now()
		results, err := b.writeIsolating(ctx, items)
		b.complete(items, results, time.Since(start))
		if err == nil {
			bo.reset()
			continue
		}
		s.stats.flushErrors.Add(1)
		if !retry || classify(err) != classTransient || ctx.Err() != nil {
			return fmt.Errorf("mssqlstore: flush of %d rows: %w", len(items), wrapCtx(ctx, err))
		}
		s.stats.flushRetries.Add(1)
		select {
		case <-s.cfg.clock.After(bo.next()):
		case <-ctx.Done():
			return fmt.Errorf("mssqlstore: flush of %d rows: %w (after %w)", len(items), ctx.Err(), err)
		}
	}
}

// take moves up to MaxBatchRows pending writes with a sequence number up
// to maxSeq into a new flush, sorted by token so that concurrent flushes
// from several instances lock keys in one order.
func (b *batcher) take(maxSeq uint64) []item {
	b.mu.Lock()
	defer b.mu.Unlock()
	var items []item
	for token, w := range b.pending {
		if w.seq > maxSeq {
			continue
		}
		items = append(items, item{token: token, data: w.data, expiry: w.expiry, seq: w.seq, waiters: w.waiters})
		w.waiters = nil
		if len(items) == b.s.cfg.MaxBatchRows {
			break
		}
	}
	if len(items) == 0 {
		return nil
	}
	slices.SortFunc(items, func(x, y item) int { return strings.Compare(x.token, y.token) })
	clear(b.inflight)
	for _, it := range items {
		b.inflight[it.token] = it.seq
	}
	b.inflightDone = make(chan struct{})
	return items
}

// complete settles a flush: written and dropped rows leave pending unless a
// newer write replaced them; failed rows stay. Waiters get their answer.
func (b *batcher) complete(items []item, results []error, took time.Duration) {
	s := b.s
	written, freed := 0, false
	b.mu.Lock()
	for i, it := range items {
		err := results[i]
		var rowErr *RowError
		settled := err == nil || errors.As(err, &rowErr)
		if settled {
			if w := b.pending[it.token]; w != nil && w.seq == it.seq {
				delete(b.pending, it.token)
				b.pendingBytes -= int64(len(it.data))
				freed = true
			}
			if err == nil {
				written++
			}
		}
		for _, c := range it.waiters {
			c <- err
		}
	}
	clear(b.inflight)
	if b.inflightDone != nil {
		close(b.inflightDone)
		b.inflightDone = nil
	}
	if freed {
		b.freeRoom()
	}
	b.mu.Unlock()

	if written > 0 {
		s.stats.flushes.Add(1)
		s.stats.rowsFlushed.Add(int64(written))
		s.stats.lastFlushRows.Store(int64(written))
		s.stats.lastFlushNanos.Store(int64(took))
		b.lastPermanent.Store(0)
	}
	for _, err := range results {
		var rowErr *RowError
		if errors.As(err, &rowErr) {
			s.stats.rowsDropped.Add(1)
			s.report(rowErr)
		}
	}
}

// writeIsolating writes items and returns, for each, nil (written), a
// *RowError (SQL Server rejects that row on its own: dropped), or the
// error that stopped it (still pending). When SQL Server rejects the batch
// for a value in some row, it splits the batch in halves until it finds
// the rows, so that one bad row cannot block the others.
func (b *batcher) writeIsolating(ctx context.Context, items []item) ([]error, error) {
	results := make([]error, len(items))
	err := b.exec(ctx, items)
	// A duplicate key that survived exec's retries is no race with
	// another instance but two tokens of this batch that the table type's
	// collation holds equal: split the batch, like any row error.
	if cls := classify(err); err == nil || cls != classRow && cls != classDuplicateKey {
		for i := range results {
			results[i] = err
		}
		return results, err
	}
	if len(items) == 1 {
		results[0] = &RowError{Token: items[0].token, Err: err}
		return results, nil
	}
	mid := len(items) / 2
	left, errLeft := b.writeIsolating(ctx, items[:mid])
	copy(results, left)
	if errLeft != nil {
		for i := mid; i < len(items); i++ {
			results[i] = errLeft
		}
		return results, errLeft
	}
	right, errRight := b.writeIsolating(ctx, items[mid:])
	copy(results[mid:], right)
	return results, errRight
}

// exec writes items in one statement, on the path the server supports,
// switching paths when the server tells it to. A duplicate key from
// another instance inserting the same token at the same moment is retried
// at once: the row now exists and the retry updates it.
func (b *batcher) exec(ctx context.Context, items []item) error {
	for dup := 0; ; {
		path := b.path.Load()
		err := b.execPath(ctx, path, items)
		if err == nil {
			return nil
		}
		switch cls := classify(err); {
		case cls == classDuplicateKey && dup < 3:
			dup++
			continue
		case path == pathMerge && (cls == classNoType || cls == classNoMerge):
			b.switchToTypeless(err)
			continue
		case path == pathMerge && isPermissionDenied(err):
			// SQL Server requires EXECUTE on a table type to pass it as a
			// parameter. If the typeless path works, the table permissions
			// are fine and only the type's is missing.
			if err2 := b.execPath(ctx, pathTypeless, items); err2 == nil {
				b.switchToTypeless(err)
				return nil
			}
		}
		return err
	}
}

// execPath runs one attempt on path, bounded by FlushTimeout. A statement
// that outlives it is cancelled on the wire (XACT_ABORT rolls it back) and
// reported as errStatementTimeout, which is retried like any transient
// failure.
func (b *batcher) execPath(ctx context.Context, path int32, items []item) error {
	tctx, cancel := context.WithTimeout(ctx, b.s.cfg.FlushTimeout)
	defer cancel()
	var err error
	if path == pathMerge {
		err = b.execMerge(tctx, items)
	} else {
		err = b.execTypeless(tctx, items)
	}
	if err != nil && ctx.Err() == nil && tctx.Err() != nil {
		return fmt.Errorf("%w after %v: %w", errStatementTimeout, b.s.cfg.FlushTimeout, err)
	}
	return err
}

func isPermissionDenied(err error) bool {
	n, _ := sqlerr.Number(err)
	return n == 229
}

func (b *batcher) switchToTypeless(cause error) {
	if b.path.Swap(pathTypeless) == pathTypeless {
		return
	}
	s := b.s
	s.report(fmt.Errorf("mssqlstore: flushing with UPDATE then INSERT instead of a MERGE of table type %s, from now on (%w); create the type, or GRANT EXECUTE ON TYPE::%s, for one-statement flushes",
		s.cfg.tableType.Quoted(), cause, s.cfg.tableType.Quoted()))
}

func (b *batcher) execMerge(ctx context.Context, items []item) error {
	rows := make([]tvpRow, len(items))
	for i, it := range items {
		rows[i] = tvpRow{Token: mssql.VarChar(it.token), Data: it.data, Expiry: civilTime(it.expiry)}
	}
	_, err := b.s.db.ExecContext(ctx, b.s.q.merge, sql.Named("rows", mssql.TVP{TypeName: b.s.q.typeName, Value: rows}))
	return err
}

func (b *batcher) execTypeless(ctx context.Context, items []item) error {
	for len(items) > 0 {
		n := min(len(items), maxTypelessRows)
		chunk := items[:n]
		items = items[n:]
		args := make([]any, 0, 3*n)
		for _, it := range chunk {
			args = append(args, mssql.VarChar(it.token), it.data, civilTime(it.expiry))
		}
		if _, err := b.s.db.ExecContext(ctx, b.s.q.upsertTypeless(b.s.cfg.table, n), args...); err != nil {
			return err
		}
	}
	return nil
}

// backoff is capped exponential backoff with full jitter.
type backoff struct {
	base, cap time.Duration
	n         int
}

func newBackoff(interval time.Duration) *backoff {
	base := max(interval, 10*time.Millisecond)
	return &backoff{base: base, cap: max(5*time.Second, base)}
}

func (b *backoff) next() time.Duration {
	d := b.base << min(b.n, 20)
	if d > b.cap || d <= 0 {
		d = b.cap
	}
	b.n++
	return d/2 + rand.N(d/2+1)
}

func (b *backoff) reset() { b.n = 0 }
