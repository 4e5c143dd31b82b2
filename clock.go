package mssqlstore

import "time"

// clock is the store's source of time and timers. Tests in this package
// replace it to advance time without sleeping.
type clock interface {
	Now() time.Time
	NewTicker(d time.Duration) ticker
	After(d time.Duration) <-chan time.Time
}

type ticker interface {
	C() <-chan time.Time
	Stop()
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (realClock) NewTicker(d time.Duration) ticker       { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (t realTicker) C() <-chan time.Time { return t.t.C }
func (t realTicker) Stop()               { t.t.Stop() }
