package mssqltest

import (
	"strings"
	"testing"
)

// A request cancelled while it runs: its reply ends with a DONE, and the
// acknowledgement (DONE_ATTN) follows as a message of its own (MS-TDS
// 2.2.1.7, 3.2.5.1; tedious waits for it). The connection stays usable
// and an open transaction stays open.
func TestAttentionWhileRunning(t *testing.T) {
	s, fe := StartFake(t, Options{})
	nc := rawLogin(t, s)
	if err := sendMessage(nc, pktSQLBatch, statusEOM, batchMsg("BEGIN TRAN")); err != nil {
		t.Fatal(err)
	}
	if toks := readReply(t, nc); len(errorsOf(toks)) != 0 {
		t.Fatalf("BEGIN TRAN: %v", toks)
	}
	s.InjectFault(Fault{Kind: "INSERT", Stall: true})
	// The ATTENTION follows the batch on the connection, so the server
	// reads it while the batch is queued or stalled: it cancels it
	// either way.
	if err := sendMessage(nc, pktSQLBatch, statusEOM, batchMsg("INSERT sessions")); err != nil {
		t.Fatal(err)
	}
	if err := sendMessage(nc, pktAttention, statusEOM, nil); err != nil {
		t.Fatal(err)
	}
	first := readReply(t, nc)
	if len(first) != 1 || first[0].tok != tokDone || first[0].status&doneAttn != 0 || first[0].status&doneInxact == 0 {
		t.Fatalf("cancelled request's reply = %v, want one DONE without DONE_ATTN, in a transaction", first)
	}
	ack := readReply(t, nc)
	if len(ack) != 1 || ack[0].tok != tokDone || ack[0].status != doneAttn {
		t.Fatalf("acknowledgement = %v, want a DONE with DONE_ATTN alone", ack)
	}
	// The transaction is still open: COMMIT succeeds (the fake raises
	// 3902 when there is none), and the connection answers.
	if err := sendMessage(nc, pktSQLBatch, statusEOM, batchMsg("COMMIT")); err != nil {
		t.Fatal(err)
	}
	if toks := readReply(t, nc); len(errorsOf(toks)) != 0 {
		t.Fatalf("COMMIT after the cancel: %v", toks)
	}
	if fe.Rows() != 0 {
		t.Errorf("the cancelled INSERT wrote %d rows", fe.Rows())
	}
}

// A message that ends with EOM|IGNORE is discarded unread and answered
// with a DONE with the error bit only (MS-TDS 2.2.1.7).
func TestIgnoreBit(t *testing.T) {
	s, fe := StartFake(t, Options{})
	nc := rawLogin(t, s)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"complete batch", batchMsg("INSERT sessions")},
		{"truncated RPC", rpcMsg("INSERT sessions")[:20]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := sendMessage(nc, pktSQLBatch, statusEOM|statusIgnore, tc.data); err != nil {
				t.Fatal(err)
			}
			toks := readReply(t, nc)
			if len(toks) != 1 || toks[0].tok != tokDone || toks[0].status != doneError {
				t.Fatalf("reply = %v, want one DONE with DONE_ERROR only", toks)
			}
		})
	}
	if fe.Rows() != 0 {
		t.Errorf("an ignored message ran: %d rows written", fe.Rows())
	}
	if err := sendMessage(nc, pktSQLBatch, statusEOM, batchMsg("INSERT sessions")); err != nil {
		t.Fatal(err)
	}
	if toks := readReply(t, nc); len(errorsOf(toks)) != 0 || fe.Rows() != 1 {
		t.Fatalf("the next request: %v, %d rows", toks, fe.Rows())
	}
}

// Transaction manager requests: names are sent with their length in
// bytes; named BEGIN, COMMIT and ROLLBACK work; savepoints are refused
// with 40517 naming them.
func TestTransactionManagerNames(t *testing.T) {
	const readCommitted = 2
	begin := func(name string) []byte { return tmMsg(tmBegin, append([]byte{readCommitted}, tranName(name)...)...) }
	end := func(typ uint16, name string) []byte { return tmMsg(typ, append(tranName(name), 0)...) }
	andBegin := func(typ uint16, name, next string) []byte {
		return tmMsg(typ, append(append(tranName(name), 0x01, readCommitted), tranName(next)...)...)
	}
	tests := []struct {
		name     string
		requests [][]byte
		wantErr  []string // per request: "" or the text the 40517 must name
		depth    int      // transaction depth at the end
	}{
		{"named begin and commit", [][]byte{begin("tx1"), end(tmCommit, "tx1")}, []string{"", ""}, 0},
		{"named begin and rollback", [][]byte{begin("tx1"), end(tmRollback, "tx1")}, []string{"", ""}, 0},
		{"tedious-style long name", [][]byte{begin("_tedious_transaction_1"), end(tmCommit, "_tedious_transaction_1")}, []string{"", ""}, 0},
		{"savepoint", [][]byte{begin("tx1"), tmMsg(tmSave, tranName("sp1")...)}, []string{"", "SAVE TRANSACTION"}, 1},
		{"rollback to a savepoint", [][]byte{begin("tx1"), end(tmRollback, "sp1")}, []string{"", "savepoint (sp1)"}, 1},
		{"names are case-sensitive", [][]byte{begin("tx1"), end(tmRollback, "TX1")}, []string{"", "savepoint (TX1)"}, 1},
		{"unnamed", [][]byte{begin(""), end(tmRollback, "")}, []string{"", ""}, 0},
		// fBeginXact: COMMIT or ROLLBACK, then BEGIN a new transaction.
		{"commit and begin another", [][]byte{begin("tx1"), andBegin(tmCommit, "tx1", "tx2")}, []string{"", ""}, 1},
		{"rollback and begin another", [][]byte{begin("tx1"), andBegin(tmRollback, "tx1", "tx2")}, []string{"", ""}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := StartFake(t, Options{})
			nc := rawLogin(t, s)
			for i, req := range tc.requests {
				if err := sendMessage(nc, pktTransMgr, statusEOM, req); err != nil {
					t.Fatal(err)
				}
				errs := errorsOf(readReply(t, nc))
				switch {
				case tc.wantErr[i] == "" && len(errs) != 0:
					t.Fatalf("request %d: %v", i+1, errs)
				case tc.wantErr[i] != "" && (len(errs) != 1 || errs[0].number != 40517 || !strings.Contains(errs[0].msg, tc.wantErr[i])):
					t.Fatalf("request %d: %v, want 40517 naming %q", i+1, errs, tc.wantErr[i])
				}
			}
			// @@TRANCOUNT through the fake: COMMIT fails with 3902 when
			// no transaction is open.
			if err := sendMessage(nc, pktSQLBatch, statusEOM, batchMsg("COMMIT")); err != nil {
				t.Fatal(err)
			}
			errs := errorsOf(readReply(t, nc))
			if open := len(errs) == 0; open != (tc.depth > 0) {
				t.Errorf("transaction open at the end = %v, want %v (%v)", open, tc.depth > 0, errs)
			}
		})
	}
}

// The protocol layer refuses what it does not implement with 40517
// naming the construct, not 50000.
func TestProtocolRefusals(t *testing.T) {
	null := []byte{0}
	tests := []struct {
		name string
		typ  byte
		data []byte
		want string
	}{
		{"OUTPUT parameter", pktRPC, rpcMsg("ECHO PARAMS", param("@p1", 0x01, []byte{tdsIntN, 4}, null)), "OUTPUT parameters"},
		{"SQL_VARIANT", pktRPC, rpcMsg("ECHO PARAMS", param("@p1", 0, []byte{tdsVariant, 0x10, 0x1F, 0, 0}, []byte{0, 0, 0, 0})), "SQL_VARIANT"},
		{"IMAGE", pktRPC, rpcMsg("ECHO PARAMS", param("@p1", 0, []byte{tdsImage, 0xFF, 0xFF, 0xFF, 0x7F}, null)), "IMAGE"},
		{"TEXT", pktRPC, rpcMsg("ECHO PARAMS", param("@p1", 0, []byte{tdsText, 0xFF, 0xFF, 0xFF, 0x7F, 0, 0, 0, 0, 0}, null)), "TEXT"},
		{"NTEXT", pktRPC, rpcMsg("ECHO PARAMS", param("@p1", 0, []byte{tdsNText, 0xFF, 0xFF, 0xFF, 0x7F, 0, 0, 0, 0, 0}, null)), "NTEXT"},
		{"BULKLOAD", pktBulkLoad, []byte{0x81, 0, 0}, "bulk load"},
		{"sp_execute", pktRPC, rpcByID(12), "system procedure sp_execute"},
		{"sp_cursoropen", pktRPC, rpcByID(2), "system procedure sp_cursoropen"},
		{"savepoint", pktTransMgr, tmMsg(tmSave, tranName("sp")...), "SAVE TRANSACTION"},
		{"distributed transaction", pktTransMgr, tmMsg(1), "distributed transactions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := StartFake(t, Options{})
			nc := rawLogin(t, s)
			if err := sendMessage(nc, tc.typ, statusEOM, tc.data); err != nil {
				t.Fatal(err)
			}
			errs := errorsOf(readReply(t, nc))
			if len(errs) != 1 || errs[0].number != 40517 || !strings.Contains(errs[0].msg, tc.want) {
				t.Fatalf("errors = %v, want one 40517 naming %q", errs, tc.want)
			}
			// The connection goes on.
			if err := sendMessage(nc, pktSQLBatch, statusEOM, batchMsg("SELECT 1")); err != nil {
				t.Fatal(err)
			}
			if m, err := readMessage(nc, DefaultMaxMessage); err != nil || lastDone(t, m)&doneError != 0 {
				t.Fatalf("SELECT 1 after the refusal: %v", err)
			}
		})
	}
}

// The tedious scenario of issue 15 on the real engine: a batch that
// loops forever is cancelled; the reply ends with a DONE, the
// acknowledgement follows, and the connection runs the next batch with
// its transaction still open.
func TestAttentionCancelsLoop(t *testing.T) {
	s := Start(t, Options{})
	nc := rawLogin(t, s)
	for _, step := range []struct {
		sql  string
		attn bool
	}{
		{"BEGIN TRANSACTION", false},
		{"DECLARE @i INT = 0; WHILE 1 = 1 SET @i = @i + 1", true},
		{"COMMIT TRANSACTION", false},
	} {
		if err := sendMessage(nc, pktSQLBatch, statusEOM, batchMsg(step.sql)); err != nil {
			t.Fatal(err)
		}
		if !step.attn {
			if toks := readReply(t, nc); len(errorsOf(toks)) != 0 {
				t.Fatalf("%s: %v", step.sql, toks)
			}
			continue
		}
		if err := sendMessage(nc, pktAttention, statusEOM, nil); err != nil {
			t.Fatal(err)
		}
		first := readReply(t, nc)
		if n := len(first); n == 0 || first[n-1].tok != tokDone || first[n-1].status&doneAttn != 0 || first[n-1].status&doneInxact == 0 {
			t.Fatalf("cancelled batch's reply = %v, want it to end with a DONE in a transaction, without DONE_ATTN", first)
		}
		if ack := readReply(t, nc); len(ack) != 1 || ack[0].status != doneAttn {
			t.Fatalf("acknowledgement = %v", ack)
		}
	}
}
