package mssqltest

import (
	"encoding/binary"
	"net"
	"testing"
	"time"
)

// rawLogin connects to s and logs in with hand-made PRELOGIN and LOGIN7
// messages, for tests of what go-mssqldb never sends.
func rawLogin(t testing.TB, s *Server) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	pw := newPacketWriter(nc, 4096)
	// PRELOGIN: ENCRYPTION = NOT_SUP only.
	pre := []byte{preEncryption, 0, 6, 0, 1, preTerminator, encryptNotSup}
	if err := pw.writeMessage(pktPrelogin, pre); err != nil {
		t.Fatal(err)
	}
	if m, err := readMessage(nc, DefaultMaxMessage); err != nil || m.typ != pktReply {
		t.Fatalf("prelogin reply: %v %+v", err, m)
	}
	user, pass, db := appendUCS2(nil, DefaultUser), appendUCS2(nil, DefaultPassword), appendUCS2(nil, DefaultDatabase)
	for i, b := range pass {
		b = b<<4 | b>>4
		pass[i] = b ^ 0xA5
	}
	l := make([]byte, 94)
	binary.LittleEndian.PutUint32(l[4:], tds74)
	binary.LittleEndian.PutUint32(l[8:], 4096)
	off := 94
	field := func(at int, data []byte) {
		binary.LittleEndian.PutUint16(l[at:], uint16(off))
		binary.LittleEndian.PutUint16(l[at+2:], uint16(len(data)/2))
		off += len(data)
	}
	for _, at := range []int{36, 48, 52, 56, 60, 64, 78, 82, 86} {
		binary.LittleEndian.PutUint16(l[at:], uint16(off))
	}
	field(40, user)
	field(44, pass)
	field(68, db)
	l = append(append(append(l, user...), pass...), db...)
	binary.LittleEndian.PutUint32(l[0:], uint32(len(l)))
	if err := pw.writeMessage(pktLogin7, l); err != nil {
		t.Fatal(err)
	}
	m, err := readMessage(nc, DefaultMaxMessage)
	if err != nil || m.typ != pktReply || m.data[len(m.data)-13] != tokDone || m.data[len(m.data)-12]&doneError != 0 {
		t.Fatalf("login reply: %v % x", err, m.data)
	}
	return nc
}

func lastDone(t testing.TB, m message) uint16 {
	t.Helper()
	if len(m.data) < 13 || m.data[len(m.data)-13] != tokDone && m.data[len(m.data)-13] != tokDoneProc {
		t.Fatalf("reply does not end with DONE: % x", m.data)
	}
	return binary.LittleEndian.Uint16(m.data[len(m.data)-12:])
}

// An ATTENTION that arrives after the reply was sent gets a reply of its
// own: a DONE with DONE_ATTN.
func TestAttentionAfterReply(t *testing.T) {
	s, _ := StartFake(t, Options{})
	nc := rawLogin(t, s)
	pw := newPacketWriter(nc, 4096)
	batch := binary.LittleEndian.AppendUint32(nil, 4) // ALL_HEADERS: none
	batch = appendUCS2(batch, "SELECT 1")
	if err := pw.writeMessage(pktSQLBatch, batch); err != nil {
		t.Fatal(err)
	}
	m, err := readMessage(nc, DefaultMaxMessage)
	if err != nil {
		t.Fatal(err)
	}
	if st := lastDone(t, m); st != doneCount {
		t.Errorf("batch DONE status = %#x, want DONE_COUNT", st)
	}
	if err := pw.writeMessage(pktAttention, nil); err != nil {
		t.Fatal(err)
	}
	m, err = readMessage(nc, DefaultMaxMessage)
	if err != nil {
		t.Fatal(err)
	}
	if st := lastDone(t, m); st != doneAttn {
		t.Errorf("attention reply status = %#x, want DONE_ATTN", st)
	}
	if got := s.Counters(); got.Attentions != 1 || got.RoundTrips != 1 {
		t.Errorf("counters = %+v, want 1 attention and 1 round trip", got)
	}
}

// A request split over many packets is assembled, and a long reply is
// split at the negotiated packet size.
func TestPacketSplitting(t *testing.T) {
	s, _ := StartFake(t, Options{})
	nc := rawLogin(t, s)
	pw := newPacketWriter(nc, 512)
	batch := binary.LittleEndian.AppendUint32(nil, 4)
	for i := 0; i < 300; i++ {
		batch = appendUCS2(batch, "SELECT 1;")
	}
	if err := pw.writeMessage(pktSQLBatch, batch); err != nil {
		t.Fatal(err)
	}
	var hdr [headerLen]byte
	packets := 0
	for {
		if _, err := readFull(nc, hdr[:]); err != nil {
			t.Fatal(err)
		}
		size := int(binary.BigEndian.Uint16(hdr[2:]))
		if size > 4096 {
			t.Fatalf("packet of %d bytes exceeds the negotiated 4096", size)
		}
		if _, err := readFull(nc, make([]byte, size-headerLen)); err != nil {
			t.Fatal(err)
		}
		packets++
		if hdr[1]&statusEOM != 0 {
			break
		}
	}
	if packets < 2 {
		t.Errorf("300 result sets came in %d packet(s)", packets)
	}
	if got := s.Counters().Statements["SELECT"]; got != 300 {
		t.Errorf("SELECT statements = %d, want 300", got)
	}
}

func readFull(nc net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := nc.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
