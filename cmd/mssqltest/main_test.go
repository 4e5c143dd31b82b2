package main

import (
	"bufio"
	"context"
	"database/sql"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/microsoft/go-mssqldb"
)

// TestCommand builds the command, runs it, and serves three clients from
// the DSN it prints: go-mssqldb, FreeTDS's tsql, and the example app,
// driven over HTTP. Then it stops it with SIGINT.
func TestCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "mssqltest")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0", "-max-message", "33554432", "-max-conns", "64", "-handshake-timeout", "5s")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the DSN: %v", err)
	}
	dsn := strings.TrimSpace(line)
	if !strings.HasPrefix(dsn, "sqlserver://") || !strings.Contains(dsn, "encrypt=disable") {
		t.Fatalf("first line = %q, want a DSN", dsn)
	}
	db, err := sql.Open("sqlserver", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	// The default database holds the README's sessions table.
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions").Scan(&n); err != nil {
		t.Fatalf("the sessions table: %v", err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("tsql", func(t *testing.T) { serveTSQL(t, ctx, u) })
	t.Run("example", func(t *testing.T) { serveExample(t, ctx, dsn) })

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGINT: %v", err)
	}
}

// serveTSQL runs a query through FreeTDS's tsql, a client that is not
// go-mssqldb.
func serveTSQL(t *testing.T, ctx context.Context, u *url.URL) {
	path, err := exec.LookPath("tsql")
	if err != nil {
		t.Fatalf("FreeTDS tsql is not installed: install the freetds-bin package: %v", err)
	}
	password, _ := u.User.Password()
	tsql := exec.CommandContext(ctx, path, "-H", u.Hostname(), "-p", u.Port(), "-U", u.User.Username(), "-P", password, "-D", u.Query().Get("database"))
	tsql.Env = append(os.Environ(), "TDSVER=7.4")
	tsql.Stdin = strings.NewReader("SELECT COUNT(*) AS sessions FROM sessions\ngo\nexit\n")
	out, err := tsql.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "(1 row affected)") {
		t.Fatalf("tsql: %v\n%s", err, out)
	}
}

// serveExample builds the example app, runs it against the server, puts
// and gets a session over HTTP with a cookie jar, and stops it.
func serveExample(t *testing.T, ctx context.Context, dsn string) {
	bin := filepath.Join(t.TempDir(), "example")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../../example").CombinedOutput(); err != nil {
		t.Fatalf("go build example: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	app := exec.CommandContext(ctx, bin, "-addr", addr, "-init")
	app.Env = append(os.Environ(), "MSSQL_DSN="+dsn)
	stderr, err := app.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = app.Process.Kill() }()
	lines := bufio.NewScanner(stderr)
	for lines.Scan() && !strings.Contains(lines.Text(), "listening on") {
	}
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		for lines.Scan() {
			t.Logf("example: %s", lines.Text())
		}
	}()
	defer func() { _ = app.Process.Kill(); <-logged }()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	for _, path := range []string{"/put", "/get"} {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if path == "/get" && string(body) != "Hello from a session!" {
			t.Fatalf("GET /get = %q, want the message /put stored", body)
		}
	}
	if err := app.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-logged // stderr is drained before Wait closes it
	if err := app.Wait(); err != nil {
		t.Fatalf("example after SIGINT: %v", err)
	}
}
