// Command mssqlstore manages the SQL Server objects of the SCS session
// store github.com/scs-contrib/mssqlstore: it creates them (init), checks
// them and the login's permissions (check), deletes expired sessions
// (purge) and shows figures about them (stats).
//
// Usage:
//
//	mssqlstore init  [-dsn DSN] [-table T] [-type T] [-collation bin2|default] [-dry-run]
//	mssqlstore check [-dsn DSN] [-table T] [-type T]
//	mssqlstore purge [-dsn DSN] [-table T] [-batch N]
//	mssqlstore stats [-dsn DSN] [-table T]
//
// The DSN comes from -dsn, or else from the MSSQL_DSN environment
// variable, in go-mssqldb's form: sqlserver://user:password@host:1433?database=app.
//
// Exit status: 0 on success; 1 when check finds an error-level problem or
// a command fails against the database; 2 for bad input (a missing or
// malformed DSN, a server that cannot be reached, a failed login, an
// unknown command or flag, an invalid name); 130 when interrupted by
// SIGINT or SIGTERM (purge then prints how many rows it had deleted:
// each batch commits on its own, so nothing is half done).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
