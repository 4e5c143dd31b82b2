package mssqlstore

import (
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// cache is the LRU read cache in front of SQL Server. An entry is served
// while the session is live and the entry is younger than the maximum age;
// the age bounds how long another instance's change goes unseen.
type cache struct {
	lru       *lru.Cache[string, cacheEntry]
	maxAge    time.Duration
	evictions atomic.Int64 // entries dropped to make room
}

type cacheEntry struct {
	data     []byte
	expiry   time.Time
	cachedAt time.Time
}

func newCache(size int, maxAge time.Duration) *cache {
	c := &cache{maxAge: maxAge}
	// lru.New fails only for a size below 1, which resolve rules out.
	c.lru, _ = lru.New[string, cacheEntry](size)
	return c
}

// get returns the live, fresh entry for token. A stale or expired entry is
// removed and reported as a miss.
func (c *cache) get(token string, now time.Time) (cacheEntry, bool) {
	e, ok := c.lru.Get(token)
	if !ok {
		return cacheEntry{}, false
	}
	if !now.Before(e.expiry) || now.Sub(e.cachedAt) >= c.maxAge {
		c.lru.Remove(token)
		return cacheEntry{}, false
	}
	return e, true
}

// add caches e; a full cache evicts its least recently used entry, which
// Stats counts (removals of stale or deleted entries are not evictions).
func (c *cache) add(token string, e cacheEntry) {
	if c.lru.Add(token, e) {
		c.evictions.Add(1)
	}
}

func (c *cache) remove(token string) { c.lru.Remove(token) }

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
