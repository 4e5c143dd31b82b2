// Command example is the SCS example application (/put stores a message
// in the session, /get reads it back) with sessions kept in SQL Server by
// the mssqlstore store, through the go-mssqldb driver.
//
//	MSSQL_DSN='sqlserver://user:password@host:1433?database=app' go run ./example -init
//	curl -i --cookie-jar cj --cookie cj 127.0.0.1:4000/put
//	curl -i --cookie-jar cj --cookie cj '127.0.0.1:4000/put?message=hi'
//	curl -i --cookie-jar cj --cookie cj 127.0.0.1:4000/get
//
// Without MSSQL_DSN it starts an in-process test server from the public
// package github.com/scs-contrib/mssqlstore/mssqltest, a test double of
// SQL Server, so that the example runs anywhere; its sessions die with
// the process.
//
// It imports only public packages: copy it into a module of your own.
//
// At startup it checks the schema and the permissions (CheckSchema), and
// stops if the store could not write. On SIGINT or SIGTERM it shuts down
// in order: the HTTP server stops taking requests and drains those under
// way for up to 10 s (each may still commit its session), then Close
// flushes the writes the store still holds in memory, with 10 s of its
// own, then the database handle closes. The README's usage program is
// this startup check and this shutdown.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alexedwards/scs/v2"
	_ "github.com/microsoft/go-mssqldb" // the "sqlserver" driver
	"github.com/scs-contrib/mssqlstore"
	"github.com/scs-contrib/mssqlstore/mssqltest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4000", "the address to listen on")
	initSchema := flag.Bool("init", false, "create the sessions table and table type if missing (always done on the test server)")
	flushInterval := flag.Duration("flush-interval", 0, "the store's FlushInterval (0: the store's default, 10ms)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := config{Addr: *addr, DSN: os.Getenv("MSSQL_DSN"), Init: *initSchema, Log: os.Stderr,
		Store: mssqlstore.Config{FlushInterval: *flushInterval}}
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

// config is what run needs; main fills it from flags and the environment.
type config struct {
	// Addr is the listen address, used when Listener is nil.
	Addr string
	// Listener, when not nil, is served instead of listening on Addr.
	Listener net.Listener
	// DSN names the SQL Server; "" starts an in-process test server.
	DSN string
	// Init creates the schema before serving.
	Init bool
	// Store tunes the store; the zero value is the store's defaults.
	Store mssqlstore.Config
	// Log receives what the example has to say, and the store's
	// background errors.
	Log io.Writer
}

// run serves the example until ctx ends, then shuts down in order.
func run(ctx context.Context, cfg config) error {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	dsn := cfg.DSN
	if dsn == "" {
		// Bare: CreateSchema makes the table, with the binary token
		// collation that matches the table type's.
		srv, err := mssqltest.NewServer(mssqltest.Options{Bare: true})
		if err != nil {
			return fmt.Errorf("start the test server: %w", err)
		}
		defer srv.Close()
		dsn = srv.DSN()
		cfg.Init = true
		fmt.Fprintln(cfg.Log, "example: MSSQL_DSN is not set: using an in-process test server, a test double, not SQL Server; its sessions die with this process")
	}

	db, err := sql.Open("sqlserver", dsn)
	if err != nil {
		return fmt.Errorf("open the database: %w", err)
	}
	defer db.Close()
	pingCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = db.PingContext(pingCtx)
	cancel()
	if err != nil {
		return fmt.Errorf("connect to the database: %w", err)
	}
	if cfg.Init {
		opts := mssqlstore.SchemaOptions{Table: cfg.Store.Table, TableType: cfg.Store.TableType}
		if err := mssqlstore.CreateSchema(ctx, db, opts); err != nil {
			return fmt.Errorf("create the schema: %w", err)
		}
	}
	// A missing table, index or permission stops the program here: with
	// only SELECT granted, every request would succeed and nothing be
	// written.
	if err := mssqlstore.CheckSchema(ctx, db, cfg.Store); err != nil {
		return fmt.Errorf("check the schema: %w", err)
	}

	ln := cfg.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}

	storeCfg := cfg.Store
	if storeCfg.ErrorHandler == nil {
		log := cfg.Log
		storeCfg.ErrorHandler = func(err error) { fmt.Fprintln(log, "example:", err) }
	}
	store, err := mssqlstore.NewWithConfig(db, storeCfg)
	if err != nil {
		ln.Close()
		return err
	}

	sessionManager := scs.New()
	sessionManager.Lifetime = 24 * time.Hour
	sessionManager.Store = store

	mux := http.NewServeMux()
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		msg := r.FormValue("message")
		if msg == "" {
			msg = "Hello from a session!"
		}
		sessionManager.Put(r.Context(), "message", msg)
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		msg := sessionManager.GetString(r.Context(), "message")
		io.WriteString(w, msg)
	})

	server := &http.Server{Handler: sessionManager.LoadAndSave(mux), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- server.Serve(ln) }()
	fmt.Fprintf(cfg.Log, "example: listening on http://%s\n", ln.Addr())

	var serveErr error
	select {
	case serveErr = <-served:
		serveErr = fmt.Errorf("serve: %w", serveErr)
	case <-ctx.Done(): // SIGINT or SIGTERM
	}
	if serveErr == nil {
		// Drain first: a request under way may still commit its session.
		drainCtx, cancelDrain := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancelDrain()
		if err := server.Shutdown(drainCtx); err != nil {
			serveErr = fmt.Errorf("shut down: %w", err)
		} else if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("serve: %w", err)
		}
	}
	// Then flush what the store holds in memory (on every path: the
	// writes it accepted are in memory only), with a budget of its own,
	// so that a slow request cannot leave Close no time; then close the
	// handle.
	flushCtx, cancelFlush := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelFlush()
	if err := store.Close(flushCtx); err != nil {
		return errors.Join(serveErr, fmt.Errorf("close the store: %w", err))
	}
	if serveErr != nil {
		return serveErr
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("close the database: %w", err)
	}
	fmt.Fprintln(cfg.Log, "example: stopped")
	return nil
}
