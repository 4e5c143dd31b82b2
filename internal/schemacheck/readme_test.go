package schemacheck

import (
	"database/sql"
	"os"
	"regexp"
	"strings"
	"testing"

	_ "github.com/microsoft/go-mssqldb"
	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
)

// readmeSchema returns the statements of the README's schema (its first
// sql block), without comments, GRANTs apart.
func readmeSchema(t *testing.T) (ddl, grants []string) {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```sql\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("README.md has no sql block")
	}
	var lines []string
	for _, l := range strings.Split(string(m[1]), "\n") {
		if i := strings.Index(l, "--"); i >= 0 {
			l = l[:i]
		}
		lines = append(lines, l)
	}
	for _, stmt := range strings.Split(strings.Join(lines, "\n"), ";") {
		stmt = strings.Join(strings.Fields(stmt), " ")
		stmt = strings.ReplaceAll(strings.ReplaceAll(stmt, "( ", "("), " )", ")")
		switch {
		case stmt == "":
		case strings.HasPrefix(stmt, "GRANT "):
			grants = append(grants, stmt)
		default:
			ddl = append(ddl, stmt)
		}
	}
	return ddl, grants
}

// The README's schema is the one init makes on an empty database, column
// for column, and check finds nothing wrong with it: text and tool agree.
func TestREADMESchema(t *testing.T) {
	ddl, grants := readmeSchema(t)
	stmts, err := Statements(Options{})
	if err != nil {
		t.Fatal(err)
	}
	columns := columnsDDL(BinaryCollation)
	for i, prefix := range []string{"CREATE TABLE dbo.sessions ", "CREATE INDEX sessions_expiry_idx ON dbo.sessions (expiry)", "CREATE TYPE dbo.sessions_batch AS TABLE "} {
		if i >= len(ddl) || !strings.HasPrefix(ddl[i], prefix) {
			t.Fatalf("README statement %d: %q, want it to begin %q", i+1, ddl, prefix)
		}
		if i != 1 {
			if got := strings.TrimPrefix(ddl[i], prefix); got != columns {
				t.Errorf("README statement %d has the columns\n%s\ninit has\n%s", i+1, got, columns)
			}
			if !strings.Contains(stmts[i], columns) {
				t.Errorf("init's statement %d lacks %s:\n%s", i+1, columns, stmts[i])
			}
		}
	}
	for _, g := range grants {
		if strings.Contains(g, "[dbo]") || strings.HasSuffix(g, " TO dbo") {
			t.Errorf("README grants to dbo, which SQL Server refuses (error 4617): %s", g)
		}
	}

	srv := mssqltest.Start(t, mssqltest.Options{Bare: true})
	ctx := testContext(t)
	for _, s := range ddl {
		if err := srv.Exec(ctx, s); err != nil {
			t.Fatalf("README: %s: %v", s, err)
		}
	}
	db, err := sql.Open("sqlserver", srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	findings, err := Check(ctx, db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		if f.Level != OK {
			t.Errorf("check on the README's schema: %s", f)
		}
	}

	// The README's GRANTs run, and give its application user what the
	// store needs, as check -user sees it.
	users := map[string]bool{}
	for _, g := range grants {
		_, user, ok := strings.Cut(g, " TO ")
		if !ok {
			t.Fatalf("README: %s: no grantee", g)
		}
		if !users[user] {
			srv.AddLogin(user, "App-Passw0rd", nil)
			users[user] = true
		}
		if err := srv.Exec(ctx, g); err != nil {
			t.Fatalf("README: %s: %v", g, err)
		}
	}
	for user := range users {
		findings, err := Check(ctx, db, Options{User: user})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range findings {
			if f.Level != OK {
				t.Errorf("check -user %s after the README's GRANTs: %s", user, f)
			}
		}
	}
}
