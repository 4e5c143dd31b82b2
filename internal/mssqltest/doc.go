// Package mssqltest is a TDS 7.4 test server: a test double for Microsoft
// SQL Server that the real go-mssqldb driver (and FreeTDS) talk to over
// TCP. It gives tests a DSN the way net/http/httptest gives them a URL.
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
// ATTENTION cancels the running statement the way SQL Server does, and an
// ATTENTION that arrives after the reply is answered with its own DONE
// carrying DONE_ATTN.
//
// Tests can observe the traffic (Counters, Params) and disturb it: a
// per-round-trip latency, a per-statement latency, and injected faults
// (SQL Server errors with their real numbers, classes and messages,
// dropped connections and stalled statements). Faults and counters hang
// off the engine's statement hooks, so they apply to every statement of a
// batch, not just to requests.
package mssqltest
