package mssqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // the DSN's timezone= needs the zone database

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
	"github.com/scs-contrib/mssqlstore/internal/sqlerr"
	"github.com/scs-contrib/mssqlstore/internal/testdb"

	mssql "github.com/microsoft/go-mssqldb"
)

// Regression tests for the failure paths an adversarial review broke
// (issue 9). Each names the guarantee it holds to.

// A Delete that fails leaves the newest value, never an older one: the
// pending write stays pending and still lands.
func TestFailedDeleteKeepsNewestWrite(t *testing.T) {
	for _, fault := range []mssqltest.Fault{
		{Kind: "DELETE", Error: 1205},
		{Kind: "DELETE", DropBefore: true},
	} {
		t.Run(faultName(fault), func(t *testing.T) {
			h := newHarness(t, testdb.Options{WithType: true}, Config{})
			srv := h.db.RequireServer(t)
			tok := newToken(t)
			h.commit(tok, "v1", h.later(time.Hour))
			h.flush()
			h.commit(tok, "v2", h.later(time.Hour)) // pending
			srv.InjectFault(fault)
			if err := h.store.DeleteCtx(h.ctx(), tok); err == nil {
				t.Fatal("Delete returned nil through an injected fault")
			}
			if got, ok := h.find(tok); !ok || got != "v2" {
				t.Fatalf("after a failed Delete, Find = %q, %v; want the newest write v2", got, ok)
			}
			h.flush()
			if got, _ := h.inDB(tok); got != "v2" {
				t.Fatalf("after a failed Delete and a flush the table holds %q, want v2", got)
			}
		})
	}
}

// A Delete whose context ends while it waits for a flush in flight
// changes nothing.
func TestDeleteCancelledWhileWaiting(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{})
	srv := h.db.RequireServer(t)
	tok := newToken(t)
	h.commit(tok, "v1", h.later(time.Hour))
	hold := h.holdNextFlush(srv)
	flushed := make(chan error, 1)
	go func() { flushed <- h.store.Flush(h.ctx()) }()
	<-hold.inFlight
	ctx, cancel := context.WithCancel(context.Background())
	h.store.mem.onWait = cancel // the client goes away while Delete waits
	if err := h.store.DeleteCtx(ctx, tok); !errors.Is(err, context.Canceled) {
		t.Fatalf("Delete = %v, want context.Canceled", err)
	}
	close(hold.proceed)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if got, ok := h.find(tok); !ok || got != "v1" {
		t.Fatalf("Find = %q, %v after a cancelled Delete; want v1", got, ok)
	}
}

// A durable Commit is never acknowledged for a write that was not
// written: a failed Delete of its token does not answer it, and it
// returns nil only once the write is in SQL Server.
func TestDurableCommitNotAcknowledgedByFailedDelete(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{DurableCommits: true})
	srv := h.db.RequireServer(t)
	tok := newToken(t)
	h.store.batcher.flushLock <- struct{}{} // no flush runs until released
	committed := make(chan error, 1)
	go func() { committed <- h.store.CommitCtx(h.ctx(), tok, []byte("v1"), h.later(time.Hour)) }()
	waitFor(t, "the commit to be pending", func() bool { return h.store.Stats().Pending == 1 })
	srv.InjectFault(mssqltest.Fault{Kind: "DELETE", Error: 1205})
	if err := h.store.DeleteCtx(h.ctx(), tok); err == nil {
		t.Fatal("Delete returned nil through an injected fault")
	}
	select {
	case err := <-committed:
		t.Fatalf("the durable Commit returned %v before its write reached SQL Server", err)
	default:
	}
	<-h.store.batcher.flushLock
	if err := <-committed; err != nil {
		t.Fatalf("durable Commit: %v", err)
	}
	if got, _ := h.inDB(tok); got != "v1" {
		t.Fatalf("the durable Commit returned nil, but the table holds %q", got)
	}
}

// A cleanup pass stalled in SQL Server does not make StopCleanup skip the
// final flush: StopCleanup interrupts cleanup first.
func TestStopCleanupInterruptsSlowCleanup(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{CleanupInterval: time.Minute, StopTimeout: 7 * time.Second})
	srv := h.db.RequireServer(t)
	srv.InjectFault(mssqltest.Fault{Kind: "DELETE", Stall: true})
	h.clock.Advance(time.Minute) // a cleanup pass starts, and stalls
	waitFor(t, "the cleanup DELETE to stall", func() bool { return srv.FaultsHit() == 1 })
	tok := newToken(t)
	h.commit(tok, "last words", h.later(time.Hour))
	stopped := make(chan struct{})
	go func() { h.store.StopCleanup(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("StopCleanup waited for a stalled cleanup pass")
	}
	if got, _ := h.inDB(tok); got != "last words" {
		t.Fatalf("StopCleanup did not flush the pending write: table holds %q", got)
	}
	if errs := h.errs.all(); len(errs) != 0 {
		t.Fatalf("StopCleanup reported %v on a healthy server", errs)
	}
}

// Durable commits waiting at shutdown are answered, with an error, when
// the final flush gives up: none hangs.
func TestDurableCommitAnsweredAtClose(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{DurableCommits: true})
	srv := h.db.RequireServer(t)
	srv.InjectFault(mssqltest.Fault{Kind: "MERGE", Error: 40613, Times: -1})
	const n = 4
	results := make(chan error, n)
	for range n {
		go func() {
			results <- h.store.CommitCtx(context.Background(), newToken(t), []byte("x"), h.later(time.Hour))
		}()
	}
	waitFor(t, "the commits to be pending", func() bool { return h.store.Stats().Pending == n })
	ctx, cancel := h.store.timeout(10 * time.Second)
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	h.clock.run(time.Second, stop) // backoffs and the timeout pass
	closeErr := h.store.Close(ctx)
	if closeErr == nil || !strings.Contains(closeErr.Error(), "4 writes not flushed") {
		t.Fatalf("Close = %v, want the 4 writes it could not flush", closeErr)
	}
	for range n {
		select {
		case err := <-results:
			if err == nil {
				t.Fatal("a durable Commit returned nil though its write never reached SQL Server")
			}
		case <-time.After(30 * time.Second):
			t.Fatal("a durable Commit hangs after Close")
		}
	}
}

// A Commit waiting for room when the store closes is woken and writes
// through, instead of waiting for a flusher that is gone.
func TestCommitWaitingForRoomAtClose(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{MaxPending: 1})
	srv := h.db.RequireServer(t)
	srv.InjectFault(mssqltest.Fault{Kind: "MERGE", Error: 40613, Times: 1000})
	stop := make(chan struct{})
	defer close(stop)
	h.clock.autoAdvance(time.Second, stop)
	first, second := newToken(t), newToken(t)
	h.commit(first, "first", h.later(time.Hour))
	committed := make(chan error, 1)
	go func() {
		committed <- h.store.CommitCtx(context.Background(), second, []byte("second"), h.later(time.Hour))
	}()
	waitFor(t, "the second commit to wait for room", func() bool { return h.store.Stats().CommitWaits == 1 })
	srv.ClearFaults()
	if err := h.store.Close(h.ctx()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-committed:
		if err != nil {
			t.Fatalf("the waiting Commit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a Commit waiting for room hangs after Close")
	}
	for tok, want := range map[string]string{first: "first", second: "second"} {
		if got, _ := h.inDB(tok); got != want {
			t.Errorf("table holds %q, want %q", got, want)
		}
	}
}

// In write-through mode a Delete waits for a write of the same token in
// flight, so the cache cannot keep a session the Delete removed, and two
// write-throughs of one token cannot leave the cache and SQL Server
// holding different values.
func TestWriteThroughHoldsToken(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{FlushInterval: -1})
	srv := h.db.RequireServer(t)
	tok := newToken(t)
	h.commit(tok, "v1", h.later(time.Hour))
	srv.InjectFault(mssqltest.Fault{Kind: "MERGE", Stall: true})
	wctx, stopWrite := context.WithCancel(context.Background())
	written := make(chan error, 1)
	go func() { written <- h.store.CommitCtx(wctx, tok, []byte("v2"), h.later(time.Hour)) }()
	waitFor(t, "the write-through to stall", func() bool { return srv.FaultsHit() == 1 })
	waiting := make(chan struct{})
	var once sync.Once
	h.store.mem.onWait = func() { once.Do(func() { close(waiting) }) }
	deleted := make(chan error, 1)
	go func() { deleted <- h.store.DeleteCtx(h.ctx(), tok) }()
	select {
	case <-waiting:
	case err := <-deleted:
		t.Fatalf("Delete returned %v while a write of the token was in flight", err)
	}
	stopWrite()
	if err := <-written; err == nil {
		t.Fatal("the stalled write-through returned nil")
	}
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	if _, ok := h.find(tok); ok {
		t.Fatal("Find serves a deleted session")
	}
	if _, ok := h.inDB(tok); ok {
		t.Fatal("the deleted session is in SQL Server")
	}
}

// With timezone= in the DSN, go-mssqldb decodes DATETIME2 in that zone;
// the store still reads expiries as the UTC it wrote, so the cache never
// serves an expired session, and serves a live one.
func TestDSNTimezone(t *testing.T) {
	for _, zone := range []string{"America/Los_Angeles", "Asia/Tokyo"} {
		t.Run(zone, func(t *testing.T) {
			db := testdb.Open(t, testdb.Options{WithType: true})
			zoned := *db
			zoned.DB = openDSN(t, db.DSN+"&timezone="+zone)
			h := newHarnessOn(t, &zoned, newFakeClock(), Config{CacheMaxAge: 24 * time.Hour})
			tok := newToken(t)
			h.commit(tok, "v1", h.later(time.Hour))
			h.flush()
			fresh := newHarnessOn(t, &zoned, h.clock, Config{CacheMaxAge: 24 * time.Hour})
			if got, ok := fresh.find(tok); !ok || got != "v1" {
				t.Fatalf("Find = %q, %v; want v1", got, ok) // read from SQL Server, cached
			}
			before := fresh.store.Stats().CacheHits
			if _, ok := fresh.find(tok); !ok || fresh.store.Stats().CacheHits != before+1 {
				t.Fatal("a live session read from SQL Server is not served from the cache")
			}
			h.clock.Advance(time.Hour + time.Second)
			if _, ok := fresh.find(tok); ok {
				t.Fatal("the cache served an expired session")
			}
		})
	}
}

// Table type names that need brackets go to the driver in a form it
// accepts; names it cannot take are refused at NewWithConfig.
func TestTableTypeNames(t *testing.T) {
	for _, name := range []string{"[dbo].[sessions batch]", "[dbo].[2fa_batch]", "dbo.[x;y]"} {
		t.Run(name, func(t *testing.T) {
			db := testdb.Open(t, testdb.Options{})
			db.TableType = name
			db.CreateType(t)
			h := newHarnessOn(t, db, newFakeClock(), Config{})
			tok := newToken(t)
			h.commit(tok, "v1", h.later(time.Hour))
			h.flush()
			if got, _ := h.inDB(tok); got != "v1" {
				t.Fatalf("table holds %q, want v1", got)
			}
			h.checkMergePath()
		})
	}
	for _, bad := range []string{"[dbo].[a.b]", "dbo.[a]]b]"} {
		if _, err := NewWithConfig(&sql.DB{}, Config{TableType: bad}); err == nil {
			t.Errorf("NewWithConfig accepted the table type name %s, which go-mssqldb cannot pass", bad)
		}
	}
}

// Without EXECUTE on the type, a bad row in a batch is still isolated:
// the error of the typeless retry decides, not the 229 of the MERGE.
func TestNoExecuteOnTypeStillIsolatesBadRow(t *testing.T) {
	db := testdb.Open(t, testdb.Options{})
	srv := db.RequireServer(t)
	if err := srv.Exec(context.Background(), "DROP TABLE sessions; CREATE TABLE sessions (token CHAR(43) PRIMARY KEY, data VARBINARY(100) NOT NULL, expiry DATETIME2(6) NOT NULL);"); err != nil {
		t.Fatal(err)
	}
	db.CreateType(t)
	srv.AddRestrictedLogin("app", "App-Passw0rd")
	appDB := *db
	appDB.DB = openDSN(t, srv.DSNFor("app", "App-Passw0rd"))
	h := newHarnessOn(t, &appDB, newFakeClock(), Config{})
	poison, good := newToken(t), newToken(t)
	h.commit(poison, strings.Repeat("x", 200), h.later(time.Hour))
	h.commit(good, "ok", h.later(time.Hour))
	h.flush()
	if got, _ := h.inDB(good); got != "ok" {
		t.Fatalf("the good row is not in SQL Server: %q", got)
	}
	if st := h.store.Stats(); st.RowsDropped != 1 || st.Pending != 0 || !st.Typeless {
		t.Fatalf("Stats: dropped %d, pending %d, typeless %v; want 1, 0, true", st.RowsDropped, st.Pending, st.Typeless)
	}
}

// A NOT NULL column added to the table (515 on every row) keeps the rows
// pending and is reported once, instead of dropping them one by one.
func TestSchemaDriftKeepsRows(t *testing.T) {
	db := testdb.Open(t, testdb.Options{})
	srv := db.RequireServer(t)
	ctx := context.Background()
	if err := srv.Exec(ctx, "DROP TABLE sessions; CREATE TABLE sessions (token CHAR(43) PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL, tenant INT NOT NULL);"); err != nil {
		t.Fatal(err)
	}
	db.CreateType(t)
	h := newHarnessOn(t, db, newFakeClock(), Config{})
	stop := make(chan struct{})
	defer close(stop)
	h.clock.autoAdvance(time.Second, stop)
	toks := []string{newToken(t), newToken(t), newToken(t)}
	for _, tok := range toks {
		h.commit(tok, "v", h.later(time.Hour))
	}
	for range 5 {
		h.clock.Advance(time.Minute) // the flusher tries, and backs off
	}
	waitFor(t, "a failed flush", func() bool { return h.store.Stats().FlushErrors >= 2 })
	if st := h.store.Stats(); st.RowsDropped != 0 || st.Pending != len(toks) {
		t.Fatalf("Stats: dropped %d, pending %d; want 0, %d", st.RowsDropped, st.Pending, len(toks))
	}
	reports := 0
	for _, err := range h.errs.all() {
		var rowErr *RowError
		if errors.As(err, &rowErr) {
			t.Fatalf("a row was dropped for a schema error: %v", err)
		}
		if n, _ := sqlerr.Number(err); n == 515 {
			reports++
		}
	}
	if reports != 1 {
		t.Fatalf("515 reported %d times, want once; errors: %v", reports, h.errs.all())
	}
	if err := srv.Exec(ctx, "DROP TABLE sessions; CREATE TABLE sessions (token CHAR(43) PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL);"); err != nil {
		t.Fatal(err)
	}
	h.flush()
	for _, tok := range toks {
		if got, _ := h.inDB(tok); got != "v" {
			t.Fatalf("a row kept pending through the drift did not land: %q", got)
		}
	}
}

// If a DBA sets NOCOUNT in the server's user options, the DONE token
// counts nothing; cleanup still deletes every expired row in one pass.
func TestCleanupUnderNoCount(t *testing.T) {
	db := testdb.Open(t, testdb.Options{WithType: true})
	connector, err := mssql.NewConnector(db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	connector.SessionInitSQL = "SET NOCOUNT ON"
	nocount := *db
	nocount.DB = sql.OpenDB(connector)
	t.Cleanup(func() { nocount.DB.Close() })
	h := newHarnessOn(t, &nocount, newFakeClock(), Config{CleanupBatchSize: 2})
	for range 5 {
		h.commit(newToken(t), "x", h.later(time.Minute))
	}
	h.flush()
	h.clock.Advance(2 * time.Minute)
	n, err := h.store.DeleteExpired(h.ctx(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 || len(h.db.Rows(t)) != 0 {
		t.Fatalf("DeleteExpired deleted %d rows, %d left; want 5, 0", n, len(h.db.Rows(t)))
	}
}

// A write larger than the pending bound cannot wait for room that never
// comes: it is written through at once.
func TestOversizedWriteWritesThrough(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{MaxPendingBytes: 1000})
	small, big := newToken(t), newToken(t)
	h.commit(small, strings.Repeat("s", 400), h.later(time.Hour)) // pending
	h.commit(big, strings.Repeat("b", 600), h.later(time.Hour))   // larger than half the bound
	if got, _ := h.inDB(big); len(got) != 600 {
		t.Fatalf("the oversized write is not in SQL Server when Commit returns")
	}
	if st := h.store.Stats(); st.Pending != 1 || st.PendingBytes != 400 {
		t.Fatalf("Stats: pending %d, %d bytes; want 1, 400", st.Pending, st.PendingBytes)
	}
}

// The bytes a flush still carries after a newer write replaced them are
// counted: the documented bound holds.
func TestPendingBytesCountsSupersededInFlight(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{MaxPendingBytes: 1000})
	srv := h.db.RequireServer(t)
	tok := newToken(t)
	h.commit(tok, strings.Repeat("a", 300), h.later(time.Hour))
	hold := h.holdNextFlush(srv)
	flushed := make(chan error, 1)
	go func() { flushed <- h.store.Flush(h.ctx()) }()
	<-hold.inFlight
	// 300 bytes in flight and 300 new pass half of 1,000: the commit waits,
	// and gives up when its context ends.
	ctx, cancel := context.WithCancel(context.Background())
	committed := make(chan error, 1)
	go func() { committed <- h.store.CommitCtx(ctx, tok, []byte(strings.Repeat("b", 300)), h.later(time.Hour)) }()
	waitFor(t, "the commit to wait for room", func() bool { return h.store.Stats().CommitWaits == 1 })
	cancel()
	if err := <-committed; !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit over the bound = %v, want it to wait for room", err)
	}
	close(hold.proceed)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	h.commit(tok, strings.Repeat("b", 300), h.later(time.Hour))
	if st := h.store.Stats(); st.PendingBytes != 300 {
		t.Fatalf("PendingBytes = %d, want 300", st.PendingBytes)
	}
}

// Nothing the store returns or reports carries a whole token or session
// data, though SQL Server quotes them in some messages.
func TestRedact(t *testing.T) {
	tok := strings.Repeat("Ab9_-", 8) + "xyz"
	for _, msg := range []string{
		"Violation of PRIMARY KEY constraint 'PK_x'. Cannot insert duplicate key in object 'dbo.sessions'. The duplicate key value is (" + tok + ").",
		"String or binary data would be truncated in table 'db.dbo.sessions', column 'data'. Truncated value: 'secret session data'.",
		"token " + tok + " somewhere",
	} {
		err := redact(mssql.Error{Number: 2627, Message: msg})
		got := err.Error()
		if strings.Contains(got, tok) || strings.Contains(got, "secret session data") {
			t.Errorf("redact kept a secret: %s", got)
		}
		if n, _ := sqlerr.Number(err); n != 2627 {
			t.Errorf("redact lost the error number: %v", err)
		}
	}
	if got := redactText("Latin1_General_BIN2 and [dbo].[sessions_batch]"); got != "Latin1_General_BIN2 and [dbo].[sessions_batch]" {
		t.Errorf("redactText changed a harmless message: %s", got)
	}
}

func faultName(f mssqltest.Fault) string {
	switch {
	case f.Error != 0:
		return "error " + strconv.Itoa(int(f.Error))
	case f.DropBefore:
		return "drop before"
	case f.DropAfter:
		return "drop after"
	case f.Stall:
		return "stall"
	}
	return "fault"
}

// When the final flush cannot run at all (here the flush lock is held, as
// by a flusher stuck in the driver), Close still ends: it answers the
// durable commit still waiting with its error, and wakes the commit
// waiting for room, which writes through.
func TestCloseWhileFlushIsStuck(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{MaxPending: 1, DurableCommits: true})
	durable, waiting := newToken(t), newToken(t)
	h.store.batcher.flushLock <- struct{}{} // no flush can run
	results := map[string]chan error{durable: make(chan error, 1), waiting: make(chan error, 1)}
	go func() {
		results[durable] <- h.store.CommitCtx(context.Background(), durable, []byte("d"), h.later(time.Hour))
	}()
	waitFor(t, "the durable commit to be pending", func() bool { return h.store.Stats().Pending == 1 })
	go func() {
		results[waiting] <- h.store.CommitCtx(context.Background(), waiting, []byte("w"), h.later(time.Hour))
	}()
	waitFor(t, "the second commit to wait for room", func() bool { return h.store.Stats().CommitWaits == 1 })

	ctx, cancel := h.store.timeout(10 * time.Second)
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	h.clock.run(time.Second, stop)
	if err := h.store.Close(ctx); err == nil || !strings.Contains(err.Error(), "1 writes not flushed") {
		t.Fatalf("Close = %v, want the 1 write it could not flush", err)
	}
	for tok, wantErr := range map[string]bool{durable: true, waiting: false} {
		select {
		case err := <-results[tok]:
			if (err != nil) != wantErr {
				t.Errorf("Commit = %v, want an error: %v", err, wantErr)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("a Commit hangs after Close (durable: %v)", wantErr)
		}
	}
	if got, _ := h.inDB(waiting); got != "w" {
		t.Fatalf("the commit that waited for room did not write through: %q", got)
	}
	<-h.store.batcher.flushLock
	h.flush() // Close left the durable write pending; Flush lands it
	if got, _ := h.inDB(durable); got != "d" {
		t.Fatalf("the write Close left pending did not land: %q", got)
	}
}

// An error the driver raises before it sends the MERGE (no SQL Server
// number) must not be a silent outage: the store falls back to the
// typeless statement and reports it once.
func TestClientSideMergeErrorFallsBack(t *testing.T) {
	h := newHarness(t, testdb.Options{WithType: true}, Config{})
	h.store.w.q.typeName = "not a name the driver takes" // go-mssqldb refuses it before sending
	tok := newToken(t)
	h.commit(tok, "v1", h.later(time.Hour))
	h.flush()
	if got, _ := h.inDB(tok); got != "v1" {
		t.Fatalf("table holds %q, want v1", got)
	}
	if errs := h.errs.all(); len(errs) != 1 || !strings.Contains(errs[0].Error(), "UPDATE then INSERT") {
		t.Fatalf("want one report of the switch to the typeless path, got %v", errs)
	}
}
