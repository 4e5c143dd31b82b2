package mssqltest

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var writeCorpus = flag.Bool("mssqltest.write-corpus", false, "rewrite testdata/fuzz with the hostile inputs of issues 15 and 16")

// hostileRequests are the hostile messages of issues 16 and 15, small
// enough to keep in the repository: each crosses its limit by a little.
func hostileRequests() map[string]message {
	plp := func(total uint64) []byte {
		v := binary.LittleEndian.AppendUint64(nil, total)
		return binary.LittleEndian.AppendUint32(v, 0)
	}
	nullParams := func(n int) [][]byte {
		p := make([][]byte, n)
		for i := range p {
			p[i] = []byte{0, 0, tdsNull}
		}
		return p
	}
	return map[string]message{
		"tvp-1025-null-columns":         {typ: pktRPC, data: rpcMsg("ECHO PARAMS", tvpParam(1025, []byte{0, 0, 0, 0, 0, 0, tdsNull, 0}, 10, nil))},
		"tvp-1024-default-columns":      {typ: pktRPC, data: rpcMsg("ECHO PARAMS", tvpParam(1024, []byte{0, 0, 0, 0, 0x00, 0x02, tdsIntN, 4, 0}, 2100, nil))},
		"plp-declares-256MiB":           {typ: pktRPC, data: rpcMsg("SELECT @p1", param("@p1", 0, []byte{tdsBigVarBin, 0xFF, 0xFF}, plp(256<<20)))},
		"plp-declares-max-uint64":       {typ: pktRPC, data: rpcMsg("SELECT @p1", param("@p1", 0, []byte{tdsBigVarBin, 0xFF, 0xFF}, plp(1<<63)))},
		"2101-parameters":               {typ: pktRPC, data: rpcMsg("SELECT 1", nullParams(2101)...)},
		"parentheses-1001-deep":         {typ: pktSQLBatch, data: batchMsg("SELECT " + strings.Repeat("(", 1001) + "1" + strings.Repeat(")", 1001))},
		"not-1001-times":                {typ: pktSQLBatch, data: batchMsg("SELECT 1 WHERE " + strings.Repeat("NOT ", 1001) + "1 = 1")},
		"replicate-int64":               {typ: pktSQLBatch, data: batchMsg("SELECT REPLICATE('ab', 9223372036854775807)")},
		"replicate-max-1GB":             {typ: pktSQLBatch, data: batchMsg("SELECT REPLICATE(CAST('a' AS VARCHAR(MAX)), 1000000000)")},
		"ignore-bit":                    {typ: pktSQLBatch, status: statusIgnore, data: batchMsg("INSERT sessions")},
		"bulkload":                      {typ: pktBulkLoad, data: []byte{0x81, 0, 0}},
		"tm-begin-named":                {typ: pktTransMgr, data: tmMsg(tmBegin, append([]byte{2}, tranName("tx1")...)...)},
		"tm-rollback-savepoint":         {typ: pktTransMgr, data: tmMsg(tmRollback, append(tranName("sp1"), 0)...)},
		"tm-save":                       {typ: pktTransMgr, data: tmMsg(tmSave, tranName("sp1")...)},
		"output-parameter":              {typ: pktRPC, data: rpcMsg("ECHO PARAMS", param("@p1", 0x01, []byte{tdsIntN, 4}, []byte{0}))},
		"numeric-parameter":             {typ: pktRPC, data: rpcMsg("ECHO PARAMS", param("@p1", 0, []byte{tdsNumericN, 17, 38, 2}, []byte{0}))},
		"all-headers-past-the-end":      {typ: pktSQLBatch, data: []byte{0xFF, 0xFF, 0xFF, 0x7F, 'S', 0}},
		"tvp-optional-metadata-overrun": {typ: pktRPC, data: rpcMsg("ECHO PARAMS", []byte{0, 0, tdsTVP, 0, 0, 1, 't', 0, 0, 0, 0x10, 0xFF, 0xFF})},
	}
}

// hostileStreams are byte streams after a login (fuzzed headers) and from
// the first byte of a connection (handshakes).
func hostileStreams() (packets, handshakes map[string][]byte) {
	hdr := func(typ, status byte, size uint16) []byte {
		return []byte{typ, status, byte(size >> 8), byte(size), 0, 0, 1, 0}
	}
	packets = map[string][]byte{
		"length-shorter-than-header": hdr(pktSQLBatch, statusEOM, 4),
		"length-past-the-data":       append(hdr(pktSQLBatch, statusEOM, 65535), 1, 2, 3),
		"one-byte-packets":           bytes.Repeat(append(hdr(pktSQLBatch, 0, 9), 'x'), 100),
		"type-changes-mid-message":   append(append(hdr(pktSQLBatch, 0, 9), 'x'), append(hdr(pktRPC, statusEOM, 9), 'y')...),
		"attention-flood":            bytes.Repeat(hdr(pktAttention, statusEOM, 8), 200),
		"prelogin-after-login":       append(hdr(pktPrelogin, statusEOM, 14), 0xFF, 0, 0, 0, 0, 0),
	}
	prelogin := append(hdr(pktPrelogin, 0, 65535), make([]byte, 100)...)
	binary.BigEndian.PutUint16(prelogin[2:], uint16(len(prelogin)))
	login := make([]byte, 94)
	binary.LittleEndian.PutUint32(login[4:], tds74)
	binary.LittleEndian.PutUint16(login[40:], 0xFFF0) // user name offset past the message
	binary.LittleEndian.PutUint16(login[42:], 10)
	preOK := append(hdr(pktPrelogin, statusEOM, 15), preEncryption, 0, 6, 0, 1, preTerminator, encryptNotSup)
	handshakes = map[string][]byte{
		"prelogin-never-ends":      bytes.Repeat(prelogin, 100),
		"prelogin-offset-past-end": append(hdr(pktPrelogin, statusEOM, 13), preEncryption, 0xFF, 0xF0, 0, 1),
		"login7-field-past-end":    append(append(preOK, hdr(pktLogin7, statusEOM, uint16(8+len(login)))...), login...),
		"login7-too-short":         append(append(preOK, hdr(pktLogin7, statusEOM, 20)...), make([]byte, 12)...),
		"tls-client-hello":         {0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0, 0, 1, 0},
	}
	return packets, handshakes
}

func corpusFile(vals ...any) []byte {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case byte:
			fmt.Fprintf(&b, "byte(%s)\n", strconv.QuoteRune(rune(v)))
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
		}
	}
	return []byte(b.String())
}

// TestFuzzCorpus checks that testdata/fuzz holds the hostile inputs as
// built here (run with -mssqltest.write-corpus to rewrite it).
func TestFuzzCorpus(t *testing.T) {
	want := map[string][]byte{}
	for name, m := range hostileRequests() {
		want[filepath.Join("FuzzRequest", name)] = corpusFile(m.typ, m.status|statusEOM, m.data)
	}
	packets, handshakes := hostileStreams()
	for name, b := range packets {
		want[filepath.Join("FuzzPackets", name)] = corpusFile(b)
	}
	for name, b := range handshakes {
		want[filepath.Join("FuzzHandshake", name)] = corpusFile(b)
	}
	for name, b := range want {
		path := filepath.Join("testdata", "fuzz", name)
		if *writeCorpus {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s is missing or stale (%v); run go test -run TestFuzzCorpus -mssqltest.write-corpus", path, err)
		}
	}
}
