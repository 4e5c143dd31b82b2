package mssqltest

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/tsql"
)

// Options configures a Server. The zero value means the defaults.
type Options struct {
	// Database is the database name; default "mssqltest".
	Database string
	// User and Password are the owner login; defaults "sa" and
	// "Test-Passw0rd".
	User, Password string
	// Bare leaves the database empty: no sessions table, no index.
	Bare bool
	// Now is the server clock (SYSUTCDATETIME() and friends); nil means
	// time.Now.
	Now func() time.Time
	// Addr is the listen address; default "127.0.0.1:0" (an ephemeral
	// port).
	Addr string

	// MaxMessage bounds one request message (SQL batch, RPC, transaction
	// manager request), in bytes; default DefaultMaxMessage. A larger
	// message closes the connection. SQL Server accepts far more (a
	// batch can be 65,536 times the packet size); the bound keeps a
	// broken or hostile client from filling the memory of the process
	// the server runs in, and must stay above the largest value a test
	// sends (a 16 MiB session takes 16 MiB on the wire).
	MaxMessage int
	// HandshakeTimeout bounds the time from accepting a connection to
	// the end of its login (PRELOGIN and LOGIN7); default
	// DefaultHandshakeTimeout. A connection that has not logged in by
	// then is closed. PRELOGIN and LOGIN7 messages are also capped at
	// 8 KiB.
	HandshakeTimeout time.Duration
	// MaxConns bounds the open connections, logged in or not; default
	// DefaultMaxConns. A connection past the limit is closed as soon as
	// it is accepted. (SQL Server's own limit is 32,767 user
	// connections.)
	MaxConns int
	// ErrorLog receives the server's own failures: a panic recovered in
	// a connection's goroutine (a bug in the test server), with its
	// stack. The connection is closed, the process goes on. nil means
	// the standard library's log package.
	ErrorLog func(error)

	// wrapListener, when set by a test, wraps the listener, to inject
	// Accept failures.
	wrapListener func(net.Listener) net.Listener
}

// The defaults of Options.
const (
	DefaultDatabase         = "mssqltest"
	DefaultUser             = "sa"
	DefaultPassword         = "Test-Passw0rd"
	DefaultAddr             = "127.0.0.1:0"
	DefaultMaxMessage       = 64 << 20 // four times the store's 16 MiB sessions
	DefaultHandshakeTimeout = 15 * time.Second
	DefaultMaxConns         = 1024
)

// serverName is the name the server gives itself in ERROR tokens.
const serverName = "mssqltest"

// defaultSchema is created at start unless Options.Bare: the schema the
// store's README asks for.
const defaultSchema = `CREATE TABLE sessions (token CHAR(43) PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);`

// maxParamRecords bounds Params: the most recent records are kept.
const maxParamRecords = 10000

// Counters are the server's observations since the last ResetCounters.
type Counters struct {
	// RoundTrips counts requests received: SQL batches, RPCs and
	// transaction manager requests (not logins, not attentions).
	RoundTrips int64
	// Logins counts successful logins.
	Logins int64
	// Attentions counts ATTENTION messages (client cancellations).
	Attentions int64
	// Statements counts statements started, by tsql.StatementInfo.Kind
	// ("SELECT", "MERGE", ...), including statements inside batches and
	// IF/WHILE blocks.
	Statements map[string]int64
	// RowsRead and RowsWritten total the engine's figures for the
	// statements that completed.
	RowsRead    int64
	RowsWritten int64
	// MaxRowsWrittenPerStatement is, by kind, the most rows one
	// statement of that kind wrote.
	MaxRowsWrittenPerStatement map[string]int64
	// Seeks, Scans, RangeSeeks, ImplicitColumnConversions, LatchWaits,
	// LatchWait and LockWaits come from the engine's statistics
	// (tsql.Database.Stats, which says what each means).
	Seeks, Scans, RangeSeeks, ImplicitColumnConversions int64
	LatchWaits                                          int64
	LatchWait                                           time.Duration
	LockWaits                                           int64
}

// ParamRecord is one RPC parameter as it arrived on the wire.
type ParamRecord struct {
	Name string // "@p1"
	// WireType is the TDS type as SQL Server names it, with facets:
	// "VARCHAR(43)", "NVARCHAR(4000)", "VARBINARY(MAX)", "DATETIME2(7)",
	// "DATETIMEOFFSET(7)", "BIGINT", "TVP dbo.sessions_batch" ...
	WireType string
	SQL      string // the statement text of the RPC it came with
}

// Fault disturbs statements that match it. Faults are checked before
// each statement, inside batches too, in the order they were injected;
// the first that matches applies.
type Fault struct {
	// Kind is the statement kind to match ("MERGE", "UPDATE", "DELETE",
	// "SELECT", "INSERT", ...); "" matches any statement.
	Kind string
	// Table optionally restricts the fault to statements on one table
	// ("dbo.sessions"; "sessions" means the same); "" matches any.
	Table string
	// Times is how many matching statements to hit: 0 means 1, -1 means
	// until ClearFaults.
	Times int
	// Error raises this SQL Server error number with SQL Server's class,
	// state and message for it. An error of class 20 or more closes the
	// connection after the ERROR token, as SQL Server does for fatal
	// errors.
	Error int32
	// DropAfter runs the statement, then closes the TCP connection
	// before the reply is sent.
	DropAfter bool
	// DropBefore closes the connection before running the statement.
	DropBefore bool
	// Stall blocks the statement until the client cancels (ATTENTION) or
	// the connection closes.
	Stall bool
}

type faultState struct {
	f    Fault
	left int // -1: unlimited
}

type login struct {
	password  string
	principal tsql.Principal
}

// Server is a running TDS test server.
type Server struct {
	opts Options
	db   engine
	ln   net.Listener
	wg   sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	mu     sync.Mutex // guards everything below
	closed bool
	logins map[string]login // by lower-case login name
	conns  map[*conn]struct{}

	counters   Counters
	statsBase  tsql.Stats
	params     []ParamRecord
	latency    time.Duration
	stmtDelay  map[string]time.Duration
	faults     []*faultState
	faultsHits int64

	nextSPID atomic.Int32
	nextTran atomic.Uint64
}

// NewServer starts a server; it is listening when NewServer returns.
func NewServer(opts Options) (*Server, error) {
	return newServer(opts, func(o tsql.Options) engine { return tsqlEngine{tsql.NewDatabase(o)} })
}

func newServer(opts Options, newEngine func(tsql.Options) engine) (*Server, error) {
	if opts.Database == "" {
		opts.Database = DefaultDatabase
	}
	if opts.User == "" {
		opts.User = DefaultUser
	}
	if opts.Password == "" {
		opts.Password = DefaultPassword
	}
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.MaxMessage <= 0 {
		opts.MaxMessage = DefaultMaxMessage
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.ErrorLog == nil {
		opts.ErrorLog = func(err error) { log.Print(err) }
	}
	s := &Server{
		opts:      opts,
		logins:    map[string]login{},
		conns:     map[*conn]struct{}{},
		stmtDelay: map[string]time.Duration{},
	}
	s.counters = newCounters()
	s.nextSPID.Store(50) // SQL Server's user sessions start above 50
	s.db = newEngine(tsql.Options{Name: opts.Database, Now: opts.Now, Hooks: serverHooks{s}})
	s.logins[strings.ToLower(opts.User)] = login{password: opts.Password, principal: tsql.Principal{Name: "dbo"}}
	if !opts.Bare {
		if err := s.db.ExecAdmin(context.Background(), defaultSchema); err != nil {
			return nil, fmt.Errorf("mssqltest: creating the sessions table: %w", err)
		}
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("mssqltest: listen: %w", err)
	}
	if opts.wrapListener != nil {
		ln = opts.wrapListener(ln)
	}
	s.ln = ln
	s.statsBase = s.db.Stats()
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Start is NewServer for tests: it registers Close with t.Cleanup and
// calls t.Fatal if the server cannot start.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newCounters() Counters {
	return Counters{Statements: map[string]int64{}, MaxRowsWrittenPerStatement: map[string]int64{}}
}

func (s *Server) accept() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: report it, wait a
			// little, longer each time (as net/http does), and go on
			// rather than stop serving for good.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.opts.ErrorLog(fmt.Errorf("mssqltest: accept (retrying in %v): %w", backoff, err))
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		if len(s.conns) >= s.opts.MaxConns {
			s.mu.Unlock()
			c.close()
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
			c.serve()
		}()
	}
}

// Addr returns the address the server listens on ("127.0.0.1:port").
func (s *Server) Addr() string { return s.ln.Addr().String() }

// DSN returns a go-mssqldb DSN for the owner login:
// sqlserver://sa:...@127.0.0.1:port?database=mssqltest&encrypt=disable.
func (s *Server) DSN() string { return s.DSNFor(s.opts.User, s.opts.Password) }

// DSNFor returns a DSN for another login.
func (s *Server) DSNFor(user, password string) string {
	u := url.URL{
		Scheme:   "sqlserver",
		User:     url.UserPassword(user, password),
		Host:     s.Addr(),
		RawQuery: url.Values{"database": {s.opts.Database}, "encrypt": {"disable"}}.Encode(),
	}
	return u.String()
}

// Close stops the listener and closes every connection, then waits for
// their goroutines. It is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		conns := make([]*conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.closeErr = fmt.Errorf("mssqltest: close listener: %w", err)
		}
		for _, c := range conns {
			c.close()
		}
		s.wg.Wait()
	})
	return s.closeErr
}

// AddLogin adds a restricted login whose database user holds only grants
// (keyed like "dbo.sessions"). A later call for the same name replaces it.
func (s *Server) AddLogin(user, password string, grants map[string]tsql.Permission) {
	g := make(map[string]tsql.Permission, len(grants))
	for k, v := range grants {
		g[k] = v
	}
	s.mu.Lock()
	s.logins[strings.ToLower(user)] = login{password: password,
		principal: tsql.Principal{Name: user, Restricted: true, Grants: g}}
	s.mu.Unlock()
	// The login's database user, which GRANT extends and EXECUTE AS
	// USER names.
	if us, ok := s.db.(userSetter); ok {
		us.SetUser(user, g)
	}
}

// userSetter is implemented by an engine that keeps database users.
type userSetter interface {
	SetUser(name string, grants map[string]tsql.Permission)
}

// SetUser implements userSetter.
func (e tsqlEngine) SetUser(name string, grants map[string]tsql.Permission) {
	e.db.SetUser(name, grants)
}

// AddRestrictedLogin adds a login with SELECT, INSERT, UPDATE and DELETE
// on dbo.sessions and nothing else, as the store's README asks of the
// application's user.
func (s *Server) AddRestrictedLogin(user, password string) {
	s.AddLogin(user, password, map[string]tsql.Permission{
		"dbo.sessions": tsql.PermSelect | tsql.PermInsert | tsql.PermUpdate | tsql.PermDelete,
	})
}

// SetNow replaces the server clock; nil means time.Now.
func (s *Server) SetNow(now func() time.Time) { s.db.SetNow(now) }

// Exec runs a batch as the owner, for test setup. Faults, latency and
// counters do not apply to it.
func (s *Server) Exec(ctx context.Context, sql string) error {
	if err := s.db.ExecAdmin(ctx, sql); err != nil {
		return fmt.Errorf("mssqltest: exec: %w", err)
	}
	return nil
}

// Counters returns a snapshot of the counters.
func (s *Server) Counters() Counters {
	st := s.db.Stats()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counters
	c.Statements = make(map[string]int64, len(s.counters.Statements))
	for k, v := range s.counters.Statements {
		c.Statements[k] = v
	}
	c.MaxRowsWrittenPerStatement = make(map[string]int64, len(s.counters.MaxRowsWrittenPerStatement))
	for k, v := range s.counters.MaxRowsWrittenPerStatement {
		c.MaxRowsWrittenPerStatement[k] = v
	}
	c.Seeks = st.Seeks - s.statsBase.Seeks
	c.Scans = st.Scans - s.statsBase.Scans
	c.RangeSeeks = st.RangeSeeks - s.statsBase.RangeSeeks
	c.ImplicitColumnConversions = st.ImplicitColumnConversions - s.statsBase.ImplicitColumnConversions
	c.LatchWaits = st.LatchWaits - s.statsBase.LatchWaits
	c.LatchWait = st.LatchWait - s.statsBase.LatchWait
	c.LockWaits = st.LockWaits - s.statsBase.LockWaits
	return c
}

// ResetCounters sets the counters to zero and forgets the recorded
// parameters.
func (s *Server) ResetCounters() {
	st := s.db.Stats()
	s.mu.Lock()
	s.counters = newCounters()
	s.statsBase = st
	s.params = nil
	s.mu.Unlock()
}

// Params returns every RPC parameter received since the last
// ResetCounters, in order; only the last 10,000 are kept.
func (s *Server) Params() []ParamRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.params
	if n := len(p) - maxParamRecords; n > 0 {
		p = p[n:]
	}
	return append([]ParamRecord(nil), p...)
}

// SetLatency adds d before each response, modelling a network.
func (s *Server) SetLatency(perRoundTrip time.Duration) {
	s.mu.Lock()
	s.latency = perRoundTrip
	s.mu.Unlock()
}

// SetStatementLatency adds d before each statement of the kind ("" for
// every statement), modelling a busy server. Zero removes it.
func (s *Server) SetStatementLatency(kind string, d time.Duration) {
	s.mu.Lock()
	if d <= 0 {
		delete(s.stmtDelay, strings.ToUpper(kind))
	} else {
		s.stmtDelay[strings.ToUpper(kind)] = d
	}
	s.mu.Unlock()
}

// InjectFault adds a fault.
func (s *Server) InjectFault(f Fault) {
	left := f.Times
	if left == 0 {
		left = 1
	}
	s.mu.Lock()
	s.faults = append(s.faults, &faultState{f: f, left: left})
	s.mu.Unlock()
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// FaultsHit returns how many statements faults have hit.
func (s *Server) FaultsHit() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faultsHits
}

func (s *Server) lookupLogin(user string) (login, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.logins[strings.ToLower(user)]
	return l, ok
}

func (s *Server) count(f func(c *Counters)) {
	s.mu.Lock()
	f(&s.counters)
	s.mu.Unlock()
}

func (s *Server) recordParams(recs []ParamRecord) {
	s.mu.Lock()
	s.params = append(s.params, recs...)
	// Trim only past twice the limit, so the copy is paid once per
	// maxParamRecords records, not on every request.
	if n := len(s.params) - maxParamRecords; n > maxParamRecords {
		s.params = append(s.params[:0:0], s.params[n:]...)
	}
	s.mu.Unlock()
}

func (s *Server) roundTripLatency() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latency
}

func normTable(t string) string {
	t = strings.ToLower(strings.NewReplacer("[", "", "]", "").Replace(t))
	if t != "" && !strings.Contains(t, ".") {
		t = "dbo." + t
	}
	return t
}

// takeFault returns the first fault matching the statement and uses up
// one of its hits.
func (s *Server) takeFault(info tsql.StatementInfo) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, fs := range s.faults {
		if fs.f.Kind != "" && !strings.EqualFold(fs.f.Kind, info.Kind) {
			continue
		}
		if fs.f.Table != "" && normTable(fs.f.Table) != normTable(info.Table) {
			continue
		}
		if fs.left > 0 {
			fs.left--
			if fs.left == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		s.faultsHits++
		return fs.f, true
	}
	return Fault{}, false
}

// serverHooks connects the engine's statement hooks to the server:
// counters, statement latency and faults. Statements run for Exec
// (the owner's setup) carry no connection and are left alone.
type serverHooks struct{ s *Server }

func (h serverHooks) BeforeStatement(ctx context.Context, _ *tsql.Session, info tsql.StatementInfo) error {
	c := connFrom(ctx)
	if c == nil {
		return nil
	}
	if c.fatal.Load() {
		// A fatal error (class 20 or more) ended the batch and the
		// connection: nothing after it runs, as in SQL Server.
		return context.Canceled
	}
	s := h.s
	kind := strings.ToUpper(info.Kind)
	s.mu.Lock()
	s.counters.Statements[kind]++
	d := s.stmtDelay[kind] + s.stmtDelay[""]
	s.mu.Unlock()
	if d > 0 {
		if err := sleepCtx(ctx, d); err != nil {
			return err
		}
	}
	f, ok := s.takeFault(info)
	if !ok {
		return nil
	}
	if f.DropBefore {
		c.close()
		return context.Canceled
	}
	if f.Stall {
		<-ctx.Done()
		return ctx.Err()
	}
	if f.DropAfter {
		c.dropAfter.Store(true)
	}
	if f.Error != 0 {
		e := faultError(f.Error, c.spid, s.opts.Database, serverName, tableName(info.Table), info.Kind)
		if e.Class >= 20 {
			c.fatal.Store(true)
		}
		return e
	}
	return nil
}

func (h serverHooks) AfterStatement(ctx context.Context, _ *tsql.Session, info tsql.StatementInfo) {
	c := connFrom(ctx)
	if c == nil {
		return
	}
	kind := strings.ToUpper(info.Kind)
	h.s.count(func(k *Counters) {
		k.RowsRead += info.RowsRead
		k.RowsWritten += info.RowsWritten
		if info.RowsWritten > k.MaxRowsWrittenPerStatement[kind] {
			k.MaxRowsWrittenPerStatement[kind] = info.RowsWritten
		}
	})
	if c.dropAfter.Load() {
		c.close()
	}
}

func tableName(t string) string {
	t = strings.NewReplacer("[", "", "]", "").Replace(t)
	if i := strings.LastIndexByte(t, '.'); i >= 0 {
		t = t[i+1:]
	}
	return t
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
