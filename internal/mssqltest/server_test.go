package mssqltest_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-sql/civil"
	mssql "github.com/microsoft/go-mssqldb"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
)

// These tests run the server with the real engine (internal/tsql).

// open starts a server and opens a database/sql handle on it.
func open(t *testing.T, opts mssqltest.Options) (*mssqltest.Server, *sql.DB) {
	t.Helper()
	s := mssqltest.Start(t, opts)
	db, err := sql.Open("sqlserver", s.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return s, db
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func token(c byte) mssql.VarChar { return mssql.VarChar(strings.Repeat(string(c), 43)) }

func TestEngineStoreStatements(t *testing.T) {
	s, db := open(t, mssqltest.Options{})
	ctx := testCtx(t)
	exp := civil.DateTimeOf(time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC))
	now := civil.DateTimeOf(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	s.ResetCounters()
	if _, err := db.ExecContext(ctx, "INSERT INTO [dbo].[sessions] (token, data, expiry) VALUES (@p1, @p2, @p3)", token('a'), []byte("hello"), exp); err != nil {
		t.Fatal(err)
	}
	var data []byte
	var expiry time.Time
	err := db.QueryRowContext(ctx, "SELECT data, expiry FROM [dbo].[sessions] WHERE token = @p1 AND token = @p1 COLLATE Latin1_General_BIN2 AND expiry > @p2", token('a'), now).Scan(&data, &expiry)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "hello" || !expiry.Equal(time.Time(exp.In(time.UTC))) {
		t.Errorf("got %q %v", data, expiry)
	}
	var wires []string
	for _, p := range s.Params() {
		wires = append(wires, p.WireType)
	}
	want := "VARCHAR(43) VARBINARY(5) DATETIME2(7) VARCHAR(43) DATETIME2(7)"
	if got := strings.Join(wires, " "); got != want {
		t.Errorf("wire types = %s, want %s", got, want)
	}
	c := s.Counters()
	if c.RoundTrips != 2 || c.Statements["INSERT"] != 1 || c.Statements["SELECT"] != 1 || c.RowsWritten != 1 {
		t.Errorf("counters = %+v", c)
	}
}

func TestEngineLargeValue(t *testing.T) {
	_, db := open(t, mssqltest.Options{})
	ctx := testCtx(t)
	big := make([]byte, 16<<20)
	for i := range big {
		big[i] = byte(i * 13)
	}
	exp := civil.DateTimeOf(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	if _, err := db.ExecContext(ctx, "INSERT INTO sessions (token, data, expiry) VALUES (@p1, @p2, @p3)", token('b'), big, exp); err != nil {
		t.Fatal(err)
	}
	var got []byte
	if err := db.QueryRowContext(ctx, "SELECT data FROM sessions WHERE token = @p1", token('b')).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, big) {
		t.Errorf("16 MiB round trip: got %d bytes", len(got))
	}
}

type batchRow struct {
	Token  mssql.VarChar
	Data   []byte
	Expiry civil.DateTime
}

func TestEngineTVPMerge(t *testing.T) {
	s, db := open(t, mssqltest.Options{})
	ctx := testCtx(t)
	// The type's token column takes the table's collation (the database
	// default): SQL Server refuses to compare two columns of different
	// collations (error 468), and the MERGE compares them.
	if err := s.Exec(ctx, "CREATE TYPE dbo.sessions_batch AS TABLE (token CHAR(43) NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL);"); err != nil {
		t.Fatal(err)
	}
	exp := civil.DateTimeOf(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	merge := `SET XACT_ABORT ON;
MERGE [dbo].[sessions] WITH (UPDLOCK, HOLDLOCK) AS t
USING @rows AS s ON t.token = s.token
WHEN MATCHED THEN UPDATE SET t.data = s.data, t.expiry = s.expiry
WHEN NOT MATCHED BY TARGET THEN INSERT (token, data, expiry) VALUES (s.token, s.data, s.expiry);`
	for round, rows := range [][]batchRow{
		{{token('c'), []byte("1"), exp}, {token('d'), []byte("2"), exp}},
		{{token('c'), []byte("3"), exp}, {token('e'), []byte{}, exp}},
	} {
		res, err := db.ExecContext(ctx, merge, sql.Named("rows", mssql.TVP{TypeName: "dbo.sessions_batch", Value: rows}))
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if n, _ := res.RowsAffected(); n != 2 {
			t.Errorf("round %d: rows affected = %d, want 2", round, n)
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions").Scan(&n); err != nil || n != 3 {
		t.Errorf("count = %d, %v; want 3", n, err)
	}
	var data []byte
	if err := db.QueryRowContext(ctx, "SELECT data FROM sessions WHERE token = @p1", token('c')).Scan(&data); err != nil || string(data) != "3" {
		t.Errorf("data = %q, %v; want \"3\"", data, err)
	}
}

func TestEngineTransactions(t *testing.T) {
	_, db := open(t, mssqltest.Options{})
	ctx := testCtx(t)
	exp := civil.DateTimeOf(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	count := func() int {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i, commit := range []bool{false, true} {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO sessions (token, data, expiry) VALUES (@p1, 0x01, @p2)", token(byte('f'+i)), exp); err != nil {
			t.Fatal(err)
		}
		var depth int
		if err := tx.QueryRowContext(ctx, "SELECT @@TRANCOUNT").Scan(&depth); err != nil || depth != 1 {
			t.Errorf("@@TRANCOUNT = %d, %v; want 1", depth, err)
		}
		if commit {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := count(); got != 1 {
		t.Errorf("count = %d, want 1 (one rolled back, one committed)", got)
	}

	// The reset-connection flag rolls back a transaction left open on a
	// pooled connection.
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION; INSERT INTO sessions (token, data, expiry) VALUES (@p1, 0x01, @p2)", token('z'), exp); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if got := count(); got != 1 {
		t.Errorf("count after reset = %d, want 1", got)
	}
}

func TestEnginePermissions(t *testing.T) {
	s, _ := open(t, mssqltest.Options{})
	ctx := testCtx(t)
	if err := s.Exec(ctx, "CREATE TABLE other (id INT PRIMARY KEY);"); err != nil {
		t.Fatal(err)
	}
	s.AddRestrictedLogin("app", "App-Passw0rd")
	db, err := sql.Open("sqlserver", s.DSNFor("app", "App-Passw0rd"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "DELETE FROM sessions WHERE token = @p1", token('q')); err != nil {
		t.Fatalf("granted DELETE: %v", err)
	}
	tests := []struct {
		query string
		want  int32
	}{
		{"SELECT id FROM other", 229},
		{"CREATE TABLE t2 (id INT)", 262},
	}
	for _, tt := range tests {
		_, err := db.ExecContext(ctx, tt.query)
		var me mssql.Error
		if !errors.As(err, &me) || me.Number != tt.want {
			t.Errorf("%s: error = %v, want %d", tt.query, err, tt.want)
		}
	}
}

func TestEngineFaultInBatch(t *testing.T) {
	s, db := open(t, mssqltest.Options{})
	ctx := testCtx(t)
	exp := civil.DateTimeOf(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	s.InjectFault(mssqltest.Fault{Kind: "INSERT", Table: "dbo.sessions", DropAfter: true})
	_, err := db.ExecContext(ctx, "INSERT INTO sessions (token, data, expiry) VALUES (@p1, 0x01, @p2)", token('k'), exp)
	if err == nil {
		t.Fatal("no error from a dropped connection")
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions WHERE token = @p1", token('k')).Scan(&n); err != nil || n != 1 {
		t.Errorf("count = %d, %v; want 1: the insert ran before the drop", n, err)
	}
	s.InjectFault(mssqltest.Fault{Kind: "UPDATE", Error: 1205})
	_, err = db.ExecContext(ctx, "SELECT 1; UPDATE sessions SET data = 0x02 WHERE token = @p1", token('k'))
	var me mssql.Error
	if !errors.As(err, &me) || me.Number != 1205 {
		t.Errorf("error = %v, want 1205", err)
	}
}

// SetNow replaces the clock the server's SYSUTCDATETIME reads.
func TestEngineSetNow(t *testing.T) {
	s, db := open(t, mssqltest.Options{})
	ctx := testCtx(t)
	fixed := time.Date(2031, 3, 4, 5, 6, 7, 800, time.UTC)
	s.SetNow(func() time.Time { return fixed })
	var got time.Time
	if err := db.QueryRowContext(ctx, "SELECT SYSUTCDATETIME()").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if !got.Equal(fixed) {
		t.Errorf("SYSUTCDATETIME() = %v, want %v", got, fixed)
	}
}

// TIME through the driver with the real engine: a TIME(n) column reaches
// the client as the time of day (SQL Server answers SELECT CAST('07:08:09.5'
// AS time(3)) with 07:08:09.500), a NULL TIME as NULL, and a civil.Time
// parameter arrives as TIME(7) and compares with a TIME value.
func TestTimeThroughDriver(t *testing.T) {
	_, db := open(t, mssqltest.Options{})
	ctx := testCtx(t)
	var got time.Time
	var null sql.NullTime
	if err := db.QueryRowContext(ctx, "SELECT CAST('07:08:09.5' AS time(3)), CAST(NULL AS time(0))").Scan(&got, &null); err != nil {
		t.Fatal(err)
	}
	if got.Hour() != 7 || got.Minute() != 8 || got.Second() != 9 || got.Nanosecond() != 500000000 || null.Valid {
		t.Errorf("got %v and %v, want 07:08:09.500 and NULL", got, null)
	}
	p := civil.Time{Hour: 7, Minute: 8, Second: 9, Nanosecond: 123456700}
	var eq, later int
	if err := db.QueryRowContext(ctx, "SELECT CASE WHEN @p1 = CAST('07:08:09.1234567' AS time) THEN 1 ELSE 0 END, CASE WHEN @p1 > '07:08:09.1234566' THEN 1 ELSE 0 END", p).Scan(&eq, &later); err != nil {
		t.Fatal(err)
	}
	if eq != 1 || later != 1 {
		t.Errorf("TIME parameter compared: = gave %d, > gave %d, want 1 and 1", eq, later)
	}
}

// UNIQUEIDENTIFIER through the driver with the real engine: a parameter
// arrives as GUIDN and compares with the same value's text, and a column
// reaches the client as the same GUID (the driver undoes SQL Server's
// byte order).
func TestGUIDThroughDriver(t *testing.T) {
	_, db := open(t, mssqltest.Options{})
	ctx := testCtx(t)
	const text = "6F9619FF-8B86-D011-B42D-00C04FC964FF"
	var in mssql.UniqueIdentifier
	if err := in.Scan(text); err != nil {
		t.Fatal(err)
	}
	var eq int
	var out mssql.UniqueIdentifier
	var null mssql.NullUniqueIdentifier
	if err := db.QueryRowContext(ctx, "SELECT CASE WHEN @p1 = '"+text+"' THEN 1 ELSE 0 END, CAST('"+text+"' AS uniqueidentifier), CAST(NULL AS uniqueidentifier)", in).Scan(&eq, &out, &null); err != nil {
		t.Fatal(err)
	}
	if eq != 1 || out != in || null.Valid {
		t.Errorf("got %d, %v, %v; want 1, %s, NULL", eq, out, null, text)
	}
}
