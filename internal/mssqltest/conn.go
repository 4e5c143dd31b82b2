package mssqltest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/tsql"
)

// maxParams is SQL Server's limit on the parameters of one request
// (error 8003). It counts every RPC parameter, so for sp_executesql the
// statement and the declaration list are two of the 2,100.
const maxParams = 2100

type connKey struct{}

func connFrom(ctx context.Context) *conn {
	c, _ := ctx.Value(connKey{}).(*conn)
	return c
}

// request is a request message with the context it runs under. The
// reader creates it, so an ATTENTION that follows can always find it.
type request struct {
	msg    message
	ctx    context.Context
	cancel context.CancelFunc
	attn   bool // guarded by conn.mu
	done   bool // guarded by conn.mu
}

// conn is one client connection.
type conn struct {
	s    *Server
	nc   net.Conn
	spid int

	base   context.Context
	cancel context.CancelFunc
	once   sync.Once

	// Set by the hooks, read by the executor.
	dropAfter atomic.Bool
	fatal     atomic.Bool

	// Used only by the goroutine that owns the phase: the reader during
	// login, the executor afterwards.
	pw         *packetWriter
	packetSize int
	sess       session
	tranID     uint64
	tdsVersion uint32

	mu      sync.Mutex
	running *request

	qmu    sync.Mutex // guards queued
	qcond  *sync.Cond // signalled when queued falls or the connection closes
	queued int        // bytes of requests read and not yet run

	// tmName is the name given to the outermost transaction by a
	// transaction manager BEGIN; "" when none. Used only by the executor.
	tmName string
}

func newConn(s *Server, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{s: s, nc: nc, spid: int(s.nextSPID.Add(1)), cancel: cancel}
	c.base = context.WithValue(ctx, connKey{}, c)
	c.qcond = sync.NewCond(&c.qmu)
	return c
}

// close closes the TCP connection and cancels whatever runs on it.
func (c *conn) close() {
	c.once.Do(func() {
		_ = c.nc.Close()
		c.cancel()
		c.qmu.Lock()
		c.qcond.Broadcast()
		c.qmu.Unlock()
	})
}

func (c *conn) closed() bool { return c.base.Err() != nil }

// serve runs the connection: handshake, then the request loop. A panic
// in either of its goroutines is a bug in the test server: it is
// reported through Options.ErrorLog and closes this connection only.
func (c *conn) serve() {
	defer c.close()
	defer c.recoverPanic("handshake or session close")
	_ = c.nc.SetDeadline(time.Now().Add(c.s.opts.HandshakeTimeout))
	if !c.handshake() {
		return
	}
	_ = c.nc.SetDeadline(time.Time{})
	events := make(chan *request, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer c.recoverPanic("executor")
		c.execute(events)
	}()
	func() {
		// The executor may still hold the session: wait for it, and
		// close the session, even when the reader fails.
		defer c.recoverPanic("reader")
		c.read(events)
	}()
	<-done
	if c.sess != nil {
		c.sess.Close()
	}
}

// recoverPanic, deferred, turns a panic into an ErrorLog report and a
// closed connection.
func (c *conn) recoverPanic(where string) {
	if v := recover(); v != nil {
		c.s.opts.ErrorLog(fmt.Errorf("mssqltest: panic in the %s of connection %d (a bug in the test server; the connection is closed): %v\n%s", where, c.spid, v, debug.Stack()))
		c.close()
	}
}

// queue accounts for the bytes of requests read but not yet run, so a
// client that sends requests without reading replies holds at most
// about two messages in memory.
func (c *conn) queue(n int) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	c.queued += n
	for c.queued > c.s.opts.MaxMessage && !c.closed() {
		c.qcond.Wait()
	}
}

func (c *conn) dequeue(n int) {
	c.qmu.Lock()
	c.queued -= n
	c.qcond.Broadcast()
	c.qmu.Unlock()
}

// read reads messages until the connection fails. Requests get their
// context here; an ATTENTION cancels the running request, or, when no
// request runs, is queued to be answered after the current reply.
func (c *conn) read(events chan<- *request) {
	defer close(events)
	for {
		m, err := readMessage(c.nc, c.s.opts.MaxMessage)
		if err != nil {
			c.close()
			return
		}
		if m.typ == pktAttention {
			c.s.count(func(k *Counters) { k.Attentions++ })
			c.mu.Lock()
			r := c.running
			if r != nil && !r.done && !r.attn {
				r.attn = true
				r.cancel()
				c.mu.Unlock()
				continue
			}
			c.mu.Unlock()
			events <- &request{msg: m}
			continue
		}
		ctx, cancel := context.WithCancel(c.base)
		r := &request{msg: m, ctx: ctx, cancel: cancel}
		c.mu.Lock()
		c.running = r
		c.mu.Unlock()
		events <- r
		c.queue(len(m.data))
	}
}

// execute runs requests in order and writes their replies.
func (c *conn) execute(events <-chan *request) {
	for r := range events {
		if c.closed() {
			if r.cancel != nil {
				r.cancel()
			}
			continue
		}
		if r.msg.typ == pktAttention {
			// The reply was already complete when the ATTENTION came:
			// SQL Server answers it with a message of its own.
			c.replyAttention()
			continue
		}
		c.handle(r)
		r.cancel()
		c.dequeue(len(r.msg.data))
	}
}

// replyAttention acknowledges an ATTENTION with a message of its own: a
// DONE with DONE_ATTN (MS-TDS 2.2.1.7, 3.2.5.1).
func (c *conn) replyAttention() {
	var t tokbuf
	t.done(tokDone, doneAttn, 0, 0)
	c.reply(t.b)
}

// reply sends one reply message after the configured latency; on a
// write failure the connection is closed.
func (c *conn) reply(data []byte) {
	if d := c.s.roundTripLatency(); d > 0 {
		if sleepCtx(c.base, d) != nil {
			return
		}
	}
	if err := c.pw.writeMessage(pktReply, data); err != nil {
		c.close()
	}
}

// handshake runs PRELOGIN and LOGIN7. It reports whether a session was
// established.
func (c *conn) handshake() bool {
	m, err := readMessage(c.nc, maxHandshake)
	if err != nil || m.typ != pktPrelogin {
		// A TLS ClientHello (encrypt=strict, TDS 8.0) or garbage: this
		// server has no TLS, and says so by closing.
		return false
	}
	clientEnc, ok := preloginEncryption(m.data)
	if !ok {
		return false
	}
	c.pw = newPacketWriter(c.nc, 4096)
	if err := c.pw.writeMessage(pktReply, preloginReply()); err != nil {
		return false
	}
	if clientEnc == encryptOn || clientEnc == encryptReq {
		// The client insists on TLS, which this test server does not
		// offer: it answered ENCRYPT_NOT_SUP and ends the connection, as
		// MS-TDS requires. The client reports that encryption is not
		// supported by the server.
		return false
	}
	m, err = readMessage(c.nc, maxHandshake)
	if err != nil {
		return false
	}
	if m.typ != pktLogin7 {
		return false
	}
	l, err := parseLogin7(m.data)
	if err != nil {
		c.loginError(errServer(err), l.user)
		return false
	}
	c.packetSize = l.packetSize
	c.pw = newPacketWriter(c.nc, c.packetSize)
	if l.tdsVersion < tds73A {
		c.loginError(errServer(fmt.Errorf("mssqltest: TDS version %08X is not supported; use TDS 7.3 or 7.4", l.tdsVersion)), l.user)
		return false
	}
	c.tdsVersion = min(l.tdsVersion, tds74)
	if l.integrated {
		c.loginError(errServer(errors.New("mssqltest: integrated (SSPI) authentication is not supported; use a SQL login")), l.user)
		return false
	}
	acct, ok := c.s.lookupLogin(l.user)
	if !ok || acct.password != l.password {
		c.loginError(errLoginFailed(l.user), l.user)
		return false
	}
	db := l.database
	if db == "" {
		db = c.s.opts.Database
	}
	if !strings.EqualFold(db, c.s.opts.Database) {
		// SQL Server follows 4060 with 18456 ("Login failed for user"),
		// and go-mssqldb reports the last error of a response; this
		// server sends 4060 alone so the client sees the cause.
		c.loginError(errCannotOpenDatabase(db), l.user)
		return false
	}
	c.sess = c.s.db.NewSession(acct.principal)
	c.s.count(func(k *Counters) { k.Logins++ })

	var t tokbuf
	t.envChangeString(envDatabase, c.s.opts.Database, "master")
	t.errorToken(tokInfo, &tsql.Error{Number: 5701, Class: 0, State: 2,
		Message: fmt.Sprintf("Changed database context to '%s'.", c.s.opts.Database)}, serverName, 1)
	t.byte1(tokEnvChange) // SQL collation: B_VARBYTE new value, empty old value
	t.u16(1 + 1 + 5 + 1)
	t.byte1(envCollation)
	t.byte1(5)
	t.bytes(collationDefault[:])
	t.byte1(0)
	t.envChangeString(envLanguage, "us_english", "")
	t.errorToken(tokInfo, &tsql.Error{Number: 5703, Class: 0, State: 1,
		Message: "Changed language setting to us_english."}, serverName, 1)
	t.loginAck(c.tdsVersion)
	t.envChangeString(envPacketSize, fmt.Sprint(c.packetSize), fmt.Sprint(c.packetSize))
	t.done(tokDone, doneFinal, 0, 0)
	return c.pw.writeMessage(pktReply, t.b) == nil
}

// loginError answers a LOGIN7 with ERROR and DONE, after which serve
// closes the connection, as SQL Server does.
func (c *conn) loginError(e *tsql.Error, user string) {
	if c.pw == nil {
		c.pw = newPacketWriter(c.nc, 4096)
	}
	var t tokbuf
	t.errorToken(tokError, e, serverName, 1)
	t.done(tokDone, doneError, 0, 0)
	_ = c.pw.writeMessage(pktReply, t.b)
}

// handle runs one request and writes its reply. A panic while it runs
// is reported through Options.ErrorLog; the client gets error 40517
// (class 20, so it drops the connection) and the connection is closed.
func (c *conn) handle(r *request) {
	defer func() {
		if v := recover(); v != nil {
			c.s.opts.ErrorLog(fmt.Errorf("mssqltest: panic while running a request on connection %d (a bug in the test server; the connection is closed): %v\n%s", c.spid, v, debug.Stack()))
			c.finishRequest(r)
			var t tokbuf
			t.errorToken(tokError, &tsql.Error{Number: 40517, Class: 20, State: 1,
				Message: fmt.Sprintf("Keyword or statement option 'this request (the test server failed on it: %v)' is not supported in this version of SQL Server (mssqltest test double).", v)}, serverName, 1)
			t.done(tokDone, doneError|doneSrvError, 0, 0)
			c.reply(t.b)
			c.close()
		}
	}()
	c.s.count(func(k *Counters) { k.RoundTrips++ })
	c.dropAfter.Store(false)
	c.fatal.Store(false)

	var t tokbuf
	if r.msg.ignore {
		// The client abandoned the message while sending it (EOM with
		// IGNORE): SQL Server discards it unread and answers with a DONE
		// carrying the error bit only (MS-TDS 2.2.1.7).
		attn := c.finishRequest(r)
		t.done(tokDone, doneError, 0, 0)
		c.reply(t.b)
		if attn {
			c.replyAttention()
		}
		return
	}
	if r.msg.typ == pktBulkLoad {
		// go-mssqldb's CopyIn sends INSERT BULK first, which the engine
		// refuses; a client that sends the rows anyway gets the same
		// refusal here.
		attn := c.finishRequest(r)
		t.errorToken(tokError, errUnsupported("bulk load (BULKLOAD message, INSERT BULK)"), serverName, 1)
		t.done(tokDone, doneError, 0, 0)
		c.reply(t.b)
		if attn {
			c.replyAttention()
		}
		return
	}
	if r.msg.status&statusResetConnT != 0 {
		c.finishRequest(r)
		t.errorToken(tokError, errUnsupported("RESETCONNECTIONSKIPTRAN"), serverName, 1)
		t.done(tokDone, doneError, 0, 0)
		c.reply(t.b)
		return
	}
	if r.msg.status&statusResetConn != 0 {
		before := c.sess.TransactionDepth()
		c.sess.Reset()
		t.envChangeBytes(envResetAck, nil, nil)
		if before > 0 && c.sess.TransactionDepth() == 0 {
			c.endTran(&t, envRollbackTran)
		}
	}
	rd := &reader{b: r.msg.data}
	rd.skipAllHeaders()
	var rep replier
	switch r.msg.typ {
	case pktSQLBatch:
		rep = c.batch(r, rd)
	case pktRPC:
		rep = c.rpc(r, rd)
	case pktTransMgr:
		rep = c.transMgr(r, rd)
	default:
		c.finishRequest(r)
		c.close() // not a request SQL Server accepts on a logged-in connection
		return
	}
	attn := c.finishRequest(r)
	if c.closed() {
		return // a fault dropped the connection: no reply
	}
	if c.dropAfter.Load() {
		c.close()
		return
	}
	out := rep.build(&t, attn)
	c.reply(out)
	if attn {
		// The cancelled request's reply ended with a DONE; the
		// acknowledgement follows as a message of its own, which
		// tedious waits for (MS-TDS 3.2.5.1).
		c.replyAttention()
	}
	if c.fatal.Load() {
		c.close()
	}
}

// finishRequest marks the request done and reports whether an ATTENTION
// cancelled it; a later ATTENTION gets its own reply.
func (c *conn) finishRequest(r *request) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	r.done = true
	if c.running == r {
		c.running = nil
	}
	return r.attn
}

// replier builds the reply of one request.
type replier struct {
	c        *conn
	rpc      bool // DONEINPROC per statement, RETURNSTATUS and DONEPROC
	results  []tsql.Result
	pre      []*tsql.Error // errors raised before any statement ran
	execErr  error
	depth0   int
	rollback bool // the batch ended a transaction by rolling it back
}

func (c *conn) run(r *request, sql string, params []tsql.Param) replier {
	rep := replier{c: c, depth0: c.sess.TransactionDepth()}
	rep.results, rep.execErr = c.sess.Exec(r.ctx, sql, params)
	for _, res := range rep.results {
		if res.Err != nil || strings.EqualFold(res.Kind, "ROLLBACK") {
			rep.rollback = true
		}
	}
	if rep.execErr != nil {
		rep.rollback = true
	}
	return rep
}

func (c *conn) batch(r *request, rd *reader) replier {
	if rd.err != nil {
		return replier{c: c, depth0: c.sess.TransactionDepth(), pre: []*tsql.Error{errServer(rd.err)}}
	}
	if rd.left()%2 != 0 {
		return replier{c: c, depth0: c.sess.TransactionDepth(), pre: []*tsql.Error{errServer(errors.New("mssqltest: SQL batch text has an odd number of bytes"))}}
	}
	return c.run(r, ucs2String(rd.b[rd.off:]), nil)
}

// procNames are the system procedures a client may call by id
// (MS-TDS 2.2.6.6). Only sp_executesql is implemented.
var procNames = map[uint16]string{
	1: "sp_cursor", 2: "sp_cursoropen", 3: "sp_cursorprepare", 4: "sp_cursorexecute",
	5: "sp_cursorprepexec", 6: "sp_cursorunprepare", 7: "sp_cursorfetch", 8: "sp_cursoroption",
	9: "sp_cursorclose", 10: "sp_executesql", 11: "sp_prepare", 12: "sp_execute",
	13: "sp_prepexec", 14: "sp_prepexecrpc", 15: "sp_unprepare",
}

// systemProcs are procNames by name.
var systemProcs = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range procNames {
		m[n] = true
	}
	return m
}()

func (c *conn) rpc(r *request, rd *reader) replier {
	depth := c.sess.TransactionDepth()
	fail := func(e *tsql.Error) replier {
		return replier{c: c, rpc: true, depth0: depth, pre: []*tsql.Error{e}}
	}
	if rd.err != nil {
		return fail(errServer(rd.err))
	}
	call, err := parseRPC(rd)
	if errors.Is(err, errParamLimit) {
		return fail(errTooManyParams())
	}
	if err != nil {
		return fail(errServer(err))
	}
	name := call.procName
	if name == "" {
		name = procNames[call.procID]
		if name == "" {
			name = fmt.Sprintf("procedure id %d", call.procID)
		}
	}
	short := strings.ToLower(strings.NewReplacer("[", "", "]", "").Replace(name))
	if i := strings.LastIndexByte(short, '.'); i >= 0 {
		short = short[i+1:]
	}
	if short != "sp_executesql" {
		// sp_prepare, sp_execute and the cursor procedures exist in SQL
		// Server; this test server implements none of them, and says so.
		// Any other procedure does not exist here (CREATE PROCEDURE is
		// refused), and gets SQL Server's answer for a missing one.
		if systemProcs[short] {
			return fail(errUnsupported("system procedure " + short))
		}
		return fail(errNoProcedure(name))
	}
	if len(call.params) == 0 {
		return fail(&tsql.Error{Number: 201, Class: 16, State: 4,
			Message: "Procedure or function 'sp_executesql' expects parameter '@statement', which was not supplied."})
	}
	stmt, ok := call.params[0].param.Value.(string)
	if !ok {
		return fail(&tsql.Error{Number: 214, Class: 16, State: 2,
			Message: "Procedure expects parameter '@statement' of type 'ntext/nchar/nvarchar'."})
	}
	var params []tsql.Param
	var recs []ParamRecord
	if len(call.params) > 2 {
		for _, p := range call.params[2:] {
			if p.name == "" {
				return fail(errUnsupported("positional sp_executesql parameters (without names)"))
			}
			params = append(params, p.param)
			recs = append(recs, ParamRecord{Name: p.name, WireType: p.wireType, SQL: stmt})
		}
	}
	c.s.recordParams(recs)
	rep := c.run(r, stmt, params)
	rep.rpc = true
	return rep
}

// Transaction manager request types (MS-TDS 2.2.6.9).
const (
	tmBegin    = 5
	tmCommit   = 7
	tmRollback = 8
	tmSave     = 9
)

var isolationNames = map[byte]string{
	1: "READ UNCOMMITTED", 2: "READ COMMITTED", 3: "REPEATABLE READ", 4: "SERIALIZABLE", 5: "SNAPSHOT",
}

// transMgr maps transaction manager requests, which database/sql's
// BeginTx, Commit and Rollback use, onto T-SQL run by the engine.
func (c *conn) transMgr(r *request, rd *reader) replier {
	depth := c.sess.TransactionDepth()
	fail := func(e *tsql.Error) replier { return replier{c: c, depth0: depth, pre: []*tsql.Error{e}} }
	typ := rd.u16()
	if rd.err != nil {
		return fail(errServer(rd.err))
	}
	isolation := func(iso byte) (string, error) {
		if iso == 0 {
			return "", nil
		}
		n, ok := isolationNames[iso]
		if !ok {
			return "", fmt.Errorf("mssqltest: isolation level %d is invalid", iso)
		}
		return "SET TRANSACTION ISOLATION LEVEL " + n + "; ", nil
	}
	// Clients write a transaction name's length in bytes, not characters
	// (tedious, SqlClient: name.length*2); go-mssqldb sends no names.
	name := func() string {
		b := rd.next(int(rd.u8()))
		if len(b)%2 != 0 {
			rd.fail(errors.New("mssqltest: transaction name of an odd number of bytes"))
		}
		return ucs2String(b)
	}
	var sql, newName string
	begins := false
	switch typ {
	case tmBegin:
		iso := rd.u8()
		newName = name()
		set, err := isolation(iso)
		if err != nil {
			return fail(errServer(err))
		}
		sql = set + "BEGIN TRANSACTION"
		begins = true
	case tmCommit, tmRollback:
		n := name()
		flags := rd.u8()
		if typ == tmCommit {
			// SQL Server ignores the name of a COMMIT.
			sql = "COMMIT TRANSACTION"
		} else {
			// ROLLBACK with the outermost transaction's name is a plain
			// ROLLBACK. Any other name is a savepoint (or the name of an
			// inner transaction, which SQL Server refuses with 6401).
			// Names are case-sensitive.
			if n != "" && n != c.tmName {
				return fail(errUnsupported("ROLLBACK TRANSACTION to a savepoint (" + n + ")"))
			}
			sql = "ROLLBACK TRANSACTION"
		}
		if flags&0x01 != 0 { // fBeginXact: begin a new transaction at once
			set, err := isolation(rd.u8())
			if err != nil {
				return fail(errServer(err))
			}
			newName = name()
			sql += "; " + set + "BEGIN TRANSACTION"
			begins = true
		}
	case tmSave:
		return fail(errUnsupported("SAVE TRANSACTION (savepoints)"))
	default:
		return fail(errUnsupported(fmt.Sprintf("transaction manager request type %d (distributed transactions)", typ)))
	}
	if rd.err != nil {
		return fail(errServer(rd.err))
	}
	rep := c.run(r, sql, nil)
	switch {
	case c.sess.TransactionDepth() == 0:
		c.tmName = ""
	case begins && c.sess.TransactionDepth() == 1:
		c.tmName = newName
	}
	// A transaction manager request answers with ENVCHANGE and one DONE,
	// not with a DONE per statement.
	var errs []*tsql.Error
	for _, res := range rep.results {
		if res.Err != nil {
			errs = append(errs, res.Err)
		}
	}
	rep.results = nil
	rep.pre = errs
	return rep
}

// endTran appends the ENVCHANGE that ends the current transaction.
func (c *conn) endTran(t *tokbuf, typ byte) {
	var old [8]byte
	binary.LittleEndian.PutUint64(old[:], c.tranID)
	t.envChangeBytes(typ, nil, old[:])
	c.tranID = 0
}

// build assembles the reply after the tokens already in t (reset
// acknowledgement). It settles the connection's transaction state and
// leaves the tokens to (*tokbuf).reply.
func (rep replier) build(t *tokbuf, attn bool) []byte {
	c := rep.c
	var env tokbuf
	depth1 := c.sess.TransactionDepth()
	if depth1 == 0 {
		c.tmName = ""
	}
	switch {
	case rep.depth0 == 0 && depth1 > 0:
		c.tranID = c.s.nextTran.Add(1)
		var id [8]byte
		binary.LittleEndian.PutUint64(id[:], c.tranID)
		env.envChangeBytes(envBeginTran, id[:], nil)
	case rep.depth0 > 0 && depth1 == 0:
		typ := byte(envCommitTran)
		if rep.rollback {
			typ = envRollbackTran
		}
		c.endTran(&env, typ)
	}
	if attn {
		// Cancelled by the client: SQL Server stops and ends the reply
		// with a DONE; the rows already produced are of no use to the
		// client. The acknowledgement (DONE_ATTN) is sent after this
		// message by handle. A transaction that was open stays open.
		t.bytes(env.b)
		status := uint16(doneFinal)
		if depth1 > 0 {
			status |= doneInxact
		}
		t.done(tokDone, status, 0, 0)
		return t.b
	}
	body := replyBody{rpc: rep.rpc, pre: rep.pre, results: rep.results, env: env.b, inTran: depth1 > 0, fatal: c.fatal.Load()}
	if rep.execErr != nil && !errors.Is(rep.execErr, context.Canceled) && !errors.Is(rep.execErr, context.DeadlineExceeded) {
		body.trailing = errServer(fmt.Errorf("mssqltest: engine: %w", rep.execErr))
	}
	if t.reply(body) {
		c.fatal.Store(true)
	}
	return t.b
}
