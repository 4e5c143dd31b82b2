package mssqltest

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// allocDuring returns the bytes the process allocated while f ran. It
// only grows, so it bounds the heap the server could have held at its
// peak while handling f's input.
func allocDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// alive checks that the server still logs in and answers a batch.
func alive(t *testing.T, s *Server) {
	t.Helper()
	nc := rawLogin(t, s)
	if err := sendMessage(nc, pktSQLBatch, statusEOM, batchMsg("DECLARE @i INT = 1")); err != nil {
		t.Fatal(err)
	}
	if toks := readReply(t, nc); len(errorsOf(toks)) != 0 {
		t.Fatalf("server answers %v", toks)
	}
	nc.Close()
}

// tvpParam encodes a TVP parameter of type dbo.t: cols column
// definitions, then rows row tokens each followed by rowBody.
func tvpParam(cols int, colDef []byte, rows int, rowBody []byte) []byte {
	var t tokbuf
	t.bvarchar("@t")
	t.byte1(0)
	t.byte1(tdsTVP)
	t.bvarchar("")
	t.bvarchar("dbo")
	t.bvarchar("t")
	t.u16(uint16(cols))
	for i := 0; i < cols; i++ {
		t.bytes(colDef)
	}
	t.byte1(0) // no optional metadata
	for i := 0; i < rows; i++ {
		t.byte1(1)
		t.bytes(rowBody)
	}
	t.byte1(0)
	return t.b
}

// Each hostile input of issue 16 gets a clean error, the server stays
// up, and handling it allocates far less than 256 MiB.
func TestHostileRequests(t *testing.T) {
	const MiB = 1 << 20
	// A NULL-typed column: UserType, Flags, TYPE_INFO, empty name; no
	// bytes in a row.
	nullCol := []byte{0, 0, 0, 0, 0, 0, tdsNull, 0}
	// An INT column sent with fDefault: no bytes in a row either.
	defaultCol := []byte{0, 0, 0, 0, 0x00, 0x02, tdsIntN, 4, 0}
	plp := func(total uint64) []byte {
		v := binary.LittleEndian.AppendUint64(nil, total)
		return binary.LittleEndian.AppendUint32(v, 0) // terminator only
	}
	many := func(n int) [][]byte {
		p := make([][]byte, n)
		for i := range p {
			p[i] = []byte{0, 0, tdsNull} // no name, no flags, NULL type
		}
		return p
	}
	tests := []struct {
		name     string
		typ      byte
		msg      func() []byte
		times    int    // requests sent (default 1)
		wantErr  int32  // 0: no error
		wantText string // in the error message
		maxAlloc uint64
	}{
		{"TVP of 65,534 NULL columns and 5,000 one-byte rows", pktRPC, func() []byte {
			return rpcMsg("ECHO PARAMS", tvpParam(65534, nullCol, 5000, nil))
		}, 1, 50000, "1024", 16 * MiB},
		{"TVP of 1,024 default columns and 100,000 one-byte rows", pktRPC, func() []byte {
			return rpcMsg("ECHO PARAMS", tvpParam(1024, defaultCol, 100000, nil))
		}, 1, 50000, "values", 96 * MiB},
		{"VARBINARY(MAX) declaring 256 MiB, sending none, 20 times", pktRPC, func() []byte {
			return rpcMsg("SELECT @p1", param("@p1", 0, []byte{tdsBigVarBin, 0xFF, 0xFF}, plp(256*MiB)))
		}, 20, 50000, "past the end", 16 * MiB},
		{"3,000,000 parameters of 3 bytes", pktRPC, func() []byte {
			return rpcMsg("SELECT 1", many(3000000)...)
		}, 1, 8003, "2100", 64 * MiB},
		{"parentheses nested 500,000 deep", pktSQLBatch, func() []byte {
			return batchMsg("SELECT " + strings.Repeat("(", 500000) + "1" + strings.Repeat(")", 500000))
		}, 1, 191, "nested too deeply", 64 * MiB},
		{"NOT 500,000 times", pktSQLBatch, func() []byte {
			return batchMsg("SELECT 1 WHERE " + strings.Repeat("NOT ", 500000) + "1 = 1")
		}, 1, 701, "tokens", 128 * MiB},
		{"5,000,000 semicolons", pktSQLBatch, func() []byte {
			return batchMsg(strings.Repeat(";", 5000000))
		}, 1, 701, "tokens", 128 * MiB},
		{"REPLICATE beyond int64", pktSQLBatch, func() []byte {
			return batchMsg("DECLARE @s VARCHAR(MAX) = REPLICATE('ab', 9223372036854775807)")
		}, 1, 0, "", 16 * MiB},
		{"REPLICATE of VARCHAR(MAX) to 1 GB", pktSQLBatch, func() []byte {
			return batchMsg("DECLARE @s VARCHAR(MAX) = REPLICATE(CAST('a' AS VARCHAR(MAX)), 1000000000)")
		}, 1, 701, "64", 16 * MiB},
	}
	s := Start(t, Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := tc.msg()
			nc := rawLogin(t, s)
			var replies [][]replyToken
			alloc := allocDuring(func() {
				for i := 0; i < max(tc.times, 1); i++ {
					if err := sendMessage(nc, tc.typ, statusEOM, msg); err != nil {
						t.Fatal(err)
					}
					replies = append(replies, readReply(t, nc))
				}
			})
			if alloc > tc.maxAlloc {
				t.Errorf("allocated %d MiB, want at most %d MiB", alloc/MiB, tc.maxAlloc/MiB)
			}
			for _, toks := range replies {
				errs := errorsOf(toks)
				switch {
				case tc.wantErr == 0 && len(errs) != 0:
					t.Fatalf("reply %v, want no error", errs)
				case tc.wantErr != 0 && (len(errs) == 0 || errs[0].number != tc.wantErr || !strings.Contains(errs[0].msg, tc.wantText)):
					t.Fatalf("reply %v, want error %d naming %q", errs, tc.wantErr, tc.wantText)
				}
			}
			t.Logf("%d-byte message: %v; %.1f MiB allocated", len(msg), errorsOf(replies[0]), float64(alloc)/MiB)
			alive(t, s)
		})
	}
}

// closedByServer reads until the server closes the connection (EOF or a
// reset); it fails if data or the test's own deadline comes first.
func closedByServer(t *testing.T, nc net.Conn) {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	var b [1]byte
	_, err := nc.Read(b[:])
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection not closed by the server: %v", err)
	}
}

// Handshake limits: PRELOGIN packets are capped at 8 KiB, a login must
// finish within Options.HandshakeTimeout, and connections past
// Options.MaxConns are closed at once.
func TestHostileHandshakes(t *testing.T) {
	const MiB = 1 << 20
	t.Run("endless PRELOGIN packets on 4 connections", func(t *testing.T) {
		s := Start(t, Options{})
		pkt := make([]byte, 65535)
		pkt[0], pkt[1] = pktPrelogin, 0 // never EOM
		binary.BigEndian.PutUint16(pkt[2:], 65535)
		var wg sync.WaitGroup
		sent := make([]int, 4)
		alloc := allocDuring(func() {
			for i := range sent {
				nc, err := net.Dial("tcp", s.Addr())
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				wg.Add(1)
				go func() {
					defer wg.Done()
					_ = nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
					for sent[i] < 1000 { // 64 MiB at most
						if _, err := nc.Write(pkt); err != nil {
							return
						}
						sent[i]++
					}
				}()
				closedByServer(t, nc)
			}
			wg.Wait()
		})
		for i, n := range sent {
			if n >= 1000 {
				t.Errorf("connection %d: the server took %d packets of 64 KiB", i, n)
			}
		}
		if alloc > 16*MiB {
			t.Errorf("allocated %d MiB", alloc/MiB)
		}
		t.Logf("packets written before the close: %v; %.1f MiB allocated", sent, float64(alloc)/MiB)
		alive(t, s)
	})
	t.Run("1,000 connections that never send PRELOGIN", func(t *testing.T) {
		const limit = 8
		s := Start(t, Options{MaxConns: limit, HandshakeTimeout: 50 * time.Millisecond})
		conns := make([]net.Conn, 1000)
		for i := range conns {
			nc, err := net.Dial("tcp", s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			conns[i] = nc
		}
		// The first 8 are closed at the handshake deadline, the others
		// as soon as they are accepted.
		for _, nc := range conns {
			closedByServer(t, nc)
		}
		for s.openConns() > 0 {
			runtime.Gosched() // the last goroutines deregister after the close
		}
		alive(t, s)
	})
	t.Run("a request past MaxMessage", func(t *testing.T) {
		s := Start(t, Options{MaxMessage: MiB})
		nc := rawLogin(t, s)
		msg := batchMsg(strings.Repeat("-", MiB)) // 2 MiB in UCS-2
		alloc := allocDuring(func() {
			go func() { _ = sendMessage(nc, pktSQLBatch, statusEOM, msg) }()
			closedByServer(t, nc)
		})
		if alloc > 8*MiB {
			t.Errorf("allocated %d MiB", alloc/MiB)
		}
		alive(t, s)
	})
}

// A panic in a connection's goroutine is recovered: ErrorLog reports it
// with its stack, the client gets 40517 and a closed connection, and the
// server and the process go on.
func TestPanicRecovered(t *testing.T) {
	var mu sync.Mutex
	var logged []error
	s, _ := StartFake(t, Options{ErrorLog: func(err error) {
		mu.Lock()
		logged = append(logged, err)
		mu.Unlock()
	}})
	nc := rawLogin(t, s)
	if err := sendMessage(nc, pktSQLBatch, statusEOM, batchMsg("PANIC")); err != nil {
		t.Fatal(err)
	}
	errs := errorsOf(readReply(t, nc))
	if len(errs) != 1 || errs[0].number != 40517 || errs[0].class < 20 || !strings.Contains(errs[0].msg, "fake engine panics") {
		t.Fatalf("reply %v, want 40517 of class 20 naming the panic", errs)
	}
	closedByServer(t, nc)
	mu.Lock()
	got := append([]error(nil), logged...)
	mu.Unlock()
	if len(got) != 1 || !strings.Contains(got[0].Error(), "fake engine panics") || !strings.Contains(got[0].Error(), "goroutine") {
		t.Fatalf("ErrorLog got %v, want the panic with its stack", got)
	}
	// Other connections, and new ones, go on.
	nc2 := rawLogin(t, s)
	if err := sendMessage(nc2, pktSQLBatch, statusEOM, batchMsg("SELECT 1")); err != nil {
		t.Fatal(err)
	}
	if m, err := readMessage(nc2, DefaultMaxMessage); err != nil || lastDone(t, m)&doneError != 0 {
		t.Fatalf("after the panic: %v", err)
	}
	if _, err := io.ReadAll(io.LimitReader(nc, 1)); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Logf("first connection: %v", err)
	}
}

// failingListener fails its first Accept calls as a process out of file
// descriptors does.
type failingListener struct {
	net.Listener
	fails atomic.Int32
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, syscall.EMFILE
	}
	return l.Listener.Accept()
}

// A failed Accept (out of file descriptors) is reported through ErrorLog
// and retried; the server goes on serving.
func TestAcceptFailureRetried(t *testing.T) {
	var mu sync.Mutex
	var logged []error
	opts := Options{ErrorLog: func(err error) {
		mu.Lock()
		logged = append(logged, err)
		mu.Unlock()
	}}
	opts.wrapListener = func(l net.Listener) net.Listener {
		fl := &failingListener{Listener: l}
		fl.fails.Store(3)
		return fl
	}
	s := Start(t, opts)
	alive(t, s)
	mu.Lock()
	defer mu.Unlock()
	if len(logged) != 3 || !errors.Is(logged[0], syscall.EMFILE) {
		t.Errorf("ErrorLog got %v, want the 3 accept failures", logged)
	}
}
