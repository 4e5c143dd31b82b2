package mssqltest

import (
	"encoding/binary"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"
)

// tokenSeq names the tokens of a reply without result sets, in order:
// "ENVCHANGE", "RETURNSTATUS", "ERROR n", "INFO n", and each DONE kind with its
// status bits ("DONE MORE|COUNT").
func tokenSeq(b []byte) ([]string, error) {
	var out []string
	for i := 0; i < len(b); {
		tok := b[i]
		i++
		switch tok {
		case tokDone, tokDoneProc, tokDoneInProc:
			if i+12 > len(b) {
				return out, fmt.Errorf("short DONE at %d", i)
			}
			name := map[byte]string{tokDone: "DONE", tokDoneProc: "DONEPROC", tokDoneInProc: "DONEINPROC"}[tok]
			out = append(out, name+doneBits(binary.LittleEndian.Uint16(b[i:])))
			i += 12
		case tokReturnStatus:
			out = append(out, "RETURNSTATUS")
			i += 4
		case tokError, tokInfo, tokEnvChange:
			if i+2 > len(b) {
				return out, fmt.Errorf("short token at %d", i)
			}
			n := int(binary.LittleEndian.Uint16(b[i:]))
			if i+2+n > len(b) {
				return out, fmt.Errorf("token 0x%02X overruns the reply", tok)
			}
			switch tok {
			case tokError:
				out = append(out, fmt.Sprintf("ERROR %d", binary.LittleEndian.Uint32(b[i+2:])))
			case tokInfo:
				out = append(out, fmt.Sprintf("INFO %d", binary.LittleEndian.Uint32(b[i+2:])))
			default:
				out = append(out, "ENVCHANGE")
			}
			i += 2 + n
		default:
			return out, fmt.Errorf("token 0x%02X at %d: not expected in this reply", tok, i-1)
		}
	}
	return out, nil
}

func doneBits(st uint16) string {
	var names []string
	for _, b := range []struct {
		bit  uint16
		name string
	}{{doneMore, "MORE"}, {doneError, "ERROR"}, {doneInxact, "INXACT"}, {doneCount, "COUNT"}, {doneAttn, "ATTN"}, {doneSrvError, "SRVERROR"}} {
		if st&b.bit != 0 {
			names = append(names, b.name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return " " + strings.Join(names, "|")
}

// The DONE tokens of a reply, as SQL Server sends them (MS-TDS 2.2.7.6,
// 3.2.5.1): each statement of a batch ends with a DONE carrying
// DONE_MORE, except the last, which is the reply's final DONE; an
// ENVCHANGE that reports a transaction change goes just before that final
// DONE. When the batch fails after its last statement's DONE, or for an
// RPC (DONEINPROC per statement, then RETURNSTATUS and DONEPROC), a
// separate final token closes the reply.
func TestFinalDone(t *testing.T) {
	tests := []struct {
		name   string
		before string // a batch sent first, its reply not checked
		msg    func() (byte, []byte)
		want   []string
	}{
		{"one statement", "", batch("INSERT a"), []string{"DONE COUNT"}},
		{"two statements", "", batch("INSERT a; INSERT b"), []string{"DONE MORE|COUNT", "DONE COUNT"}},
		{"a transaction begins", "", batch("BEGIN TRAN; INSERT a"),
			[]string{"DONE MORE|INXACT", "ENVCHANGE", "DONE INXACT|COUNT"}},
		{"a transaction ends", "BEGIN TRAN", batch("COMMIT"), []string{"ENVCHANGE", "DONE"}},
		{"the last statement fails", "", batch("INSERT a; RAISE 50001"),
			[]string{"DONE MORE|COUNT", "ERROR 50001", "DONE ERROR"}},
		{"the engine fails after the statements", "", batch("INSERT a; ENGINE ERROR"),
			[]string{"DONE MORE|COUNT", "ERROR 50000", "DONE ERROR"}},
		{"an RPC", "", rpc("INSERT a"), []string{"DONEINPROC MORE|COUNT", "RETURNSTATUS", "DONEPROC"}},
		{"an RPC that begins a transaction", "", rpc("BEGIN TRAN"),
			[]string{"DONEINPROC MORE|INXACT", "ENVCHANGE", "RETURNSTATUS", "DONEPROC"}},
	}
	s, _ := StartFake(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc := rawLogin(t, s)
			if tt.before != "" {
				if err := sendMessage(nc, pktSQLBatch, statusEOM, batchMsg(tt.before)); err != nil {
					t.Fatal(err)
				}
				readTokenSeq(t, nc)
			}
			typ, data := tt.msg()
			if err := sendMessage(nc, typ, statusEOM, data); err != nil {
				t.Fatal(err)
			}
			got := readTokenSeq(t, nc)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("reply tokens = %q, want %q", got, tt.want)
			}
		})
	}
}

func batch(sql string) func() (byte, []byte) {
	return func() (byte, []byte) { return pktSQLBatch, batchMsg(sql) }
}

func rpc(stmt string) func() (byte, []byte) {
	return func() (byte, []byte) { return pktRPC, rpcMsg(stmt) }
}

func readTokenSeq(t *testing.T, nc net.Conn) []string {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	m, err := readMessage(nc, DefaultMaxMessage)
	if err != nil {
		t.Fatalf("reading a reply: %v", err)
	}
	seq, err := tokenSeq(m.data)
	if err != nil {
		t.Fatalf("reply % x: %v", m.data, err)
	}
	return seq
}

// PRINT sends its text as an INFO token (number 0) before the DONE.
func TestPrintIsInfo(t *testing.T) {
	s := Start(t, Options{})
	nc := rawLogin(t, s)
	if err := sendMessage(nc, pktSQLBatch, statusEOM, batchMsg("PRINT 'hello'")); err != nil {
		t.Fatal(err)
	}
	got := readTokenSeq(t, nc)
	if want := []string{"INFO 0", "DONE"}; !reflect.DeepEqual(got, want) {
		t.Errorf("reply tokens = %q, want %q", got, want)
	}
}

// RESETCONNECTIONSKIPTRAN is refused with 40517 naming it; the reply is
// the error and a DONE with DONE_ERROR.
func TestResetSkipTranRefused(t *testing.T) {
	s, _ := StartFake(t, Options{})
	nc := rawLogin(t, s)
	if err := sendMessage(nc, pktSQLBatch, statusEOM|statusResetConnT, batchMsg("INSERT a")); err != nil {
		t.Fatal(err)
	}
	got := readTokenSeq(t, nc)
	if want := []string{"ERROR 40517", "DONE ERROR"}; !reflect.DeepEqual(got, want) {
		t.Errorf("reply tokens = %q, want %q", got, want)
	}
}

// A message type SQL Server does not accept on a logged-in connection
// (here a second PRELOGIN) closes the connection without a reply.
func TestUnexpectedMessageCloses(t *testing.T) {
	s, _ := StartFake(t, Options{})
	nc := rawLogin(t, s)
	if err := sendMessage(nc, pktPrelogin, statusEOM, []byte{preTerminator}); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	m, err := readMessage(nc, DefaultMaxMessage)
	if err == nil {
		t.Fatalf("got a reply of type %d, want the connection closed", m.typ)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the connection stayed open: %v", err)
	}
}
