package tsql

import (
	"context"
	"testing"
)

// TEXT, NTEXT and IMAGE: they convert to and from the character and
// binary types, and SQL Server neither compares, sorts nor groups them.
func TestLOBTypes(t *testing.T) {
	runFuncCases(t, []funcCase{
		{sql: "SELECT CAST('abc' AS text)", want: "abc"},
		{sql: "SELECT CAST(N'ab€' AS ntext)", want: "ab€"},
		{sql: "SELECT CAST('abc' AS image)", want: []byte("abc")},
		{sql: "SELECT CAST(0x1234 AS image)", want: []byte{0x12, 0x34}},
		{sql: "SELECT CAST(CAST('abcdef' AS text) AS varchar(3))", want: "abc"},
		{sql: "SELECT CAST(CAST(0x1234 AS image) AS varbinary(1))", want: []byte{0x12}},
		{sql: "SELECT DATALENGTH(CAST(N'ab' AS ntext))", want: int64(4)},
		{sql: "SELECT CASE WHEN CAST('abc' AS text) LIKE 'a%' THEN 1 ELSE 0 END", want: int64(1)},
		{sql: "SELECT CASE WHEN CAST(NULL AS text) IS NULL THEN 1 ELSE 0 END", want: int64(1)},
		{sql: "SELECT CAST(1 AS text)", wantErr: 529},
		{sql: "SELECT CAST(CAST('1' AS text) AS int)", wantErr: 529},
		{sql: "SELECT CAST(CAST(0x31 AS image) AS varchar(10))", wantErr: 40517},
		{sql: "SELECT CASE WHEN CAST('abc' AS text) = 'abc' THEN 1 ELSE 0 END", wantErr: 402},
		{sql: "SELECT CAST('a' AS text) + 'b'", wantErr: 402},
		{sql: "SELECT MAX(CAST(s AS text)) FROM nums", wantErr: 8117},
		{sql: "SELECT COUNT(CAST(s AS text)) FROM nums", want: int64(2)},
		{sql: "SELECT CAST(s AS text) FROM nums ORDER BY 1", wantErr: 306},
		{sql: "SELECT COUNT(*) FROM nums GROUP BY CAST(s AS ntext)", wantErr: 306},
		{sql: "SELECT DISTINCT CAST(s AS image) FROM nums", wantErr: 421},
		{sql: "DECLARE @t text", wantErr: 2739},
		{sql: "SELECT UPPER(CAST('a' AS text))", wantErr: 40517},
		{sql: "SELECT LEN(CAST('a' AS ntext))", wantErr: 40517},
		{sql: "SELECT ISNULL(CAST(NULL AS text), 'x')", want: "x"},
		{sql: "SELECT COUNT(*) FROM nums WHERE CAST(s AS text) IN (SELECT s FROM nums)", wantErr: 402},
	})
	s := funcFixture(t)
	mustExec(t, s, "CREATE TABLE docs (id int PRIMARY KEY, body text, nbody ntext, pic image)")
	mustExec(t, s, "INSERT INTO docs VALUES (1, 'hello', N'wörld', 0x0102)")
	res, err := s.Exec(context.Background(), "SELECT body, nbody, pic FROM docs WHERE id = 1", nil)
	if err != nil || firstErr(res) != nil {
		t.Fatalf("select: %v %v", err, firstErr(res))
	}
	last := res[len(res)-1]
	for i, want := range []any{"hello", "wörld", []byte{1, 2}} {
		if !sameValue(last.Rows[0][i], want) {
			t.Errorf("column %d: got %v, want %v", i, last.Rows[0][i], want)
		}
	}
	for i, want := range []string{"text", "ntext", "image"} {
		if got := last.Columns[i].Type.String(); got != want {
			t.Errorf("column %d: type %s, want %s", i, got, want)
		}
	}
	res, err = s.Exec(context.Background(), "CREATE TABLE bad (body text PRIMARY KEY)", nil)
	if err != nil {
		t.Fatal(err)
	}
	// SQL Server sends 1919, then 1750.
	if e := firstErr(res); e == nil || e.Number != 1750 || len(e.Preceding) != 1 || e.Preceding[0].Number != 1919 {
		t.Errorf("TEXT primary key: got %v, want 1919 then 1750", e)
	}
}
