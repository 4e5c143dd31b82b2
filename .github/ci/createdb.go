// Command createdb waits for a SQL Server to accept logins, then creates a
// database if it is missing. CI runs it before the tests against a real
// server (a service container, or the compose file's server):
//
//	go run .github/ci/createdb.go -dsn "$MSSQL_MASTER_DSN" -database mssqlstore_test
//
// It lives under .github, out of the reach of ./... patterns, because it
// is a CI step, not part of the module's code.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	_ "github.com/microsoft/go-mssqldb" // the "sqlserver" driver
)

func main() {
	dsn := flag.String("dsn", "", "a DSN that logs in to the server (its master database)")
	database := flag.String("database", "mssqlstore_test", "the database to create")
	wait := flag.Duration("wait", 3*time.Minute, "how long to wait for the server")
	flag.Parse()
	if err := run(*dsn, *database, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "createdb:", err)
		os.Exit(1)
	}
}

func run(dsn, database string, wait time.Duration) error {
	if dsn == "" || database == "" || strings.ContainsAny(database, "[]'") {
		return fmt.Errorf("want -dsn and a plain -database name")
	}
	db, err := sql.Open("sqlserver", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(wait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not ready after %v: %w", wait, err)
		}
		fmt.Fprintln(os.Stderr, "createdb: waiting for the server:", err)
		time.Sleep(2 * time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q := fmt.Sprintf("IF DB_ID(N'%s') IS NULL CREATE DATABASE [%s]", database, database)
	if _, err := db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("create database %s: %w", database, err)
	}
	fmt.Fprintf(os.Stderr, "createdb: database %s is ready\n", database)
	return nil
}
