package mssqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/sqlname"

	mssql "github.com/microsoft/go-mssqldb"
)

func TestValidToken(t *testing.T) {
	good := "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123-_9"
	for _, tc := range []struct {
		token string
		want  bool
	}{
		{good, true},
		{strings.Repeat("A", 43), true},
		{"", false},
		{good[:42], false},
		{good + "A", false},
		{good[:42] + " ", false},
		{" " + good[1:], false},
		{good[:42] + "=", false},
		{good[:42] + "+", false},
		{good[:42] + "/", false},
		{good[:42] + "\x00", false},
		{good[:41] + "é", false},
	} {
		if got := validToken(tc.token); got != tc.want {
			t.Errorf("validToken(%q) = %v, want %v", tc.token, got, tc.want)
		}
	}
}

func FuzzValidToken(f *testing.F) {
	f.Add("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123-_9")
	f.Add("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123-_ ")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		if !validToken(token) {
			return
		}
		// A valid token is exactly 43 bytes of base64url: no padding, no
		// space, nothing a CHAR comparison could ignore or fold away
		// beyond ASCII case.
		if len(token) != 43 || strings.TrimSpace(token) != token || strings.ContainsAny(token, "=+/ \x00") {
			t.Fatalf("validToken accepted %q", token)
		}
		for _, r := range token {
			if r > 127 {
				t.Fatalf("validToken accepted non-ASCII %q", token)
			}
		}
	})
}

func TestClassify(t *testing.T) {
	sqlErr := func(n int32) error {
		return fmt.Errorf("exec: %w", mssql.Error{Number: n, Message: "whatever the text says"})
	}
	for _, tc := range []struct {
		name string
		err  error
		want errorClass
	}{
		{"deadlock", sqlErr(1205), classTransient},
		{"lock timeout", sqlErr(1222), classTransient},
		{"azure unavailable", sqlErr(40613), classTransient},
		{"azure busy", sqlErr(40501), classTransient},
		{"azure 40197", sqlErr(40197), classTransient},
		{"azure 49918", sqlErr(49918), classTransient},
		{"azure 10928", sqlErr(10928), classTransient},
		{"cannot open db", sqlErr(4060), classTransient},
		{"in-memory 41302", sqlErr(41302), classTransient},
		{"in-memory 41839", sqlErr(41839), classTransient},
		{"transport 233", sqlErr(233), classTransient},
		{"missing table", sqlErr(208), classPermanent},
		{"permission", sqlErr(229), classPermanent},
		{"login failed", sqlErr(18456), classPermanent},
		{"missing type", sqlErr(2715), classNoType},
		{"babelfish merge", sqlErr(33557097), classNoMerge},
		{"duplicate key", sqlErr(2627), classDuplicateKey},
		{"duplicate index key", sqlErr(2601), classDuplicateKey},
		{"truncation", sqlErr(2628), classRow},
		{"truncation old", sqlErr(8152), classRow},
		{"merge twice", sqlErr(8672), classRow},
		{"bad conn", fmt.Errorf("x: %w", driver.ErrBadConn), classTransient},
		{"eof", io.ErrUnexpectedEOF, classTransient},
		{"stream", mssql.StreamError{InnerError: errors.New("broken")}, classTransient},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), classCanceled},
		{"statement timeout", fmt.Errorf("%w: x", errStatementTimeout), classTransient},
		{"text says deadlock but no number", errors.New("deadlock victim 1205"), classClientSide},
		{"schema drift: NULL into a new column", sqlErr(515), classPermanent},
		{"tvp metadata refused", sqlErr(4012), classNoType},
		{"tvp column type refused (Babelfish)", sqlErr(8032), classNoType},
		{"killed session", sqlErr(596), classTransient},
		{"secondary in transition", sqlErr(4221), classTransient},
		{"azure 40143", sqlErr(40143), classTransient},
		{"azure 40540", sqlErr(40540), classTransient},
		{"serverless paused", sqlErr(42108), classTransient},
		{"serverless resuming", sqlErr(42109), classTransient},
		{"elastic pool limit", sqlErr(10936), classTransient},
		{"script upgrade", sqlErr(18401), classTransient},
		{"driver refused a type name", mssql.ErrorObjectName, classClientSide},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.err); got != tc.want {
				t.Errorf("classify(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	b := newBackoff(10 * time.Millisecond)
	prevCap := time.Duration(0)
	for i := 0; i < 40; i++ {
		d := b.next()
		ceiling := min(10*time.Millisecond<<min(i, 20), 5*time.Second)
		if d < ceiling/2 || d > ceiling {
			t.Fatalf("attempt %d: backoff %v outside [%v, %v]", i, d, ceiling/2, ceiling)
		}
		if ceiling < prevCap {
			t.Fatalf("ceiling shrank")
		}
		prevCap = ceiling
	}
}

func TestConfigResolve(t *testing.T) {
	s, err := Config{}.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if !s.batching || !s.caching || s.FlushInterval != DefaultFlushInterval || s.table.Quoted() != "[dbo].[sessions]" {
		t.Fatalf("the zero Config does not mean the defaults: %+v", s)
	}
	off, err := Config{FlushInterval: -1, CacheSize: -1, CleanupInterval: -1}.resolve()
	if err != nil || off.batching || off.caching || off.CleanupInterval > 0 {
		t.Fatalf("negative values do not turn features off: %+v, %v", off, err)
	}
	for _, bad := range []Config{
		{CleanupBatchSize: 5000},
		{MaxBatchRows: -1},
		{MaxPending: -2},
		{Table: "a.b.c"},
		{TableType: "[x"},
		{FlushTimeout: -1},
		{StopTimeout: -time.Second},
		{MaxPendingBytes: -1},
		{CleanupBatchSize: -1},
	} {
		if _, err := bad.resolve(); err == nil {
			t.Errorf("resolve(%+v) accepted an invalid Config", bad)
		}
	}
}

func TestNormalizeExpiry(t *testing.T) {
	in := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 3600))
	got, err := normalizeExpiry(in)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2030, 1, 2, 2, 4, 5, 123456000, time.UTC)
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("normalizeExpiry = %v, want %v (UTC, truncated to the microsecond)", got, want)
	}
	if got.After(in) {
		t.Fatal("the stored expiry would outlive the committed one")
	}
}

// The typeless statement comes in ten texts, one per power of two up to
// 512 rows, whatever the batch size: SQL Server caches ten plans, not one
// per size, and Babelfish parses ten statements.
func TestTypelessStatementTexts(t *testing.T) {
	name, _ := sqlname.Parse("dbo.sessions")
	q := buildQueries(name, name)
	texts := map[string]bool{}
	for n := 1; n <= maxTypelessRows; n++ {
		k := sizeClass(n)
		if k >= len(q.typeless) || 1<<k < n || (n > 1 && 1<<(k-1) >= n) {
			t.Fatalf("batch of %d rows: size class %d (%d rows) of %d", n, k, 1<<k, len(q.typeless))
		}
		texts[q.typeless[k]] = true
	}
	if len(texts) != 10 {
		t.Fatalf("%d distinct statement texts for batches of 1 to %d rows, want 10", len(texts), maxTypelessRows)
	}
	if last := q.typeless[len(q.typeless)-1]; !strings.Contains(last, fmt.Sprintf("@p%d", 3*maxTypelessRows)) || 3*maxTypelessRows > 2100 {
		t.Fatalf("the largest statement does not take %d parameters within SQL Server's 2,100", 3*maxTypelessRows)
	}
}
