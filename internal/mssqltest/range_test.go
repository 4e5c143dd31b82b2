package mssqltest_test

import (
	"errors"
	"fmt"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
)

// The journal poll of issue 14, through the driver: range seeks of the
// primary key, which wait only for uncommitted writes in the journal's
// range.
func TestRangeSeekThroughDriver(t *testing.T) {
	s, db := open(t, mssqltest.Options{})
	ctx := testCtx(t)
	for i := 1; i <= 3; i++ {
		if _, err := db.ExecContext(ctx, "INSERT INTO dbo.sessions (token, data, expiry) VALUES (@p1, 0x01, '2030-01-01')", mssql.VarChar(fmt.Sprintf("~j%020d", i))); err != nil {
			t.Fatal(err)
		}
	}
	writer, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	poller, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer poller.Close()
	if _, err := poller.ExecContext(ctx, "SET LOCK_TIMEOUT 0"); err != nil {
		t.Fatal(err)
	}
	const poll = "SELECT TOP (@p2) token, data FROM dbo.sessions WHERE token > CAST(@p1 AS CHAR(43)) AND token < CAST('~j9999999999999999999' AS CHAR(43)) ORDER BY token"
	pollOnce := func() (int, error) {
		rows, err := poller.QueryContext(ctx, poll, mssql.VarChar(fmt.Sprintf("~j%020d", 1)), 10)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			n++
		}
		return n, rows.Err()
	}

	tx, err := writer.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "INSERT INTO dbo.sessions (token, data, expiry) VALUES (@p1, 0x02, '2030-01-01')", mssql.VarChar("session-token-outside-the-journal")); err != nil {
		t.Fatal(err)
	}
	s.ResetCounters()
	n, err := pollOnce()
	if err != nil || n != 2 {
		t.Fatalf("poll beside an uncommitted session write: %d rows, %v; want 2 rows, no wait", n, err)
	}
	if c := s.Counters(); c.RangeSeeks != 1 || c.Scans != 0 || c.LockWaits != 0 {
		t.Errorf("counters = RangeSeeks %d, Scans %d, LockWaits %d; want 1, 0, 0", c.RangeSeeks, c.Scans, c.LockWaits)
	}

	if _, err := tx.ExecContext(ctx, "INSERT INTO dbo.sessions (token, data, expiry) VALUES (@p1, 0x02, '2030-01-01')", mssql.VarChar(fmt.Sprintf("~j%020d", 4))); err != nil {
		t.Fatal(err)
	}
	_, err = pollOnce()
	var me mssql.Error
	if !errors.As(err, &me) || me.Number != 1222 {
		t.Fatalf("poll beside an uncommitted journal write: %v, want 1222", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n, err := pollOnce(); err != nil || n != 3 {
		t.Fatalf("poll after the commit: %d rows, %v; want 3", n, err)
	}
}
