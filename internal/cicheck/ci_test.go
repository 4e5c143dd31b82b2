package cicheck

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const root = "../.."

type workflow struct {
	Name        string            `yaml:"name"`
	On          any               `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Jobs        map[string]job    `yaml:"jobs"`
}

type job struct {
	Name     string `yaml:"name"`
	RunsOn   string `yaml:"runs-on"`
	Strategy struct {
		FailFast bool                `yaml:"fail-fast"`
		Matrix   map[string][]string `yaml:"matrix"`
	} `yaml:"strategy"`
	Services map[string]service `yaml:"services"`
	Env      map[string]string  `yaml:"env"`
	Steps    []step             `yaml:"steps"`
}

type service struct {
	Image string            `yaml:"image"`
	Env   map[string]string `yaml:"env"`
	Ports []string          `yaml:"ports"`
}

type step struct {
	Name  string            `yaml:"name"`
	Uses  string            `yaml:"uses"`
	Run   string            `yaml:"run"`
	If    string            `yaml:"if"`
	Shell string            `yaml:"shell"`
	With  map[string]string `yaml:"with"`
}

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Environment map[string]string `yaml:"environment"`
	DependsOn   []string          `yaml:"depends_on"`
	WorkingDir  string            `yaml:"working_dir"`
	Volumes     []string          `yaml:"volumes"`
	Command     string            `yaml:"command"`
	Ports       []string          `yaml:"ports"`
}

// load decodes a YAML file strictly: an unknown key at a known place is
// probably a typo.
func load(t *testing.T, path string, v any) {
	t.Helper()
	f, err := os.Open(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// stepIndex returns the index of the first step whose run command
// contains cmd, or -1.
func stepIndex(steps []step, cmd string) int {
	return slices.IndexFunc(steps, func(s step) bool { return strings.Contains(s.Run, cmd) })
}

// checkDSN checks that dsn logs in as sa with password to host and
// database.
func checkDSN(t *testing.T, name, dsn, host, password, database string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	pw, _ := u.User.Password()
	if u.Scheme != "sqlserver" || u.User.Username() != "sa" || pw != password || u.Host != host {
		t.Errorf("%s = %q: want sqlserver://sa:<the server's password>@%s", name, dsn, host)
	}
	if got := u.Query().Get("database"); got != database {
		t.Errorf("%s: database %q, want %q", name, got, database)
	}
}

func TestWorkflow(t *testing.T) {
	var wf workflow
	load(t, ".github/workflows/ci.yml", &wf)
	if len(wf.Jobs) != 2 {
		t.Errorf("%d jobs, want 2 (test, sqlserver)", len(wf.Jobs))
	}

	t.Run("test server job", func(t *testing.T) {
		j, ok := wf.Jobs["test"]
		if !ok {
			t.Fatal("no job test")
		}
		if !slices.ContainsFunc(j.Steps, func(s step) bool { return strings.HasPrefix(s.Uses, "actions/setup-go@") }) {
			t.Error("no actions/setup-go step")
		}
		freetds, vet, test := stepIndex(j.Steps, "apt-get install -y freetds-bin"), stepIndex(j.Steps, "go vet ./..."), stepIndex(j.Steps, "go test -race ./...")
		if freetds < 0 || vet < 0 || test < 0 {
			t.Fatalf("steps: freetds-bin %d, go vet %d, go test -race %d; want all", freetds, vet, test)
		}
		if freetds > test {
			t.Error("FreeTDS is installed after the tests run")
		}
		if _, ok := j.Env["MSSQL_TEST_DSN"]; ok {
			t.Error("the test-server job sets MSSQL_TEST_DSN")
		}
	})

	t.Run("SQL Server matrix job", func(t *testing.T) {
		j, ok := wf.Jobs["sqlserver"]
		if !ok {
			t.Fatal("no job sqlserver")
		}
		versions := j.Strategy.Matrix["version"]
		if want := []string{"2019", "2022", "2025"}; !slices.Equal(versions, want) {
			t.Errorf("matrix versions %q, want %q", versions, want)
		}
		svc, ok := j.Services["mssql"]
		if !ok {
			t.Fatal("no service mssql")
		}
		var images []string
		for _, v := range versions {
			images = append(images, strings.ReplaceAll(svc.Image, "${{ matrix.version }}", v))
		}
		wantImages := []string{"mcr.microsoft.com/mssql/server:2019-latest", "mcr.microsoft.com/mssql/server:2022-latest", "mcr.microsoft.com/mssql/server:2025-latest"}
		if !slices.Equal(images, wantImages) {
			t.Errorf("images %q, want %q", images, wantImages)
		}
		if svc.Env["ACCEPT_EULA"] != "Y" {
			t.Error("ACCEPT_EULA is not Y")
		}
		password := svc.Env["MSSQL_SA_PASSWORD"]
		if password == "" {
			t.Error("MSSQL_SA_PASSWORD is not set")
		}
		if !slices.Contains(svc.Ports, "1433:1433") {
			t.Errorf("ports %q, want 1433:1433", svc.Ports)
		}
		checkDSN(t, "MSSQL_TEST_DSN", j.Env["MSSQL_TEST_DSN"], "127.0.0.1:1433", password, "mssqlstore_test")
		checkDSN(t, "MSSQL_MASTER_DSN", j.Env["MSSQL_MASTER_DSN"], "127.0.0.1:1433", password, "master")

		ready, test := stepIndex(j.Steps, "createdb.go"), stepIndex(j.Steps, "go test -race ./...")
		if ready < 0 || test < 0 || ready > test {
			t.Errorf("steps: readiness %d, go test -race %d; want the readiness step before the tests", ready, test)
		}
		if ready >= 0 && !strings.Contains(j.Steps[ready].Run, "-database mssqlstore_test") {
			t.Errorf("the readiness step %q does not create mssqlstore_test", j.Steps[ready].Run)
		}
		if stepIndex(j.Steps, "freetds-bin") < 0 {
			t.Error("FreeTDS is not installed (the test server's tests run here too)")
		}

		bench := stepIndex(j.Steps, "cd bench && go test -run '^$' -bench . -benchmem")
		if bench < 0 {
			t.Fatal("no benchmark step")
		}
		b := j.Steps[bench]
		if b.If != "matrix.version == '2022'" {
			t.Errorf("benchmark step runs if %q, want only on 2022", b.If)
		}
		if b.Shell != "bash" {
			t.Errorf("benchmark step shell %q, want bash (pipefail, so tee keeps a failure)", b.Shell)
		}
		up := slices.IndexFunc(j.Steps, func(s step) bool { return strings.HasPrefix(s.Uses, "actions/upload-artifact@") })
		if up < bench {
			t.Fatalf("no upload-artifact step after the benchmarks")
		}
		u := j.Steps[up]
		if u.If != b.If {
			t.Errorf("upload runs if %q, the benchmarks if %q", u.If, b.If)
		}
		if path := u.With["path"]; path == "" || !strings.Contains(b.Run, "tee ../"+path) {
			t.Errorf("upload path %q is not the file the benchmark step writes (%q)", path, b.Run)
		}
	})
}

func TestCompose(t *testing.T) {
	var c composeFile
	load(t, "compose.yaml", &c)
	if len(c.Services) != 2 {
		t.Errorf("%d services, want 2 (mssql, tests)", len(c.Services))
	}
	db, ok := c.Services["mssql"]
	if !ok {
		t.Fatal("no service mssql")
	}
	if db.Image != "mcr.microsoft.com/mssql/server:2022-latest" {
		t.Errorf("mssql image %q", db.Image)
	}
	if db.Environment["ACCEPT_EULA"] != "Y" || db.Environment["MSSQL_SA_PASSWORD"] == "" {
		t.Errorf("mssql environment %v: want ACCEPT_EULA=Y and MSSQL_SA_PASSWORD", db.Environment)
	}
	tests, ok := c.Services["tests"]
	if !ok {
		t.Fatal("no service tests")
	}
	if !strings.HasPrefix(tests.Image, "golang:") {
		t.Errorf("tests image %q, want golang", tests.Image)
	}
	if !slices.Contains(tests.DependsOn, "mssql") {
		t.Errorf("tests depends on %q, want mssql", tests.DependsOn)
	}
	if mount := ".:" + tests.WorkingDir; tests.WorkingDir == "" || !slices.Contains(tests.Volumes, mount) {
		t.Errorf("volumes %q, working_dir %q: want the repository mounted at the working directory", tests.Volumes, tests.WorkingDir)
	}
	password := db.Environment["MSSQL_SA_PASSWORD"]
	checkDSN(t, "MSSQL_TEST_DSN", tests.Environment["MSSQL_TEST_DSN"], "mssql:1433", password, "mssqlstore_test")
	checkDSN(t, "MSSQL_MASTER_DSN", tests.Environment["MSSQL_MASTER_DSN"], "mssql:1433", password, "master")
	ready, run := strings.Index(tests.Command, "createdb.go"), strings.Index(tests.Command, "go test ./...")
	if ready < 0 || run < 0 || ready > run {
		t.Errorf("command %q: want it to wait for the server (createdb.go), then run go test ./...", tests.Command)
	}
	if !strings.Contains(tests.Command, "freetds-bin") {
		t.Errorf("command %q does not install FreeTDS", tests.Command)
	}
}

// TestCreateDBBuilds compiles the readiness helper both files run: it
// sits under .github, where ./... does not reach.
func TestCreateDBBuilds(t *testing.T) {
	out := filepath.Join(t.TempDir(), "createdb")
	cmd := exec.Command("go", "build", "-o", out, filepath.Join(root, ".github", "ci", "createdb.go"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
}
