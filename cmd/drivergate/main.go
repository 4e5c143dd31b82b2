// Command drivergate runs the go-mssqldb driver's integration tests
// against the repository's test server, one fresh server per test, and
// compares each test's outcome with the expected list (see package
// internal/drivergate). It exits 1 when an outcome differs.
//
//	go run ./cmd/drivergate                 # check
//	go run ./cmd/drivergate -update         # rewrite the list after a fix
//
// It builds the driver's tests in a temporary directory; the go command
// fetches their dependencies (testify, ...) if the module cache lacks them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/drivergate"
	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
)

func main() {
	expected := flag.String("expected", "internal/drivergate/testdata/expected.txt", "expected outcomes")
	parallel := flag.Int("parallel", 4, "tests run at once, each with its own server")
	timeout := flag.Duration("timeout", 60*time.Second, "timeout of each test")
	run := flag.String("run", "", "only the tests matching this regexp")
	update := flag.Bool("update", false, "rewrite the expected list from this run (wrong outcomes are never written)")
	verbose := flag.Bool("v", false, "print each test's outcome")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := gate(ctx, *expected, *parallel, *timeout, *run, *update, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func gate(ctx context.Context, expected string, parallel int, timeout time.Duration, run string, update, verbose bool) error {
	start := time.Now()
	dir, err := drivergate.DriverDir(ctx, ".")
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "drivergate")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin, err := drivergate.Build(ctx, dir, work)
	if err != nil {
		return err
	}
	tests, err := drivergate.List(ctx, bin, work)
	if err != nil {
		return err
	}
	if run != "" {
		re, err := regexp.Compile(run)
		if err != nil {
			return fmt.Errorf("-run: %w", err)
		}
		var keep []string
		for _, t := range tests {
			if re.MatchString(t) {
				keep = append(keep, t)
			}
		}
		tests = keep
	}
	cfg := drivergate.Config{
		Binary: bin, Tests: tests, Parallel: parallel, Timeout: timeout,
		NewServer: func() (drivergate.Server, error) { return mssqltest.NewServer(mssqltest.Options{Bare: true}) },
	}
	if verbose {
		cfg.Progress = os.Stdout
	}
	got := drivergate.Run(ctx, cfg)
	c := drivergate.Count(got)
	fmt.Printf("driver %s: %d tests ran: %d passed, %d skipped, %d refused, %d wrong (%s)\n",
		filepath.Base(dir), c.Ran, c.Passed, c.Skipped, c.Refused, c.Wrong, time.Since(start).Round(time.Second))
	sc := drivergate.CountSubtests(got)
	fmt.Printf("  and %d subtests: %d passed, %d skipped, %d refused, %d wrong\n", sc.Ran, sc.Passed, sc.Skipped, sc.Refused, sc.Wrong)
	var constructs []string
	for k := range c.ByConstruct {
		constructs = append(constructs, k)
	}
	sort.Slice(constructs, func(i, j int) bool {
		a, b := constructs[i], constructs[j]
		if c.ByConstruct[a] != c.ByConstruct[b] {
			return c.ByConstruct[a] > c.ByConstruct[b]
		}
		return a < b
	})
	for _, k := range constructs {
		fmt.Printf("  refused %3d  %s\n", c.ByConstruct[k], k)
	}
	for _, o := range got {
		for _, x := range append([]drivergate.Outcome{o}, o.Subtests...) {
			if x.Result != "pass" && x.Result != "skip" && !isRefusal(x.Result) {
				fmt.Printf("  %s: %s\n", x.Test, x.Result)
			}
		}
	}
	if update {
		if run != "" {
			return errors.New("-update needs the whole suite (no -run)")
		}
		// A test whose outcome is wrong is run once more, as the gate
		// does (see rerunDiffering); if any outcome is still wrong, the
		// list is left as it is: writing it without that test would drop
		// its expected line.
		got = rerunDiffering(ctx, cfg, nil, got)
		if n := countWrong(got); n > 0 {
			return fmt.Errorf("%d wrong outcomes: %s not rewritten", n, expected)
		}
		f, err := os.Create(expected)
		if err != nil {
			return err
		}
		fmt.Fprintf(f, "# Expected outcomes of the go-mssqldb integration tests against the test server.\n# Written by go run ./cmd/drivergate -update; never lists a wrong outcome.\n")
		if err := drivergate.FormatExpected(f, got); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	f, err := os.Open(expected)
	if err != nil {
		return err
	}
	want, err := drivergate.ParseExpected(f)
	f.Close()
	if err != nil {
		return err
	}
	if run != "" {
		for name := range want {
			top, _, _ := strings.Cut(name, "/")
			if !contains(tests, top) {
				delete(want, name)
			}
		}
	}
	if drivergate.Compare(want, got) != nil {
		got = rerunDiffering(ctx, cfg, want, got)
	}
	if diffs := drivergate.Compare(want, got); diffs != nil {
		for _, d := range diffs {
			fmt.Println("  DIFF", d)
		}
		return fmt.Errorf("%w: %d differences", drivergate.ErrDiffers, len(diffs))
	}
	fmt.Println("drivergate: outcomes match", expected)
	return nil
}

// rerunDiffering runs each test whose outcome differs from want (with a
// nil want: each test with a wrong outcome) once more, alone, and keeps
// its second outcome. A few of the driver's tests
// time things inside the client (one swaps the connection's transport for
// a mock while a reply may already be on its way), so under a heavy load
// their outcome can differ once without anything being wrong with the
// server. Each rerun is printed; a test that differs twice still fails
// the gate.
func rerunDiffering(ctx context.Context, cfg drivergate.Config, want map[string]string, got []drivergate.Outcome) []drivergate.Outcome {
	out := append([]drivergate.Outcome(nil), got...)
	for i, o := range out {
		if want == nil && countWrong([]drivergate.Outcome{o}) == 0 ||
			want != nil && drivergate.Compare(wantOf(want, o.Test), []drivergate.Outcome{o}) == nil {
			continue
		}
		one := cfg
		one.Tests, one.Parallel, one.Progress = []string{o.Test}, 1, nil
		again := drivergate.Run(ctx, one)
		if len(again) == 1 {
			fmt.Printf("  rerun %s: %s, then %s\n", o.Test, o.Result, again[0].Result)
			out[i] = again[0]
		}
	}
	return out
}

// wantOf is the part of want about one test and its subtests.
func wantOf(want map[string]string, test string) map[string]string {
	out := map[string]string{}
	for name, w := range want {
		if name == test || strings.HasPrefix(name, test+"/") {
			out[name] = w
		}
	}
	return out
}

// countWrong counts the wrong outcomes among tests and their subtests.
func countWrong(got []drivergate.Outcome) int {
	n := 0
	for _, o := range got {
		for _, x := range append([]drivergate.Outcome{o}, o.Subtests...) {
			if strings.HasPrefix(x.Result, "wrong") {
				n++
			}
		}
	}
	return n
}

func isRefusal(r string) bool { return len(r) > 9 && r[:9] == "refused: " }

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}
