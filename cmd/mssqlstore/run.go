package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
	"github.com/microsoft/go-mssqldb/msdsn"
	"github.com/scs-contrib/mssqlstore"
	"github.com/scs-contrib/mssqlstore/internal/schemacheck"
	"github.com/scs-contrib/mssqlstore/internal/sqlerr"
	"github.com/scs-contrib/mssqlstore/internal/sqlname"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1 // a problem found, or a failure: connecting, a refused statement
	exitUsage       = 2 // bad input: command, flag, argument, name, a missing or malformed DSN
	exitInterrupted = 130
)

// envDSN names the environment variable read when -dsn is not given.
const envDSN = "MSSQL_DSN"

const usage = `usage: mssqlstore <command> [flags]

Manages the SQL Server objects of the SCS session store mssqlstore.

Commands:
  init   create the sessions table, its expiry index and the batch table
         type, each only if missing (safe to rerun), then check them;
         -grant USER grants the application's database user what the
         store needs; -dry-run prints the DDL and GRANTs init would run
  check  verify the table, its columns, keys and collation, the table type,
         and the permissions of the DSN's database user, or with -user
         USER of the application's; exit status 1 on any error
  purge  delete expired sessions in batches; interrupt with Ctrl-C at any
         time (each batch commits on its own)
  stats  show live and expired session counts, the table's size and the
         oldest and newest expiry

The DSN comes from -dsn or the MSSQL_DSN environment variable, for
example sqlserver://user:password@host:1433?database=app.
Run "mssqlstore <command> -h" for the flags of a command, and
"mssqlstore -version" for the version.

Exit status: 0 success; 1 a problem found (init, check) or a failure
(cannot connect, login failed, a statement refused); 2 a usage error
(unknown command or flag, bad argument or name, -grant dbo, missing or
malformed DSN, or one asking for Entra ID, fedauth=, which this build does
not include); 130 interrupted by SIGINT or SIGTERM.
`

// errUsage marks bad input: the caller prints it and exits with status 2.
// usage, when set, is the command's usage, printed after the message.
type errUsage struct{ msg, usage string }

func (e *errUsage) Error() string { return e.msg }

func usageErr(format string, args ...any) error {
	return &errUsage{msg: fmt.Sprintf(format, args...)}
}

// afterBatch, when set by a test, runs after each purge batch.
var afterBatch func(total int64)

// run is the whole command, callable in-process by tests: args without
// the program name, env to read the environment.
func run(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "mssqlstore: no command: want init, check, purge or stats (mssqlstore -h for help)")
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	var code int
	var err error
	switch cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "-version", "--version", "version":
		fmt.Fprintln(stdout, "mssqlstore", version())
		return exitOK
	case "init":
		code, err = runInit(ctx, rest, env, stdout)
	case "check":
		code, err = runCheck(ctx, rest, env, stdout)
	case "purge":
		code, err = runPurge(ctx, rest, env, stdout)
	case "stats":
		code, err = runStats(ctx, rest, env, stdout)
	default:
		fmt.Fprintf(stderr, "mssqlstore: unknown command %q: want init, check, purge or stats (mssqlstore -h for help)\n", cmd)
		return exitUsage
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		var ue *errUsage
		switch {
		case ctx.Err() != nil: // SIGINT or SIGTERM, whatever failed after it
			code = exitInterrupted
		case errors.As(err, &ue):
			code = exitUsage
		case code == exitOK:
			code = exitFailed
		}
		fmt.Fprintf(stderr, "mssqlstore %s: %s\n", cmd, message(err))
		if ue != nil && ue.usage != "" {
			fmt.Fprint(stderr, ue.usage)
		}
	}
	return code
}

// version returns the module version the binary was built from: the tag
// for `go install ...@v0.1.0`, "(devel)" for a build inside a clone.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// message is err's text for the command's one error line: on one line,
// without the prefixes the library and the driver put on their errors,
// since the line already begins "mssqlstore <command>: ".
func message(err error) string {
	s := oneLine(err.Error())
	s = strings.TrimPrefix(s, "mssqlstore: ")
	s = strings.TrimPrefix(s, "schemacheck: ")
	s = strings.TrimPrefix(s, "mssql: ")
	return strings.ReplaceAll(s, ": mssql: ", ": ")
}

// oneLine keeps a message on one line: drivers sometimes put newlines in
// server messages.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// common holds the flags every command takes.
type common struct {
	fs        *flag.FlagSet
	synopsis  string
	dsn       string
	table     string
	tableType string
	timeout   time.Duration
	stdout    io.Writer // for -h
}

func newFlags(name, synopsis string, stdout io.Writer, withType bool) *common {
	c := &common{fs: flag.NewFlagSet(name, flag.ContinueOnError), synopsis: synopsis}
	c.fs.StringVar(&c.dsn, "dsn", "", "the SQL Server DSN (default: the "+envDSN+" environment variable)")
	c.fs.StringVar(&c.table, "table", mssqlstore.DefaultTable, "the sessions table, optionally schema-qualified and bracket-quoted")
	if withType {
		c.fs.StringVar(&c.tableType, "type", mssqlstore.DefaultTableType, "the batch table type")
	}
	c.fs.DurationVar(&c.timeout, "timeout", 15*time.Second, "how long to wait for the server to accept the connection")
	// The flag package calls Usage on -h and on every parse error alike;
	// parse prints the usage itself, to stdout on -h and to stderr on an
	// error, so that `init -dry-run -tabel x > schema.sql` leaves no usage
	// in schema.sql.
	c.fs.SetOutput(io.Discard)
	c.fs.Usage = func() {}
	c.stdout = stdout
	return c
}

// usage returns the command's usage text.
func (c *common) usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: mssqlstore %s [flags]\n\n%s\n\nFlags:\n", c.fs.Name(), c.synopsis)
	c.fs.SetOutput(&b)
	c.fs.PrintDefaults()
	c.fs.SetOutput(io.Discard)
	return b.String()
}

// parse parses args, and validates the names. Every problem is a usage
// error, reported on one line; a bad flag or argument is followed by the
// command's usage, on stderr.
func (c *common) parse(args []string) error {
	if err := c.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(c.stdout, c.usage())
			return err
		}
		return &errUsage{msg: err.Error(), usage: c.usage()}
	}
	if c.fs.NArg() > 0 {
		return &errUsage{msg: fmt.Sprintf("unexpected argument %q", c.fs.Arg(0)), usage: c.usage()}
	}
	// Names are parsed by the store's rules and always quoted, so a name
	// holding ';' reaches SQL Server as one odd identifier; a bare ']' is
	// refused here, as the store refuses it.
	if _, err := sqlname.Parse(c.table); err != nil {
		return usageErr("-table: %v", err)
	}
	if c.tableType != "" {
		if _, err := sqlname.Parse(c.tableType); err != nil {
			return usageErr("-type: %v", err)
		}
	}
	if c.timeout <= 0 {
		return usageErr("-timeout %v: want a positive duration", c.timeout)
	}
	return nil
}

// open connects to the server and checks that the login works. A missing
// or malformed DSN is bad input (exit status 2); a server that cannot be
// reached or refuses the login is a failure (exit status 1), as sqlcmd
// has it.
func (c *common) open(ctx context.Context, env func(string) string) (*sql.DB, error) {
	dsn := c.dsn
	if dsn == "" {
		dsn = env(envDSN)
	}
	if dsn == "" {
		return nil, usageErr("no DSN: pass -dsn or set %s (for example sqlserver://user:password@host:1433?database=app)", envDSN)
	}
	// go-mssqldb reads any string without "://" as key=value pairs and
	// fills the gaps with defaults, so "foo" would mean localhost:1433.
	if scheme, _, isURL := strings.Cut(dsn, "://"); isURL && scheme != "sqlserver" || !isURL && !strings.Contains(dsn, "=") {
		return nil, usageErr("malformed DSN: want sqlserver://user:password@host:port?database=name, or key=value pairs")
	}
	if err := checkAuth(dsn); err != nil {
		return nil, err
	}
	connector, err := mssql.NewConnector(dsn)
	if err != nil {
		// A url.Error repeats the whole URL, password included: print
		// only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, usageErr("malformed DSN: %v", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	d := &loginDialer{login: pingCtx}
	connector.Dialer = d
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(2)
	err = db.PingContext(pingCtx)
	if !d.loggedIn() && err == nil {
		err = pingCtx.Err() // the deadline struck as the login finished
	}
	if err != nil {
		db.Close()
		return nil, connectError(ctx, pingCtx, err, c.timeout)
	}
	return db, nil
}

// loginDialer dials TCP connections and bounds their login by a context.
// go-mssqldb honours the context while it dials, but not while it waits
// for the server's answer to its login: a server that accepts the
// connection and never answers would hang the command. Until loggedIn is
// called, the end of the login context sets a past deadline on every
// connection dialed, which ends any read under way.
type loginDialer struct {
	net.Dialer
	mu    sync.Mutex
	login context.Context // nil once logged in
	stops []func() bool
}

// DialContext implements mssql.Dialer.
func (d *loginDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := d.Dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.login != nil {
		d.stops = append(d.stops, context.AfterFunc(d.login, func() {
			conn.SetDeadline(time.Unix(1, 0))
		}))
	}
	return conn, nil
}

// loggedIn disarms the login deadline of the connections dialed so far
// and of those to come. It reports false if the deadline has already
// struck one of them.
func (d *loginDialer) loggedIn() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	ok := true
	for _, stop := range d.stops {
		if !stop() {
			ok = false
		}
	}
	d.login, d.stops = nil, nil
	return ok
}

func connectError(ctx, pingCtx context.Context, err error, timeout time.Duration) error {
	if n, ok := sqlerr.Number(err); ok {
		switch n {
		case 18456:
			return fmt.Errorf("login failed (SQL Server error 18456): check the user and password in the DSN")
		case 4060:
			return fmt.Errorf("cannot open the database named in the DSN (SQL Server error 4060): check its name and that the login has a user in it")
		}
		return fmt.Errorf("cannot connect (SQL Server error %d): %w", n, err)
	}
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted while connecting: %w", ctx.Err())
	case errors.Is(pingCtx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("cannot reach the server within %v: check the host and port in the DSN", timeout)
	}
	return fmt.Errorf("cannot reach the server: %w", err)
}

// dbError adds to an error from a command the step that fixes it, for the
// errors an operator meets.
func dbError(err error, table, tableType string) error {
	n, _ := sqlerr.Number(err)
	switch n {
	case 208:
		return fmt.Errorf("%w (the table %s does not exist: run mssqlstore init)", err, table)
	case 229, 230:
		return fmt.Errorf("%w (the database user lacks a permission: mssqlstore check says which GRANT to run)", err)
	case 262:
		return fmt.Errorf("%w (this database user may not create objects: run init as the database owner, or hand the output of init -dry-run with this DSN to one)", err)
	case 2715:
		return fmt.Errorf("%w (the table type %s does not exist)", err, tableType)
	}
	return err
}

func runInit(ctx context.Context, args []string, env func(string) string, stdout io.Writer) (int, error) {
	c := newFlags("init", "Creates the sessions table, its expiry index and the batch table type,\n"+
		"each only if missing, then checks them as check does; safe to run at\n"+
		"every deployment. It prints what it created and what it found, and exits\n"+
		"with status 1 where check would. The type's token column takes the\n"+
		"collation of the table's, as the table stands: SQL Server cannot compare\n"+
		"two columns of different collations (error 468).", stdout, true)
	grant := c.fs.String("grant", "", "a database user (the application's) to grant SELECT, INSERT, UPDATE and\n"+
		"DELETE on the table and EXECUTE on the type, after creating them; init then\n"+
		"checks that user's permissions as check -user does. Not dbo, which SQL\n"+
		"Server refuses as a grantee (error 4617) and which holds them all already")
	dryRun := c.fs.Bool("dry-run", false, "print the DDL init would run instead of running it. With a DSN it reads\n"+
		"the database, prints only what is missing and gives the type the existing\n"+
		"table's token collation; without one it prints the DDL for a database\n"+
		"without the table. With -grant it prints the GRANTs too")
	collation := c.fs.String("collation", "bin2", "the token column's collation for a new table: bin2 (Latin1_General_BIN2,\n"+
		"recommended) or default (the database default; with SQL Server's usual\n"+
		"default, SQL_Latin1_General_CP1_CI_AS, CHAR compares case-insensitively,\n"+
		"so two tokens that differ only in case are one key). An existing table\n"+
		"keeps its own")
	if err := c.parse(args); err != nil {
		return exitUsage, err
	}
	opts := schemacheck.Options{Table: c.table, TableType: c.tableType}
	switch *collation {
	case "bin2":
	case "default":
		opts.DefaultCollation = true
	default:
		return exitUsage, usageErr("-collation %q: want bin2 or default", *collation)
	}
	stmts, err := schemacheck.Statements(opts)
	if err != nil {
		return exitUsage, usageErr("%v", err)
	}
	var grants []string
	if *grant != "" {
		if opts.User, err = schemacheck.ParseGrantee(*grant); err != nil {
			if errors.Is(err, schemacheck.ErrSpecialUser) {
				return exitUsage, usageErr("-grant %s: SQL Server refuses a grant to dbo, sys or INFORMATION_SCHEMA (error 4617), and dbo holds every permission already: name the application's database user", *grant)
			}
			return exitUsage, usageErr("-grant: %v", err)
		}
		if grants, err = schemacheck.GrantStatements(opts, opts.User); err != nil {
			return exitUsage, usageErr("%v", err)
		}
	}
	if *dryRun && c.dsn == "" && env(envDSN) == "" {
		table, _ := sqlname.Parse(c.table)
		fmt.Fprintf(stdout, "-- The DDL for a database without the table %s. For a database that has\n", table)
		fmt.Fprintf(stdout, "-- it, run init -dry-run with its DSN: the type must take the collation of\n")
		fmt.Fprintf(stdout, "-- the table's token column (SQL Server cannot compare two collations).\n")
		for _, s := range stmts {
			fmt.Fprintln(stdout, s)
			fmt.Fprintln(stdout, "GO")
		}
		printGrants(stdout, grants)
		return exitOK, nil
	}
	db, err := c.open(ctx, env)
	if err != nil {
		return exitFailed, err
	}
	defer db.Close()
	if *dryRun {
		p, err := schemacheck.PlanCreate(ctx, db, opts)
		if err != nil {
			return exitFailed, dbError(err, c.table, c.tableType)
		}
		for _, st := range p.Steps() {
			if st.Exists {
				fmt.Fprintf(stdout, "-- found: %s\n", describeStep(p, st))
				continue
			}
			fmt.Fprintf(stdout, "-- to create: %s\n", describeStep(p, st))
			fmt.Fprintln(stdout, st.DDL)
			fmt.Fprintln(stdout, "GO")
		}
		printGrants(stdout, grants)
		return exitOK, nil
	}
	p, err := schemacheck.Create(ctx, db, opts)
	if err != nil {
		return exitFailed, dbError(err, c.table, c.tableType)
	}
	for _, st := range p.Steps() {
		verb := "created"
		if st.Exists {
			verb = "found"
		}
		fmt.Fprintf(stdout, "%s: %s\n", verb, describeStep(p, st))
	}
	if opts.User != "" {
		ran, err := schemacheck.Grant(ctx, db, opts, opts.User)
		for _, s := range ran {
			fmt.Fprintf(stdout, "granted: %s\n", describeGrant(s))
		}
		if err != nil {
			return exitFailed, grantError(err, opts.User)
		}
	}
	// An object that was there already may be wrong (the type of a
	// column, a missing key): init checks what it leaves, as check would.
	findings, err := schemacheck.Check(ctx, db, opts)
	for _, f := range findings {
		fmt.Fprintln(stdout, f)
	}
	if err != nil {
		return exitFailed, err
	}
	if n := countErrors(findings); n > 0 {
		return exitFailed, fmt.Errorf("%d problem(s) the store cannot work with (the lines beginning \"error:\")", n)
	}
	return exitOK, nil
}

// printGrants prints init -grant's GRANTs for init -dry-run.
func printGrants(w io.Writer, grants []string) {
	for _, g := range grants {
		fmt.Fprintf(w, "-- to grant: %s\n%s\nGO\n", describeGrant(g), g)
	}
}

// describeGrant says what a GRANT of schemacheck.GrantStatements gives:
// "SELECT, ... on table [dbo].[sessions] to database user [app]".
func describeGrant(stmt string) string {
	s := strings.TrimSuffix(strings.TrimPrefix(stmt, "GRANT "), ";")
	perms, rest, _ := strings.Cut(s, " ON ")
	object, user, _ := strings.Cut(rest, " TO ")
	what := "table"
	if t, ok := strings.CutPrefix(object, "TYPE::"); ok {
		what, object = "table type", t
	}
	return fmt.Sprintf("%s on %s %s to database user %s", perms, what, object, user)
}

// grantError adds to a GRANT's error the step that fixes it.
func grantError(err error, user string) error {
	u := sqlname.QuoteIdent(user)
	switch n, _ := sqlerr.Number(err); n {
	case 15151:
		return fmt.Errorf("%w (is there a database user %s in this database? A login is not enough: CREATE USER %s FOR LOGIN <login>, then run init -grant again)", err, u, u)
	case 4613:
		return fmt.Errorf("%w (the DSN's database user may not grant: run init -grant as the database owner, or hand the GRANTs of init -dry-run -grant to one)", err)
	case 4617:
		return fmt.Errorf("%w (name the application's database user, not the owner)", err)
	}
	return err
}

// checkAuth refuses a DSN that asks for an authentication this build
// cannot do. A fedauth= DSN asks for Microsoft Entra ID, which needs
// go-mssqldb's azuread connector; the plain connector ignores the
// parameter and logs in without a password, and the server's refusal
// would read "check the user and password".
func checkAuth(dsn string) error {
	cfg, err := msdsn.Parse(dsn)
	if err != nil {
		return nil // NewConnector reports it
	}
	if method := cfg.Parameters["fedauth"]; method != "" {
		return usageErr("the DSN asks for Microsoft Entra ID authentication (fedauth=%s), which this build of mssqlstore does not include: "+
			"use a DSN with a SQL Server login's user and password, or hand the DDL of init -dry-run to a DBA", method)
	}
	return nil
}

// describeStep describes one object of a plan, for init's report and
// for the comments of init -dry-run.
func describeStep(p schemacheck.Plan, st schemacheck.Step) string {
	collation := p.TypeCollation
	if collation == "" {
		collation = "the database default"
	}
	switch st {
	case p.Table:
		if !st.Exists {
			return fmt.Sprintf("table %s, token collation %s", st.Name, collation)
		}
		if p.TableCollation == "" {
			return fmt.Sprintf("table %s, its token column without a collation", st.Name)
		}
		return fmt.Sprintf("table %s, token collation %s", st.Name, p.TableCollation)
	case p.Type:
		if st.Exists {
			return fmt.Sprintf("table type %s", st.Name)
		}
		return fmt.Sprintf("table type %s, token collation %s, the table's: the store's MERGE compares the two token columns, and SQL Server cannot compare two collations (error 468)",
			st.Name, collation)
	}
	return fmt.Sprintf("%s %s on %s", st.What, st.Name, p.Table.Name)
}

func countErrors(findings []schemacheck.Finding) int {
	n := 0
	for _, f := range findings {
		if f.Level == schemacheck.Error {
			n++
		}
	}
	return n
}

func runCheck(ctx context.Context, args []string, env func(string) string, stdout io.Writer) (int, error) {
	c := newFlags("check", "Verifies the sessions table, its columns, primary key, expiry index and\ntoken collation, the batch table type, and the permissions of the DSN's\ndatabase user, or with -user those of the application's database user.\nPrints one line per finding; exit status 1 if any is an error.", stdout, true)
	asJSON := c.fs.Bool("json", false, "print the findings as one JSON object: {\"table\", \"table_type\", \"user\"\n(with -user), \"failed\", \"findings\": [{\"level\", \"message\", \"fix\"}]}")
	user := c.fs.String("user", "", "check the permissions of this database user (the application's) instead of\n"+
		"the DSN's: check switches to it with EXECUTE AS USER, which needs IMPERSONATE\n"+
		"on it, as a member of db_owner has")
	if err := c.parse(args); err != nil {
		return exitUsage, err
	}
	opts := schemacheck.Options{Table: c.table, TableType: c.tableType}
	if *user != "" {
		var err error
		if opts.User, err = schemacheck.ParseUser(*user); err != nil {
			return exitUsage, usageErr("-user: %v", err)
		}
	}
	db, err := c.open(ctx, env)
	if err != nil {
		return exitFailed, err
	}
	defer db.Close()
	findings, err := schemacheck.Check(ctx, db, opts)
	if *asJSON {
		if err != nil {
			// No half a report: the error goes to stderr.
			return exitFailed, err
		}
		table, _ := sqlname.Parse(c.table)
		typ, _ := sqlname.Parse(c.tableType)
		if err := writeCheckJSON(stdout, table.Quoted(), typ.Quoted(), opts.User, findings); err != nil {
			return exitFailed, err
		}
	} else {
		for _, f := range findings {
			fmt.Fprintln(stdout, f)
		}
	}
	if err != nil {
		return exitFailed, err
	}
	if schemacheck.Failed(findings) {
		return exitFailed, nil
	}
	return exitOK, nil
}

func runPurge(ctx context.Context, args []string, env func(string) string, stdout io.Writer) (int, error) {
	c := newFlags("purge", "Deletes expired sessions in batches, each committed on its own, so an\ninterrupt (Ctrl-C) loses nothing; prints progress on a terminal.", stdout, false)
	batch := c.fs.Int("batch", mssqlstore.DefaultCleanupBatchSize, "rows per DELETE, 1 to 4000 (SQL Server escalates to a table lock at 5,000 locks)")
	if err := c.parse(args); err != nil {
		return exitUsage, err
	}
	if *batch < 1 || *batch > 4000 {
		return exitUsage, usageErr("-batch %d: want 1 to 4000 (SQL Server escalates to a table lock at 5,000 locks)", *batch)
	}
	db, err := c.open(ctx, env)
	if err != nil {
		return exitFailed, err
	}
	defer db.Close()
	store, err := mssqlstore.NewWithConfig(db, mssqlstore.Config{
		Table:            c.table,
		CleanupBatchSize: *batch,
		CleanupInterval:  -1, // no goroutine: this command deletes on its own
		FlushInterval:    -1,
		CacheSize:        -1,
		ErrorHandler:     func(error) {}, // nothing runs in the background
	})
	if err != nil {
		return exitUsage, usageErr("%v", err)
	}
	defer store.StopCleanup()

	p := newProgress(stdout, isTerminal(stdout), time.Now)
	deleted, err := store.DeleteExpired(ctx, func(total int64) {
		p.update(total)
		if afterBatch != nil {
			afterBatch(total)
		}
	})
	p.done()
	if err != nil && ctx.Err() != nil {
		fmt.Fprintf(stdout, "interrupted: deleted %d expired sessions\n", deleted)
		return exitInterrupted, nil
	}
	if err != nil {
		fmt.Fprintf(stdout, "deleted %d expired sessions before the error\n", deleted)
		return exitFailed, dbError(err, c.table, "")
	}
	fmt.Fprintf(stdout, "deleted %d expired sessions\n", deleted)
	return exitOK, nil
}

func runStats(ctx context.Context, args []string, env func(string) string, stdout io.Writer) (int, error) {
	c := newFlags("stats", "Shows live and expired session counts, the table's size on disk and the\noldest and newest expiry. Expiry is compared with this machine's clock,\nas the store compares it with its own.", stdout, false)
	asJSON := c.fs.Bool("json", false, "print the figures as one JSON object: {\"table\", \"live\", \"expired\", \"size\":\n{\"rows\", \"reserved_kb\", \"data_kb\", \"index_kb\", \"unused_kb\"} or null with \"size_error\",\n\"oldest_expiry\", \"newest_expiry\" (RFC 3339, null for an empty table)}")
	if err := c.parse(args); err != nil {
		return exitUsage, err
	}
	db, err := c.open(ctx, env)
	if err != nil {
		return exitFailed, err
	}
	defer db.Close()
	st, err := schemacheck.ReadStats(ctx, db, schemacheck.Options{Table: c.table}, time.Now())
	if err != nil {
		return exitFailed, dbError(err, c.table, "")
	}
	table, _ := sqlname.Parse(c.table)
	if *asJSON {
		if err := writeStatsJSON(stdout, table.Quoted(), st); err != nil {
			return exitFailed, err
		}
		return exitOK, nil
	}
	fmt.Fprintf(stdout, "table: %s\n", table)
	fmt.Fprintf(stdout, "live sessions: %d\n", st.Live)
	fmt.Fprintf(stdout, "expired sessions: %d\n", st.Expired)
	if st.SizeErr != nil {
		fmt.Fprintf(stdout, "size: unavailable (%s)\n", message(st.SizeErr))
	} else {
		fmt.Fprintf(stdout, "size: %s reserved (data %s, indexes %s, unused %s)\n", st.Size.Reserved, st.Size.Data, st.Size.IndexSize, st.Size.Unused)
	}
	if st.Oldest.IsZero() {
		fmt.Fprintln(stdout, "oldest expiry: none")
		fmt.Fprintln(stdout, "newest expiry: none")
	} else {
		fmt.Fprintf(stdout, "oldest expiry: %s\n", st.Oldest.Format(time.RFC3339Nano))
		fmt.Fprintf(stdout, "newest expiry: %s\n", st.Newest.Format(time.RFC3339Nano))
	}
	return exitOK, nil
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress draws purge's progress line, redrawn in place with \r, when
// the output is a terminal; otherwise it draws nothing.
type progress struct {
	w     io.Writer
	on    bool
	now   func() time.Time
	start time.Time
	drawn bool
}

func newProgress(w io.Writer, on bool, now func() time.Time) *progress {
	return &progress{w: w, on: on, now: now, start: now()}
}

func (p *progress) update(total int64) {
	if !p.on {
		return
	}
	rate := 0.0
	if d := p.now().Sub(p.start).Seconds(); d > 0 {
		rate = float64(total) / d
	}
	fmt.Fprintf(p.w, "\rdeleted %d rows (%.0f rows/s)   ", total, rate)
	p.drawn = true
}

// done ends the progress line so the final count starts on its own.
func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}
