// Package tsql is a small T-SQL parser and interpreter: the database engine
// behind the repository's TDS test server (internal/mssqltest).
//
// It is a test double, not SQL Server. It understands the T-SQL that the
// store, its tests and its tools send, models the SQL Server semantics a
// session store depends on (CHAR padding, collations, DATETIME2 rounding,
// type precedence, MERGE rules, error numbers) and fails loudly, with an
// error naming the construct, on anything else.
//
// The pipeline. A batch goes through four stages; each owns one thing.
//
//   - Lex (lexer.go, lex): source text to tokens. It owns quoting,
//     comments and literals, and reports unclosed ones.
//   - Parse (parser.go, parseBatch; nodes in ast.go): tokens to a tree of
//     statements and expressions. The whole batch is parsed before
//     anything runs, as SQL Server compiles a batch before running it;
//     a syntax error runs nothing.
//   - Bind (the compiler: expr.go, query.go, funcs.go, setClauses in
//     dml.go): one statement's tree to closures (cexpr, compiledSelect,
//     plan). It resolves names, types, collations and permissions
//     through the narrow catalog interface (bind.go), never through the
//     session itself. It runs once per statement execution, under the
//     latch, so it sees the tables as they are when the statement runs
//     (a batch may create a table and then use it).
//   - Execute (engine.go, dml.go, query.go, store.go, lock.go): the
//     session (engine.go) runs statements in order with SQL Server's
//     error, transaction and XACT_ABORT rules; each statement kind
//     (dml.go, ddl.go) binds what it needs and runs it; plans iterate
//     rows (query.go), take locks (lock.go) and write through the undo
//     log (store.go).
//
// api.go is the contract between the engine and the protocol layer.

package tsql
