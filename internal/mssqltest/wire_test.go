package mssqltest

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// Helpers for tests that speak TDS by hand: building requests, and
// reading the ERROR and DONE tokens of a reply.

// sendMessage sends data as one message of type typ, split into
// 4,096-byte packets; the last carries status (EOM, with IGNORE or the
// reset bits as the test wants).
func sendMessage(nc net.Conn, typ, status byte, data []byte) error {
	pw := newPacketWriter(nc, 4096)
	pw.begin(typ)
	if _, err := pw.Write(data); err != nil {
		return err
	}
	return pw.flush(status)
}

// replyToken is an ERROR or a DONE token of a reply.
type replyToken struct {
	tok    byte   // tokError, tokDone, tokDoneProc, tokDoneInProc
	status uint16 // DONE status
	number int32  // ERROR number
	class  byte
	msg    string
}

func (r replyToken) String() string {
	if r.tok == tokError {
		return fmt.Sprintf("ERROR %d (class %d): %s", r.number, r.class, r.msg)
	}
	return fmt.Sprintf("DONE(%#x) status %#x", r.tok, r.status)
}

// replyTokens returns the ERROR and DONE tokens of a reply that has no
// result sets, skipping INFO, ENVCHANGE, LOGINACK and RETURNSTATUS.
func replyTokens(b []byte) ([]replyToken, error) {
	var out []replyToken
	for i := 0; i < len(b); {
		tok := b[i]
		i++
		switch tok {
		case tokDone, tokDoneProc, tokDoneInProc:
			if i+12 > len(b) {
				return out, fmt.Errorf("short DONE at %d", i)
			}
			out = append(out, replyToken{tok: tok, status: binary.LittleEndian.Uint16(b[i:])})
			i += 12
		case tokReturnStatus:
			i += 4
		case tokError, tokInfo, tokEnvChange, tokLoginAck:
			if i+2 > len(b) {
				return out, fmt.Errorf("short token at %d", i)
			}
			n := int(binary.LittleEndian.Uint16(b[i:]))
			i += 2
			if i+n > len(b) {
				return out, fmt.Errorf("token 0x%02X of %d bytes overruns the reply", tok, n)
			}
			if tok == tokError {
				body := b[i : i+n]
				r := &reader{b: body}
				e := replyToken{tok: tok, number: int32(r.u32())}
				_ = r.u8()
				e.class = r.u8()
				e.msg = r.usvarchar()
				out = append(out, e)
			}
			i += n
		default:
			return out, fmt.Errorf("token 0x%02X at %d: not expected in this reply", tok, i-1)
		}
	}
	return out, nil
}

// readReply reads one reply message and returns its ERROR and DONE
// tokens.
func readReply(t testing.TB, nc net.Conn) []replyToken {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	m, err := readMessage(nc, DefaultMaxMessage)
	if err != nil {
		t.Fatalf("reading a reply: %v", err)
	}
	if m.typ != pktReply {
		t.Fatalf("reply of type %d", m.typ)
	}
	toks, err := replyTokens(m.data)
	if err != nil {
		t.Fatalf("reply % x: %v", m.data, err)
	}
	return toks
}

// errorsOf returns the ERROR tokens among toks.
func errorsOf(toks []replyToken) []replyToken {
	var out []replyToken
	for _, r := range toks {
		if r.tok == tokError {
			out = append(out, r)
		}
	}
	return out
}

// batchMsg is a SQL batch request: an empty ALL_HEADERS and the text.
func batchMsg(sql string) []byte {
	return appendUCS2(binary.LittleEndian.AppendUint32(nil, 4), sql)
}

// rpcMsg is an sp_executesql RPC (by procedure id) of stmt with the
// parameters already encoded in params (name, status, TYPE_INFO,
// value).
func rpcMsg(stmt string, params ...[]byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 4)
	b = binary.LittleEndian.AppendUint16(b, 0xFFFF)
	b = binary.LittleEndian.AppendUint16(b, 10) // sp_executesql
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = append(b, nvarcharParam("", stmt)...)
	var decl []string
	for i := range params {
		if len(params) > 100 {
			break // a declaration list the length of thousands of parameters is of no use to these tests
		}
		decl = append(decl, fmt.Sprintf("@p%d int", i+1))
	}
	b = append(b, nvarcharParam("", strings.Join(decl, ","))...)
	for _, p := range params {
		b = append(b, p...)
	}
	return b
}

// nvarcharParam encodes an NVARCHAR(4000) parameter.
func nvarcharParam(name, v string) []byte {
	var t tokbuf
	t.bvarchar(name)
	t.byte1(0)
	t.byte1(tdsNVarChar)
	t.u16(8000)
	t.bytes(collationDefault[:])
	u := appendUCS2(nil, v)
	t.u16(uint16(len(u)))
	t.bytes(u)
	return t.b
}

// param encodes a parameter from its status, TYPE_INFO and value bytes.
func param(name string, status byte, typeInfo, value []byte) []byte {
	var t tokbuf
	t.bvarchar(name)
	t.byte1(status)
	t.bytes(typeInfo)
	t.bytes(value)
	return t.b
}

// tmMsg is a transaction manager request: an empty ALL_HEADERS, the
// request type and its payload.
func tmMsg(typ uint16, payload ...byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 4)
	b = binary.LittleEndian.AppendUint16(b, typ)
	return append(b, payload...)
}

// tranName is a transaction name as clients send it: its length in
// bytes, then UCS-2.
func tranName(s string) []byte {
	u := appendUCS2(nil, s)
	return append([]byte{byte(len(u))}, u...)
}

// rpcByID is an RPC of the system procedure with the given id and no
// parameters.
func rpcByID(id uint16) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 4)
	b = binary.LittleEndian.AppendUint16(b, 0xFFFF)
	b = binary.LittleEndian.AppendUint16(b, id)
	return binary.LittleEndian.AppendUint16(b, 0)
}
