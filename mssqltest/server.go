package mssqltest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
	"github.com/scs-contrib/mssqlstore/internal/tsql"
)

// Options configures a Server. The zero value means the defaults.
type Options struct {
	// Database is the database name; default "mssqltest".
	Database string
	// User and Password are the login that owns the database; defaults
	// "sa" and "Test-Passw0rd".
	User, Password string
	// Bare starts with an empty database. By default the database holds
	// the table SCS's own SQL Server store uses, dbo.sessions (token
	// CHAR(43) PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry
	// DATETIME2(6) NOT NULL) with its index on expiry, and no table type.
	// Start bare and call mssqlstore.CreateSchema for the schema the
	// store's README recommends.
	Bare bool
	// Addr is the address to listen on; default "127.0.0.1:0" (a free
	// port on the loopback interface).
	Addr string
	// Now is the server's clock (SYSUTCDATETIME() and the other date
	// functions); nil means time.Now. SetNow changes it later. The store
	// never reads it (see SetNow).
	Now func() time.Time
	// ErrorLog receives the server's own failures (a bug in the test
	// server: the connection concerned is closed). nil means the log
	// package for NewServer, and t.Log for Start.
	ErrorLog func(error)
}

// Server is a running test server. Its methods are safe for concurrent
// use.
type Server struct {
	s      *mssqltest.Server
	owner  string      // the owner login's name, which AddLogin refuses
	closed atomic.Bool // Close ran: Exec refuses
}

// NewServer starts a server. It is listening when NewServer returns; call
// Close when done.
func NewServer(opts Options) (*Server, error) {
	s, err := mssqltest.NewServer(mssqltest.Options{
		Database: opts.Database,
		User:     opts.User,
		Password: opts.Password,
		Bare:     opts.Bare,
		Addr:     opts.Addr,
		Now:      opts.Now,
		ErrorLog: opts.ErrorLog,
	})
	if err != nil {
		return nil, err // already "mssqltest: ..."
	}
	owner := opts.User
	if owner == "" {
		owner = mssqltest.DefaultUser
	}
	return &Server{s: s, owner: owner}, nil
}

// Start starts a server for a test or benchmark and closes it when the
// test ends (t.Cleanup). It calls t.Fatal if the server cannot start.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.ErrorLog == nil {
		// Close, in the cleanup, waits for every connection's goroutine:
		// nothing logs after the test ends.
		opts.ErrorLog = func(err error) { t.Log(err) }
	}
	s, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// DSN returns a go-mssqldb DSN for the owner login, of the form
// sqlserver://sa:Test-Passw0rd@127.0.0.1:port?database=mssqltest&encrypt=disable.
func (s *Server) DSN() string { return s.s.DSN() }

// DSNFor returns a DSN for another login, added with AddLogin.
func (s *Server) DSNFor(user, password string) string { return s.s.DSNFor(user, password) }

// Addr returns the address the server listens on ("127.0.0.1:port").
func (s *Server) Addr() string { return s.s.Addr() }

// Close stops the server: it closes the listener and every connection
// (clients see a broken connection, as when SQL Server goes away), and
// waits for them. It may be called more than once.
func (s *Server) Close() error {
	s.closed.Store(true)
	return s.s.Close()
}

// Exec runs a batch of T-SQL as the database owner, to set up a test
// (create tables, insert rows). Faults, latency and counters do not apply
// to it. An error SQL Server would send is an *Error, with its number;
// after Close, Exec returns ErrClosed.
func (s *Server) Exec(ctx context.Context, batch string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	err := s.s.Exec(ctx, batch)
	if err == nil {
		return nil
	}
	var te *tsql.Error
	if errors.As(err, &te) {
		return &Error{Number: te.Number, Class: te.Class, State: te.State, Line: te.Line, Message: te.Message}
	}
	return err // already "mssqltest: exec: ..."
}

// ErrClosed is what Exec returns after Close.
var ErrClosed = errors.New("mssqltest: the server is closed")

// Error is an error the server answers to Exec, as SQL Server would send
// it: go-mssqldb's mssql.Error carries the same fields for the same
// batch sent over a connection.
type Error struct {
	Number  int32  // the SQL Server error number, e.g. 208 (invalid object name)
	Class   uint8  // the severity
	State   uint8  // the state
	Line    int32  // the line within the batch, from 1; 0 when not known
	Message string // the message text
}

// Error returns "mssqltest: exec: error <number>, line <line>: <message>".
func (e *Error) Error() string {
	return fmt.Sprintf("mssqltest: exec: error %d, line %d: %s", e.Number, e.Line, e.Message)
}

// SetNow replaces the server's clock (SYSUTCDATETIME() and the other date
// functions); nil means time.Now. The store never reads the server's
// clock: it decides what has expired with its own, mssqlstore.Config.Now,
// which is the clock a test of session expiry moves. The server's clock
// matters to SQL that reads the date functions; give both the same clock
// to keep them in step (see the expiry example).
func (s *Server) SetNow(now func() time.Time) { s.s.SetNow(now) }

// SetLatency delays every reply by d, modelling the network between the
// application and SQL Server. Zero removes it.
func (s *Server) SetLatency(d time.Duration) { s.s.SetLatency(d) }

// Permission is a set of permissions on one object, for AddLogin.
type Permission uint8

// The permissions AddLogin can grant. Execute is the permission on a
// table type that a table-valued parameter of that type needs.
const (
	Select Permission = 1 << iota
	Insert
	Update
	Delete
	Execute
)

// AddLogin adds a login whose database user holds only grants, keyed by
// object name ("dbo.sessions", "dbo.sessions_batch"; a name without a
// schema, "sessions", means the dbo schema's object, as SQL Server
// resolves it for a user whose default schema is dbo).
// Such a user may run no DDL (error 262) and touch no other object
// (error 229), as a real application user. Connect as it with DSNFor. A
// later call for the same name replaces it. It returns an error for an
// empty user name, the owner's name (Options.User: the owner keeps every
// permission), an empty object name, or a permission outside the five
// constants.
func (s *Server) AddLogin(user, password string, grants map[string]Permission) error {
	switch {
	case user == "":
		return errors.New("mssqltest: AddLogin: an empty user name")
	case strings.EqualFold(user, s.owner):
		return fmt.Errorf("mssqltest: AddLogin: %q is the owner's login; give the application's user another name", user)
	}
	g := make(map[string]tsql.Permission, len(grants))
	for obj, p := range grants {
		if obj == "" {
			return errors.New("mssqltest: AddLogin: an empty object name")
		}
		if p&^(Select|Insert|Update|Delete|Execute) != 0 {
			return fmt.Errorf("mssqltest: AddLogin: permission %#x on %s is not a combination of Select, Insert, Update, Delete and Execute", uint8(p), obj)
		}
		if !strings.Contains(obj, ".") {
			obj = "dbo." + obj
		}
		var tp tsql.Permission
		for _, m := range []struct {
			pub  Permission
			priv tsql.Permission
		}{
			{Select, tsql.PermSelect}, {Insert, tsql.PermInsert}, {Update, tsql.PermUpdate},
			{Delete, tsql.PermDelete}, {Execute, tsql.PermExecute},
		} {
			if p&m.pub != 0 {
				tp |= m.priv
			}
		}
		g[obj] = tp
	}
	s.s.AddLogin(user, password, g)
	return nil
}

// Fault makes statements fail: set exactly one of Error, DropBefore,
// DropAfter and Stall (InjectFault refuses any other fault). Faults are checked before every statement a client
// sends, inside batches too, in the order they were injected; the first
// that matches applies. Statement and Table are compared without regard
// to case. A fault whose Statement or Table matches nothing never fires,
// and nothing says so: FaultsHit tells whether it fired. (The store sends
// MERGE only when its table type exists; on a database without it, as
// Options{} starts, it flushes with UPDATE and INSERT.)
type Fault struct {
	// Statement is the statement kind to match ("SELECT", "INSERT",
	// "UPDATE", "DELETE", "MERGE", ...); "" matches every statement.
	Statement string
	// Table restricts the fault to statements on one table
	// ("dbo.sessions"; "sessions" means the same); "" matches any.
	Table string
	// Times is how many matching statements fail: 0 means 1, a negative
	// number every one until ClearFaults.
	Times int
	// Error is the SQL Server error number the statement fails with,
	// with SQL Server's class, state and message for it: for example
	// 1205 (deadlock victim), 1222 (lock timeout), 40613 and 40501 (Azure
	// SQL Database unavailable or busy), 208 (invalid object name), 229
	// (permission denied), 2627 (duplicate key). An error of class 20 or
	// more closes the connection after it, as SQL Server does. A number
	// the server does not know fails the statement with error 50000
	// saying so, so that a typo cannot pass as a fault.
	Error int32
	// DropBefore closes the client's connection instead of running the
	// statement, as a network failure would.
	DropBefore bool
	// DropAfter runs the statement, then closes the connection before
	// the reply: the client cannot know whether it took effect.
	DropAfter bool
	// Stall blocks the statement until the client cancels it or the
	// connection closes, as a statement waiting on a lock would.
	Stall bool
}

// InjectFault adds a fault. It returns an error, and adds nothing, when
// the fault sets none or more than one of Error, DropBefore, DropAfter
// and Stall.
func (s *Server) InjectFault(f Fault) error {
	actions := 0
	for _, set := range []bool{f.Error != 0, f.DropBefore, f.DropAfter, f.Stall} {
		if set {
			actions++
		}
	}
	if actions != 1 {
		return fmt.Errorf("mssqltest: InjectFault: a fault sets exactly one of Error, DropBefore, DropAfter and Stall; this one sets %d", actions)
	}
	s.s.InjectFault(mssqltest.Fault{
		Kind:       f.Statement,
		Table:      f.Table,
		Times:      f.Times,
		Error:      f.Error,
		DropBefore: f.DropBefore,
		DropAfter:  f.DropAfter,
		Stall:      f.Stall,
	})
	return nil
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() { s.s.ClearFaults() }

// FaultsHit returns how many statements faults have hit.
func (s *Server) FaultsHit() int64 { return s.s.FaultsHit() }

// Counters are what the server saw since it started or since the last
// ResetCounters. Statements run by Exec are not counted.
type Counters struct {
	// RoundTrips counts requests: SQL batches, remote procedure calls
	// (parameterised statements) and transaction requests.
	RoundTrips int64
	// Logins counts successful logins (new connections, not those the
	// driver's pool reuses).
	Logins int64
	// Cancels counts the statements clients cancelled (TDS ATTENTION).
	Cancels int64
	// Statements counts the statements started, by kind ("SELECT",
	// "MERGE", ...), inside batches too.
	Statements map[string]int64
	// RowsRead and RowsWritten total the rows the completed statements
	// read and wrote.
	RowsRead, RowsWritten int64
	// RangeSeeks counts reads of a range of an index: a table whose
	// primary key's (or another index's) leading column is bounded (=,
	// <, <=, >, >=, BETWEEN) by values known before the read, read in
	// key order. SQL Server reads such a range from the index's B-tree
	// (an Index Seek with a range predicate), touching only the rows in
	// it and, under READ COMMITTED, waiting only for uncommitted changes
	// of rows in it; so does the test server. It is coarser than SQL
	// Server in that only the leading column bounds the range; a
	// nonclustered index is used only when its range holds at most a
	// quarter of the table's rows (SQL Server weighs the key lookups
	// against a scan of the table's pages, and a TOP's row goal); and
	// under SERIALIZABLE or HOLDLOCK it locks the whole table where SQL
	// Server locks the range it read.
	RangeSeeks int64
}

// Counters returns a snapshot of the counters.
func (s *Server) Counters() Counters {
	c := s.s.Counters()
	return Counters{
		RoundTrips:  c.RoundTrips,
		Logins:      c.Logins,
		Cancels:     c.Attentions,
		Statements:  c.Statements, // already a copy
		RowsRead:    c.RowsRead,
		RowsWritten: c.RowsWritten,
		RangeSeeks:  c.RangeSeeks,
	}
}

// ResetCounters sets the counters to zero.
func (s *Server) ResetCounters() { s.s.ResetCounters() }
