package main

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore"
	"github.com/scs-contrib/mssqlstore/mssqltest"
)

// syncBuffer is a bytes.Buffer safe for the store's background writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// app is one running instance of the example.
type app struct {
	url    string
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg config) *app {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listener = ln
	ctx, cancel := context.WithCancel(context.Background())
	a := &app{url: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { a.done <- run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		<-a.done
	})
	return a
}

// stop ends the instance as SIGINT would, and returns run's error.
func (a *app) stop(t *testing.T) error {
	t.Helper()
	a.cancel()
	select {
	case err := <-a.done:
		a.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after its context ended")
		return nil
	}
}

func get(t *testing.T, client *http.Client, url string) string {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	return string(body)
}

func newClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

func countRows(t *testing.T, dsn string) int64 {
	t.Helper()
	db, err := sql.Open("sqlserver", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n int64
	// Live sessions: the store's invalidation journal keeps rows in the
	// table too, expired from the start.
	if err := db.QueryRowContext(ctx, "SELECT COUNT_BIG(*) FROM dbo.sessions WHERE expiry > SYSUTCDATETIME()").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

const message = "Hello from a session!"

// TestSessionSurvivesRestart: the write is still pending in memory when
// the first instance stops (its flush interval is an hour), so only
// Close's flush can carry it to the second instance.
func TestSessionSurvivesRestart(t *testing.T) {
	srv := mssqltest.Start(t, mssqltest.Options{Bare: true}) // outlives both instances; Init creates the schema
	cfg := config{
		DSN:   srv.DSN(),
		Init:  true,
		Store: mssqlstore.Config{FlushInterval: time.Hour, CleanupInterval: -1},
		Log:   &syncBuffer{},
	}
	client := newClient(t)

	first := start(t, cfg)
	get(t, client, first.url+"/put")
	if got := get(t, client, first.url+"/get"); got != message {
		t.Fatalf("/get = %q, want %q", got, message)
	}
	if n := countRows(t, srv.DSN()); n != 0 {
		t.Fatalf("%d rows in SQL Server before the stop, want 0: the write should still be pending", n)
	}
	if err := first.stop(t); err != nil {
		t.Fatalf("first instance: %v", err)
	}
	if n := countRows(t, srv.DSN()); n != 1 {
		t.Fatalf("%d rows in SQL Server after the stop, want 1: Close should have flushed it", n)
	}

	second := start(t, cfg)
	if got := get(t, client, second.url+"/get"); got != message {
		t.Errorf("/get after the restart = %q, want %q", got, message)
	}
	if err := second.stop(t); err != nil {
		t.Errorf("second instance: %v", err)
	}
	if log := cfg.Log.(*syncBuffer).String(); strings.Count(log, "example: stopped") != 2 {
		t.Errorf("log:\n%s\nwant two clean stops", log)
	}
}

// TestTestServerFallback: without a DSN the example brings its own test
// server and says that it is not SQL Server.
func TestTestServerFallback(t *testing.T) {
	log := &syncBuffer{}
	a := start(t, config{Log: log})
	client := newClient(t)
	if got := get(t, client, a.url+"/get"); got != "" {
		t.Errorf("/get before /put = %q, want empty", got)
	}
	get(t, client, a.url+"/put")
	if got := get(t, client, a.url+"/get"); got != message {
		t.Errorf("/get = %q, want %q", got, message)
	}
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "a test double, not SQL Server") {
		t.Errorf("log %q does not say that this is a test server", log.String())
	}
}

func TestBadDSN(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = run(ctx, config{DSN: "sqlserver://sa:pw@" + addr + "?encrypt=disable", Addr: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "connect to the database") {
		t.Errorf("run = %v, want a connection error", err)
	}
}

// A database user the store could not write with stops the example at
// startup, with the startup check's message, instead of serving requests
// whose sessions never reach SQL Server.
func TestStartupCheckRefusesReadOnlyUser(t *testing.T) {
	srv := mssqltest.Start(t, mssqltest.Options{})
	if err := srv.AddLogin("app", "App-Passw0rd", map[string]mssqltest.Permission{"dbo.sessions": mssqltest.Select}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, config{DSN: srv.DSNFor("app", "App-Passw0rd"), Addr: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "check the schema") || !strings.Contains(err.Error(), "lacks INSERT, UPDATE, DELETE") {
		t.Errorf("run = %v, want the startup check's error naming the missing permissions", err)
	}
}
