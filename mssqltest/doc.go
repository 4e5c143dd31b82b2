// Package mssqltest runs a test double of Microsoft SQL Server inside a
// test binary, so that an SCS application using mssqlstore can be tested
// without SQL Server, the way miniredis lets an application be tested
// without Redis, or net/http/httptest without a web server.
//
//	func TestApp(t *testing.T) {
//		srv := mssqltest.Start(t, mssqltest.Options{})
//		db, err := sql.Open("sqlserver", srv.DSN())
//		...
//	}
//
// # It is not SQL Server
//
// The server speaks TDS 7.4 over TCP to the real go-mssqldb driver, and
// runs each statement through a small T-SQL interpreter. It models the
// SQL Server behaviour a session store depends on, as SQL Server does it:
// CHAR padding and trailing-space comparison, case-insensitive and _BIN2
// collations, DATETIME2 rounding, type precedence and implicit
// conversions, MERGE and table-valued parameters, transactions with key
// locks, LOCK_TIMEOUT and deadlocks, the permissions of a database user,
// error numbers, classes and messages, and cancellation (ATTENTION) and
// connection resets. It holds its data in memory and forgets it at Close.
//
// Its T-SQL is the subset the store, its schema tool and their tests use:
// tables, indexes and table types, SELECT, INSERT, UPDATE, DELETE and
// MERGE, transactions, variables, IF and WHILE, and common built-in
// functions. Anything it does not understand, a statement, a function, a
// hint or an option, fails with SQL Server error 40517 ("... is not
// supported in this version of SQL Server") naming the construct. It
// never pretends a statement succeeded. An application whose own SQL hits
// 40517 needs a real SQL Server for that test.
//
// What it cannot tell you: anything about SQL Server's performance,
// query plans, log writes or memory, or about behaviour outside that
// subset. Test against a real SQL Server before production too.
//
// # Controls
//
// Beyond what a real server offers, a test can move the server's clock
// (SetNow), make statements fail with a chosen SQL Server error number or
// a dropped connection (InjectFault), add network latency (SetLatency),
// add database users with only some permissions (AddLogin), and read
// what the server saw (Counters).
//
// The server runs inside the test binary and must never take it down:
// every size a client sends is bounded, and a failure of the server
// itself closes the one connection concerned and is reported through
// Options.ErrorLog.
package mssqltest
