// Package mssqltest is a TDS 7.4 test server: a test double for Microsoft
// SQL Server that the real go-mssqldb driver (and FreeTDS and tedious)
// talk to over TCP. It gives tests a DSN the way net/http/httptest gives
// them a URL.
//
// It is not SQL Server. The protocol layer in this package speaks enough
// of MS-TDS for the store and its tools: PRELOGIN without TLS, LOGIN7,
// SQL batches, RPC requests to sp_executesql with typed and table-valued
// parameters, transaction manager requests, ATTENTION and the
// reset-connection flag. Statements are parsed and run by the engine in
// internal/tsql. Anything the server does not understand fails loudly
// with an error that names the construct; nothing pretends to succeed.
//
// Data path: one goroutine per connection reads TDS messages and hands
// requests to a second goroutine that runs them through a tsql.Session
// and writes the reply. Reading never stops while a request runs, so an
// ATTENTION cancels the running statement the way SQL Server does: the
// cancelled request's reply ends with a DONE, and the acknowledgement (a
// DONE carrying DONE_ATTN) follows as a message of its own, as it does
// for an ATTENTION that arrives after the reply. A message the client
// abandons mid-send (EOM with IGNORE) is discarded unread.
//
// Files: conn.go is that connection loop and the dispatch of requests;
// decode.go reads what the client sends (PRELOGIN, LOGIN7, RPC calls
// and their parameters); encode.go writes what the server answers
// (tokens, values, the DONE sequence of a reply); packet.go frames both
// into TDS packets.
//
// The server runs inside other programs' test binaries, so it must never
// take them down. Every size the wire or a statement decides is bounded
// before it is allocated: a request message by Options.MaxMessage (64 MiB
// by default), PRELOGIN and LOGIN7 by 8 KiB and Options.HandshakeTimeout,
// connections by Options.MaxConns, a value by the bytes that actually
// arrived, a table-valued parameter by 1,024 columns and 2^21 values,
// parameters by 2,100 (8003), and in the engine nesting (191), tokens per
// batch and the strings functions build (701). A panic in a connection's
// goroutine is recovered, reported through Options.ErrorLog, and closes
// that connection only. The wire fuzz targets (fuzz_test.go) attack all
// of this with inputs seeded from a live go-mssqldb session.
//
// Tests can observe the traffic (Counters, Params) and disturb it: a
// per-round-trip latency, a per-statement latency, and injected faults
// (SQL Server errors with their real numbers, classes and messages,
// dropped connections and stalled statements). Faults and counters hang
// off the engine's statement hooks, so they apply to every statement of a
// batch, not just to requests.
package mssqltest
