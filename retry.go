package mssqlstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Retry limits: how many times the store tries one statement before it
// returns the error. Every retry loop of the store is retryPolicy.do with
// one of these.
const (
	// writeThroughAttempts bounds a Commit that writes straight to SQL
	// Server (batching off, after Close, or data too large to hold): its
	// caller is waiting.
	writeThroughAttempts = 3
	// cleanupAttempts bounds one cleanup DELETE; the next pass runs
	// CleanupInterval later anyway.
	cleanupAttempts = 5
	// duplicateKeyRetries bounds the immediate retries of a flush that
	// met a duplicate key: another instance inserted the same new token
	// at the same moment, and the retry updates the row it inserted.
	duplicateKeyRetries = 3
	// untilContextEnds is the attempts of Flush, Close and the flusher:
	// they retry until their context ends.
	untilContextEnds = 0
)

// retryPolicy says how often, and on which errors, an operation is
// retried.
type retryPolicy struct {
	// attempts is the most attempts; untilContextEnds for no limit.
	attempts int
	// retryable reports whether err is worth another attempt; nil means
	// transient errors only.
	retryable func(error) bool
	// base is the first backoff; it doubles up to a cap.
	base time.Duration
}

// do runs op until it succeeds, returns an error the policy does not
// retry, has run p.attempts times, or ctx ends. Between attempts it waits
// with capped exponential backoff and full jitter on clk, and calls
// onRetry, if not nil, with the error it retries.
func (p retryPolicy) do(ctx context.Context, clk clock, op func(context.Context) error, onRetry func(error)) error {
	retryable := p.retryable
	if retryable == nil {
		retryable = isTransient
	}
	bo := newBackoff(p.base)
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return wrapCtx(ctx, err)
		case !retryable(err) || attempt == p.attempts:
			return err
		}
		if onRetry != nil {
			onRetry(err)
		}
		select {
		case <-clk.After(bo.next()):
		case <-ctx.Done():
			return fmt.Errorf("%w (after %w)", ctx.Err(), err)
		}
	}
}

func isTransient(err error) bool { return classify(err) == classTransient }

// anyError retries every error: the flusher keeps trying, slowly, until
// someone fixes what a permanent error says.
func anyError(error) bool { return true }

// backoff is capped exponential backoff with full jitter.
type backoff struct {
	base, cap time.Duration
	n         int
}

func newBackoff(base time.Duration) *backoff {
	base = max(base, 10*time.Millisecond)
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
