package tsql

import (
	"context"
	"testing"
	"time"
)

// tod is a TIME value: the time of day on 1900-01-01 (see Type).
func tod(h, m, s, ns int) time.Time { return time.Date(1900, 1, 1, h, m, s, ns, time.UTC) }

// TestTimeType checks TIME(n) against SQL Server's answers: CAST from
// strings (a time alone, or a date and time whose date is dropped),
// rounding half up to the scale with a wrap at midnight, CAST from and to
// the date types (TIME to DATETIME2 is on 1900-01-01; DATE and numbers
// do not convert, 529), text forms, comparisons and incompatible operands (402).
func TestTimeType(t *testing.T) {
	runFuncCases(t, []funcCase{
		{sql: "SELECT CAST('12:34:56.1234567' AS time)", want: tod(12, 34, 56, 123456700)},
		{sql: "SELECT CAST('12:34' AS time)", want: tod(12, 34, 0, 0)},
		{sql: "SELECT CAST('2:05 PM' AS time(0))", want: tod(14, 5, 0, 0)},
		{sql: "SELECT CAST('12:00AM' AS time(0))", want: tod(0, 0, 0, 0)},
		{sql: "SELECT CAST('3PM' AS time(0))", want: tod(15, 0, 0, 0)},
		{sql: "SELECT CAST('2024-05-06 07:08:09.5' AS time(3))", want: tod(7, 8, 9, 500000000)},
		{sql: "SELECT CAST('2024-05-06T07:08:09' AS time)", want: tod(7, 8, 9, 0)},
		// Rounding is half up; 23:59:59.9999999 in TIME(0) wraps to midnight.
		{sql: "SELECT CAST('10:00:00.12345' AS time(4))", want: tod(10, 0, 0, 123500000)},
		{sql: "SELECT CAST('10:00:00.5' AS time(0))", want: tod(10, 0, 1, 0)},
		{sql: "SELECT CAST('23:59:59.9999999' AS time(0))", want: tod(0, 0, 0, 0)},
		{sql: "SELECT CAST('24:00' AS time)", wantErr: 241},
		{sql: "SELECT CAST('12:60' AS time)", wantErr: 241},
		{sql: "SELECT CAST('13:00 PM' AS time)", wantErr: 241},
		{sql: "SELECT CAST('x' AS time)", wantErr: 241},
		{sql: "SELECT CAST('12' AS time)", wantErr: 241},
		{sql: "SELECT CAST('10:00:00.12345678' AS time)", wantErr: 241},
		// SQL Server reads a fraction after a colon as milliseconds; refused.
		{sql: "SELECT CAST('14:30:20:999' AS time)", wantErr: 40517},
		// From and to the date types.
		{sql: "SELECT CAST(CAST('2024-05-06 07:08:09.1234567' AS datetime2) AS time(2))", want: tod(7, 8, 9, 120000000)},
		{sql: "SELECT CAST(CAST('2024-05-06 07:08:09 +05:00' AS datetimeoffset) AS time)", want: tod(7, 8, 9, 0)},
		{sql: "SELECT CAST(CAST('2024-05-06 07:08:09.997' AS datetime) AS time(3))", want: tod(7, 8, 9, 997000000)},
		{sql: "SELECT CAST(CAST('07:08:09.1234567' AS time) AS datetime2)", want: tod(7, 8, 9, 123456700)},
		{sql: "SELECT CAST(CAST('07:08:09.002' AS time) AS datetime)", want: tod(7, 8, 9, 3333300)},
		{sql: "SELECT CAST(CAST('07:08' AS time) AS date)", wantErr: 529},
		{sql: "SELECT CAST(CAST('2024-05-06' AS date) AS time)", wantErr: 529},
		{sql: "SELECT CAST(1 AS time)", wantErr: 529},
		{sql: "SELECT CAST(CAST('07:08' AS time) AS int)", wantErr: 529},
		{sql: "SELECT CAST(CAST('07:08' AS time) AS float)", wantErr: 529},
		{sql: "SELECT CAST(0x01 AS time)", wantErr: 40517},
		// Text: hh:mm:ss and the scale's digits.
		{sql: "SELECT CAST(CAST('07:08:09.5' AS time) AS varchar(30))", want: "07:08:09.5000000"},
		{sql: "SELECT CAST(CAST('07:08:09.5' AS time(3)) AS varchar(30))", want: "07:08:09.500"},
		{sql: "SELECT CAST(CAST('07:08:09.5' AS time(0)) AS nvarchar(30))", want: "07:08:10"},
		{sql: "SELECT CONVERT(varchar(8), CAST('17:08:09' AS time(0)))", want: "17:08:09"},
		// Comparisons, with strings converted to TIME and TIME to DATETIME2.
		{sql: "SELECT CASE WHEN CAST('10:00' AS time) < '10:00:00.0000001' THEN 1 ELSE 0 END", want: int64(1)},
		{sql: "SELECT CASE WHEN CAST('10:00' AS time) = '10:00:00' THEN 1 ELSE 0 END", want: int64(1)},
		{sql: "SELECT CASE WHEN CAST('10:00' AS time(0)) > CAST('09:59:59.9999999' AS time(7)) THEN 1 ELSE 0 END", want: int64(1)},
		{sql: "SELECT CASE WHEN CAST('10:00' AS time) = CAST('1900-01-01 10:00' AS datetime2) THEN 1 ELSE 0 END", want: int64(1)},
		{sql: "SELECT CASE WHEN CAST('10:00' AS time) = CAST('2024-01-01 10:00' AS datetime2) THEN 1 ELSE 0 END", want: int64(0)},
		{sql: "SELECT CASE WHEN CAST('10:00' AS time) = 1 THEN 1 ELSE 0 END", wantErr: 402},
		{sql: "SELECT CASE WHEN CAST('10:00' AS time) = CAST('2024-01-01' AS date) THEN 1 ELSE 0 END", wantErr: 402},
		{sql: "SELECT DATALENGTH(CAST('10:00' AS time(2)))", want: int64(3)},
		{sql: "SELECT DATALENGTH(CAST('10:00' AS time))", want: int64(5)},
	})
}

// TestTimeColumn stores TIME values, orders by them and reads the
// column's facets from the catalog (SQL Server: time(3) has max_length 4,
// precision 12, scale 3).
func TestTimeColumn(t *testing.T) {
	s := funcFixture(t)
	mustExec(t, s, "CREATE TABLE tt (id int PRIMARY KEY, t time(3) NOT NULL)")
	mustExec(t, s, "INSERT INTO tt VALUES (1, '23:00'), (2, '01:02:03.4567'), (3, '12:00')")
	res := mustExec(t, s, "SELECT id, t FROM tt WHERE t > '01:02:03.456' ORDER BY t")
	rows := res[len(res)-1].Rows
	want := []time.Time{tod(1, 2, 3, 457000000), tod(12, 0, 0, 0), tod(23, 0, 0, 0)}
	if len(rows) != len(want) {
		t.Fatalf("got %d rows, want %d", len(rows), len(want))
	}
	for i, r := range rows {
		if g, ok := r[1].(time.Time); !ok || !g.Equal(want[i]) {
			t.Errorf("row %d: got %v, want %v", i, r[1], want[i])
		}
	}
	res = mustExec(t, s, "SELECT max_length, precision, scale FROM sys.columns WHERE object_id = OBJECT_ID('tt') AND name = 't'")
	if got := res[len(res)-1].Rows[0]; got[0] != int64(4) || got[1] != int64(12) || got[2] != int64(3) {
		t.Errorf("sys.columns: got %v, want [4 12 3]", got)
	}
	res, err := s.Exec(context.Background(), "DECLARE @t time(8)", nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := firstErr(res); e == nil || e.Number != 1002 {
		t.Errorf("time(8): got %v, want error 1002", e)
	}
}

// TestConvertDateStyles checks CONVERT's date styles against SQL Server:
// 121 is yyyy-mm-dd hh:mi:ss.mmm for DATETIME and the default text of the
// other date types, 120 drops the fraction; the styles the engine does
// not model are refused (40517), never answered in the default style.
func TestConvertDateStyles(t *testing.T) {
	runFuncCases(t, []funcCase{
		{sql: "SELECT CONVERT(nvarchar(200), CAST('2006-01-02 22:04:05' AS datetime), 121)", want: "2006-01-02 22:04:05.000"},
		{sql: "SELECT CONVERT(varchar(30), CAST('2006-01-02 22:04:05.997' AS datetime), 21)", want: "2006-01-02 22:04:05.997"},
		{sql: "SELECT CONVERT(nvarchar(200), CAST('2006-01-02 22:04:05' AS datetime2), 121)", want: "2006-01-02 22:04:05.0000000"},
		{sql: "SELECT CONVERT(nvarchar(200), CAST('2006-01-02' AS date), 121)", want: "2006-01-02"},
		{sql: "SELECT CONVERT(nvarchar(200), CAST('22:04:05' AS time), 121)", want: "22:04:05.0000000"},
		{sql: "SELECT CONVERT(nvarchar(200), CAST('2006-01-02 22:04:05 -07:00' AS datetimeoffset), 121)", want: "2006-01-02 22:04:05.0000000 -07:00"},
		{sql: "SELECT CONVERT(varchar(30), CAST('2006-01-02 22:04:05.5' AS datetime2), 120)", want: "2006-01-02 22:04:05"},
		{sql: "SELECT CONVERT(varchar(30), CAST('2006-01-02 22:04:05' AS datetime), 120)", want: "2006-01-02 22:04:05"},
		{sql: "SELECT CONVERT(varchar(30), CAST('2006-01-02 22:04:05' AS datetime), 0)", want: "Jan  2 2006 10:04PM"},
		{sql: "SELECT CONVERT(varchar(30), CAST('2006-01-02 22:04:05' AS datetime), 126)", wantErr: 40517},
		{sql: "SELECT CONVERT(varchar(30), CAST('22:04:05' AS time), 120)", wantErr: 40517},
		{sql: "SELECT CONVERT(varchar(30), CAST('2006-01-02' AS date), 23)", wantErr: 40517},
		// SERVERPROPERTY is a SQL Server function this engine does not
		// model: refused, not called unknown (195).
		{sql: "SELECT SERVERPROPERTY('Edition')", wantErr: 40517},
	})
}

// TestGUIDType checks UNIQUEIDENTIFIER against SQL Server's answers: the
// text form (upper case, braces accepted, characters past 36 ignored as
// its documentation shows), 8169 for other text, the mixed-endian bytes
// of CAST AS binary(16), 8170 for a string too short for the text, and
// SQL Server's comparison order (the last six bytes first).
func TestGUIDType(t *testing.T) {
	const g = "6F9619FF-8B86-D011-B42D-00C04FC964FF"
	runFuncCases(t, []funcCase{
		{sql: "SELECT CAST(CAST('6f9619ff-8b86-d011-b42d-00c04fc964ff' AS uniqueidentifier) AS varchar(36))", want: g},
		{sql: "SELECT CAST(CAST('{" + g + "}' AS uniqueidentifier) AS nvarchar(40))", want: g},
		{sql: "SELECT CAST(CAST('" + g + "wrong' AS uniqueidentifier) AS char(36))", want: g},
		{sql: "SELECT CAST(CAST('" + g + "' AS uniqueidentifier) AS binary(16))", want: []byte{0xFF, 0x19, 0x96, 0x6F, 0x86, 0x8B, 0x11, 0xD0, 0xB4, 0x2D, 0x00, 0xC0, 0x4F, 0xC9, 0x64, 0xFF}},
		{sql: "SELECT CAST(CAST(0xFF19966F868B11D0B42D00C04FC964FF AS uniqueidentifier) AS varchar(36))", want: g},
		{sql: "SELECT CAST('6F9619FF-8B86-D011-B42D-00C04FC964F' AS uniqueidentifier)", wantErr: 8169},
		{sql: "SELECT CAST('x' AS uniqueidentifier)", wantErr: 8169},
		{sql: "SELECT CAST(CAST('" + g + "' AS uniqueidentifier) AS varchar(10))", wantErr: 8170},
		{sql: "SELECT CAST(1 AS uniqueidentifier)", wantErr: 529},
		{sql: "SELECT CAST(CAST('" + g + "' AS uniqueidentifier) AS int)", wantErr: 529},
		{sql: "SELECT DATALENGTH(CAST('" + g + "' AS uniqueidentifier))", want: int64(16)},
		{sql: "SELECT CASE WHEN CAST('" + g + "' AS uniqueidentifier) = '" + g + "' THEN 1 ELSE 0 END", want: int64(1)},
		{sql: "SELECT CASE WHEN CAST('" + g + "' AS uniqueidentifier) = 1 THEN 1 ELSE 0 END", wantErr: 402},
		// The last group is compared first: 01000000-... is greater than
		// FF000000-...-000000000000 because its last group is larger.
		{sql: "SELECT CASE WHEN CAST('01000000-0000-0000-0000-000000000001' AS uniqueidentifier) > CAST('FF000000-0000-0000-0000-000000000000' AS uniqueidentifier) THEN 1 ELSE 0 END", want: int64(1)},
		{sql: "SELECT CASE WHEN CAST('00000000-0000-0000-0100-000000000000' AS uniqueidentifier) > CAST('00000000-0000-0000-00FF-000000000000' AS uniqueidentifier) THEN 1 ELSE 0 END", want: int64(1)},
		{sql: "SELECT CASE WHEN CAST('00000000-0000-0001-0000-000000000000' AS uniqueidentifier) > CAST('00000000-FFFF-0000-0000-000000000000' AS uniqueidentifier) THEN 1 ELSE 0 END", want: int64(1)},
		{sql: "SELECT CASE WHEN CAST('00000001-0000-0000-0000-000000000000' AS uniqueidentifier) < CAST('00000000-0001-0000-0000-000000000000' AS uniqueidentifier) THEN 1 ELSE 0 END", want: int64(1)},
		{sql: "SELECT NEWID()", wantErr: 40517},
	})
}
