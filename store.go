package mssqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
)

// MSSQLStore is an SCS session store on SQL Server with a read cache and
// write-behind batching. Create it with New, NewWithCleanupInterval or
// NewWithConfig; it is safe for concurrent use. Close it (or call
// StopCleanup) before the program exits, or the writes still pending are
// lost.
type MSSQLStore struct {
	cfg     settings
	w       *writer  // every statement
	mem     *memory  // pending writes, cache, and which tokens are busy
	batcher *batcher // the flusher
	poller  *poller  // the invalidation poll; nil without a cache or without invalidation
	rep     *reporter
	stats   counters
	created time.Time // by Config.Now

	// Lifecycle of the background goroutines: bgCancel interrupts them
	// (a statement under way is cancelled and rolled back; its rows stay
	// pending), wg waits for them.
	bgCancel  context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeDone chan struct{} // closed when the first Close has finished
	closeErr  error         // its result; read after closeDone
}

// Compile-time checks that MSSQLStore is every kind of SCS store.
var (
	_ scs.Store            = (*MSSQLStore)(nil)
	_ scs.CtxStore         = (*MSSQLStore)(nil)
	_ scs.IterableStore    = (*MSSQLStore)(nil)
	_ scs.IterableCtxStore = (*MSSQLStore)(nil)
)

// New returns a store with the default Config: a 10,000-entry cache,
// write-behind batching every 10ms, and a cleanup every 5 minutes.
func New(db *sql.DB) *MSSQLStore {
	s, err := NewWithConfig(db, Config{})
	if err != nil { // the defaults are valid
		panic(err)
	}
	return s
}

// NewWithCleanupInterval is New with a cleanup every interval; an interval
// of 0 runs no cleanup goroutine.
func NewWithCleanupInterval(db *sql.DB, interval time.Duration) *MSSQLStore {
	if interval <= 0 {
		interval = -1
	}
	s, err := NewWithConfig(db, Config{CleanupInterval: interval})
	if err != nil {
		panic(err)
	}
	return s
}

// NewWithConfig returns a store tuned by cfg, and starts its batcher and
// cleanup goroutines; Close stops them. It fails only for an invalid
// Config.
func NewWithConfig(db *sql.DB, cfg Config) (*MSSQLStore, error) {
	return newStore(db, cfg, realClock{})
}

// newStore is NewWithConfig with the store's timers on clk.
func newStore(db *sql.DB, cfg Config, clk clock) (*MSSQLStore, error) {
	if db == nil {
		return nil, errors.New("mssqlstore: nil *sql.DB")
	}
	st, err := cfg.resolveWith(clk)
	if err != nil {
		return nil, err
	}
	s := &MSSQLStore{cfg: st, mem: newMemory(st), closeDone: make(chan struct{}), created: st.Now(),
		rep: &reporter{handler: st.ErrorHandler, logger: st.Logger, now: st.Now}}
	s.w = &writer{db: db, q: buildQueries(st.table, st.tableType), timeout: st.FlushTimeout,
		report: s.report, typ: st.tableType.Quoted()}
	if st.invalidating {
		if s.w.j, err = newJournal(st.Now, s.report); err != nil {
			return nil, err
		}
		if c := s.mem.cache; c != nil {
			c.gate(st.InvalidationBound) // until the first poll, only what was read or written within a bound
			s.w.j.off = c.ungate
			s.poller = &poller{db: db, query: s.w.q.poll, j: s.w.j, mem: s.mem, cache: c, now: st.Now,
				timeout: st.FlushTimeout, report: s.report}
		}
	}
	s.batcher = &batcher{mem: s.mem, w: s.w, clock: st.clock, stats: &s.stats, report: s.report,
		interval: st.FlushInterval, kick: make(chan struct{}, 1), flushLock: make(chan struct{}, 1),
		onFlush: s.rep.flushed,
		hints:   func(err error) string { return fixHint(err, st.table.Quoted(), st.tableType.Quoted()) }}
	var bgCtx context.Context
	bgCtx, s.bgCancel = context.WithCancel(context.Background())
	// The tickers exist before the goroutines start: a tick is never lost
	// to a goroutine that has not run yet.
	if st.batching {
		t := st.clock.NewTicker(st.FlushInterval)
		s.wg.Go(func() { s.batcher.run(bgCtx, t) })
	}
	if st.CleanupInterval > 0 {
		t := st.clock.NewTicker(st.CleanupInterval)
		s.wg.Go(func() { s.runCleanup(bgCtx, t) })
	}
	if s.poller != nil {
		// Twice a bound: a poll sent at t keeps the cache serving until
		// t plus the bound, so polls that take under half a bound keep it
		// serving throughout.
		t := st.clock.NewTicker(st.InvalidationBound / 2)
		s.wg.Go(func() { s.poller.run(bgCtx, t) })
	}
	return s, nil
}

// Find returns the data of a live session. It is FindCtx with
// context.Background.
func (s *MSSQLStore) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// FindCtx returns the data of the live session token. It looks in the
// cache, then in the writes still pending (so a process reads its own
// writes before they are flushed), then in SQL Server. An invalid token is
// reported as not found, and never sent to SQL Server.
func (s *MSSQLStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if !validToken(token) {
		return nil, false, nil
	}
	now := s.cfg.Now()
	data, found, known, version := s.mem.lookup(token, now)
	if known {
		s.stats.cacheHits.Add(1) // served from memory
		return data, found, nil
	}
	s.stats.cacheMisses.Add(1)
	data, expiry, found, err := s.w.find(ctx, token, now)
	if err != nil {
		s.stats.findErrors.Add(1)
		return nil, false, fmt.Errorf("mssqlstore: find: %w", wrapCtx(ctx, err))
	}
	if !found {
		return nil, false, nil
	}
	s.mem.fill(token, version, data, expiry, now)
	return cloneBytes(data), true, nil
}

// Commit adds or replaces a session. It is CommitCtx with
// context.Background.
func (s *MSSQLStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// CommitCtx adds or replaces the session token. With batching on (the
// default) it returns once the write is pending in memory, and the batcher
// writes it within the flush interval; when the pending bounds are
// reached it waits for room, and returns ctx's error if ctx ends first.
// With DurableCommits it returns once the flush carrying the write has
// ended, with that flush's error: an error means "not confirmed", and the
// write stays pending and is retried. With batching off, after Close, or
// for data larger than half of MaxPendingBytes, it writes the session to
// SQL Server before it returns; if that fails, SQL Server holds either
// this write or the one before it.
//
// Bad input is refused with ErrInvalidToken, ErrInvalidExpiry or
// ErrDataTooLarge, and nothing is written.
func (s *MSSQLStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if !validToken(token) {
		return ErrInvalidToken
	}
	expiry, err := normalizeExpiry(expiry)
	if err != nil {
		return err
	}
	if int64(len(b)) > maxVarbinary {
		return ErrDataTooLarge
	}
	s.stats.commits.Add(1)
	data := make([]byte, len(b)) // never nil: data is NOT NULL
	copy(data, b)
	if !s.cfg.batching || s.mem.oversized(len(data)) {
		return s.writeThrough(ctx, token, data, expiry)
	}
	done, full, err := s.mem.put(ctx, token, data, expiry, s.cfg.Now(), s.cfg.DurableCommits)
	switch {
	case errors.Is(err, errClosed):
		return s.writeThrough(ctx, token, data, expiry)
	case err != nil:
		return fmt.Errorf("mssqlstore: commit waited for room among %d pending writes: %w", s.cfg.MaxPending, err)
	}
	if full || done != nil {
		s.batcher.wake()
	}
	if done == nil {
		return nil
	}
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("mssqlstore: durable commit: not confirmed, still pending: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mssqlstore: durable commit: the write is pending but not yet confirmed: %w", ctx.Err())
	}
}

// writeThrough writes one session now, retrying transient errors a few
// times. It holds the token meanwhile, so no flush of an older write of
// it runs at the same time.
func (s *MSSQLStore) writeThrough(ctx context.Context, token string, data []byte, expiry time.Time) error {
	fl, start, err := s.mem.acquire(ctx, token)
	if err != nil {
		return fmt.Errorf("mssqlstore: commit: waiting for another statement on the same session: %w", err)
	}
	items := []item{{token: token, data: data, expiry: expiry}}
	policy := retryPolicy{attempts: writeThroughAttempts, base: s.cfg.FlushInterval}
	// The value is the newest from before its statement was sent: a
	// change that commits after it may return before its reply does.
	sent := s.cfg.Now()
	err = policy.do(ctx, s.cfg.clock, func(ctx context.Context) error { return s.w.write(ctx, items) }, nil)
	if s.mem.afterStatement != nil {
		s.mem.afterStatement()
	}
	s.mem.settleHeld(token, fl, start, &cacheEntry{data: data, expiry: expiry, cachedAt: sent}, err)
	if err != nil {
		return fmt.Errorf("mssqlstore: commit: %w", err)
	}
	return nil
}

// Delete removes a session. It is DeleteCtx with context.Background.
func (s *MSSQLStore) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}

// DeleteCtx removes the session token, at once: when it returns nil the
// row is gone from SQL Server and from the cache, and every write of the
// token accepted before the call is gone too, so no later flush brings it
// back (a flush in flight with the token is waited for first). When it
// returns an error, the session holds either its newest value or nothing,
// never an older value, and no write is lost: a pending write stays
// pending. An invalid token is a no-op.
//
// Concurrent Deletes of one token share statements: a Delete that finds
// another statement holding the token joins the callers of the next
// DELETE of it, which starts after each of them was called and answers
// them all with its result. So however many callers delete one session,
// at most one DELETE of it runs and one waits, and a Delete waits for at
// most those two. A caller whose ctx ends returns ctx's error at once;
// the statement goes on for the others (it is cancelled when no caller
// is left).
func (s *MSSQLStore) DeleteCtx(ctx context.Context, token string) error {
	if !validToken(token) {
		return nil
	}
	s.stats.deletes.Add(1)
	if err := ctx.Err(); err != nil {
		// Ended already: join no group, start no statement.
		s.stats.deleteErrors.Add(1)
		return fmt.Errorf("mssqlstore: delete: %w", err)
	}
	g, gctx, first := s.mem.joinDelete(ctx, token)
	if first {
		go s.runDelete(gctx, token, g)
	}
	var err error
	select {
	case <-g.done:
		err = g.err
	case <-ctx.Done():
		s.mem.leaveDelete(token, g)
		err = ctx.Err()
	}
	if err != nil {
		s.stats.deleteErrors.Add(1)
		return fmt.Errorf("mssqlstore: delete: %w", wrapCtx(ctx, err))
	}
	return nil
}

// runDelete runs the DELETE of g's callers: it holds the token, deletes
// the row, and settles memory (rule 1: when it fails, only the cache
// changes). ctx ends when every caller has left.
func (s *MSSQLStore) runDelete(ctx context.Context, token string, g *deleteGroup) {
	fl, start, err := s.mem.acquireDelete(ctx, token, g)
	if err != nil {
		g.end(fmt.Errorf("waiting for another statement on the same session: %w", err))
		return
	}
	if err := ctx.Err(); err != nil {
		// Every caller left as the token was released: send nothing.
		s.mem.settleHeld(token, fl, start, nil, err)
		g.end(err)
		return
	}
	s.stats.deleteStatements.Add(1)
	err = s.w.delete(ctx, token)
	s.mem.settleHeld(token, fl, start, nil, err)
	g.end(err)
}

// All returns every live session. It is AllCtx with context.Background.
func (s *MSSQLStore) All() (map[string][]byte, error) {
	return s.AllCtx(context.Background())
}

// AllCtx returns every live session, keyed by token: those in SQL Server
// merged with the writes still pending, which win. The map is empty, not
// nil, when there are none. It reads the whole table: it is meant for
// administration, not for a request path.
func (s *MSSQLStore) AllCtx(ctx context.Context) (map[string][]byte, error) {
	now := s.cfg.Now()
	// The pending writes are read before the table: a write that a flush
	// moves from memory to the table meanwhile is then in one or the other.
	pending := s.mem.snapshot()
	out, err := s.w.all(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("mssqlstore: all: %w", wrapCtx(ctx, err))
	}
	// Pending writes are newer than the table: they win, and an expired
	// pending write hides the row it will replace.
	for token, w := range pending {
		if now.Before(w.expiry) {
			out[token] = cloneBytes(w.data)
		} else {
			delete(out, token)
		}
	}
	return out, nil
}

// Flush writes every write pending when it is called, and returns when
// they are in SQL Server or ctx ends. Transient errors are retried with
// backoff until then; a write that fails stays pending.
func (s *MSSQLStore) Flush(ctx context.Context) error { return s.flushPending(ctx, nil) }

// flushPending is Flush; onErr, if not nil, sees every failed attempt.
func (s *MSSQLStore) flushPending(ctx context.Context, onErr func(error)) error {
	policy := retryPolicy{attempts: untilContextEnds, base: s.cfg.FlushInterval}
	flush := func(ctx context.Context) error {
		err := s.batcher.flushAll(ctx, waitHeld)
		if err != nil && onErr != nil {
			onErr(err)
		}
		return err
	}
	return policy.do(ctx, s.cfg.clock, flush, func(error) { s.stats.flushRetries.Add(1) })
}

// report hands a background error to the error callback or the logger,
// and counts it.
func (s *MSSQLStore) report(err error) {
	s.stats.backgroundErrors.Add(1)
	s.rep.report(err)
}

// Health returns nil while the store can write, and otherwise an error
// saying why: the flusher's last attempt failed with a permanent error
// (a missing table or permission shows within one flush interval), or the
// oldest pending write has waited longer than FlushTimeout. It sends
// nothing to SQL Server, so a readiness probe may call it as often as it
// likes.
func (s *MSSQLStore) Health() error {
	last, _, permanent := s.rep.state()
	if permanent && last != nil {
		return fmt.Errorf("mssqlstore: unhealthy: flushes fail: %w", last)
	}
	if st := s.Stats(); st.OldestPending > s.cfg.FlushTimeout {
		err := fmt.Errorf("mssqlstore: unhealthy: %d writes pending, the oldest for %v", st.Pending, st.OldestPending.Round(time.Millisecond))
		if last != nil {
			err = fmt.Errorf("%w; last error: %w", err, last)
		}
		return err
	}
	return nil
}

// maxVarbinary is the most bytes VARBINARY(MAX) holds.
const maxVarbinary = 1<<31 - 1

// validToken reports whether token has the form SCS generates: 32 random
// bytes in unpadded base64url, 43 characters.
func validToken(token string) bool {
	if len(token) != 43 {
		return false
	}
	for i := 0; i < len(token); i++ {
		c := token[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// normalizeExpiry returns expiry in UTC, truncated to the microsecond that
// DATETIME2(6) stores. Truncation, not rounding: the stored expiry is
// never later than the one committed, so no copy of the session outlives
// it.
func normalizeExpiry(expiry time.Time) (time.Time, error) {
	expiry = expiry.UTC().Truncate(time.Microsecond)
	if y := expiry.Year(); y < 1 || y > 9999 {
		return time.Time{}, ErrInvalidExpiry
	}
	return expiry, nil
}

// shard is the index of token's version (memory rule 3): the low byte of
// its hash, which the invalidation journal also carries.
func shard(token string) uint8 { return uint8(tokenHash(token)) }

func cloneBytes(b []byte) []byte {
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

// wrapCtx makes sure an error caused by ctx's end wraps ctx.Err(), so
// callers can test it with errors.Is whatever the driver returned.
func wrapCtx(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("%w (%w)", ctxErr, err)
	}
	return err
}
