package tsql

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestOptions(t *testing.T) {
	tests := []struct {
		name, sql string
		want      any
	}{
		{"defaults of an ODBC login", "SELECT @@OPTIONS", int64(5432)},
		{"ARITHABORT is 64", "SET ARITHABORT ON; SELECT @@OPTIONS & 64", int64(64)},
		{"ARITHIGNORE is 128", "SET ARITHIGNORE ON; SELECT @@OPTIONS & 128", int64(128)},
		{"the driver's SessionInitSQL", "SET XACT_ABORT ON; SET ANSI_NULLS ON; SET ARITHIGNORE ON; SELECT @@OPTIONS & (16384 | 128 | 32)", int64(16384 | 128 | 32)},
		{"QUOTED_IDENTIFIER, ANSI_PADDING, CONCAT_NULL_YIELDS_NULL", "SELECT @@OPTIONS & (256 | 16 | 4096)", int64(256 | 16 | 4096)},
		{"NOCOUNT", "SET NOCOUNT ON; SELECT @@OPTIONS & 512", int64(512)},
		{"ARITHABORT OFF again", "SET ARITHABORT ON; SET ARITHABORT OFF; SELECT @@OPTIONS & 64", int64(0)},
		{"LANGUAGE us_english", "SET LANGUAGE us_english; SELECT @@LANGUAGE", "us_english"},
		{"LOCK_TIMEOUT", "SET LOCK_TIMEOUT 1500; SELECT @@LOCK_TIMEOUT", int64(1500)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newTestDB(t)
			s := owner(db)
			defer s.Close()
			if got := scalar(t, s, tt.sql); got != tt.want {
				t.Fatalf("%s = %v (%T), want %v", tt.sql, got, got, tt.want)
			}
		})
	}
}

// Options whose other setting the engine does not model are refused, not
// accepted and ignored.
func TestOptionsRefused(t *testing.T) {
	for _, sql := range []string{
		"SET ANSI_NULLS OFF", "SET CONCAT_NULL_YIELDS_NULL OFF", "SET QUOTED_IDENTIFIER OFF",
		"SET ANSI_WARNINGS OFF", "SET ANSI_PADDING OFF", "SET LANGUAGE Deutsch", "SET LANGUAGE Français", "SET DATEFORMAT ydm", "SET DATEFORMAT ymd",
		"SET TEXTSIZE 100", "SET DATEFIRST 1", "SET ANSI_DEFAULTS ON", "SET NUMERIC_ROUNDABORT ON",
		"SET TRANSACTION ISOLATION LEVEL SNAPSHOT",
	} {
		t.Run(sql, func(t *testing.T) {
			db := newTestDB(t)
			s := owner(db)
			defer s.Close()
			res, err := s.Exec(context.Background(), sql+"; SELECT @@OPTIONS", nil)
			if err != nil {
				t.Fatal(err)
			}
			e := firstErr(res)
			if e == nil || e.Number != 40517 || !strings.Contains(e.Message, strings.TrimPrefix(sql, "SET ")) {
				t.Fatalf("%s: error %v, want 40517 naming it", sql, e)
			}
		})
	}
}

func TestResetRestoresOptions(t *testing.T) {
	db := newTestDB(t)
	s := owner(db)
	defer s.Close()
	mustExec(t, s, "SET ARITHIGNORE ON; SET LOCK_TIMEOUT 5; SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
	s.Reset()
	if got := scalar(t, s, "SELECT @@OPTIONS + @@LOCK_TIMEOUT"); got != int64(5432-1) {
		t.Fatalf("after reset: %v, want 5431", got)
	}
	if s.isolation != isoReadCommitted {
		t.Fatalf("after reset: isolation %d, want READ COMMITTED", s.isolation)
	}
}

func TestPrintSendsMessage(t *testing.T) {
	db := newTestDB(t)
	s := owner(db)
	defer s.Close()
	res := mustExec(t, s, "PRINT 'msg1'; SELECT 100 AS c; PRINT 42; PRINT NULL")
	if len(res) != 4 {
		t.Fatalf("%d results, want 4", len(res))
	}
	for i, want := range map[int]string{0: "msg1", 2: "42", 3: ""} {
		m := res[i].Messages
		if len(m) != 1 || m[0].Message != want || m[0].Class != 0 || m[0].Number != 0 {
			t.Errorf("result %d messages %+v, want one class-0 message %q", i, m, want)
		}
	}
	if len(res[1].Messages) != 0 {
		t.Errorf("SELECT carries messages %+v", res[1].Messages)
	}
}

func TestRealAndDatetimeConversions(t *testing.T) {
	tests := []struct {
		sql  string
		want any
		typ  TypeID
	}{
		{"SELECT CAST(0.1 AS real)", 0.10000000149011612, TypeReal},
		{"SELECT CAST(0.1 AS float(24))", 0.10000000149011612, TypeReal},
		{"SELECT CAST(0.1 AS float)", 0.1, TypeFloat},
		{"SELECT CAST(0.1 AS real) * 3", float64(float32(0.1) * 3), TypeReal},
		{"SELECT CAST(0.1 AS real) + CAST(0.1 AS float)", 0.10000000149011612 + 0.1, TypeFloat},
		{"SELECT CAST(1 AS datetime)", time.Date(1900, 1, 2, 0, 0, 0, 0, time.UTC), TypeDateTime},
		{"SELECT CAST(1.5E0 AS datetime)", time.Date(1900, 1, 2, 12, 0, 0, 0, time.UTC), TypeDateTime},
		{"SELECT CAST(-1 AS datetime)", time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC), TypeDateTime},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			db := newTestDB(t)
			s := owner(db)
			defer s.Close()
			res := mustExec(t, s, tt.sql)
			got := res[0].Rows[0][0]
			if tm, ok := got.(time.Time); ok {
				if !tm.Equal(tt.want.(time.Time)) {
					t.Fatalf("got %v, want %v", tm, tt.want)
				}
			} else if got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			if id := res[0].Columns[0].Type.ID; id != tt.typ {
				t.Fatalf("type %d, want %d", id, tt.typ)
			}
		})
	}
	db := newTestDB(t)
	s := owner(db)
	defer s.Close()
	mustExec(t, s, "CREATE TABLE r (v real)")
	mustExec(t, s, "INSERT INTO r VALUES (0.1)")
	if got := scalar(t, s, "SELECT v FROM r"); got != 0.10000000149011612 {
		t.Fatalf("REAL column keeps %v, want single precision", got)
	}
	if n := errNumber(t, s, "SELECT CAST(1 AS datetime2)"); n != 529 {
		t.Fatalf("CAST(1 AS datetime2): %d, want 529", n)
	}
}

func TestNullablePrimaryKeyErrors(t *testing.T) {
	db := newTestDB(t)
	s := owner(db)
	defer s.Close()
	res, err := s.Exec(context.Background(), "CREATE TABLE t (c int NULL PRIMARY KEY)", nil)
	if err != nil {
		t.Fatal(err)
	}
	e := firstErr(res)
	if e == nil || e.Number != 1750 || len(e.Preceding) != 1 || e.Preceding[0].Number != 8111 {
		t.Fatalf("error %+v, want 8111 then 1750", e)
	}
}

func TestWaitfor(t *testing.T) {
	db := newTestDB(t)
	s := owner(db)
	defer s.Close()
	if got := scalar(t, s, "WAITFOR DELAY '00:00:00.001'; SELECT 7"); got != int64(7) {
		t.Fatalf("after WAITFOR: %v", got)
	}
	if n := errNumber(t, s, "WAITFOR DELAY '25:00'"); n != 148 {
		t.Fatalf("WAITFOR DELAY '25:00': %d, want 148", n)
	}
	// A cancelled batch stops waiting: the context ends the wait, not the
	// delay (which is a day).
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.Exec(ctx, "WAITFOR DELAY '23:59:59'; SELECT 1", nil)
		done <- err
	}()
	cancel()
	if err := <-done; err == nil {
		t.Fatal("cancelled WAITFOR returned no error")
	}
}

func TestUSEnglishDateStrings(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"12/31/2008", time.Date(2008, 12, 31, 0, 0, 0, 0, time.UTC)},
		{"1-2-2008 13:14:15", time.Date(2008, 1, 2, 13, 14, 15, 0, time.UTC)},
		{"Jul 19 2021  8:12PM", time.Date(2021, 7, 19, 20, 12, 0, 0, time.UTC)},
		{"july 19, 2021", time.Date(2021, 7, 19, 0, 0, 0, 0, time.UTC)},
		{"19 Jul 2021 08:12 am", time.Date(2021, 7, 19, 8, 12, 0, 0, time.UTC)},
		{"12/31/49", time.Date(2049, 12, 31, 0, 0, 0, 0, time.UTC)},
		{"12/31/50", time.Date(1950, 12, 31, 0, 0, 0, 0, time.UTC)},
		{"2008-12-31", time.Date(2008, 12, 31, 0, 0, 0, 0, time.UTC)},
	}
	db := newTestDB(t)
	s := owner(db)
	defer s.Close()
	for _, tt := range tests {
		got := scalar(t, s, "SELECT CAST('"+tt.in+"' AS datetime2)")
		if tm, ok := got.(time.Time); !ok || !tm.Equal(tt.want) {
			t.Errorf("CAST('%s' AS datetime2) = %v, want %v", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"31/12/2008", "13/01/2008", "Foo 1 2008"} {
		if n := errNumber(t, s, "SELECT CAST('"+bad+"' AS datetime2)"); n != 241 {
			t.Errorf("CAST('%s' AS datetime2): %d, want 241", bad, n)
		}
	}
}

// Constructs SQL Server has and the engine does not are refused with
// 40517 naming them, not reported with a number that blames the caller.
func TestRefusalsNameTheConstruct(t *testing.T) {
	tests := []struct{ sql, construct string }{
		{"SELECT 'a' COLLATE French_CI_AI", "collation French_CI_AI"},
		{"CREATE TABLE c (v varchar(10) COLLATE Thai_CI_AI)", "collation Thai_CI_AI"},
		{"SELECT * FROM sys.dm_exec_connections", "system view sys.dm_exec_connections"},
		{"SELECT @@MICROSOFTVERSION", "@@MICROSOFTVERSION"},
		{"EXEC sp_databases", "EXEC sp_databases"},
		{"SELECT geometry::STGeomFromText('POINT (1 1)', 0)", "geometry::STGeomFromText"},
		{"SELECT hierarchyid::GetRoot()", "hierarchyid::GetRoot"},
	}
	db := newTestDB(t)
	s := owner(db)
	defer s.Close()
	for _, tt := range tests {
		res, err := s.Exec(context.Background(), tt.sql, nil)
		if err != nil {
			t.Fatal(err)
		}
		e := firstErr(res)
		if e == nil || e.Number != 40517 || !strings.Contains(e.Message, "'"+tt.construct+"'") {
			t.Errorf("%s: %v, want 40517 naming %q", tt.sql, e, tt.construct)
		}
	}
	// What SQL Server itself rejects keeps its own number.
	for sql, want := range map[string]int32{
		"SELECT 'a' COLLATE NoSuchThing": 448,
		"SELECT * FROM sys_nothing":      208,
		"SELECT @@NOSUCHGLOBAL":          137,
		"EXEC sp_nope":                   2812,
	} {
		if n := errNumber(t, s, sql); n != want {
			t.Errorf("%s: %d, want %d", sql, n, want)
		}
	}
}

func TestRaiserror(t *testing.T) {
	db := newTestDB(t)
	s := owner(db)
	defer s.Close()
	res, err := s.Exec(context.Background(), "SET XACT_ABORT ON; BEGIN TRANSACTION; RAISERROR('info %s %d', 10, 2, N'x', 7); RAISERROR('test message', 18, 111); SELECT @@ERROR, @@TRANCOUNT", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 5 {
		t.Fatalf("%d results, want 5 (the batch goes on)", len(res))
	}
	if m := res[2].Messages; len(m) != 1 || m[0].Message != "info x 7" || m[0].Class != 10 || m[0].State != 2 || m[0].Number != 50000 {
		t.Fatalf("severity 10: messages %+v", m)
	}
	if e := res[3].Err; e == nil || e.Number != 50000 || e.Class != 18 || e.State != 111 || e.Message != "test message" {
		t.Fatalf("severity 18: %+v", e)
	}
	// RAISERROR ignores XACT_ABORT: the transaction stays open.
	if got := res[4].Rows[0]; got[0] != int64(50000) || got[1] != int64(1) {
		t.Fatalf("@@ERROR, @@TRANCOUNT = %v, want 50000, 1", got)
	}
	if n := errNumber(t, s, "RAISERROR('x', 20, 1)"); n != 2754 {
		t.Fatalf("severity 20 without LOG: %d, want 2754", n)
	}
	for sql, construct := range map[string]string{
		"RAISERROR('fatal', 20, 1) WITH LOG": "RAISERROR WITH LOG",
		"RAISERROR(13000, 1, 1)":             "RAISERROR with a message number",
	} {
		res, _ := s.Exec(context.Background(), sql, nil)
		if e := firstErr(res); e == nil || e.Number != 40517 || !strings.Contains(e.Message, construct) {
			t.Errorf("%s: %v, want 40517 naming %q", sql, e, construct)
		}
	}
}
