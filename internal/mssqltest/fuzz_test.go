package mssqltest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-sql/civil"
	mssql "github.com/microsoft/go-mssqldb"
)

// The wire fuzz targets. Each starts a server on the scripted engine
// (fast, and it never loops) and fails an input that makes the server
// panic (recovered, and reported through ErrorLog), hang past a
// deadline, or answer a valid request wrongly afterwards. Their seeds
// are what go-mssqldb really sends, captured from a live session
// through a recording proxy (captureGoMSSQL); testdata/fuzz holds the
// hostile inputs of issue 16 and 15.

// captured is the client side of one go-mssqldb session: the raw bytes
// it sent, and the messages they make up.
type captured struct {
	raw  []byte
	msgs []message
}

// handshakeLen is the length of the PRELOGIN and LOGIN7 messages at the
// start of raw.
func (c captured) handshakeLen() int {
	r := bytes.NewReader(c.raw)
	for i := 0; i < 2; i++ {
		if _, err := readMessage(r, DefaultMaxMessage); err != nil {
			return len(c.raw)
		}
	}
	return len(c.raw) - r.Len()
}

type fuzzTVPRow struct {
	Token  mssql.VarChar
	Data   []byte
	Expiry civil.DateTime
}

// captureGoMSSQL runs a go-mssqldb session against s through a proxy
// that records what the client sends: a SQL batch, an RPC with a 100 KB
// VARBINARY(MAX), an RPC with a TVP, a transaction (transaction manager
// requests) and a reset connection.
func captureGoMSSQL(tb testing.TB, s *Server) captured {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var rec bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		cl, err := ln.Accept()
		if err != nil {
			return
		}
		defer cl.Close()
		sv, err := net.Dial("tcp", s.Addr())
		if err != nil {
			return
		}
		defer sv.Close()
		go func() { _, _ = io.Copy(cl, sv) }()
		_, _ = io.Copy(io.MultiWriter(sv, &rec), cl)
	}()
	u, _ := url.Parse(s.DSN())
	u.Host = ln.Addr().String()
	db, err := sql.Open("sqlserver", u.String())
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exp := civil.DateTimeOf(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	steps := []func() error{
		func() error { _, err := db.ExecContext(ctx, "SELECT 1"); return err },
		func() error {
			_, err := db.ExecContext(ctx, "ECHO PARAMS", sql.Named("data", bytes.Repeat([]byte{0xAB}, 100_000)))
			return err
		},
		func() error {
			rows := []fuzzTVPRow{{"tok1", []byte("one"), exp}, {"tok2", nil, exp}}
			_, err := db.ExecContext(ctx, "ECHO PARAMS", sql.Named("rows", mssql.TVP{TypeName: "dbo.sessions_batch", Value: rows}))
			return err
		},
		func() error {
			tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "INSERT sessions", mssql.VarChar("x")); err != nil {
				return err
			}
			return tx.Commit()
		},
		func() error { _, err := db.ExecContext(ctx, "SELECT 1"); return err }, // after a reset
	}
	for _, step := range steps {
		if err := step(); err != nil {
			tb.Fatalf("go-mssqldb session: %v", err)
		}
	}
	_ = db.Close()
	wg.Wait()
	_ = ln.Close()
	c := captured{raw: rec.Bytes()}
	r := bytes.NewReader(c.raw)
	for {
		m, err := readMessage(r, DefaultMaxMessage)
		if err != nil {
			break
		}
		c.msgs = append(c.msgs, m)
	}
	if len(c.msgs) < 7 {
		tb.Fatalf("captured %d messages, want at least 7", len(c.msgs))
	}
	return c
}

// fuzzServer starts the server a fuzz target attacks and returns a check
// that fails the current input if the server reported a panic.
func fuzzServer(f *testing.F) (*Server, func(t *testing.T)) {
	var panicked atomic.Pointer[error]
	s, _ := StartFake(f, Options{MaxConns: 1 << 16, HandshakeTimeout: 10 * time.Second, ErrorLog: func(err error) {
		panicked.CompareAndSwap(nil, &err)
	}})
	return s, func(t *testing.T) {
		t.Helper()
		if p := panicked.Load(); p != nil {
			t.Fatalf("the server panicked: %v", *p)
		}
	}
}

// drain reads until the server closes the connection; it fails on a
// hang.
func drain(t *testing.T, nc net.Conn) {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server neither answered nor closed the connection")
	}
}

// FuzzRequest: a valid login, then one fuzzed message (type, status and
// body). The server answers it or closes the connection; if it answers,
// the connection still answers a valid batch.
func FuzzRequest(f *testing.F) {
	s, check := fuzzServer(f)
	for _, m := range captureGoMSSQL(f, s).msgs[2:] {
		f.Add(m.typ, m.status, m.data)
	}
	f.Fuzz(func(t *testing.T, typ, status byte, body []byte) {
		nc := rawLogin(t, s)
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := sendMessage(nc, typ, status|statusEOM, body); err != nil {
			t.Skip("the server closed the connection while the message was sent")
		}
		m, err := readMessage(nc, DefaultMaxMessage)
		if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the server neither answered nor closed the connection")
		}
		if err == nil && typ == pktAttention {
			// An ATTENTION with nothing running is acknowledged at once.
			if st := lastDone(t, m); st&doneAttn == 0 {
				t.Fatalf("ATTENTION answered with status %#x", st)
			}
		}
		if err == nil {
			if err := sendMessage(nc, pktSQLBatch, statusEOM, batchMsg("SELECT 1")); err == nil {
				// The fuzzed message may have left a transaction open.
				if m, err := readMessage(nc, DefaultMaxMessage); err == nil && lastDone(t, m)&^doneInxact != doneCount {
					t.Fatalf("SELECT 1 after the fuzzed message: DONE status %#x", lastDone(t, m))
				}
			}
		}
		nc.Close()
		check(t)
	})
}

// FuzzPackets: a valid login, then a fuzzed byte stream, headers and
// all. The server answers or closes; it never panics or hangs.
func FuzzPackets(f *testing.F) {
	s, check := fuzzServer(f)
	c := captureGoMSSQL(f, s)
	stream := c.raw[c.handshakeLen():]
	f.Add(stream)
	r := bytes.NewReader(stream)
	for start := 0; ; {
		if _, err := readMessage(r, DefaultMaxMessage); err != nil {
			break
		}
		end := len(stream) - r.Len()
		f.Add(stream[start:end])
		start = end
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		nc := rawLogin(t, s)
		_ = nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		go func() {
			_, _ = nc.Write(stream)
			_ = nc.(*net.TCPConn).CloseWrite()
		}()
		drain(t, nc)
		check(t)
	})
}

// FuzzHandshake: a fuzzed PRELOGIN and LOGIN7, as one byte stream from
// the first byte of the connection.
func FuzzHandshake(f *testing.F) {
	s, check := fuzzServer(f)
	c := captureGoMSSQL(f, s)
	f.Add(c.raw[:c.handshakeLen()])
	f.Fuzz(func(t *testing.T, stream []byte) {
		nc, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_ = nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		go func() {
			_, _ = nc.Write(stream)
			_ = nc.(*net.TCPConn).CloseWrite()
		}()
		drain(t, nc)
		check(t)
	})
}
