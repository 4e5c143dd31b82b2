// Package bench measures the store against SCS's own mssqlstore, side by
// side, in one run.
//
// The benchmarks live in the package's test files. By default they run
// against the in-repository TDS test server (a test double of SQL Server,
// not SQL Server) through the real go-mssqldb driver over TCP, with a
// network latency injected on every round trip; with MSSQL_TEST_DSN set
// they run against that SQL Server instead. See README.md for the
// workloads, the contenders, the flags and how to read the figures.
package bench
