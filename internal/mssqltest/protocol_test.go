package mssqltest_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/golang-sql/civil"
	mssql "github.com/microsoft/go-mssqldb"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
)

// openFake starts a server on the scripted engine and opens a pool on it.
func openFake(t *testing.T) (*mssqltest.Server, *mssqltest.FakeEngine, *sql.DB) {
	t.Helper()
	s, fe := mssqltest.StartFake(t, mssqltest.Options{})
	db, err := sql.Open("sqlserver", s.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return s, fe, db
}

func TestFakeLogin(t *testing.T) {
	s, _, db := openFake(t)
	ctx := testCtx(t)
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	tests := []struct {
		name     string
		dsn      string
		wantNum  int32
		wantText string
	}{
		{"wrong password", s.DSNFor("sa", "nope"), 18456, "Login failed for user 'sa'."},
		{"unknown user", s.DSNFor("mallory", "x"), 18456, "Login failed for user 'mallory'."},
		{"unknown database", "sqlserver://sa:Test-Passw0rd@" + s.Addr() + "?database=other&encrypt=disable", 4060, `Cannot open database "other" requested by the login. The login failed.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad, err := sql.Open("sqlserver", tt.dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer bad.Close()
			err = bad.PingContext(ctx)
			var me mssql.Error
			if !errors.As(err, &me) {
				t.Fatalf("ping error = %v, want an mssql.Error", err)
			}
			// go-mssqldb prefixes login errors with "login error: ".
			if me.Number != tt.wantNum || me.Message != "login error: "+tt.wantText {
				t.Errorf("got error %d class %d %q, want %d %q", me.Number, me.Class, me.Message, tt.wantNum, tt.wantText)
			}
		})
	}
	if got := s.Counters().Logins; got < 1 {
		t.Errorf("Logins = %d, want at least 1", got)
	}
}

func TestFakeEncryptionRequired(t *testing.T) {
	s, _ := mssqltest.StartFake(t, mssqltest.Options{})
	for _, enc := range []string{"true", "strict"} {
		db, err := sql.Open("sqlserver", "sqlserver://sa:Test-Passw0rd@"+s.Addr()+"?database=mssqltest&dial+timeout=5&encrypt="+enc)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.PingContext(testCtx(t)); err == nil {
			t.Errorf("ping with encrypt=%s succeeded against a server without TLS", enc)
		}
		db.Close()
	}
}

func TestFakeTypedParams(t *testing.T) {
	s, _, db := openFake(t)
	ctx := testCtx(t)
	dt2 := time.Date(2024, 5, 6, 7, 8, 9, 123456700, time.UTC)
	dto := time.Date(2024, 5, 6, 7, 8, 9, 123456700, time.FixedZone("", 2*3600))
	dtm := time.Date(2024, 5, 6, 7, 8, 9, 3333333, time.UTC)
	tests := []struct {
		name     string
		arg      any
		wireType string
		check    func(got any) bool
	}{
		{"nvarchar", "héllo", "NVARCHAR(5)", func(g any) bool { return g == "héllo" }},
		{"varchar", mssql.VarChar("abc"), "VARCHAR(3)", func(g any) bool { return g == "abc" }},
		{"varchar max", mssql.VarCharMax("abcd"), "VARCHAR(MAX)", func(g any) bool { return g == "abcd" }},
		{"nchar", mssql.NChar("xy"), "NCHAR(2)", func(g any) bool { return g == "xy" }},
		{"nvarchar max", mssql.NVarCharMax("long"), "NVARCHAR(MAX)", func(g any) bool { return g == "long" }},
		{"varbinary", []byte{1, 2, 3}, "VARBINARY(3)", func(g any) bool { b, _ := g.([]byte); return bytes.Equal(b, []byte{1, 2, 3}) }},
		{"varbinary empty", []byte{}, "VARBINARY(MAX)", func(g any) bool { b, ok := g.([]byte); return ok && len(b) == 0 }},
		{"datetime2", civil.DateTimeOf(dt2), "DATETIME2(7)", func(g any) bool { tm, _ := g.(time.Time); return tm.Equal(dt2) }},
		{"datetimeoffset", dto, "DATETIMEOFFSET(7)", func(g any) bool {
			tm, _ := g.(time.Time)
			_, off := tm.Zone()
			return tm.Equal(dto) && off == 7200
		}},
		{"datetime", mssql.DateTime1(dtm), "DATETIME", func(g any) bool { tm, _ := g.(time.Time); return tm.Sub(dtm).Abs() < time.Millisecond }},
		{"date", civil.DateOf(dt2), "DATE", func(g any) bool {
			tm, _ := g.(time.Time)
			return tm.Year() == 2024 && tm.Month() == 5 && tm.Day() == 6 && tm.Hour() == 0
		}},
		{"time", civil.TimeOf(dt2), "TIME(7)", func(g any) bool {
			tm, _ := g.(time.Time)
			return tm.Hour() == 7 && tm.Minute() == 8 && tm.Second() == 9 && tm.Nanosecond() == 123456700
		}},
		{"tinyint", uint8(200), "TINYINT", func(g any) bool { return g == int64(200) }},
		{"smallint", int16(-300), "SMALLINT", func(g any) bool { return g == int64(-300) }},
		{"int", int32(-70000), "INT", func(g any) bool { return g == int64(-70000) }},
		{"bigint", int64(1 << 40), "BIGINT", func(g any) bool { return g == int64(1<<40) }},
		{"bit", true, "BIT", func(g any) bool { return g == true }},
		{"float", 2.5, "FLOAT", func(g any) bool { return g == 2.5 }},
		{"null", nil, "NULL", func(g any) bool { return g == nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.ResetCounters()
			var got any
			if err := db.QueryRowContext(ctx, "ECHO PARAMS", tt.arg).Scan(&got); err != nil {
				t.Fatalf("query: %v", err)
			}
			if !tt.check(got) {
				t.Errorf("round trip of %#v gave %#v", tt.arg, got)
			}
			ps := s.Params()
			want := mssqltest.ParamRecord{Name: "@p1", WireType: tt.wireType, SQL: "ECHO PARAMS"}
			if len(ps) != 1 || ps[0] != want {
				t.Errorf("Params() = %+v, want [%+v]", ps, want)
			}
		})
	}
}

func TestFakeLargeValue(t *testing.T) {
	_, _, db := openFake(t)
	ctx := testCtx(t)
	big := make([]byte, 16<<20+123)
	for i := range big {
		big[i] = byte(i * 7)
	}
	var got []byte
	if err := db.QueryRowContext(ctx, "ECHO PARAMS", big).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, big) {
		t.Errorf("16 MiB round trip: got %d bytes, want %d, equal=%v", len(got), len(big), bytes.Equal(got, big))
	}
}

type tvpRow struct {
	Token  mssql.VarChar
	Data   []byte
	Expiry civil.DateTime
}

func TestFakeTVP(t *testing.T) {
	s, _, db := openFake(t)
	ctx := testCtx(t)
	exp := civil.DateTimeOf(time.Date(2030, 1, 2, 3, 4, 5, 600000000, time.UTC))
	in := []tvpRow{{"tok1", []byte("one"), exp}, {"tok2", []byte{}, exp}, {"tok3", nil, exp}}
	rows, err := db.QueryContext(ctx, "ECHO PARAMS", sql.Named("rows", mssql.TVP{TypeName: "dbo.sessions_batch", Value: in}))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []tvpRow
	for rows.Next() {
		var tok string
		var data []byte
		var ex time.Time
		if err := rows.Scan(&tok, &data, &ex); err != nil {
			t.Fatal(err)
		}
		got = append(got, tvpRow{mssql.VarChar(tok), data, civil.DateTimeOf(ex)})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("got %d rows, want %d", len(got), len(in))
	}
	for i := range in {
		if got[i].Token != in[i].Token || !bytes.Equal(got[i].Data, in[i].Data) || (got[i].Data == nil) != (in[i].Data == nil) || got[i].Expiry != in[i].Expiry {
			t.Errorf("row %d = %+v, want %+v", i, got[i], in[i])
		}
	}
	ps := s.Params()
	if len(ps) != 1 || ps[0].WireType != "TVP [dbo].[sessions_batch]" || ps[0].Name != "@rows" {
		t.Errorf("Params() = %+v", ps)
	}
}

func TestFakeErrors(t *testing.T) {
	_, _, db := openFake(t)
	ctx := testCtx(t)
	tests := []struct {
		name  string
		query string
		args  []any
		want  int32
	}{
		{"batch", "RAISE 2627", nil, 2627},
		{"rpc", "RAISE 515", []any{1}, 515},
		{"syntax", "FROB IT", nil, 102},
		{"unknown procedure", "dbo.nosuchproc", nil, 2812},
		{"too many parameters", "ECHO PARAMS", make([]any, 2099), 8003},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := db.ExecContext(ctx, tt.query, tt.args...)
			var me mssql.Error
			if !errors.As(err, &me) || me.Number != tt.want {
				t.Fatalf("error = %v, want mssql.Error %d", err, tt.want)
			}
		})
	}
	// 2,098 parameters plus the statement and its declarations are 2,100.
	if _, err := db.ExecContext(ctx, "ECHO PARAMS", make([]any, 2098)...); err != nil {
		t.Errorf("2,100 RPC parameters: %v", err)
	}
	// The connection still works.
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestFakeFaults(t *testing.T) {
	s, fe, db := openFake(t)
	ctx := testCtx(t)
	for _, num := range []int32{1205, 1222, 40613, 40501, 40197, 4060, 233, 49918, 10928, 41302, 208, 229, 2715} {
		t.Run(fmt.Sprint(num), func(t *testing.T) {
			s.InjectFault(mssqltest.Fault{Kind: "INSERT", Table: "dbo.sessions", Error: num})
			_, err := db.ExecContext(ctx, "SELECT 1; INSERT sessions", 1)
			var me mssql.Error
			if !errors.As(err, &me) || me.Number != num {
				t.Fatalf("error = %v, want mssql.Error %d", err, num)
			}
			if me.Message == "" || me.Class == 0 {
				t.Errorf("error %d has no message or class: %+v", num, me)
			}
			// The fault was used up: the next statement runs.
			if _, err := db.ExecContext(ctx, "INSERT sessions"); err != nil {
				t.Fatalf("after the fault: %v", err)
			}
		})
	}
	if got := s.FaultsHit(); got != 13 {
		t.Errorf("FaultsHit = %d, want 13", got)
	}

	t.Run("kind and table must match", func(t *testing.T) {
		s.InjectFault(mssqltest.Fault{Kind: "DELETE", Error: 1205})
		s.InjectFault(mssqltest.Fault{Table: "dbo.other", Error: 1205})
		if _, err := db.ExecContext(ctx, "INSERT sessions"); err != nil {
			t.Fatalf("unmatched faults hit: %v", err)
		}
		s.ClearFaults()
	})

	t.Run("times", func(t *testing.T) {
		s.InjectFault(mssqltest.Fault{Kind: "INSERT", Error: 1205, Times: 2})
		for i, want := range []bool{true, true, false} {
			_, err := db.ExecContext(ctx, "INSERT sessions")
			if (err != nil) != want {
				t.Errorf("attempt %d: error = %v, want error %v", i, err, want)
			}
		}
		s.InjectFault(mssqltest.Fault{Kind: "INSERT", Error: 1205, Times: -1})
		for i := 0; i < 3; i++ {
			if _, err := db.ExecContext(ctx, "INSERT sessions"); err == nil {
				t.Errorf("attempt %d: unlimited fault did not hit", i)
			}
		}
		s.ClearFaults()
	})

	t.Run("drop after", func(t *testing.T) {
		before := fe.Rows()
		s.InjectFault(mssqltest.Fault{Kind: "INSERT", DropAfter: true})
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, err = conn.ExecContext(ctx, "INSERT sessions", 1)
		if err == nil {
			t.Fatal("no error from a dropped connection")
		}
		if got := fe.Rows(); got != before+1 {
			t.Errorf("rows = %d, want %d: the statement ran before the drop", got, before+1)
		}
	})

	t.Run("drop before", func(t *testing.T) {
		before := fe.Rows()
		s.InjectFault(mssqltest.Fault{Kind: "INSERT", DropBefore: true})
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "INSERT sessions", 1); err == nil {
			t.Fatal("no error from a dropped connection")
		}
		if got := fe.Rows(); got != before {
			t.Errorf("rows = %d, want %d: the statement must not run", got, before)
		}
	})

	t.Run("stall and deadline", func(t *testing.T) {
		s.ResetCounters()
		s.InjectFault(mssqltest.Fault{Kind: "INSERT", Stall: true})
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := db.ExecContext(short, "INSERT sessions", 1)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error = %v, want context.DeadlineExceeded", err)
		}
		if got := s.Counters().Attentions; got != 1 {
			t.Errorf("Attentions = %d, want 1", got)
		}
		// go-mssqldb discards a connection after a deadline (the error
		// is a net.Error); the pool goes on.
		if err := db.PingContext(ctx); err != nil {
			t.Fatalf("after the deadline: %v", err)
		}
	})

	t.Run("stall and cancel", func(t *testing.T) {
		s.ResetCounters()
		hits := s.FaultsHit()
		s.InjectFault(mssqltest.Fault{Kind: "INSERT", Stall: true})
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			// Cancel once the statement is stalled on the server.
			for s.FaultsHit() == hits && cctx.Err() == nil {
				runtime.Gosched()
			}
			cancel()
		}()
		_, err = conn.ExecContext(cctx, "INSERT sessions", 1)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
		if got := s.Counters().Attentions; got != 1 {
			t.Errorf("Attentions = %d, want 1", got)
		}
		// The same connection answers again.
		var one int
		if err := conn.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("after cancel: %v, %d", err, one)
		}
	})

	t.Run("fatal error closes the connection", func(t *testing.T) {
		s.InjectFault(mssqltest.Fault{Kind: "INSERT", Error: 40501})
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, err = conn.ExecContext(ctx, "INSERT sessions")
		var me mssql.Error
		if !errors.As(err, &me) || me.Number != 40501 || me.Class != 20 {
			t.Fatalf("error = %v, want 40501 class 20", err)
		}
		if _, err := conn.ExecContext(ctx, "SELECT 1"); err == nil {
			t.Error("the connection survived a class 20 error")
		}
	})
}

func TestFakeLatencyCountsRoundTrips(t *testing.T) {
	s, _, db := openFake(t)
	ctx := testCtx(t)
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	s.SetLatency(time.Millisecond)
	s.SetStatementLatency("SELECT", time.Millisecond)
	s.ResetCounters()
	for i := 0; i < 3; i++ {
		if _, err := db.ExecContext(ctx, "SELECT 1; SELECT 1"); err != nil {
			t.Fatal(err)
		}
	}
	c := s.Counters()
	if c.RoundTrips != 3 || c.Statements["SELECT"] != 6 {
		t.Errorf("RoundTrips = %d, SELECT statements = %d; want 3 and 6", c.RoundTrips, c.Statements["SELECT"])
	}
}

func TestFakeResetConnection(t *testing.T) {
	_, fe, db := openFake(t)
	ctx := testCtx(t)
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN TRAN; INSERT sessions"); err != nil {
		t.Fatal(err)
	}
	if got := fe.Rows(); got != 1 {
		t.Fatalf("rows = %d, want 1", got)
	}
	conn.Close() // back to the pool: the next request carries the reset flag
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	if fe.Resets() == 0 || fe.Rows() != 0 {
		t.Errorf("resets = %d, rows = %d; want a reset that rolled the insert back", fe.Resets(), fe.Rows())
	}
}

func TestFakeTransactions(t *testing.T) {
	_, fe, db := openFake(t)
	ctx := testCtx(t)
	for _, commit := range []bool{false, true} {
		t.Run(fmt.Sprintf("commit=%v", commit), func(t *testing.T) {
			before := fe.Rows()
			tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, "INSERT sessions", 1); err != nil {
				t.Fatal(err)
			}
			if commit {
				err = tx.Commit()
			} else {
				err = tx.Rollback()
			}
			if err != nil {
				t.Fatal(err)
			}
			want := before
			if commit {
				want++
			}
			if got := fe.Rows(); got != want {
				t.Errorf("rows = %d, want %d", got, want)
			}
		})
	}
}

func TestFakeConcurrent(t *testing.T) {
	s, _, db := openFake(t)
	ctx := testCtx(t)
	db.SetMaxOpenConns(32)
	errs := make(chan error, 64)
	for i := 0; i < 64; i++ {
		go func(i int) {
			var got string
			err := db.QueryRowContext(ctx, "ECHO PARAMS", strings.Repeat("x", i)).Scan(&got)
			if err == nil && got != strings.Repeat("x", i) {
				err = fmt.Errorf("got %q", got)
			}
			errs <- err
		}(i)
	}
	for i := 0; i < 64; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := len(s.Params()); got != 64 {
		t.Errorf("Params() has %d records, want 64", got)
	}
}
