// Package mssqlstore is a session store for SCS
// (github.com/alexedwards/scs/v2) on Microsoft SQL Server, built for
// high-traffic sites: an LRU read cache in front of SQL Server, and a
// write-behind batcher that turns many Commits into one statement.
//
// It uses the table SCS's own SQL Server store uses:
//
//	CREATE TABLE sessions (
//	    token CHAR(43) PRIMARY KEY,
//	    data VARBINARY(MAX) NOT NULL,
//	    expiry DATETIME2(6) NOT NULL
//	);
//	CREATE INDEX sessions_expiry_idx ON sessions (expiry);
//
// and needs only SELECT, INSERT, UPDATE and DELETE on it. An optional table
// type (see CreateSchema) lets a flush be one MERGE of a table-valued
// parameter; without it, a flush is an UPDATE then an INSERT in one
// transaction.
//
// # How the data moves
//
// Find looks in the cache, then in the writes still pending (so a process
// always reads its own writes), then in SQL Server, whose answer it caches.
// A cached session is served while it is live and younger than
// CacheMaxAge.
//
// Commit validates its input, puts the write in memory (replacing a
// pending write of the same token: coalescing) and in the cache, and
// returns. The batcher flushes the pending writes every FlushInterval, or
// sooner when MaxBatchRows are waiting, sorted by token, in one statement
// per batch under UPDLOCK and SERIALIZABLE. A write leaves memory only
// when SQL Server has it; a failed flush keeps it and retries with
// backoff. With DurableCommits, Commit returns only once its write is in
// SQL Server (group commit).
//
// Delete waits for a flush that carries the token, holds the token so no
// flush takes it meanwhile, deletes the row, and only then drops the
// pending writes it replaced and the cached copy. Every statement about
// one token (a flush, a Delete, a write-through) holds the token while it
// runs, and memory changes only after SQL Server has answered. Deletes of
// one token that wait for it share statements: each joins the callers of
// the next DELETE of the token, which starts after it was called and
// answers them all, so a Delete waits for at most two statements however
// many clients delete the same session.
//
// The cleanup goroutine deletes expired rows in small batches and evicts
// expired cache entries. Close interrupts cleanup and the flusher, and
// flushes; StopCleanup does the same with StopTimeout.
//
// # Several instances
//
// Every write statement (a flush, a write-through, a Delete that deleted a
// row) also appends a row to an invalidation journal kept in the sessions
// table itself, in its own transaction: the hashes of the tokens it
// changed, numbered by a counter row whose lock makes the numbers commit
// in order. Each instance with a cache polls the journal twice every
// InvalidationBound (100ms by default) and drops what other instances
// changed. Its cache serves only while its last successful poll was sent
// less than the bound ago, so a poll that fails or falls behind stops the
// cache instead of letting it serve stale sessions. The journal's rows
// are expired from the start (no live-session query counts them), and
// cleanup deletes them after a minute.
//
// # Guarantees
//
// Numbered as in the README and in the tests that check them:
//
//  1. Read your writes: Find returns the last value Commit accepted.
//  2. Last write wins in SQL Server, whatever runs concurrently.
//  3. No accepted write is lost while the process lives: a failed or
//     cancelled flush, Delete, Close or write-through leaves pending
//     writes pending.
//  4. One bad row cannot block the others; statement and schema errors
//     keep every row pending and are reported once.
//  5. Delete is final; a failed Delete leaves the newest value or nothing,
//     never an older one. A Delete that shares its statement with others
//     gets that statement's answer, and the statement started after the
//     call.
//  6. A durable Commit that returns nil is in SQL Server.
//  7. A Commit that writes through and fails leaves SQL Server with it
//     or the write before it.
//  8. Nothing expired is served, whatever the DSN's timezone.
//  9. Memory is bounded by MaxPending, MaxPendingBytes and CacheSize.
//  10. Bad tokens never reach SQL Server; no error carries a whole token
//     or session data.
//  11. Cancellation cancels the statement and leaves no transaction open.
//  12. Close and StopCleanup end, and say what they could not flush.
//  13. Across instances: once a write or Delete of a session has reached
//     SQL Server, no other instance serves the older value after
//     InvalidationBound, while every instance writing to the table has
//     invalidation on; an instance that cannot keep the bound serves
//     nothing from its cache until it can.
//
// A crash loses the writes still pending (at most about one
// FlushInterval's worth in normal operation; more during an outage).
// Another instance sees a write once it has reached SQL Server, up to one
// FlushInterval after Commit returned. With invalidation off, an instance
// may serve a session up to CacheMaxAge after another changed or deleted
// it.
package mssqlstore
