package schemacheck

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-sql/civil"
	mssql "github.com/microsoft/go-mssqldb"
	"github.com/scs-contrib/mssqlstore/internal/testdb"
)

// These tests run against the in-repository test server, or against the
// SQL Server named by MSSQL_TEST_DSN, so that the catalog queries are
// checked against the real thing in CI.

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestCheckHealthySchema(t *testing.T) {
	d := testdb.Open(t, testdb.Options{WithType: true})
	findings, err := Check(testContext(t), d.DB, Options{Table: d.Table, TableType: d.TableType})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range findings {
		got = append(got, f.String())
		if f.Level == Error {
			t.Errorf("unexpected error finding: %s", f)
		}
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"ok: columns token CHAR(43) NOT NULL, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL",
		"ok: primary key on token",
		"leads with expiry",
		"has columns token, data, expiry",
		"has SELECT, INSERT, UPDATE, DELETE on",
		"has EXECUTE on type",
		// testdb creates the token column with the database's default
		// collation, case-insensitive on the test server and in CI.
		"compares case-insensitively",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("findings lack %q:\n%s", want, all)
		}
	}
}

func TestCheckBadName(t *testing.T) {
	d := testdb.Open(t, testdb.Options{})
	if _, err := Check(testContext(t), d.DB, Options{Table: "a]b"}); err == nil || !strings.Contains(err.Error(), "invalid object name") {
		t.Errorf("Check with a bad name: %v, want an invalid object name error", err)
	}
	if _, err := ReadStats(testContext(t), d.DB, Options{Table: "x.y.z"}, time.Now()); err == nil {
		t.Error("ReadStats with a three-part name: no error")
	}
}

func TestReadStats(t *testing.T) {
	d := testdb.Open(t, testdb.Options{})
	ctx := testContext(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := []struct {
		token  string
		expiry time.Time
	}{
		{strings.Repeat("a", 43), now.Add(-time.Hour)},
		{strings.Repeat("b", 43), now},                       // expiry == now: expired, as the store sees it
		{strings.Repeat("c", 43), now.Add(time.Microsecond)}, // live
		{strings.Repeat("d", 43), now.Add(48 * time.Hour)},
	}
	for _, r := range rows {
		if _, err := d.ExecContext(ctx, "INSERT INTO "+d.Table+" (token, data, expiry) VALUES (@p1, 0x00, @p2)", r.token, civil.DateTimeOf(r.expiry)); err != nil {
			t.Fatal(err)
		}
	}
	st, err := ReadStats(ctx, d.DB, Options{Table: d.Table}, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.Live != 2 || st.Expired != 2 {
		t.Errorf("live %d, expired %d; want 2 and 2", st.Live, st.Expired)
	}
	if want := now.Add(-time.Hour); !st.Oldest.Equal(want) {
		t.Errorf("oldest %v, want %v", st.Oldest, want)
	}
	if want := now.Add(48 * time.Hour); !st.Newest.Equal(want) {
		t.Errorf("newest %v, want %v", st.Newest, want)
	}
	var me mssql.Error
	switch {
	case d.Server == nil && errors.As(st.SizeErr, &me) && me.Number == 33557097:
		// Babelfish has no sp_spaceused ("not currently supported");
		// ReadStats reports that in SizeErr and the rest stands.
		t.Logf("size: %v", st.SizeErr)
		return
	case st.SizeErr != nil:
		t.Errorf("size: %v", st.SizeErr)
	}
	if !strings.HasSuffix(st.Size.Reserved, "KB") || strings.TrimSpace(st.Size.Rows) != "4" {
		t.Errorf("size %+v, want 4 rows and a reserved size in KB", st.Size)
	}
}
