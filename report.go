package mssqlstore

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/sqlerr"
)

// reporter hands the errors of the background goroutines (flushes,
// cleanup, Close) to ErrorHandler when the user set one, and otherwise
// logs them through Logger with a level, at most once a minute for
// errors of one kind, with a count of those it held back. It remembers
// the last error for Stats and Health.
type reporter struct {
	handler func(error)  // Config.ErrorHandler; nil: log
	logger  *slog.Logger // Config.Logger
	now     func() time.Time

	mu        sync.Mutex // guards the fields below
	last      error
	lastAt    time.Time
	logged    map[string]logMark // by kind; at most maxLogKinds entries
	failures  int                // flush failures since the last success
	permanent bool               // the last flush failed with a permanent error
}

type logMark struct {
	at         time.Time
	suppressed int
}

const (
	logInterval = time.Minute // one log line per kind of error per interval
	maxLogKinds = 32
)

// report records err and hands it on.
func (r *reporter) report(err error) {
	now := r.now()
	r.mu.Lock()
	r.last, r.lastAt = err, now
	r.mu.Unlock()
	if r.handler != nil {
		r.handler(err)
		return
	}
	level, kind := slog.LevelError, "permanent"
	var rowErr *RowError
	switch {
	case errors.As(err, &rowErr):
		kind = "row" // a session was dropped: always an error
	case isTransient(err):
		level, kind = slog.LevelWarn, "transient"
	}
	if n, ok := sqlerr.Number(err); ok {
		kind += " " + strconv.Itoa(int(n))
	}
	suppressed, ok := 0, true
	if rowErr == nil {
		// A dropped row is a session lost: each one is logged. Other
		// errors repeat while an outage lasts, and are rate-limited.
		suppressed, ok = r.allow(kind, now)
	}
	if !ok {
		return
	}
	attrs := []slog.Attr{slog.String("kind", kind)}
	if suppressed > 0 {
		attrs = append(attrs, slog.Int("suppressed", suppressed))
	}
	r.logger.LogAttrs(context.Background(), level, err.Error(), attrs...)
}

// allow reports whether an error of kind may be logged now, and how many
// of that kind were held back since the last line.
func (r *reporter) allow(kind string, now time.Time) (suppressed int, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.logged == nil {
		r.logged = make(map[string]logMark)
	}
	m, seen := r.logged[kind]
	if seen && now.Sub(m.at) < logInterval {
		m.suppressed++
		r.logged[kind] = m
		return 0, false
	}
	if !seen && len(r.logged) >= maxLogKinds {
		clear(r.logged) // bounded: forget old kinds
	}
	r.logged[kind] = logMark{at: now}
	return m.suppressed, true
}

// flushed tracks the flusher's health from the result of each of its
// flush attempts; the first success after failures is logged once, at
// Info.
func (r *reporter) flushed(err error) {
	r.mu.Lock()
	if err != nil {
		r.failures++
		r.permanent = !isTransient(err)
		r.mu.Unlock()
		return
	}
	n := r.failures
	r.failures, r.permanent = 0, false
	r.mu.Unlock()
	if n > 0 && r.handler == nil {
		r.logger.LogAttrs(context.Background(), slog.LevelInfo, "mssqlstore: flushes succeed again", slog.Int("failures", n))
	}
}

// state returns the last error, when it came, and whether the flusher's
// last attempt failed with a permanent error.
func (r *reporter) state() (last error, at time.Time, permanent bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, r.lastAt, r.permanent
}
