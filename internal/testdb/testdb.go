// Package testdb opens the database the tests run against: the SQL Server
// named by the MSSQL_TEST_DSN environment variable when it is set, and
// otherwise a fresh in-repository test server (internal/mssqltest), which
// is a test double of SQL Server, not SQL Server.
//
// Against a real server each test gets its own table (and table type),
// with a random name, dropped when the test ends; against the test server
// each test gets its own server.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb" // and the "sqlserver" driver
	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
)

// EnvDSN names the environment variable that points the tests at a real
// SQL Server.
const EnvDSN = "MSSQL_TEST_DSN"

// DB is an open test database.
type DB struct {
	*sql.DB
	// DSN is the connection string the DB was opened with.
	DSN string
	// Server is the in-repository test server, nil against a real server.
	Server *mssqltest.Server
	// Table and TableType are the names the store under test should use.
	Table, TableType string
}

// Options says what a test needs.
type Options struct {
	// WithType creates the batch table type, so flushes use the TVP MERGE.
	WithType bool
	// Server configures the test server (ignored against a real server).
	Server mssqltest.Options
	// MaxOpenConns bounds the pool; default 16.
	MaxOpenConns int
}

// Open returns a test database with an empty sessions table, closed when
// the test ends.
func Open(t testing.TB, opts Options) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := &DB{}
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		d.DSN = dsn
		suffix := randomSuffix(t)
		d.Table = "dbo.sessions_" + suffix
		d.TableType = "dbo.sessions_batch_" + suffix
	} else {
		d.Server = mssqltest.Start(t, opts.Server)
		d.DSN = d.Server.DSN()
		d.Table = "dbo.sessions"
		d.TableType = "dbo.sessions_batch"
	}
	db, err := sql.Open("sqlserver", d.DSN)
	if err != nil {
		t.Fatalf("testdb: open: %v", err)
	}
	n := opts.MaxOpenConns
	if n == 0 {
		n = 16
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	d.DB = db
	t.Cleanup(func() { db.Close() })

	if d.Server == nil {
		d.mustExec(t, ctx, "CREATE TABLE "+d.Table+" (token CHAR(43) PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL)")
		d.mustExec(t, ctx, "CREATE INDEX "+d.Table[len("dbo."):]+"_expiry_idx ON "+d.Table+" (expiry)")
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			db.ExecContext(ctx, "DROP TABLE IF EXISTS "+d.Table)
			db.ExecContext(ctx, "DROP TYPE IF EXISTS "+d.TableType)
		})
	}
	if opts.WithType {
		d.CreateType(t)
	}
	return d
}

// CreateType creates the batch table type.
func (d *DB) CreateType(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The token column takes the database's default collation, as the
	// table's does: SQL Server cannot compare columns of two collations.
	d.mustExec(t, ctx, "CREATE TYPE "+d.TableType+" AS TABLE (token CHAR(43) NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL)")
}

// RequireServer marks a test that needs the test server's controls (fault
// injection, counters, wire types). Against a real SQL Server it skips the
// test; in the default run (no MSSQL_TEST_DSN) it never skips.
func (d *DB) RequireServer(t testing.TB) *mssqltest.Server {
	t.Helper()
	if d.Server == nil {
		t.Skip("needs the in-repository test server's controls; " + EnvDSN + " points at a real SQL Server")
	}
	return d.Server
}

// Row is one row of the sessions table.
type Row struct {
	Data   []byte
	Expiry time.Time
}

// Rows returns the sessions in the table, read straight from the
// database: every row but the store's invalidation journal, whose tokens
// begin with "~" (JournalRows reads those).
func (d *DB) Rows(t testing.TB) map[string]Row {
	t.Helper()
	out := d.allRows(t)
	for token := range out {
		if strings.HasPrefix(token, "~") {
			delete(out, token)
		}
	}
	return out
}

// JournalRows returns the rows of the store's invalidation journal and
// its counter, keyed by token without its padding.
func (d *DB) JournalRows(t testing.TB) map[string]Row {
	t.Helper()
	out := map[string]Row{}
	for token, r := range d.allRows(t) {
		if strings.HasPrefix(token, "~") {
			out[strings.TrimRight(token, " ")] = r
		}
	}
	return out
}

func (d *DB) allRows(t testing.TB) map[string]Row {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := d.QueryContext(ctx, "SELECT token, data, expiry FROM "+d.Table)
	if err != nil {
		t.Fatalf("testdb: read table: %v", err)
	}
	defer rows.Close()
	out := map[string]Row{}
	for rows.Next() {
		var token string
		var r Row
		if err := rows.Scan(&token, &r.Data, &r.Expiry); err != nil {
			t.Fatalf("testdb: scan: %v", err)
		}
		out[token] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("testdb: read table: %v", err)
	}
	return out
}

func (d *DB) mustExec(t testing.TB, ctx context.Context, query string) {
	t.Helper()
	if _, err := d.ExecContext(ctx, query); err != nil {
		t.Fatalf("testdb: %s: %v", query, err)
	}
}

func randomSuffix(t testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// noMergeNumber is the error Babelfish answers a MERGE with: "'MERGE' is
// not currently supported in Babelfish" (33557097).
const noMergeNumber = 33557097

var (
	mergeOnce sync.Once
	hasMerge  bool
	mergeErr  error
)

// HasMerge reports whether the server runs MERGE. The test server does, as
// SQL Server does; against a real server it is asked once per test
// binary, with a MERGE that matches nothing, and only error 33557097 (as
// Babelfish answers) means no.
func (d *DB) HasMerge(t testing.TB) bool {
	t.Helper()
	if d.Server != nil {
		return true
	}
	mergeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := d.ExecContext(ctx, "MERGE "+d.Table+" AS t USING (SELECT 1 AS x) AS s ON 1 = 0 WHEN MATCHED THEN DELETE;")
		var me mssql.Error
		switch {
		case err == nil:
			hasMerge = true
		case errors.As(err, &me) && me.Number == noMergeNumber:
		default:
			mergeErr = err
		}
	})
	if mergeErr != nil {
		t.Fatalf("testdb: ask whether the server runs MERGE: %v", mergeErr)
	}
	return hasMerge
}

// MergeReport reports whether err is the store's once-only report that it
// flushes without MERGE because the server refused it: with 33557097, or
// with 515, which Babelfish raises for table-valued parameters of some
// row counts (8 to 12, 30) before it even reads the MERGE. It is the one
// background error a store reports, as expected, on a server without
// MERGE.
func MergeReport(err error) bool {
	var me mssql.Error
	return strings.HasPrefix(err.Error(), "mssqlstore: flushing with UPDATE then INSERT instead of a MERGE") &&
		errors.As(err, &me) && (me.Number == noMergeNumber || me.Number == 515)
}

// Unexpected returns errs without the one expected report of a server
// without MERGE (see MergeReport); against a server with MERGE it returns
// errs as they are.
func (d *DB) Unexpected(t testing.TB, errs []error) []error {
	t.Helper()
	if d.HasMerge(t) {
		return errs
	}
	var out []error
	reported := false
	for _, err := range errs {
		if !reported && MergeReport(err) {
			reported = true
			continue
		}
		out = append(out, err)
	}
	return out
}
