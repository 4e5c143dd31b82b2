package mssqltest_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
)

// runTSQL runs FreeTDS's tsql against s with a script on stdin and
// returns its standard output. FreeTDS is a second client, independent of
// go-mssqldb, so the server is not tuned to one driver's habits.
func runTSQL(t *testing.T, s *mssqltest.Server, script string) string {
	t.Helper()
	path, err := exec.LookPath("tsql")
	if err != nil {
		t.Fatalf("FreeTDS tsql is not installed: install the freetds-bin package (apt-get install -y freetds-bin): %v", err)
	}
	host, port, err := net.SplitHostPort(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-H", host, "-p", port, "-U", mssqltest.DefaultUser, "-P", mssqltest.DefaultPassword, "-D", mssqltest.DefaultDatabase)
	cmd.Env = append(os.Environ(), "TDSVER=7.4")
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tsql: %v\n%s", err, out)
	}
	return string(out)
}

func TestFreeTDSFake(t *testing.T) {
	s, _ := mssqltest.StartFake(t, mssqltest.Options{})
	out := runTSQL(t, s, "SELECT 1\ngo\nexit\n")
	if !strings.Contains(out, "\n1\n") || !strings.Contains(out, "(1 row affected)") {
		t.Errorf("tsql output lacks the row:\n%s", out)
	}
	if got := s.Counters().RoundTrips; got < 1 {
		t.Errorf("RoundTrips = %d", got)
	}
}

func TestFreeTDSEngine(t *testing.T) {
	s := mssqltest.Start(t, mssqltest.Options{})
	ctx := testCtx(t)
	tok := strings.Repeat("f", 43)
	if err := s.Exec(ctx, "INSERT INTO sessions (token, data, expiry) VALUES ('"+tok+"', 0x0102, '2030-01-02T03:04:05')"); err != nil {
		t.Fatal(err)
	}
	out := runTSQL(t, s, "SELECT token, DATALENGTH(data) AS n FROM sessions\ngo\nexit\n")
	if !strings.Contains(out, tok) || !strings.Contains(out, "(1 row affected)") {
		t.Errorf("tsql output lacks the row:\n%s", out)
	}
}
