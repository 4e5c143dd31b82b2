package mssqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/scs-contrib/mssqlstore/internal/sqlname"
	"github.com/scs-contrib/mssqlstore/internal/testdb"
)

// planRows is how many rows the table holds while the plans are read:
// enough that PostgreSQL (under Babelfish) prefers an index to reading
// the table's pages, which it does not for a table of a few pages.
const planRows = 4096

// planStatement is one kind of statement the store sends, with the
// arguments the store sends it with (the same Go types, so the same wire
// types).
type planStatement struct {
	name  string
	query string
	args  []any
	// merge marks the MERGE of a table-valued parameter, which Babelfish
	// does not have; it is sent by writer.merge, with items.
	merge bool
	items []item
	// keyed says the statement finds its rows by token; otherwise by
	// expiry (the expiry index), which PostgreSQL under Babelfish plans
	// well only with the table's statistics.
	keyed bool
	// journaled marks a MERGE sent with the invalidation journal.
	journaled bool
	// hasIf marks a batch with IF, whose plan Babelfish cannot show.
	hasIf bool
	// pkRange marks a statement that reads a range of the primary key:
	// on the test server, a range seek.
	pkRange bool
}

// Every statement kind the store sends finds its rows through an index:
// the primary key for Find, Delete and both flush paths, the expiry index
// for All and cleanup. The parameters are cast to the column types in the
// SQL (see buildQueries), so that no engine converts the column instead.
//
// On the test server (the default run) its counters say so: a seek of
// the primary key, no scan, no conversion of a column. Against Babelfish
// the plans say so (SET BABELFISH_SHOWPLAN_ALL ON): an index scan of the
// sessions table, never a sequential scan. Against SQL Server the plan
// part is skipped: its showplan is another format.
func TestStatementPlans(t *testing.T) {
	d := testdb.Open(t, testdb.Options{WithType: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	table, err := sqlname.Parse(d.Table)
	if err != nil {
		t.Fatal(err)
	}
	tableType, err := sqlname.Parse(d.TableType)
	if err != nil {
		t.Fatal(err)
	}
	q := buildQueries(table, tableType)

	// planRows rows, one a minute from base on: at base + 1% of the span
	// 1% of them have expired, at base + 99% 1% are live. Each statement
	// is given the moment at which what it looks for is a small part of
	// the table, as it is in a store's steady state (cleanup runs often;
	// All is the exception, and reads the live rows, whatever they are).
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tokens := make([]string, planRows)
	for i := range tokens {
		tokens[i] = newToken(t)
	}
	for start := 0; start < planRows; start += maxTypelessRows {
		var args []any
		for i := start; i < start+maxTypelessRows; i++ {
			args = append(args, mssql.VarChar(tokens[i]), []byte("data"), civilTime(base.Add(time.Duration(i)*time.Minute)))
		}
		if _, err := d.ExecContext(ctx, q.typeless[sizeClass(maxTypelessRows)], args...); err != nil {
			t.Fatalf("insert rows %d..: %v", start, err)
		}
	}
	j := planJournal(t, base)
	jp := journalParts(table.Quoted())
	early := base.Add(planRows / 100 * time.Minute)
	late := base.Add(planRows * 99 / 100 * time.Minute)
	tok := tokens[planRows/2]
	other := newToken(t) // not in the table: the INSERT half inserts it
	statements := []planStatement{
		{name: "Find", query: q.find, args: []any{mssql.VarChar(tok), civilTime(early)}, keyed: true},
		{name: "All", query: q.all, args: []any{civilTime(late)}},
		{name: "Delete", query: q.delete, args: []any{mssql.VarChar(tok)}, keyed: true},
		{name: "DeleteExpired", query: q.deleteExpired, args: []any{int64(1000), civilTime(early)}},
		// Two rows: one that exists (the UPDATE half), one that does not
		// (the INSERT half).
		{name: "Typeless", query: q.typeless[1], args: []any{
			mssql.VarChar(tokens[1]), []byte("v2"), civilTime(late),
			mssql.VarChar(other), []byte("v2"), civilTime(late),
		}, keyed: true},
		// Sent as the writer sends it: its table-valued parameter is
		// built by writer.merge.
		{name: "Merge", query: q.merge, merge: true, keyed: true, items: []item{
			{token: tokens[2], data: []byte("v3"), expiry: late},
			{token: newToken(t), data: []byte("v3"), expiry: late},
		}},
		// The same writes with the invalidation journal: the counter and
		// the journal rows are found by the primary key too. Babelfish's
		// SHOWPLAN cannot show a batch with IF (33557097), so there the
		// journal's statements are read one by one (Journal*).
		// (The counter's creation, jp.create, reads no row: it inserts
		// one from its parameters.)
		{name: "JournalIncrement", query: jp.increment, args: j.args(), keyed: true},
		{name: "JournalInsert", query: jp.insert, args: j.args(), keyed: true},
		{name: "DeleteJournaled", query: q.journaled.delete, args: append([]any{mssql.VarChar(tokens[3])}, j.args()...), keyed: true, hasIf: true},
		{name: "TypelessJournaled", query: q.journaled.typeless[1], args: append([]any{
			mssql.VarChar(tokens[4]), []byte("v4"), civilTime(late),
			mssql.VarChar(newToken(t)), []byte("v4"), civilTime(late),
		}, j.args()...), keyed: true, hasIf: true},
		{name: "MergeJournaled", query: q.journaled.merge, merge: true, journaled: true, keyed: true, items: []item{
			{token: tokens[5], data: []byte("v5"), expiry: late},
			{token: newToken(t), data: []byte("v5"), expiry: late},
		}},
		{name: "Poll", query: q.poll, args: []any{mssql.VarChar(journalKey(1)), pollRows}, keyed: true, pkRange: true},
		{name: "DeleteJournal", query: q.deleteJournal, args: []any{int64(1000), civilTime(early)}, keyed: true, pkRange: true},
	}

	if d.Server != nil {
		checkCounters(t, ctx, d, q, statements)
		return
	}
	if !isBabelfish(t, ctx, d.DB) {
		t.Skip("plans are read with Babelfish's SHOWPLAN; " + testdb.EnvDSN + " points at another engine, whose showplan this test does not read")
	}
	checkPlans(t, ctx, d, table, statements, analyze(t, ctx, d, table))
}

// checkCounters runs each statement on the test server and reads the
// engine's counters: no scan and no conversion of a column for any; a
// seek of the primary key for a statement by token, a range seek for one
// by a range of tokens or of expiries (the test server, like SQL Server's
// optimizer, seeks the expiry index only for a small part of the table,
// which each statement is given).
func checkCounters(t *testing.T, ctx context.Context, d *testdb.DB, q queries, statements []planStatement) {
	srv := d.Server
	for _, s := range statements {
		t.Run(s.name, func(t *testing.T) {
			srv.ResetCounters()
			if s.merge {
				w := &writer{db: d.DB, q: q, j: planJournal(t, time.Now())}
				if err := w.merge(ctx, s.items, s.journaled); err != nil {
					t.Fatal(err)
				}
			} else if err := drain(d.QueryContext(ctx, s.query, s.args...)); err != nil {
				t.Fatal(err)
			}
			c := srv.Counters()
			if c.ImplicitColumnConversions != 0 {
				t.Errorf("%d implicit conversions of a column; want 0", c.ImplicitColumnConversions)
			}
			if c.Scans != 0 {
				t.Errorf("%d scans; want none", c.Scans)
			}
			if (s.pkRange || !s.keyed) && c.RangeSeeks == 0 {
				t.Errorf("no range seek; want a range seek of the primary key or of the expiry index")
			}
			if s.keyed && !s.pkRange && c.Seeks == 0 {
				t.Errorf("%d seeks, %d scans; want seeks of the primary key and no scan", c.Seeks, c.Scans)
			}
			t.Logf("seeks %d, range seeks %d, scans %d, conversions %d", c.Seeks, c.RangeSeeks, c.Scans, c.ImplicitColumnConversions)
		})
	}
}

// isBabelfish reports whether the server is Babelfish for PostgreSQL.
func isBabelfish(t *testing.T, ctx context.Context, db *sql.DB) bool {
	var v sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT CAST(SERVERPROPERTY('babelfish') AS NVARCHAR(10))").Scan(&v); err != nil {
		t.Fatalf("SERVERPROPERTY('babelfish'): %v", err)
	}
	return v.String == "1"
}

// analyze gives PostgreSQL the table's statistics, through psql on
// Babelfish's PostgreSQL side: Babelfish has no UPDATE STATISTICS
// (33557097) and its sp_updatestats analyzes nothing, and without
// statistics PostgreSQL guesses that a range on expiry selects a third of
// the table, and reads all of it. MSSQL_TEST_PG_DSN is the PostgreSQL
// connection string (a superuser, or the owner of the table), and
// MSSQL_TEST_PSQL the psql to run (default: psql on the PATH). Without
// MSSQL_TEST_PG_DSN, the statements by expiry are not checked.
func analyze(t *testing.T, ctx context.Context, d *testdb.DB, table sqlname.Name) bool {
	t.Helper()
	pgDSN := os.Getenv("MSSQL_TEST_PG_DSN")
	if pgDSN == "" {
		return false
	}
	psql := os.Getenv("MSSQL_TEST_PSQL")
	if psql == "" {
		psql = "psql"
	}
	// Babelfish keeps T-SQL schema s of database db in PostgreSQL schema
	// db_s.
	var schema string
	if err := d.QueryRowContext(ctx, "SELECT DB_NAME() + '_' + SCHEMA_NAME(SCHEMA_ID(@p1))", table.Schema).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	rel := `"` + strings.ToLower(schema) + `"."` + strings.ToLower(table.Object) + `"`
	out, err := exec.CommandContext(ctx, psql, pgDSN, "-v", "ON_ERROR_STOP=1", "-c", "ANALYZE "+rel).CombinedOutput()
	if err != nil {
		t.Fatalf("psql ANALYZE %s: %v: %s", rel, err, out)
	}
	return true
}

var (
	seqScan   = regexp.MustCompile(`Seq Scan on (\S+)`)
	indexScan = regexp.MustCompile(`(?:Index Scan|Index Only Scan|Index Scan Backward) using (\S+) on (\S+)|Bitmap Index Scan on (\S+)`)
)

// checkPlans reads each statement's plan on one connection under
// SET BABELFISH_SHOWPLAN_ALL ON (the statements are planned, not run).
func checkPlans(t *testing.T, ctx context.Context, d *testdb.DB, table sqlname.Name, statements []planStatement, analyzed bool) {
	conn, err := d.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET BABELFISH_SHOWPLAN_ALL ON"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "SET BABELFISH_SHOWPLAN_ALL OFF")
	rel := strings.ToLower(table.Object)
	for _, s := range statements {
		t.Run(s.name, func(t *testing.T) {
			if s.merge {
				t.Skip("Babelfish has no MERGE (33557097); the store flushes with the typeless statement there")
			}
			if s.hasIf {
				t.Skip("Babelfish's SHOWPLAN cannot show IF (33557097); the journal's statements are read one by one")
			}
			if !s.keyed && !analyzed {
				t.Skip("the table has no statistics, so PostgreSQL plans a range on expiry as a third of the table; set MSSQL_TEST_PG_DSN to have it analyzed")
			}
			plan, err := showPlan(ctx, conn, s.query, s.args)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("plan:\n%s", plan)
			for _, stmt := range planStatements(plan) {
				if !strings.Contains(stmt, " "+rel) {
					continue // SET, BEGIN TRANSACTION, SELECT @@ROWCOUNT ...
				}
				for _, m := range seqScan.FindAllStringSubmatch(stmt, -1) {
					if m[1] == rel {
						t.Errorf("a sequential scan of %s:\n%s", rel, stmt)
					}
				}
				used := false
				for _, m := range indexScan.FindAllStringSubmatch(stmt, -1) {
					if m[2] == rel || strings.HasPrefix(m[3], rel+"_") {
						used = true
					}
				}
				if !used {
					t.Errorf("no index of %s used:\n%s", rel, stmt)
				}
			}
		})
	}
}

// showPlan returns the rows a statement returns under SHOWPLAN_ALL: its
// plan (one statement of a batch after another), one line a row.
func showPlan(ctx context.Context, conn *sql.Conn, query string, args []any) (string, error) {
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var b strings.Builder
	for more := true; more; more = rows.NextResultSet() {
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return "", err
			}
			fmt.Fprintln(&b, line)
		}
	}
	return b.String(), rows.Err()
}

// planStatements splits a batch's plan into its statements' plans, each
// beginning with "Query Text:".
func planStatements(plan string) []string {
	parts := strings.Split(plan, "Query Text:")
	return parts[1:]
}

// drain reads every result set of rows and returns the first error.
func drain(rows *sql.Rows, err error) error {
	if err != nil {
		return err
	}
	for more := true; more; more = rows.NextResultSet() {
		for rows.Next() {
		}
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return err
	}
	return rows.Close()
}

// planJournal is a journal whose clock stands at now.
func planJournal(t *testing.T, now time.Time) *journal {
	j, err := newJournal(func() time.Time { return now }, func(err error) { t.Errorf("journal: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// args are the journal's parameters for one token, as the writer sends
// them.
func (j *journal) args() []any {
	return (&writer{j: j}).journalArgs([]string{strings.Repeat("A", 43)})
}
