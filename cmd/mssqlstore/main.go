// Command mssqlstore manages the SQL Server objects of the SCS session
// store github.com/scs-contrib/mssqlstore: it creates them (init), checks
// them and the database user's permissions (check), deletes expired
// sessions (purge) and shows figures about them (stats).
//
// Usage:
//
//	mssqlstore init  [-dsn DSN] [-table T] [-type T] [-collation bin2|default] [-grant USER] [-dry-run]
//	mssqlstore check [-dsn DSN] [-table T] [-type T] [-user USER] [-json]
//	mssqlstore purge [-dsn DSN] [-table T] [-batch N]
//	mssqlstore stats [-dsn DSN] [-table T] [-json]
//	mssqlstore -version
//
// The DSN comes from -dsn, or else from the MSSQL_DSN environment
// variable, in go-mssqldb's form: sqlserver://user:password@host:1433?database=app.
//
// init creates what is missing and reports each object as created or
// found, then checks them all as check does. On an existing table (SCS's
// own store's, say) the table type takes the collation of the table's
// token column, which SQL Server needs to compare them; init -dry-run
// with a DSN prints exactly the DDL init would run against that
// database, and without one the DDL for a database without the table.
// init -grant USER then grants the application's database user SELECT,
// INSERT, UPDATE and DELETE on the table and EXECUTE on the type, and
// checks them as check -user does; it refuses dbo, which SQL Server
// refuses as a grantee (error 4617) and which holds them all already.
//
// check -user USER checks the permissions of the application's database
// user rather than the DSN's: it switches to that user with EXECUTE AS
// USER, which needs IMPERSONATE on it (a member of db_owner has it).
// When SQL Server refuses (error 15517: no such user in the database, or
// no IMPERSONATE), check reports that as an error.
//
// check -json and stats -json print one JSON object instead of lines, for
// scripts and monitoring; "mssqlstore check -h" and "mssqlstore stats -h"
// describe its fields.
//
// Exit status: 0 on success; 1 when init or check finds an error-level
// problem, or on a failure (the server cannot be reached, the login
// fails, a statement is refused); 2 for a usage error (an unknown command
// or flag, which also prints the usage to stderr, a bad argument or name,
// -grant dbo, a missing or malformed DSN, or a DSN asking for Microsoft
// Entra ID authentication with fedauth=, which this build does not
// include); 130 when interrupted by SIGINT or SIGTERM
// (purge then prints how many rows it had deleted: each batch commits on
// its own, so nothing is half done). Errors go to stderr, one line each;
// results to stdout.
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
