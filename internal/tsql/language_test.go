package tsql

import (
	"context"
	"strings"
	"testing"
	"time"
)

// SET LANGUAGE, @@LANGUAGE and the date strings each language reads, as
// SQL Server answers them (sys.syslanguages: us_english mdy, Russian dmy
// with its own month names).
func TestLanguage(t *testing.T) {
	day := func(y int, m time.Month, d, h, mi int) time.Time { return time.Date(y, m, d, h, mi, 0, 0, time.UTC) }
	tests := []struct {
		name, sql string
		want      any
		wantErr   int32
		named     string // what a 40517 names
	}{
		{name: "login default", sql: "SELECT @@LANGUAGE", want: "us_english"},
		{name: "alias Russian", sql: "SET LANGUAGE Russian; SELECT @@LANGUAGE", want: "русский"},
		{name: "name русский", sql: "SET LANGUAGE N'русский'; SELECT @@LANGUAGE", want: "русский"},
		{name: "case-insensitive, back to English", sql: "SET LANGUAGE rUSSIAN; SET LANGUAGE english; SELECT @@LANGUAGE", want: "us_english"},
		{name: "unmodelled language", sql: "SET LANGUAGE Deutsch", wantErr: 40517, named: "SET LANGUAGE Deutsch"},
		{name: "unknown language", sql: "SET LANGUAGE Klingon; SELECT 1", wantErr: 40517, named: "SET LANGUAGE Klingon"},
		{name: "language in a variable", sql: "DECLARE @l sysname = N'Russian'; SET LANGUAGE @l", wantErr: 40517, named: "SET LANGUAGE @variable"},
		{name: "DATEFORMAT in a variable", sql: "DECLARE @f char(3) = 'dmy'; SET DATEFORMAT @f", wantErr: 40517, named: "SET DATEFORMAT @variable"},

		// The driver's TestSetLanguage.
		{name: "Russian short month", sql: "SET LANGUAGE Russian; SELECT CAST(N'июл 19 2021  8:12PM' AS datetime)", want: day(2021, 7, 19, 20, 12)},
		{name: "Russian full month", sql: "SET LANGUAGE Russian; SELECT CAST(N'19 сентябрь 2021' AS date)", want: day(2021, 9, 19, 0, 0)},
		{name: "май is both forms", sql: "SET LANGUAGE Russian; SELECT CAST(N'май 1, 2021' AS date)", want: day(2021, 5, 1, 0, 0)},
		{name: "upper case Russian", sql: "SET LANGUAGE Russian; SELECT CAST(N'1 ДЕК 2021' AS date)", want: day(2021, 12, 1, 0, 0)},
		{name: "English month under Russian", sql: "SET LANGUAGE Russian; SELECT CAST('Jul 19 2021' AS datetime)", wantErr: 241},
		{name: "Russian month under us_english", sql: "SELECT CAST(N'июл 19 2021' AS datetime)", wantErr: 241},

		// The numeric order the language implies.
		{name: "Russian reads dmy", sql: "SET LANGUAGE Russian; SELECT CAST('19.07.2021' AS date)", want: day(2021, 7, 19, 0, 0)},
		{name: "Russian refuses mdy", sql: "SET LANGUAGE Russian; SELECT CAST('07/19/2021' AS date)", wantErr: 241},
		{name: "us_english refuses dmy", sql: "SELECT CAST('19/07/2021' AS date)", wantErr: 241},
		{name: "dmy DATETIME reads yyyy-mm-dd as ydm", sql: "SET LANGUAGE Russian; SELECT CAST('2021-07-12' AS datetime)", want: day(2021, 12, 7, 0, 0)},
		{name: "dmy DATETIME with the ISO T", sql: "SET LANGUAGE Russian; SELECT CAST('2021-07-12T10:00:00' AS datetime)", want: day(2021, 7, 12, 10, 0)},
		{name: "dmy DATE keeps ymd", sql: "SET LANGUAGE Russian; SELECT CAST('2021-07-12' AS date)", want: day(2021, 7, 12, 0, 0)},
		// A well-formed string whose month or day is out of range is 242
		// for DATETIME, 241 for the other types.
		{name: "dmy DATETIME out of range", sql: "SET LANGUAGE Russian; SELECT CAST('2021-07-19' AS datetime)", wantErr: 242},
		{name: "mdy DATETIME out of range", sql: "SELECT CAST('13/31/2006' AS datetime)", wantErr: 242},
		{name: "not a leap year", sql: "SELECT CAST('02/29/2006' AS datetime)", wantErr: 242},
		{name: "mdy DATE out of range", sql: "SELECT CAST('13/31/2006' AS date)", wantErr: 241},
		{name: "malformed DATETIME", sql: "SELECT CAST('2006 x 1' AS datetime)", wantErr: 241},
		{name: "DATEFORMAT dmy keeps English names", sql: "SET DATEFORMAT dmy; SELECT CAST('19/07/2021 Jul' AS date)", wantErr: 241},
		{name: "DATEFORMAT dmy under us_english", sql: "SET DATEFORMAT dmy; SELECT CAST('19/07/2021' AS date)", want: day(2021, 7, 19, 0, 0)},
		{name: "DATEFORMAT mdy under Russian", sql: "SET LANGUAGE Russian; SET DATEFORMAT mdy; SELECT CAST(N'07/19/2021' AS date)", want: day(2021, 7, 19, 0, 0)},
		{name: "SET LANGUAGE resets DATEFORMAT", sql: "SET DATEFORMAT dmy; SET LANGUAGE us_english; SELECT CAST('07/19/2021' AS date)", want: day(2021, 7, 19, 0, 0)},

		// DATETIME to string, style 0, names the month in the language.
		{name: "style 0 in Russian", sql: "SET LANGUAGE Russian; SELECT CAST(CAST('2021-07-19T20:12:00' AS datetime) AS nvarchar(30))", want: "июл 19 2021  8:12PM"},
		{name: "CONCAT in Russian", sql: "SET LANGUAGE Russian; SELECT CONCAT(CAST('2021-05-01T09:00:00' AS datetime), N'!')", want: "май  1 2021  9:00AM!"},

		// Implicit conversions read the language too.
		{name: "comparison", sql: "SET LANGUAGE Russian; DECLARE @d date = '2021-07-19'; SELECT CASE WHEN @d = N'19.07.2021' THEN 1 ELSE 0 END", want: int64(1)},
		{name: "variable assignment", sql: "SET LANGUAGE Russian; DECLARE @d datetime; SET @d = N'19 июл 2021'; SELECT @d", want: day(2021, 7, 19, 0, 0)},
		{name: "column assignment", sql: "SET LANGUAGE Russian; CREATE TABLE dbo.d (d date); INSERT dbo.d VALUES (N'19.07.2021'); SELECT d FROM dbo.d", want: day(2021, 7, 19, 0, 0)},
		{name: "DATEADD's argument", sql: "SET LANGUAGE Russian; SELECT DATEADD(day, 1, N'19.07.2021')", want: day(2021, 7, 20, 0, 0)},
		{name: "MAX over strings stays a string", sql: "SET LANGUAGE Russian; SELECT MAX(x) FROM (VALUES (N'янв'), (N'фев')) v(x)", want: "янв"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newTestDB(t)
			s := owner(db)
			defer s.Close()
			if tt.wantErr != 0 {
				res, err := s.Exec(context.Background(), tt.sql, nil)
				if err != nil {
					t.Fatal(err)
				}
				e := firstErr(res)
				if e == nil || e.Number != tt.wantErr || !strings.Contains(e.Message, tt.named) {
					t.Fatalf("%s: error %v, want %d naming %q", tt.sql, e, tt.wantErr, tt.named)
				}
				return
			}
			got := scalar(t, s, tt.sql)
			if w, ok := tt.want.(time.Time); ok {
				if g, ok := got.(time.Time); !ok || !g.Equal(w) {
					t.Fatalf("%s = %v, want %v", tt.sql, got, w)
				}
				return
			}
			if got != tt.want {
				t.Fatalf("%s = %v (%T), want %v", tt.sql, got, got, tt.want)
			}
		})
	}
}

// SET LANGUAGE says what it changed, as SQL Server does, with message
// 5703 naming the language by its sys.syslanguages name.
func TestSetLanguageMessage(t *testing.T) {
	db := newTestDB(t)
	s := owner(db)
	defer s.Close()
	res := mustExec(t, s, "SET LANGUAGE Russian")
	if len(res) != 1 || len(res[0].Messages) != 1 {
		t.Fatalf("results %+v, want one message", res)
	}
	m := res[0].Messages[0]
	if m.Number != 5703 || m.Class != 0 || m.Message != "Changed language setting to русский." {
		t.Fatalf("message %+v, want 5703 'Changed language setting to русский.'", m)
	}
}

// sp_reset_connection (Session.Reset) restores the login's language and
// its DATEFORMAT.
func TestResetRestoresLanguage(t *testing.T) {
	for _, set := range []string{"SET LANGUAGE Russian", "SET DATEFORMAT dmy"} {
		t.Run(set, func(t *testing.T) {
			db := newTestDB(t)
			s := owner(db)
			defer s.Close()
			mustExec(t, s, set)
			if n := errNumber(t, s, "SELECT CAST('07/19/2021' AS date)"); n != 241 {
				t.Fatalf("before Reset: error %d, want 241 (dmy)", n)
			}
			s.Reset()
			if got := scalar(t, s, "SELECT @@LANGUAGE"); got != "us_english" {
				t.Fatalf("@@LANGUAGE after Reset = %v, want us_english", got)
			}
			got := scalar(t, s, "SELECT CAST('07/19/2021' AS date)")
			if g, ok := got.(time.Time); !ok || !g.Equal(time.Date(2021, 7, 19, 0, 0, 0, 0, time.UTC)) {
				t.Fatalf("after Reset: %v, want 2021-07-19 (mdy)", got)
			}
		})
	}
}

// A conversion compiled without the session's date style refuses rather
// than answering in us_english.
func TestConvertWithoutLanguage(t *testing.T) {
	_, err := convert(dateStyle{}, "Jul 19 2021", Type{ID: TypeVarChar, Length: 20}, Type{ID: TypeDateTime})
	if e := asError(err); e == nil || e.Number != 40517 || !strings.Contains(e.Message, "language") {
		t.Fatalf("convert without a date style: %v, want 40517", err)
	}
	v, err := convert(dateStyle{}, "12", Type{ID: TypeVarChar, Length: 20}, Type{ID: TypeInt})
	if err != nil || v != int64(12) {
		t.Fatalf("convert to int without a date style = %v, %v; want 12", v, err)
	}
}
