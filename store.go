package mssqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/golang-sql/civil"
	mssql "github.com/microsoft/go-mssqldb"
)

// MSSQLStore is an SCS session store on SQL Server with a read cache and
// write-behind batching. Create it with New, NewWithCleanupInterval or
// NewWithConfig; it is safe for concurrent use.
type MSSQLStore struct {
	db  *sql.DB
	cfg settings
	q   queries

	cache   *cache // nil when caching is off
	batcher *batcher

	// versions guards the cache against a slow Find filling it with a row
	// that a Commit or Delete has since replaced: every change of a token
	// bumps its shard, and a Find caches what it read only if the shard is
	// unchanged. Guarded by batcher.mu. A fixed array: memory stays flat.
	versions [256]uint64

	stats counters

	// lifecycle of the background goroutines.
	stop     chan struct{}
	bgCtx    context.Context
	bgCancel context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
	stopped  atomic.Bool
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
// cleanup goroutines; StopCleanup stops them. It fails only for an invalid
// Config.
func NewWithConfig(db *sql.DB, cfg Config) (*MSSQLStore, error) {
	if db == nil {
		return nil, errors.New("mssqlstore: nil *sql.DB")
	}
	st, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	s := &MSSQLStore{db: db, cfg: st, q: buildQueries(st.table, st.tableType), stop: make(chan struct{})}
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	if st.caching {
		s.cache = newCache(st.CacheSize, st.CacheMaxAge, &s.stats.cacheEvictions)
	}
	s.batcher = newBatcher(s)
	// The tickers exist before the goroutines start: a tick is never lost
	// to a goroutine that has not run yet.
	if st.batching {
		s.wg.Add(1)
		go s.batcher.run(st.clock.NewTicker(st.FlushInterval))
	}
	if st.CleanupInterval > 0 {
		s.wg.Add(1)
		go s.runCleanup(st.clock.NewTicker(st.CleanupInterval))
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
	if s.cache != nil {
		if e, ok := s.cache.get(token, now); ok {
			s.stats.cacheHits.Add(1)
			return cloneBytes(e.data), true, nil
		}
	}
	b := s.batcher
	b.mu.Lock()
	if e, ok := b.pending[token]; ok {
		b.mu.Unlock()
		if !now.Before(e.expiry) {
			return nil, false, nil
		}
		s.stats.cacheHits.Add(1) // served from memory
		return cloneBytes(e.data), true, nil
	}
	version := s.versions[shard(token)]
	b.mu.Unlock()

	s.stats.cacheMisses.Add(1)
	var data []byte
	var expiry time.Time
	err := s.db.QueryRowContext(ctx, s.q.find, mssql.VarChar(token), civilTime(now)).Scan(&data, &expiry)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("mssqlstore: find: %w", wrapCtx(ctx, err))
	}
	if data == nil {
		data = []byte{}
	}
	if s.cache != nil {
		b.mu.Lock()
		if s.versions[shard(token)] == version {
			s.cache.add(token, cacheEntry{data: data, expiry: expiry, cachedAt: now})
		}
		b.mu.Unlock()
	}
	return cloneBytes(data), true, nil
}

// Commit adds or replaces a session. It is CommitCtx with
// context.Background.
func (s *MSSQLStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// CommitCtx adds or replaces the session token. With batching on (the
// default) it returns once the write is pending in memory, and the batcher
// writes it within the flush interval; when the pending bound is reached
// it waits for room, and returns ctx's error if ctx ends first. With
// DurableCommits, or batching off, or after StopCleanup, it returns once
// the write is in SQL Server.
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
	if !s.cfg.batching || s.stopped.Load() {
		return s.batcher.writeThrough(ctx, token, data, expiry)
	}
	return s.batcher.add(ctx, token, data, expiry)
}

// Delete removes a session. It is DeleteCtx with context.Background.
func (s *MSSQLStore) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}

// DeleteCtx removes the session token, at once: when it returns nil the
// row is gone from SQL Server, the cache entry is gone, and any pending
// write of the token is dropped, so no later flush brings it back (a flush
// already in flight with the token is waited for first). An invalid token
// is a no-op.
func (s *MSSQLStore) DeleteCtx(ctx context.Context, token string) error {
	if !validToken(token) {
		return nil
	}
	if err := s.batcher.detach(ctx, token); err != nil {
		return fmt.Errorf("mssqlstore: delete: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, s.q.delete, mssql.VarChar(token)); err != nil {
		return fmt.Errorf("mssqlstore: delete: %w", wrapCtx(ctx, err))
	}
	// A Find that read the row before the DELETE may have cached it since
	// detach; drop that too.
	s.invalidate(token)
	return nil
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
	type snapshot struct {
		data   []byte
		expiry time.Time
	}
	b := s.batcher
	b.mu.Lock()
	pending := make(map[string]snapshot, len(b.pending))
	for token, e := range b.pending {
		pending[token] = snapshot{e.data, e.expiry}
	}
	b.mu.Unlock()

	rows, err := s.db.QueryContext(ctx, s.q.all, civilTime(now))
	if err != nil {
		return nil, fmt.Errorf("mssqlstore: all: %w", wrapCtx(ctx, err))
	}
	defer rows.Close()
	out := make(map[string][]byte)
	for rows.Next() {
		var token string
		var data []byte
		var expiry time.Time
		if err := rows.Scan(&token, &data, &expiry); err != nil {
			return nil, fmt.Errorf("mssqlstore: all: %w", err)
		}
		if data == nil {
			data = []byte{}
		}
		out[token] = data
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mssqlstore: all: %w", wrapCtx(ctx, err))
	}
	// Pending writes are newer than the table: they win, and an expired
	// pending write hides the row it will replace.
	for token, e := range pending {
		if now.Before(e.expiry) {
			out[token] = cloneBytes(e.data)
		} else {
			delete(out, token)
		}
	}
	return out, nil
}

// Flush writes every write pending now, and returns when they are in SQL
// Server or ctx ends. Transient errors are retried with backoff until
// then; a write that fails stays pending.
func (s *MSSQLStore) Flush(ctx context.Context) error {
	return s.batcher.flushAll(ctx, true)
}

// invalidate removes token from the cache and stops a Find in progress
// from caching an older read of it.
func (s *MSSQLStore) invalidate(token string) {
	b := s.batcher
	b.mu.Lock()
	s.versions[shard(token)]++
	if s.cache != nil {
		s.cache.remove(token)
	}
	b.mu.Unlock()
}

// report hands a background error to the error callback and counts it.
func (s *MSSQLStore) report(err error) {
	s.stats.backgroundErrors.Add(1)
	s.cfg.ErrorHandler(err)
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

// civilTime types a UTC time as DATETIME2 on the wire. A time.Time would
// go out as DATETIMEOFFSET, which outranks DATETIME2 and would make SQL
// Server convert the expiry column instead of seeking its index.
func civilTime(t time.Time) civil.DateTime {
	return civil.DateTimeOf(t.UTC())
}

func shard(token string) uint8 {
	var h uint32 = 2166136261 // FNV-1a
	for i := 0; i < len(token); i++ {
		h = (h ^ uint32(token[i])) * 16777619
	}
	return uint8(h)
}

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
