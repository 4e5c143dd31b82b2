package mssqltest_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
	mssql "github.com/microsoft/go-mssqldb"
	"github.com/scs-contrib/mssqlstore"
	"github.com/scs-contrib/mssqlstore/mssqltest"
)

// An SCS application served with its sessions in the test server. In a
// test, mssqltest.Start(t, mssqltest.Options{Bare: true}) replaces
// NewServer and Close.
func Example() {
	srv, err := mssqltest.NewServer(mssqltest.Options{Bare: true})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	db, err := sql.Open("sqlserver", srv.DSN())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	// The schema the README recommends: table, index and table type.
	if err := mssqlstore.CreateSchema(ctx, db, mssqlstore.SchemaOptions{}); err != nil {
		log.Fatal(err)
	}
	store := mssqlstore.New(db)
	defer store.Close(ctx)

	sessionManager := scs.New()
	sessionManager.Store = store
	mux := http.NewServeMux()
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		sessionManager.Put(r.Context(), "message", "Hello from a session!")
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, sessionManager.GetString(r.Context(), "message"))
	})
	app := httptest.NewServer(sessionManager.LoadAndSave(mux))
	defer app.Close()

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	for _, path := range []string{"/put", "/get"} {
		resp, err := client.Get(app.URL + path)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s: %s %q\n", path, resp.Status, body)
	}

	// Flush, then look in the table as SQL Server would show it.
	if err := store.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	var rows int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM dbo.sessions WHERE expiry > SYSUTCDATETIME()").Scan(&rows); err != nil {
		log.Fatal(err)
	}
	fmt.Println("live sessions in dbo.sessions:", rows)
	// Output:
	// /put: 200 OK ""
	// /get: 200 OK "Hello from a session!"
	// live sessions in dbo.sessions: 1
}

// A statement fails with a SQL Server error chosen by number: here the
// next SELECT is chosen as a deadlock victim (1205), as SQL Server would
// report it, and the one after it succeeds.
func ExampleServer_InjectFault() {
	srv, err := mssqltest.NewServer(mssqltest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	db, err := sql.Open("sqlserver", srv.DSN())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	if err := srv.InjectFault(mssqltest.Fault{Statement: "SELECT", Table: "dbo.sessions", Error: 1205}); err != nil {
		log.Fatal(err)
	}
	for range 2 {
		var n int
		err := db.QueryRow("SELECT COUNT(*) FROM dbo.sessions").Scan(&n)
		var sqlErr mssql.Error
		if errors.As(err, &sqlErr) {
			fmt.Println("error", sqlErr.Number)
		} else {
			fmt.Println("rows:", n, err)
		}
	}
	fmt.Println("faults hit:", srv.FaultsHit())
	// Output:
	// error 1205
	// rows: 0 <nil>
	// faults hit: 1
}

// The server's clock is the test's: SYSUTCDATETIME() answers what SetNow
// says.
func ExampleServer_SetNow() {
	srv, err := mssqltest.NewServer(mssqltest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	db, err := sql.Open("sqlserver", srv.DSN())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	srv.SetNow(func() time.Time { return now })
	var got time.Time
	if err := db.QueryRow("SELECT SYSUTCDATETIME()").Scan(&got); err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.UTC().Format(time.RFC3339))
	// Output:
	// 2030-01-02T03:04:05Z
}

// A database user that holds only SELECT fails the store's startup check,
// which names what is missing.
func ExampleServer_AddLogin() {
	srv, err := mssqltest.NewServer(mssqltest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if err := srv.AddLogin("app", "App-Passw0rd", map[string]mssqltest.Permission{
		"dbo.sessions": mssqltest.Select,
	}); err != nil {
		log.Fatal(err)
	}
	db, err := sql.Open("sqlserver", srv.DSNFor("app", "App-Passw0rd"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	err = mssqlstore.CheckSchema(context.Background(), db, mssqlstore.Config{})
	var schemaErr *mssqlstore.SchemaError
	if errors.As(err, &schemaErr) {
		for _, p := range schemaErr.Problems {
			if p.Fatal {
				fmt.Println(p.Message)
			}
		}
	}
	// Output:
	// database user [app] lacks INSERT, UPDATE, DELETE on table [dbo].[sessions]
}

// Session expiry in a test. The store decides what has expired with its
// own clock, mssqlstore.Config.Now, never with the server's: that is the
// clock a test moves. Giving the server the same clock (Options.Now)
// keeps SQL that reads SYSUTCDATETIME() in step. With SCS in front of
// the store, start the clock at time.Now(): SCS sets each session's
// expiry with the real clock.
func Example_expiry() {
	var mu sync.Mutex
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	srv, err := mssqltest.NewServer(mssqltest.Options{Bare: true, Now: clock})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	db, err := sql.Open("sqlserver", srv.DSN())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := mssqlstore.CreateSchema(ctx, db, mssqlstore.SchemaOptions{}); err != nil {
		log.Fatal(err)
	}
	store, err := mssqlstore.NewWithConfig(db, mssqlstore.Config{Now: clock})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close(ctx)

	token := "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde" // 43 base64url characters, as SCS makes them
	if err := store.Commit(token, []byte("hello"), clock().Add(time.Hour)); err != nil {
		log.Fatal(err)
	}
	if err := store.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	live := func() {
		_, found, err := store.Find(token)
		var rows int
		if err == nil {
			err = db.QueryRow("SELECT COUNT(*) FROM dbo.sessions WHERE expiry > SYSUTCDATETIME()").Scan(&rows)
		}
		fmt.Printf("found: %v, live rows by the server's clock: %d, err: %v\n", found, rows, err)
	}
	live()
	advance(2 * time.Hour)
	live()
	deleted, err := store.DeleteExpired(ctx, nil)
	fmt.Println("expired rows deleted:", deleted, err)
	// Output:
	// found: true, live rows by the server's clock: 1, err: <nil>
	// found: false, live rows by the server's clock: 0, err: <nil>
	// expired rows deleted: 1 <nil>
}
