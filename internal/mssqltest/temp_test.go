package mssqltest_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
)

// Temporary tables over the wire: SQL Server scopes a #table to its
// connection, and sp_reset_connection (the reset flag go-mssqldb sets
// when a pooled connection is reused) drops it.
func TestTempTablesPerConnection(t *testing.T) {
	_, db := open(t, mssqltest.Options{})
	ctx := testCtx(t)
	a, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ExecContext(ctx, "CREATE TABLE #t (v int); INSERT INTO #t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	number := func(err error) int32 {
		var e mssql.Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v, want an mssql.Error", err)
		}
		return e.Number
	}
	var n int
	if err := b.QueryRowContext(ctx, "SELECT COUNT(*) FROM #t").Scan(&n); number(err) != 208 {
		t.Fatalf("other connection: %v, want error 208", err)
	}
	if err := a.QueryRowContext(ctx, "SELECT COUNT(*) FROM #t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("creating connection: %d, %v; want 1 row", n, err)
	}
	// Back to the pool, then reused (the same session: one connection at
	// most): the driver resets the connection, which drops #t.
	_, one := open(t, mssqltest.Options{})
	one.SetMaxOpenConns(1)
	spid := func(c interface {
		QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	}) int {
		var id int
		if err := c.QueryRowContext(ctx, "SELECT @@SPID").Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	c1, err := one.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first := spid(c1)
	if _, err := c1.ExecContext(ctx, "CREATE TABLE #t (v int)"); err != nil {
		t.Fatal(err)
	}
	if err := c1.Close(); err != nil {
		t.Fatal(err)
	}
	c2, err := one.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.QueryRowContext(ctx, "SELECT COUNT(*) FROM #t").Scan(&n); number(err) != 208 {
		t.Fatalf("after a reset: %v, want error 208", err)
	}
	if second := spid(c2); second != first {
		t.Fatalf("session %d, then %d: the connection was not reused", first, second)
	}
	_ = a.Close()
	_ = b.Close()
}
