package mssqlstore

import (
	"runtime"
	"sync"
	"time"
)

// fakeClock is a clock that moves only when a test advances it. Timers and
// tickers fire during Advance.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	afters  []fakeAfter
	tickers []*fakeTicker
	waiting chan struct{} // receives a value whenever After is called
}

type fakeAfter struct {
	at time.Time
	ch chan time.Time
}

type fakeTicker struct {
	c       *fakeClock
	d       time.Duration
	next    time.Time
	ch      chan time.Time
	stopped bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), waiting: make(chan struct{}, 1024)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.afters = append(c.afters, fakeAfter{at: c.now.Add(d), ch: ch})
	select {
	case c.waiting <- struct{}{}:
	default:
	}
	return ch
}

func (c *fakeClock) NewTicker(d time.Duration) ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTicker{c: c, d: d, next: c.now.Add(d), ch: make(chan time.Time, 1)}
	c.tickers = append(c.tickers, t)
	return t
}

func (t *fakeTicker) C() <-chan time.Time { return t.ch }

func (t *fakeTicker) Stop() {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.stopped = true
}

// Advance moves the clock forward by d and fires what fell due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.afters[:0]
	for _, a := range c.afters {
		if a.at.After(c.now) {
			kept = append(kept, a)
			continue
		}
		a.ch <- c.now
	}
	c.afters = kept
	for _, t := range c.tickers {
		if t.stopped || t.next.After(c.now) {
			continue
		}
		select {
		case t.ch <- c.now:
		default: // a ticker drops ticks its reader is not ready for
		}
		for !t.next.After(c.now) {
			t.next = t.next.Add(t.d)
		}
	}
}

// advanceToNext moves the clock to the earliest pending After that falls
// due within max, fires it, and reports whether there was one. A test
// waiting for a store timeout calls it in a loop: store time moves by
// exactly the timers the store set, however late the goroutine that sets
// one is scheduled.
func (c *fakeClock) advanceToNext(max time.Duration) bool {
	c.mu.Lock()
	var next time.Time
	for _, a := range c.afters {
		if next.IsZero() || a.at.Before(next) {
			next = a.at
		}
	}
	d := next.Sub(c.now)
	c.mu.Unlock()
	if next.IsZero() || d > max {
		return false
	}
	c.Advance(d)
	return true
}

// autoAdvance advances the clock by step whenever a goroutine starts to
// wait on it (a backoff), until stop is closed. Retry loops then run at
// full speed with no real sleeping.
func (c *fakeClock) autoAdvance(step time.Duration, stop <-chan struct{}) {
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-c.waiting:
				c.Advance(step)
			}
		}
	}()
}

// run advances the clock by step over and over, until stop is closed:
// store time passes as fast as the goroutines let it, whatever they wait
// for.
func (c *fakeClock) run(step time.Duration, stop <-chan struct{}) {
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				c.Advance(step)
				runtime.Gosched()
			}
		}
	}()
}
