package mssqlstore_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// Tests of the README as a user reads it.

// readme returns README.md.
func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// codeBlocks returns the README's fenced blocks in the language lang, in
// order.
func codeBlocks(text, lang string) []string {
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```"+regexp.QuoteMeta(lang)+"\n(.*?)```").FindAllStringSubmatch(text, -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

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

// raceEnabled reports whether this test binary was built with -race.
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

// Issue 13's "done when": a new module that follows only the README
// builds, runs against the public test server and passes a test. The
// module holds the README's usage program as main.go and the README's
// test of it as main_test.go, and a copy of example/ with its tests; it
// gets this module with the README's own `go get` command, pointed at
// this checkout by a replace directive, from the module cache only (CI
// runs `go mod download` first). The schema comes from CreateSchema, as
// in the README's test. Everything the new module imports must be public:
// an internal package of this module fails its build.
func TestREADMENewModule(t *testing.T) {
	text := readme(t)
	goBlocks := codeBlocks(text, "go")
	var mainGo, testGo string
	for _, b := range goBlocks {
		switch {
		case mainGo == "" && strings.HasPrefix(b, "package main\n") && strings.Contains(b, "func main()"):
			mainGo = b
		case testGo == "" && strings.HasPrefix(b, "package main\n") && strings.Contains(b, "func Test"):
			testGo = b
		}
	}
	if mainGo == "" || testGo == "" {
		t.Fatalf("the README has no usage program (package main with func main) or no test of it (package main with func Test) among its %d go blocks", len(goBlocks))
	}
	var goGet []string
	for _, b := range codeBlocks(text, "sh") {
		for _, line := range strings.Split(b, "\n") {
			if strings.HasPrefix(line, "go get ") {
				goGet = strings.Fields(strings.SplitN(line, "#", 2)[0])
			}
		}
	}
	if len(goGet) != 3 || goGet[2] != "github.com/scs-contrib/mssqlstore" {
		t.Fatalf("the README's sh blocks have no `go get github.com/scs-contrib/mssqlstore` line (found %q)", goGet)
	}

	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/app\n\ngo 1.25\n\nreplace github.com/scs-contrib/mssqlstore => "+root+"\n")
	write("main.go", mainGo)
	write("main_test.go", testGo)
	// The example with the tests that run it in-process; its SIGTERM
	// test builds and runs binaries, which this repository's own run of
	// example/ covers.
	for _, name := range []string{"main.go", "main_test.go"} {
		b, err := os.ReadFile(filepath.Join("example", name))
		if err != nil {
			t.Fatal(err)
		}
		write(filepath.Join("example", name), string(b))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, goCommand(), args...)
		cmd.Dir = dir
		// The module cache only: no network, no workspace, and go.mod
		// and go.sum are written as the user's go command writes them.
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run(goGet[1:]...)
	testArgs := []string{"test", "-count=1"}
	if raceEnabled() {
		testArgs = append(testArgs, "-race")
	}
	start := time.Now()
	out := run(append(testArgs, "./...")...)
	t.Logf("go %s ./... in the new module: %v\n%s", strings.Join(testArgs, " "), time.Since(start).Round(time.Millisecond), out)
	for _, pkg := range []string{"example.com/app", "example.com/app/example"} {
		if !regexp.MustCompile(`(?m)^ok\s+` + regexp.QuoteMeta(pkg) + `\s`).MatchString(out) {
			t.Errorf("package %s did not pass in the new module:\n%s", pkg, out)
		}
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"github.com/scs-contrib/mssqlstore v", "github.com/microsoft/go-mssqldb v", "github.com/alexedwards/scs/v2 v"} {
		if !strings.Contains(string(gomod), want) {
			t.Errorf("the new module's go.mod does not require %s:\n%s", strings.TrimSuffix(want, " v"), gomod)
		}
	}
	if strings.Contains(string(gomod), "denisenkom") {
		t.Errorf("the new module depends on the old driver, which panics next to go-mssqldb:\n%s", gomod)
	}
}

// Every relative link in the README and in docs/ leads to a file of the
// repository, and every link to a README section to a heading there.
func TestREADMELinks(t *testing.T) {
	files, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{"README.md", "bench/README.md"}, files...)
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			file := f
			if path != "" {
				file = filepath.Join(filepath.Dir(f), path)
				if !fileExists(file) {
					t.Errorf("%s: link %q: no such file %s", f, target, file)
					continue
				}
			}
			if anchor == "" || !strings.HasSuffix(file, ".md") {
				continue
			}
			if !hasAnchor(t, file, anchor) {
				t.Errorf("%s: link %q: %s has no heading with the anchor #%s", f, target, file, anchor)
			}
		}
	}
}

// hasAnchor reports whether a markdown file has a heading whose GitHub
// anchor is anchor: lower case, spaces to hyphens, punctuation dropped.
func hasAnchor(t *testing.T, file, anchor string) bool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	inCode := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var slug strings.Builder
		for _, r := range h {
			switch {
			case r == ' ':
				slug.WriteRune('-')
			case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
				slug.WriteRune(r)
			}
		}
		if slug.String() == anchor {
			return true
		}
	}
	return false
}
