package mssqlstore

import (
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// cache is the LRU read cache in front of SQL Server. An entry is served
// while the session is live and the entry is younger than the maximum age.
// With cross-instance invalidation, it is also served only while it is
// fresh: while the last successful invalidation poll, or the read that
// cached it, was sent less than the bound ago. Either has seen every
// change another instance committed before it was sent (the poll applied
// them, the read returned the newest), and every later change that a
// poll has applied since has removed the entry.
//
// Entries are keyed by the token's hash, the form in which the journal
// names the tokens other instances changed; each entry keeps its token,
// so two tokens of one hash never answer for each other (they only evict
// each other).
type cache struct {
	lru       *lru.Cache[uint64, cacheEntry]
	maxAge    time.Duration
	evictions atomic.Int64 // entries dropped to make room

	// polled, while gated, is the send time of the last successful poll
	// (nil: none yet). Times are compared with Sub, so that a step of the
	// wall clock cannot stretch the bound when Config.Now is time.Now.
	gated  atomic.Bool
	bound  time.Duration // set before gating
	polled atomic.Pointer[time.Time]
}

type cacheEntry struct {
	token  string
	data   []byte
	expiry time.Time
	// cachedAt is when the value was known to be the newest: when the
	// read that found it was sent, or when this process wrote it.
	cachedAt time.Time
}

func newCache(size int, maxAge time.Duration) *cache {
	c := &cache{maxAge: maxAge}
	// lru.New fails only for a size below 1, which resolve rules out.
	c.lru, _ = lru.New[uint64, cacheEntry](size)
	return c
}

// get returns the live, fresh entry for token. A stale or expired entry is
// removed and reported as a miss. An entry that is only not fresh (see
// cache) is a miss, and stays: the next successful poll makes it fresh
// again.
func (c *cache) get(token string, now time.Time) (cacheEntry, bool) {
	h := tokenHash(token)
	e, ok := c.lru.Get(h)
	if !ok || e.token != token {
		return cacheEntry{}, false
	}
	if !now.Before(e.expiry) || now.Sub(e.cachedAt) >= c.maxAge {
		c.lru.Remove(h)
		return cacheEntry{}, false
	}
	if !c.fresh(e, now) {
		return cacheEntry{}, false
	}
	return e, true
}

// add caches e for token; a full cache evicts its least recently used
// entry, which Stats counts (removals of stale or deleted entries are not
// evictions).
func (c *cache) add(token string, e cacheEntry) {
	e.token = token
	if c.lru.Add(tokenHash(token), e) {
		c.evictions.Add(1)
	}
}

func (c *cache) remove(token string) { c.lru.Remove(tokenHash(token)) }

// removeHash removes the entry of the token with hash h: another instance
// changed it.
func (c *cache) removeHash(h uint64) { c.lru.Remove(h) }

// purge removes every entry.
func (c *cache) purge() { c.lru.Purge() }

// gate makes entries served only while they are fresh (see cache), by
// bound; it is called once, before the cache is used.
func (c *cache) gate(bound time.Duration) {
	c.bound = bound
	c.gated.Store(true)
}

// ungate serves entries by their age alone again: the invalidation poll
// has stopped for good.
func (c *cache) ungate() { c.gated.Store(false) }

// confirm records a poll sent at sent that applied every change before
// it: entries may be served until sent plus the bound.
func (c *cache) confirm(sent time.Time) {
	for {
		old := c.polled.Load()
		if old != nil && !sent.After(*old) || c.polled.CompareAndSwap(old, &sent) {
			return
		}
	}
}

// lastPoll returns the send time of the last successful poll, if any.
func (c *cache) lastPoll() (time.Time, bool) {
	if p := c.polled.Load(); p != nil {
		return *p, true
	}
	return time.Time{}, false
}

// fresh reports whether e may be served at now.
func (c *cache) fresh(e cacheEntry, now time.Time) bool {
	if !c.gated.Load() || now.Sub(e.cachedAt) < c.bound {
		return true
	}
	polled, ok := c.lastPoll()
	return ok && now.Sub(polled) < c.bound
}

// evictExpired removes every expired or stale entry and returns how many
// it removed. It walks the whole cache, which the cleanup goroutine can
// afford every few minutes.
func (c *cache) evictExpired(now time.Time) int {
	n := 0
	for _, k := range c.lru.Keys() {
		e, ok := c.lru.Peek(k)
		if ok && (!now.Before(e.expiry) || now.Sub(e.cachedAt) >= c.maxAge) {
			if c.lru.Remove(k) {
				n++
			}
		}
	}
	return n
}

func (c *cache) len() int { return c.lru.Len() }
