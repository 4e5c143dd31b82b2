package mssqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
)

// poller reads the invalidation journal (journal.go) that every instance
// writes, and drops from this instance's cache what other instances
// changed. It owns the number of the last journal row applied.
//
// A poll sent at time t that succeeds has applied every change committed
// before t: it read the counter after t, every journal row up to the
// counter is committed then, and it read them all (or found some deleted,
// and purged the whole cache). So the cache may serve an entry until t
// plus the bound; after that only the entries read from SQL Server (or
// written here) less than a bound ago, until a poll succeeds again
// (cache.confirm, cache.fresh). A poll that fails, or falls behind,
// therefore never lets the cache serve a value older than the bound.
type poller struct {
	db      *sql.DB
	query   string
	j       *journal
	mem     *memory
	cache   *cache // mem's cache, which polls confirm
	now     func() time.Time
	timeout time.Duration // FlushTimeout, for each poll statement
	report  func(error)

	mu    sync.Mutex // one poll at a time; guards the fields below
	last  uint64     // the last journal row applied
	based bool       // last is set: a first poll has read the counter
	// conn is the connection the polls keep for themselves (nil: none
	// yet, or the pool is too small to spare one; see queryer).
	conn *sql.Conn

	polls, pollErrors, received, purges atomic.Int64
	lagNanos                            atomic.Int64
	failing                             atomic.Bool // the last poll failed: its run of failures is reported already
}

var errPollBehind = errors.New("mssqlstore: invalidation poll: other instances write the journal faster than it is read; until it catches up, the cache serves only what was read or written within the bound")

// run polls once at once, then on every tick, until ctx ends or the
// journal falls back. A failed poll is tried again at the next tick.
func (p *poller) run(ctx context.Context, t ticker) {
	defer t.Stop()
	defer p.release()
	for {
		_ = p.poll(ctx) // reported by poll
		if !p.j.reading() {
			return // fell back: the cache serves by age alone
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// minPoolToKeep is the smallest pool (SetMaxOpenConns) the poll keeps a
// connection of for itself.
const minPoolToKeep = 4

// queryer returns what a poll is sent through: a connection the polls
// keep, so that a poll never queues behind the requests for one of the
// pool's (a poll that comes late stops the cache, whose misses then
// lengthen the queue: the bench measured polls late a third of the time
// with 64 clients on a pool of 2), or the pool itself when it allows
// fewer than minPoolToKeep connections. Called with mu held.
func (p *poller) queryer(ctx context.Context) (interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, error) {
	if n := p.db.Stats().MaxOpenConnections; n > 0 && n < minPoolToKeep {
		return p.db, nil
	}
	if p.conn == nil {
		c, err := p.db.Conn(ctx)
		if err != nil {
			return nil, err
		}
		p.conn = c
	}
	return p.conn, nil
}

// release hands the kept connection back to the pool: after a failed
// poll (it may be broken; the next poll takes another) and when the
// poller stops.
func (p *poller) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.releaseLocked()
}

func (p *poller) releaseLocked() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}

// poll reads the journal until it has applied every row up to the
// counter, or has read pollRounds times.
func (p *poller) poll(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.j.reading() {
		return nil
	}
	for range pollRounds {
		sent := p.now()
		counter, entries, full, err := p.read(ctx)
		if err != nil {
			p.pollErrors.Add(1)
			p.releaseLocked()
			if unsupported(err) {
				p.j.stopReading(err)
				return nil
			}
			if ctx.Err() != nil {
				return err // the store is closing
			}
			return p.fail(fmt.Errorf("mssqlstore: invalidation poll failed; until one succeeds, the cache serves only what was read or written within the bound: %w", err))
		}
		if p.apply(counter, entries, full) {
			p.cache.confirm(sent)
			p.failing.Store(false)
			return nil
		}
	}
	return p.fail(errPollBehind)
}

// fail returns err, and reports it when it begins a run of failed polls:
// a run is reported once (at 20 polls a second, every failure would
// drown the handler), and Stats count every failure.
func (p *poller) fail(err error) error {
	if !p.failing.Swap(true) {
		p.report(err)
	}
	return err
}

// read sends one poll: the counter, then the journal rows after the last
// one applied. full says it read as many rows as a poll reads: there may
// be more.
func (p *poller) read(ctx context.Context) (counter uint64, entries []journalEntry, full bool, err error) {
	p.polls.Add(1)
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	q, err := p.queryer(ctx)
	if err != nil {
		return 0, nil, false, redact(wrapCtx(ctx, err))
	}
	rows, err := q.QueryContext(ctx, p.query, mssql.VarChar(journalKey(p.last)), pollRows)
	if err != nil {
		return 0, nil, false, redact(wrapCtx(ctx, err))
	}
	defer rows.Close()
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return 0, nil, false, redact(err)
		}
		if len(data) == 8 {
			counter = beUint64(data)
		}
	}
	n := 0
	if rows.NextResultSet() {
		for rows.Next() {
			var token string
			var data []byte
			if err := rows.Scan(&token, &data); err != nil {
				return 0, nil, false, redact(err)
			}
			n++
			// A row of another form can only be a session that an odd
			// collation sorts among the journal's keys: not a change.
			if e, err := decodeJournal(token, data); err == nil {
				entries = append(entries, e)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, false, redact(wrapCtx(ctx, err))
	}
	return counter, entries, n == pollRows, nil
}

// apply applies the journal rows of one poll, which read counter, in
// order, and reports whether every row up to the counter is applied; full
// says the poll may have left rows unread. A row of this instance changes
// nothing here: its cache has its own writes already.
func (p *poller) apply(counter uint64, entries []journalEntry, full bool) (caughtUp bool) {
	if !p.based || counter < p.last {
		// The first poll, or the counter went back (the table was
		// emptied): what came before is unknown.
		p.purge(counter)
		p.based = true
		return true
	}
	for _, e := range entries {
		if e.seq != p.last+1 {
			break
		}
		p.last = e.seq
		switch {
		case e.writer == p.j.id:
		case len(e.hashes) == 0:
			// Another instance changed more sessions in one statement
			// than a journal row names.
			p.mem.invalidateAll()
			p.purges.Add(1)
			p.lagNanos.Store(int64(p.now().Sub(e.at)))
		default:
			p.mem.invalidate(e.hashes)
			p.received.Add(int64(len(e.hashes)))
			p.lagNanos.Store(int64(p.now().Sub(e.at)))
		}
	}
	switch {
	case p.last >= counter:
		return true
	case full && (len(entries) == 0 || p.last == entries[len(entries)-1].seq):
		return false // more to read
	}
	// A row at or below the counter is missing: it was deleted (its
	// retention passed while this instance did not poll) before this
	// poll read it.
	p.purge(counter)
	return true
}

// purge drops the whole cache and goes on from the counter.
func (p *poller) purge(counter uint64) {
	p.mem.invalidateAll()
	p.purges.Add(1)
	p.last = counter
}

func beUint64(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}
