package mssqlstore_test

import (
	"database/sql"
	"fmt"
	"log"
	"time"

	"github.com/alexedwards/scs/v2"
	_ "github.com/microsoft/go-mssqldb"
	"github.com/scs-contrib/mssqlstore"
)

func ExampleNew() {
	db, err := sql.Open("sqlserver", "sqlserver://app:secret@localhost?database=app")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	store := mssqlstore.New(db)
	defer store.StopCleanup()

	sessionManager := scs.New()
	sessionManager.Store = store
}

func ExampleNewWithConfig() {
	db, err := sql.Open("sqlserver", "sqlserver://app:secret@localhost?database=app")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	store, err := mssqlstore.NewWithConfig(db, mssqlstore.Config{
		Table:           "web.sessions",
		FlushInterval:   20 * time.Millisecond, // more coalescing, a larger crash window
		CacheSize:       50_000,                // the live working set
		CacheMaxAge:     time.Second,           // several instances, no sticky sessions
		CleanupInterval: time.Minute,
		ErrorHandler: func(err error) {
			log.Printf("session store: %v", err)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.StopCleanup()

	sessionManager := scs.New()
	sessionManager.Store = store
}

func ExampleMSSQLStore_StopCleanup() {
	db, err := sql.Open("sqlserver", "sqlserver://app:secret@localhost?database=app")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	store := mssqlstore.New(db)
	// ... serve until SIGTERM, then drain the HTTP server (its Shutdown
	// method), so that no request commits after this point ...

	// Flush what is pending and stop the goroutines, each within
	// StopTimeout. What could not be flushed is reported to the
	// ErrorHandler (or the Logger); Close(ctx) does the same and returns
	// it as an error. A deferred call would not run after log.Fatal or
	// os.Exit: call it on the shutdown path.
	store.StopCleanup()
}

func ExampleMSSQLStore_Stats() {
	db, err := sql.Open("sqlserver", "sqlserver://app:secret@localhost?database=app")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	store := mssqlstore.New(db)
	defer store.StopCleanup()

	st := store.Stats()
	if lookups := st.CacheHits + st.CacheMisses; lookups > 0 {
		fmt.Printf("cache hit rate %.1f%%\n", 100*float64(st.CacheHits)/float64(lookups))
	}
	if st.Flushes > 0 {
		fmt.Printf("%.1f rows per flush, last flush took %v\n", float64(st.RowsFlushed)/float64(st.Flushes), st.LastFlushDuration)
	}
	if st.CommitWaits > 0 {
		fmt.Println("commits waited for room: raise MaxPending or check SQL Server")
	}
}

func ExampleSchemaStatements() {
	stmts, err := mssqlstore.SchemaStatements(mssqlstore.SchemaOptions{Table: "dbo.sessions"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(stmts[0])
	// Output:
	// IF OBJECT_ID(N'[dbo].[sessions]', N'U') IS NULL
	//     CREATE TABLE [dbo].[sessions] (token CHAR(43) COLLATE Latin1_General_BIN2 NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL);
}
