package mssqltest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// TDS packet types (MS-TDS 2.2.3.1.1).
const (
	pktSQLBatch  = 1
	pktRPC       = 3
	pktReply     = 4
	pktAttention = 6
	pktBulkLoad  = 7
	pktTransMgr  = 14
	pktLogin7    = 16
	pktPrelogin  = 18
)

// Packet header status bits (MS-TDS 2.2.3.1.2).
const (
	statusEOM        = 0x01
	statusIgnore     = 0x02 // with EOM: the client abandoned the message
	statusResetConn  = 0x08
	statusResetConnT = 0x10 // RESETCONNECTIONSKIPTRAN
)

const headerLen = 8

// maxHandshake bounds a PRELOGIN or LOGIN7 message. go-mssqldb's LOGIN7
// is a few hundred bytes; MS-TDS caps most LOGIN7 strings at 128
// characters, and this server supports no SSPI or federated
// authentication data, the only parts that could be longer.
const maxHandshake = 8 << 10

// message is one TDS message: the payloads of its packets up to the one
// with the end-of-message bit.
type message struct {
	typ    byte
	status byte // the status of the first packet (reset-connection bits)
	ignore bool // the last packet had the IGNORE bit
	data   []byte
}

// errTooLarge reports a message past the limit readMessage was given.
var errTooLarge = errors.New("mssqltest: request message too large")

// readMessage reads packets until one has the end-of-message bit. A
// message whose payload would pass max bytes fails with errTooLarge
// before the packet that passes it is read; the buffer grows with the
// bytes that arrive, never with a length the client declares.
func readMessage(r io.Reader, max int) (message, error) {
	var m message
	var hdr [headerLen]byte
	for first := true; ; first = false {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return m, err
		}
		size := int(binary.BigEndian.Uint16(hdr[2:4]))
		if size < headerLen {
			return m, fmt.Errorf("mssqltest: packet length %d is shorter than its header", size)
		}
		if first {
			m.typ = hdr[0]
			m.status = hdr[1]
		} else if hdr[0] != m.typ {
			return m, fmt.Errorf("mssqltest: packet of type %d inside a message of type %d", hdr[0], m.typ)
		}
		if len(m.data)+size-headerLen > max {
			return m, fmt.Errorf("%w: more than %d bytes", errTooLarge, max)
		}
		start := len(m.data)
		m.data = append(m.data, make([]byte, size-headerLen)...)
		if _, err := io.ReadFull(r, m.data[start:]); err != nil {
			return m, err
		}
		if hdr[1]&statusEOM != 0 {
			m.ignore = hdr[1]&statusIgnore != 0
			return m, nil
		}
	}
}

// packetWriter splits one reply message into packets of the negotiated
// size. Only the last packet carries a non-zero status (EOM): go-mssqldb
// treats any non-zero status as the end of the message.
type packetWriter struct {
	w    io.Writer
	size int
	typ  byte
	buf  []byte
	seq  byte
}

func newPacketWriter(w io.Writer, packetSize int) *packetWriter {
	return &packetWriter{w: w, size: packetSize, buf: make([]byte, headerLen, packetSize)}
}

func (p *packetWriter) begin(typ byte) {
	p.typ = typ
	p.buf = p.buf[:headerLen]
	p.seq = 1
}

func (p *packetWriter) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		if len(p.buf) == p.size {
			if err := p.flush(0); err != nil {
				return n, err
			}
		}
		c := copy(p.buf[len(p.buf):p.size], b)
		p.buf = p.buf[:len(p.buf)+c]
		b = b[c:]
		n += c
	}
	return n, nil
}

func (p *packetWriter) flush(status byte) error {
	p.buf[0] = p.typ
	p.buf[1] = status
	binary.BigEndian.PutUint16(p.buf[2:4], uint16(len(p.buf)))
	p.buf[4], p.buf[5] = 0, 0 // SPID: clients ignore it
	p.buf[6] = p.seq
	p.buf[7] = 0
	_, err := p.w.Write(p.buf)
	p.seq++
	p.buf = p.buf[:headerLen]
	return err
}

// finish sends the last packet of the message.
func (p *packetWriter) finish() error { return p.flush(statusEOM) }

// writeMessage sends data as one message of the given type.
func (p *packetWriter) writeMessage(typ byte, data []byte) error {
	p.begin(typ)
	if _, err := p.Write(data); err != nil {
		return err
	}
	return p.finish()
}
