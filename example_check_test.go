package mssqlstore_test

import (
	"context"
	"database/sql"
	"log"
	"time"

	"github.com/alexedwards/scs/v2"
	_ "github.com/microsoft/go-mssqldb"
	"github.com/scs-contrib/mssqlstore"
)

// CheckSchema at startup stops a misconfigured deploy before it serves:
// with only SELECT granted, every request would succeed (reads come from
// the cache and the pending writes) while no write reached SQL Server.
// The error lists every problem with its fix, for example:
//
//	mssqlstore: schema check: 1 problem(s) (1 fatal):
//	error: database user [app] lacks INSERT, UPDATE, DELETE on table [dbo].[sessions]; fix: GRANT INSERT, UPDATE, DELETE ON [dbo].[sessions] TO [app]
func ExampleCheckSchema() {
	db, err := sql.Open("sqlserver", "sqlserver://app:secret@localhost?database=app")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	cfg := mssqlstore.Config{Table: "dbo.sessions"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = mssqlstore.CheckSchema(ctx, db, cfg) // the same Config as the store's
	cancel()
	if err != nil {
		log.Fatal(err)
	}

	store, err := mssqlstore.NewWithConfig(db, cfg)
	if err != nil {
		log.Fatal(err)
	}
	sessionManager := scs.New()
	sessionManager.Store = store
	// Serve, then shut down as the README's usage shows: the HTTP server
	// first, then the store, which flushes what it still holds.
}
