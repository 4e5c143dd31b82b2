// Package drivergate holds the test server to the go-mssqldb driver's own
// integration tests: the tests of the driver's root package that read
// SQLSERVER_DSN and skip without it, written against real SQL Server.
//
// The gate copies the driver's module (the version this module requires)
// out of the module cache, builds its test binary, lists the tests that
// skip when no DSN is set, and runs each of them on its own against a
// fresh test server, several at a time. Each test's outcome is one of
//
//	pass
//	skip                 (it skips even with a DSN: Windows only, ...)
//	refused: CONSTRUCT   (it failed on the server's 40517 naming CONSTRUCT)
//	wrong: FIRST LINE    (any other failure: a wrong answer, a hang, ...)
//
// and the outcomes are compared with a checked-in list of expected ones.
// The list never holds a wrong outcome: a wrong answer always fails the
// gate.
//
// A test that runs subtests (its verbose output has --- PASS, FAIL or
// SKIP lines for TestX/sub) also gets one outcome per subtest, read from
// the lines that subtest logged, and the list holds them too, one line
// each, TestX/sub and its outcome, after the test's own line. A test's
// own outcome is its first refusal, as for a test without subtests,
// unless one of its subtests is wrong: then it is wrong too. So a
// refusal in one subtest cannot hide a wrong answer in another.
package drivergate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// DriverModule is the module whose tests the gate runs.
const DriverModule = "github.com/microsoft/go-mssqldb"

// Outcome is how one driver test ended.
type Outcome struct {
	Test   string
	Result string // "pass", "skip", "refused: ...", "wrong: ..."
	// Subtests are the outcomes of the test's subtests, in the order they
	// ended, named TestX/sub (Test/sub/subsub for nested ones).
	Subtests []Outcome
}

// flatten lists outcomes with each test's subtests after it.
func flatten(got []Outcome) []Outcome {
	var out []Outcome
	for _, o := range got {
		out = append(out, Outcome{Test: o.Test, Result: o.Result})
		out = append(out, o.Subtests...)
	}
	return out
}

// Server is a test server started for one test.
type Server interface {
	DSN() string
	Close() error
}

// Config configures Run.
type Config struct {
	// Binary is the driver's test binary (see Build).
	Binary string
	// Tests are the tests to run (see List).
	Tests []string
	// NewServer starts a fresh server for one test.
	NewServer func() (Server, error)
	// Parallel is how many tests run at once; at least 1.
	Parallel int
	// Timeout bounds each test (the binary's -test.timeout); a test that
	// runs out of it is a wrong outcome ("hangs").
	Timeout time.Duration
	// Progress, if not nil, receives one line per finished test.
	Progress io.Writer
}

// DriverDir returns the module cache directory of the driver's version
// that the module in dir requires.
func DriverDir(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", DriverModule)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("drivergate: locating %s: %w", DriverModule, err)
	}
	d := strings.TrimSpace(string(out))
	if d == "" {
		return "", fmt.Errorf("drivergate: %s is not in the module cache (run go mod download)", DriverModule)
	}
	return d, nil
}

// excluded are test files the gate leaves out of the copy: they need
// Azure Key Vault modules and credentials, and test no server behaviour.
var excluded = map[string]bool{"alwaysencrypted_akv_test.go": true}

// Build copies the driver's root package (the module cache is read-only)
// into work and builds its test binary there. Building resolves the
// driver's test dependencies (testify, ...) as the go command does.
func Build(ctx context.Context, driverDir, work string) (string, error) {
	src := filepath.Join(work, "src")
	err := filepath.WalkDir(driverDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(driverDir, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(src, rel), 0o755)
		}
		if excluded[rel] || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(src, rel), b, 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("drivergate: copying the driver: %w", err)
	}
	bin := filepath.Join(work, "driver.test")
	cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("drivergate: building the driver's tests: %w\n%s", err, out)
	}
	return bin, nil
}

// testEnv is the environment a driver test runs with: no connection
// settings but the DSN given.
func testEnv(dsn string) []string {
	env := []string{}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "SQLSERVER_DSN", "HOST", "DATABASE", "INSTANCE", "SQLUSER", "SQLPASSWORD", "COLUMNENCRYPTION", "TIME_ZONE":
			continue
		}
		env = append(env, kv)
	}
	if dsn != "" {
		env = append(env, "SQLSERVER_DSN="+dsn)
	}
	return env
}

var topSkip = regexp.MustCompile(`(?m)^--- SKIP: (\S+) `)

// List runs the whole test binary once without a DSN and returns the
// top-level tests that skip: the integration tests.
func List(ctx context.Context, binary, work string) ([]string, error) {
	cmd := exec.CommandContext(ctx, binary, "-test.v", "-test.timeout", "5m")
	cmd.Dir = work
	cmd.Env = testEnv("")
	out, _ := cmd.CombinedOutput() // some unit tests fail without a server
	var tests []string
	for _, m := range topSkip.FindAllSubmatch(out, -1) {
		tests = append(tests, string(m[1]))
	}
	if len(tests) == 0 {
		return nil, fmt.Errorf("drivergate: no integration test found in the driver's test output:\n%s", tail(out, 2000))
	}
	sort.Strings(tests)
	return tests, nil
}

// Run runs each test against its own server, cfg.Parallel at a time, and
// returns the outcomes sorted by test name.
func Run(ctx context.Context, cfg Config) []Outcome {
	if cfg.Parallel < 1 {
		cfg.Parallel = 1
	}
	work := make(chan string)
	out := make([]Outcome, 0, len(cfg.Tests))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < cfg.Parallel; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range work {
				o := runOne(ctx, cfg, name)
				mu.Lock()
				out = append(out, o)
				if cfg.Progress != nil {
					fmt.Fprintf(cfg.Progress, "%-60s %s\n", o.Test, o.Result)
				}
				mu.Unlock()
			}
		}()
	}
	for _, t := range cfg.Tests {
		work <- t
	}
	close(work)
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Test < out[j].Test })
	return out
}

func runOne(ctx context.Context, cfg Config, name string) Outcome {
	srv, err := cfg.NewServer()
	if err != nil {
		return Outcome{Test: name, Result: "wrong: starting the server: " + err.Error()}
	}
	defer srv.Close()
	dir, err := os.MkdirTemp("", "drivergate")
	if err != nil {
		return Outcome{Test: name, Result: "wrong: " + err.Error()}
	}
	defer os.RemoveAll(dir)
	// The binary's own timeout panics with the goroutines' stacks; the
	// context is a backstop for a binary that does not stop.
	tctx, cancel := context.WithTimeout(ctx, cfg.Timeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(tctx, cfg.Binary, "-test.v", "-test.count=1",
		"-test.run", "^"+regexp.QuoteMeta(name)+"$", "-test.timeout", cfg.Timeout.String())
	cmd.Dir = dir
	cmd.Env = testEnv(srv.DSN())
	out, err := cmd.CombinedOutput()
	return ClassifyAll(name, out, err)
}

// fromChildren is the outcome of a subtest that failed with no message
// of its own: wrong if one of its children is wrong, else its first
// child's refusal; wrong when it has no failed child either.
func fromChildren(sub string, order []string, got map[string]string) string {
	refused := ""
	for _, c := range order {
		r, ok := got[c]
		if !ok || !strings.HasPrefix(c, sub+"/") {
			continue
		}
		if strings.HasPrefix(r, "wrong") {
			return "wrong: subtest " + strings.TrimPrefix(c, sub+"/") + " is wrong"
		}
		if refused == "" && strings.HasPrefix(r, "refused: ") {
			refused = r
		}
	}
	if refused != "" {
		return refused
	}
	return "wrong: failed without a message of its own"
}

// ClassifyAll is the outcome of a test and of each of its subtests.
func ClassifyAll(name string, out []byte, runErr error) Outcome {
	o := Outcome{Test: name, Result: Classify(name, out, runErr)}
	o.Subtests = Subtests(name, out)
	if strings.HasPrefix(o.Result, "wrong") {
		return o
	}
	for _, s := range o.Subtests {
		if strings.HasPrefix(s.Result, "wrong") {
			o.Result = "wrong: subtest " + strings.TrimPrefix(s.Test, name+"/") + " is wrong"
			break
		}
	}
	return o
}

var (
	// header starts the lines of one (sub)test in verbose output.
	header = regexp.MustCompile(`^=== (?:RUN|CONT|NAME|PAUSE) +(\S+)`)
	// result ends a (sub)test: --- PASS: TestX/sub (0.00s), indented by
	// its depth.
	result = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+) \(`)
)

// Subtests classifies the subtests of test name in its verbose output,
// in the order they started: each by the lines logged under its own name
// (go test -v heads them with === RUN, CONT or NAME) and by its --- result
// line. A failed subtest is refused when its lines carry the server's
// 40517, else wrong, with its first failure line.
func Subtests(name string, out []byte) []Outcome {
	logs := map[string][]byte{}
	started := map[string]bool{}
	var order []string
	res := map[string]string{}
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if m := header.FindStringSubmatch(l); m != nil {
			cur = m[1]
			if !started[cur] && strings.HasPrefix(cur, name+"/") {
				started[cur] = true
				order = append(order, cur)
			}
			continue
		}
		if m := result.FindStringSubmatch(l); m != nil {
			res[m[2]] = m[1]
			continue
		}
		logs[cur] = append(append(logs[cur], l...), '\n')
	}
	// Children start after their parent: classify them first, so that a
	// parent that failed only because of its children takes its outcome
	// from theirs.
	got := map[string]string{}
	for i := len(order) - 1; i >= 0; i-- {
		sub := order[i]
		switch res[sub] {
		case "":
			// Started but never ended: the test timed out or the binary
			// died; the test's own outcome says which.
		case "PASS":
			got[sub] = "pass"
		case "SKIP":
			got[sub] = "skip"
		default:
			got[sub] = classifyFailure(logs[sub], nil)
			if got[sub] == "wrong: no PASS line" {
				got[sub] = fromChildren(sub, order, got)
			}
		}
	}
	var subs []Outcome
	for _, sub := range order {
		if r, ok := got[sub]; ok {
			subs = append(subs, Outcome{Test: sub, Result: r})
		}
	}
	return subs
}

// logLine is a line of the driver's own logger, which tests route
// through t.Log: a timestamp after the file and line.
var logLine = regexp.MustCompile(`_test\.go:\d+: \d{4}-\d\d-\d\d \d`)

var refusal = regexp.MustCompile(`Keyword or statement option '([^']*)' is not supported in this version of SQL Server \(mssqltest test double\)`)

// Classify turns a test's output and exit status into an outcome.
func Classify(name string, out []byte, runErr error) string {
	q := regexp.QuoteMeta(name)
	switch {
	case runErr == nil && regexp.MustCompile(`(?m)^--- PASS: `+q+` `).Match(out):
		return "pass"
	case runErr == nil && regexp.MustCompile(`(?m)^--- SKIP: `+q+` `).Match(out):
		return "skip"
	case bytes.Contains(out, []byte("panic: test timed out")):
		return "wrong: hangs (test timed out)"
	}
	return classifyFailure(out, runErr)
}

// classifyFailure is the outcome of a failed test from its output: its
// first refusal, or wrong.
func classifyFailure(out []byte, runErr error) string {
	if m := refusal.FindSubmatch(out); m != nil {
		return "refused: " + string(m[1])
	}
	if bytes.Contains(out, []byte("server does not support encryption")) {
		// The prelogin answer ENCRYPT_NOT_SUP: the server refuses TLS out
		// loud, at the protocol level, rather than with 40517.
		return "refused: TLS encryption"
	}
	return "wrong: " + firstFailure(out, runErr)
}

// firstFailure is the first line a failing test logged.
func firstFailure(out []byte, runErr error) string {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- ") || l == "" {
			continue
		}
		if strings.Contains(l, "_test.go:") && !logLine.MatchString(l) || strings.HasPrefix(l, "panic:") {
			if len(l) > 160 {
				l = l[:160]
			}
			return l
		}
	}
	if runErr != nil {
		return runErr.Error()
	}
	return "no PASS line"
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// ParseExpected reads an expected-outcomes list: one test per line, its
// name, a tab and its outcome; # starts a comment. A wrong outcome is
// rejected: the list may only expect passes, skips and refusals.
func ParseExpected(r io.Reader) (map[string]string, error) {
	want := map[string]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		name, res, ok := strings.Cut(l, "\t")
		if !ok {
			return nil, fmt.Errorf("drivergate: line %d: want NAME<tab>OUTCOME: %q", n, l)
		}
		if !(res == "pass" || res == "skip" || strings.HasPrefix(res, "refused: ")) {
			return nil, fmt.Errorf("drivergate: line %d: %s: outcome %q is not pass, skip or refused", n, name, res)
		}
		if _, dup := want[name]; dup {
			return nil, fmt.Errorf("drivergate: line %d: %s listed twice", n, name)
		}
		want[name] = res
	}
	return want, sc.Err()
}

// FormatExpected writes outcomes in ParseExpected's format, each test's
// subtests after it; wrong outcomes are left out, since they may never be
// expected.
func FormatExpected(w io.Writer, got []Outcome) error {
	for _, o := range flatten(got) {
		if strings.HasPrefix(o.Result, "wrong") {
			continue
		}
		if _, err := fmt.Fprintf(w, "%s\t%s\n", o.Test, o.Result); err != nil {
			return err
		}
	}
	return nil
}

// Compare returns one line per difference between the expected outcomes
// and those obtained, subtests included (nil when they agree). A test or
// subtest expected but not run, or run but not expected, is a
// difference.
func Compare(want map[string]string, got []Outcome) []string {
	var diffs []string
	seen := map[string]bool{}
	for _, o := range flatten(got) {
		seen[o.Test] = true
		w, ok := want[o.Test]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: %s, not in the expected list", o.Test, o.Result))
		case w != o.Result:
			diffs = append(diffs, fmt.Sprintf("%s: %s, want %s", o.Test, o.Result, w))
		}
	}
	for name, w := range want {
		if !seen[name] {
			diffs = append(diffs, fmt.Sprintf("%s: not run, want %s", name, w))
		}
	}
	sort.Strings(diffs)
	return diffs
}

// Counts summarises outcomes: ran, passed, skipped, refused by construct,
// wrong.
type Counts struct {
	Ran, Passed, Skipped, Refused, Wrong int
	ByConstruct                          map[string]int
}

// Count summarises the tests' own outcomes.
func Count(got []Outcome) Counts { return count(got) }

// CountSubtests summarises the outcomes of the subtests alone.
func CountSubtests(got []Outcome) Counts {
	var subs []Outcome
	for _, o := range got {
		subs = append(subs, o.Subtests...)
	}
	return count(subs)
}

func count(got []Outcome) Counts {
	c := Counts{ByConstruct: map[string]int{}}
	for _, o := range got {
		c.Ran++
		switch {
		case o.Result == "pass":
			c.Passed++
		case o.Result == "skip":
			c.Skipped++
		case strings.HasPrefix(o.Result, "refused: "):
			c.Refused++
			c.ByConstruct[strings.TrimPrefix(o.Result, "refused: ")]++
		default:
			c.Wrong++
		}
	}
	return c
}

// ErrDiffers is returned by Check when outcomes differ from the list.
var ErrDiffers = errors.New("drivergate: outcomes differ from the expected list")
