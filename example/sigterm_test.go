package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/mssqltest"
)

// goCommand returns the go command of the toolchain running the test.
func goCommand() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// raceEnabled reports whether the test binary was built with -race, so
// that the example binary is built the same way (and its packages come
// from the same build cache).
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// buildExample builds this package's command into a temporary directory.
func buildExample(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "example")
	args := []string{"build", "-o", bin}
	if raceEnabled() {
		args = append(args, "-race")
	}
	cmd := exec.Command(goCommand(), append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is the example running as a program of its own.
type process struct {
	cmd    *exec.Cmd
	url    string
	stderr *syncBuffer // everything it logged
	exited chan error
}

// startProcess starts the example binary on dsn and waits until it
// listens.
func startProcess(t *testing.T, bin, dsn string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "MSSQL_DSN="+dsn)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan error, 1)}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.stderr, line)
			if u, ok := strings.CutPrefix(line, "example: listening on "); ok {
				listening <- u
			}
		}
		p.exited <- cmd.Wait() // after the pipe is drained
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	select {
	case p.url = <-listening:
	case err := <-p.exited:
		t.Fatalf("the example exited before listening: %v\n%s", err, p.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("the example did not listen within a minute\n%s", p.stderr)
	}
	return p
}

// terminate sends SIGTERM and waits for the process to exit.
func (p *process) terminate(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("the example exited with %v after SIGTERM\n%s", err, p.stderr)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the example did not exit within a minute of SIGTERM\n%s", p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "example: stopped") {
		t.Fatalf("the example did not stop cleanly:\n%s", p.stderr)
	}
}

// client is one user: its own cookie jar, so its own session.
type client struct {
	http *http.Client
	// acked is the last value a /put answered 200 for; unsure is a value
	// sent after it whose answer did not arrive (it may or may not have
	// been committed).
	acked, unsure string
	puts          int
}

// put sends values until the example stops answering. After minPuts
// acknowledged puts it signals ready (once).
func (c *client) put(url string, id, minPuts int, ready func()) {
	for k := 0; ; k++ {
		v := fmt.Sprintf("client %d put %d", id, k)
		resp, err := c.http.Get(url + "/put?message=" + strings.ReplaceAll(v, " ", "+"))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err != nil || resp.StatusCode != http.StatusOK {
			c.unsure = v
			if c.puts < minPuts {
				ready() // never ready otherwise: let the test go on and fail
			}
			return
		}
		c.acked = v
		c.puts++
		if c.puts == minPuts {
			ready()
		}
	}
}

// Issue 12's "done when": the README's usage (this example), sent SIGTERM
// under load, loses nothing. Clients commit sessions as fast as they can;
// with an hour's flush interval every write is pending in memory when
// SIGTERM arrives, so only the shutdown's Close can carry them to SQL
// Server. A second run on the same database finds every session at the
// last value it acknowledged.
func TestSIGTERMUnderLoadLosesNothing(t *testing.T) {
	const clients, minPuts = 32, 5
	srv := mssqltest.Start(t, mssqltest.Options{Bare: true}) // the database outlives both runs
	bin := buildExample(t)

	first := startProcess(t, bin, srv.DSN(), "-init", "-flush-interval", "1h")
	srv.ResetCounters() // from here on, only the store's own statements

	var ready sync.WaitGroup
	ready.Add(clients)
	var done sync.WaitGroup
	cs := make([]*client, clients)
	for i := range cs {
		cs[i] = &client{http: newClient(t)}
		done.Add(1)
		go func() {
			defer done.Done()
			var once sync.Once
			cs[i].put(first.url, i, minPuts, func() { once.Do(ready.Done) })
		}()
	}
	ready.Wait() // every client has committed; the load goes on

	// Nothing has reached SQL Server yet: the writes are pending.
	if c := srv.Counters(); c.RowsWritten != 0 {
		t.Fatalf("%d rows written before SIGTERM, want 0: the writes should all be pending (counters %+v)", c.RowsWritten, c)
	}
	first.terminate(t)
	done.Wait()

	c := srv.Counters()
	if c.RowsWritten < clients || c.Statements["MERGE"] == 0 {
		t.Errorf("the shutdown's flush wrote %d rows in %d MERGEs, want at least %d rows in one or more (counters %+v)",
			c.RowsWritten, c.Statements["MERGE"], clients, c)
	}
	total := 0
	for i, cl := range cs {
		if cl.puts < minPuts {
			t.Fatalf("client %d: only %d acknowledged puts before the example stopped", i, cl.puts)
		}
		total += cl.puts
	}
	t.Logf("%d clients, %d acknowledged puts, %d rows written at shutdown in %d MERGEs",
		clients, total, c.RowsWritten, c.Statements["MERGE"])

	second := startProcess(t, bin, srv.DSN())
	for i, cl := range cs {
		got := get(t, cl.http, second.url+"/get")
		if got != cl.acked && got != cl.unsure {
			t.Errorf("client %d: /get after the restart = %q, want %q (its last acknowledged put)", i, got, cl.acked)
		}
	}
	second.terminate(t)
	if log := first.stderr.String(); strings.Contains(log, "close the store") {
		t.Errorf("the first run's Close reported a failure:\n%s", log)
	}
}
