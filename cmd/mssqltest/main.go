// Command mssqltest runs the repository's TDS test server on its own, for
// manual testing with any SQL Server client. It is a test double, not SQL
// Server.
//
//	go run ./cmd/mssqltest -addr 127.0.0.1:14333
//
// The first line of standard output is the server's DSN. The server runs
// until SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:14333", "listen address")
	user := flag.String("user", mssqltest.DefaultUser, "owner login name")
	password := flag.String("password", mssqltest.DefaultPassword, "owner login password")
	database := flag.String("database", mssqltest.DefaultDatabase, "database name")
	bare := flag.Bool("bare", false, "do not create the sessions table and index")
	maxMessage := flag.Int("max-message", mssqltest.DefaultMaxMessage, "largest request message, in bytes")
	maxConns := flag.Int("max-conns", mssqltest.DefaultMaxConns, "most open connections")
	handshake := flag.Duration("handshake-timeout", mssqltest.DefaultHandshakeTimeout, "time a connection has to log in")
	flag.Parse()

	s, err := mssqltest.NewServer(mssqltest.Options{
		Addr: *addr, User: *user, Password: *password, Database: *database, Bare: *bare,
		MaxMessage: *maxMessage, MaxConns: *maxConns, HandshakeTimeout: *handshake,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "mssqltest:", err)
		os.Exit(1)
	}
	fmt.Println(s.DSN())
	fmt.Fprintln(os.Stderr, "mssqltest: this is a TDS test double for the store's tests, not Microsoft SQL Server; listening on", s.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "mssqltest:", err)
		os.Exit(1)
	}
}
