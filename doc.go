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
// Delete drops the pending write and the cached copy, waits for a flush
// that carries the token, deletes the row, and returns: when it returns
// nil the session is gone everywhere, and stays gone.
//
// The cleanup goroutine deletes expired rows in small batches and evicts
// expired cache entries. StopCleanup flushes and stops the goroutines.
//
// # Guarantees
//
// Within one process: reads see the process's own writes; the last write
// of a token wins; Delete is final; an expired session is never returned;
// memory is bounded by MaxPending, MaxPendingBytes and CacheSize. A crash
// loses the writes still pending (at most about one FlushInterval's worth
// in normal operation; more during an outage). Across instances sharing a
// database, an instance may serve a session up to CacheMaxAge after
// another changed or deleted it, and sees another's write up to one
// FlushInterval late.
package mssqlstore
