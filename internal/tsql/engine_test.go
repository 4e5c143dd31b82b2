package tsql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func tok(i int) string { return fmt.Sprintf("tok%040d", i) }

// upsertBatch is the store's two-statement upsert for n rows.
func upsertBatch(n int, exp time.Time, data func(i int) []byte, token func(i int) string) (string, []Param) {
	var sb strings.Builder
	var params []Param
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "(@p%d, @p%d, @p%d)", 3*i+1, 3*i+2, 3*i+3)
		params = append(params, vc(fmt.Sprintf("@p%d", 3*i+1), token(i)),
			vb(fmt.Sprintf("@p%d", 3*i+2), data(i)), dt2(fmt.Sprintf("@p%d", 3*i+3), exp))
	}
	vals := sb.String()
	return `SET XACT_ABORT ON;
    BEGIN TRANSACTION;
    UPDATE t SET t.data = v.data, t.expiry = v.expiry
    FROM [dbo].[sessions] AS t WITH (UPDLOCK, SERIALIZABLE)
    INNER JOIN (VALUES ` + vals + `) AS v (token, data, expiry) ON t.token = v.token;
    INSERT INTO [dbo].[sessions] (token, data, expiry)
    SELECT v.token, v.data, v.expiry FROM (VALUES ` + vals + `) AS v (token, data, expiry)
    WHERE NOT EXISTS (SELECT 1 FROM [dbo].[sessions] AS t WITH (UPDLOCK, SERIALIZABLE) WHERE t.token = v.token);
    COMMIT TRANSACTION;`, params
}

const mergeSQL = `SET XACT_ABORT ON;
    MERGE [dbo].[sessions] WITH (UPDLOCK, HOLDLOCK) AS t
    USING @rows AS s ON t.token = s.token
    WHEN MATCHED THEN UPDATE SET t.data = s.data, t.expiry = s.expiry
    WHEN NOT MATCHED BY TARGET THEN INSERT (token, data, expiry) VALUES (s.token, s.data, s.expiry);`

const findSQL = `SELECT data, expiry FROM [dbo].[sessions] WHERE token = @p1 AND token = @p1 COLLATE Latin1_General_BIN2 AND expiry > @p2`

func count(t *testing.T, s *Session) int64 {
	t.Helper()
	return scalar(t, s, "SELECT COUNT(*) FROM sessions").(int64)
}

func TestStoreStatements(t *testing.T) {
	db := newTestDB(t)
	s := owner(db)
	exp := testNow.Add(time.Hour)

	sql, params := upsertBatch(500, exp, func(i int) []byte { return []byte{byte(i)} }, tok)
	res := mustExec(t, s, sql, params...)
	kinds := []string{"SET", "BEGIN TRAN", "UPDATE", "INSERT", "COMMIT"}
	counts := []int64{0, 0, 0, 500, 0}
	if len(res) != len(kinds) {
		t.Fatalf("got %d results, want %d", len(res), len(kinds))
	}
	for i, r := range res {
		if r.Kind != kinds[i] || r.RowCount != counts[i] {
			t.Errorf("result %d: got %s/%d, want %s/%d", i, r.Kind, r.RowCount, kinds[i], counts[i])
		}
	}
	if s.TransactionDepth() != 0 {
		t.Fatalf("transaction left open")
	}
	db.ResetStats()
	res = mustExec(t, s, sql, params...)
	if res[2].RowCount != 500 || res[3].RowCount != 0 {
		t.Fatalf("second upsert: update %d insert %d, want 500 and 0", res[2].RowCount, res[3].RowCount)
	}
	if st := db.Stats(); st.Scans != 0 || st.ImplicitColumnConversions != 0 || st.Seeks < 1000 {
		t.Errorf("upsert stats: %+v, want seeks only", st)
	}

	db.ResetStats()
	res = mustExec(t, s, findSQL, vc("@p1", tok(7)), dt2("@p2", testNow))
	if len(res[0].Rows) != 1 || res[0].Rows[0][0].([]byte)[0] != 7 {
		t.Fatalf("find: %+v", res[0].Rows)
	}
	want := []Column{{Name: "data", Type: Type{ID: TypeVarBinary, Length: MaxLength}}, {Name: "expiry", Type: Type{ID: TypeDateTime2, Scale: 6}}}
	for i, c := range res[0].Columns {
		if c.Name != want[i].Name || c.Type.ID != want[i].Type.ID || c.Type.Length != want[i].Type.Length || c.Type.Scale != want[i].Type.Scale {
			t.Errorf("column %d: got %+v, want %+v", i, c, want[i])
		}
	}
	if st := db.Stats(); st.Seeks != 1 || st.Scans != 0 || st.ImplicitColumnConversions != 0 {
		t.Errorf("find stats: %+v, want one seek", st)
	}
	// An NVARCHAR parameter converts the CHAR column: counted, and a scan.
	db.ResetStats()
	res = mustExec(t, s, findSQL, nvc("@p1", tok(7)), dt2("@p2", testNow))
	if len(res[0].Rows) != 1 {
		t.Fatalf("find with nvarchar: %d rows", len(res[0].Rows))
	}
	if st := db.Stats(); st.ImplicitColumnConversions == 0 || st.Scans == 0 {
		t.Errorf("nvarchar stats: %+v, want a conversion and a scan", st)
	}
	// Expired rows are not found.
	res = mustExec(t, s, findSQL, vc("@p1", tok(7)), dt2("@p2", exp.Add(time.Second)))
	if len(res[0].Rows) != 0 {
		t.Fatalf("expired row found")
	}

	res = mustExec(t, s, "SELECT token, data, expiry FROM [dbo].[sessions] WHERE expiry > @p1", dt2("@p1", testNow))
	if res[0].RowCount != 500 || res[0].Columns[0].Type.ID != TypeChar || res[0].Columns[0].Type.Length != 43 {
		t.Fatalf("all: %d rows, %+v", res[0].RowCount, res[0].Columns[0])
	}

	tvp := &TableValue{TypeName: "dbo.sessions_batch2", Rows: [][]any{{tok(1), []byte{9}, exp}, {tok(900), []byte{7}, exp}}}
	mustExec(t, s, `CREATE TYPE dbo.sessions_batch2 AS TABLE (token CHAR(43) NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL)`)
	res = mustExec(t, s, mergeSQL, Param{Name: "@rows", Type: Type{ID: TypeTable}, Value: tvp})
	if res[1].Kind != "MERGE" || res[1].RowCount != 2 {
		t.Fatalf("merge: %+v", res[1])
	}
	if got := count(t, s); got != 501 {
		t.Fatalf("after merge: %d rows", got)
	}

	res = mustExec(t, s, "DELETE FROM [dbo].[sessions] WHERE token = @p1 AND token = @p1 COLLATE Latin1_General_BIN2", vc("@p1", tok(900)))
	if res[0].RowCount != 1 {
		t.Fatalf("delete: %d", res[0].RowCount)
	}
	res = mustExec(t, s, "DELETE TOP (@p1) FROM [dbo].[sessions] WHERE expiry <= @p2", bigint("@p1", 300), dt2("@p2", exp.Add(time.Second)))
	if res[0].RowCount != 300 {
		t.Fatalf("delete top: %d", res[0].RowCount)
	}
	if got := count(t, s); got != 200 {
		t.Fatalf("after delete top: %d rows", got)
	}
}

func TestMergeWithBIN2TypeIsCollationConflict(t *testing.T) {
	// The brief's table type declares token COLLATE Latin1_General_BIN2
	// while the table's token has the database default: two implicit
	// collations, which SQL Server refuses to compare (error 468).
	db := newTestDB(t)
	s := owner(db)
	tvp := &TableValue{TypeName: "dbo.sessions_batch", Rows: [][]any{{tok(1), []byte{1}, testNow}}}
	res, err := s.Exec(context.Background(), mergeSQL, []Param{{Name: "@rows", Type: Type{ID: TypeTable}, Value: tvp}})
	if err != nil {
		t.Fatal(err)
	}
	if e := firstErr(res); e == nil || e.Number != 468 {
		t.Fatalf("got %v, want error 468", e)
	}
	// An explicit COLLATE resolves it.
	sql := strings.Replace(mergeSQL, "t.token = s.token", "t.token = s.token COLLATE DATABASE_DEFAULT", 1)
	mustExec(t, s, sql, Param{Name: "@rows", Type: Type{ID: TypeTable}, Value: tvp})
	if got := count(t, s); got != 1 {
		t.Fatalf("got %d rows", got)
	}
}

func TestErrors(t *testing.T) {
	long := strings.Repeat("x", 44)
	var big strings.Builder
	big.WriteString("INSERT INTO t1 (a) VALUES ")
	for i := 0; i < 1001; i++ {
		if i > 0 {
			big.WriteString(",")
		}
		fmt.Fprintf(&big, "(%d)", i)
	}
	tests := []struct {
		name string
		sql  string
		want int32
		msg  string
	}{
		{"syntax", "SELEC 1", 102, "Incorrect syntax near 'SELEC'."},
		{"keyword", "SELECT FROM sessions", 156, "keyword 'FROM'"},
		{"missing table", "SELECT * FROM nope", 208, "Invalid object name 'nope'."},
		{"missing column", "SELECT nope FROM sessions", 207, "Invalid column name 'nope'."},
		{"variable", "SELECT @x", 137, `Must declare the scalar variable "@x".`},
		{"function", "SELECT FOO(1)", 195, "'FOO' is not a recognized built-in function name."},
		{"hint", "SELECT * FROM sessions WITH (FASTPLEASE)", 321, "FASTPLEASE"},
		{"merge semicolon", "MERGE sessions AS t USING sessions AS s ON t.token = s.token WHEN MATCHED THEN DELETE", 10713, "semi-colon"},
		{"exists", "CREATE TABLE sessions (a INT)", 2714, "There is already an object named 'sessions' in the database."},
		{"index exists", "CREATE INDEX sessions_expiry_idx ON sessions (expiry)", 1913, "sessions_expiry_idx"},
		{"drop missing", "DROP TABLE nope", 3701, "Cannot drop the table 'nope'"},
		{"commit", "COMMIT", 3902, "COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION"},
		{"rollback", "ROLLBACK", 3903, "ROLLBACK TRANSACTION request"},
		{"truncation", "INSERT INTO sessions VALUES ('" + long + "', 0x01, '2024-01-01')", 2628,
			"String or binary data would be truncated in table 'db.dbo.sessions', column 'token'. Truncated value: '" + long[:43] + "'."},
		{"null", "INSERT INTO sessions (token, data) VALUES ('a', 0x01)", 515,
			"Cannot insert the value NULL into column 'expiry', table 'db.dbo.sessions'; column does not allow nulls. INSERT fails."},
		{"duplicate", "INSERT INTO sessions VALUES ('a', 0x01, '2024-01-01'), ('A  ', 0x02, '2024-01-01')", 2627,
			"Cannot insert duplicate key in object 'dbo.sessions'. The duplicate key value is (A"},
		{"unique index", "CREATE TABLE u (a INT, b INT); CREATE UNIQUE INDEX ux ON u (b); INSERT INTO u VALUES (1, 1), (2, 1)", 2601, "with unique index 'ux'"},
		{"too many rows", "CREATE TABLE t1 (a INT); " + big.String(), 10738, "1000 row values"},
		{"unsupported", "SELECT * FROM sessions FOR XML AUTO", 40517, "FOR XML"},
		{"unsupported type", "DECLARE @d hierarchyid", 40517, "hierarchyid"},
		{"unknown type", "DECLARE @d FOOTYPE", 2715, "Cannot find data type FOOTYPE."},
		{"divide", "SELECT 1 / 0", 8134, "Divide by zero"},
		{"conversion", "SELECT CAST('abc' AS INT)", 245, "Conversion failed when converting the varchar value 'abc' to data type int."},
		{"date", "SELECT CAST('nope' AS DATETIME2)", 241, "Conversion failed when converting date and/or time from character string."},
		{"dateadd overflow", "SELECT DATEADD(year, 9000, SYSUTCDATETIME())", 517, "Adding a value to a 'datetime2' column caused an overflow."},
		{"proc", "EXEC sp_nope", 2812, "Could not find stored procedure 'sp_nope'."},
		{"ambiguous", "SELECT token FROM sessions a INNER JOIN sessions b ON a.token = b.token", 209, "Ambiguous column name 'token'."},
		{"max key", "CREATE INDEX ix ON sessions (data)", 1919, "invalid for use as a key column"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := newTestDB(t)
			s := owner(db)
			res, err := s.Exec(context.Background(), tc.sql, nil)
			if err != nil {
				t.Fatal(err)
			}
			e := firstErr(res)
			if e == nil {
				t.Fatalf("no error, want %d", tc.want)
			}
			if e.Number != tc.want || !strings.Contains(e.Message, tc.msg) {
				t.Fatalf("got %d %q, want %d containing %q", e.Number, e.Message, tc.want, tc.msg)
			}
		})
	}
}

func TestCollationAndPadding(t *testing.T) {
	db := newTestDB(t)
	s := owner(db)
	mustExec(t, s, `CREATE TABLE c (ci CHAR(10) NOT NULL, bin CHAR(10) COLLATE Latin1_General_BIN2 NOT NULL, vci VARCHAR(10));
		INSERT INTO c VALUES ('Abc', 'Abc', 'Abc  ')`)
	tests := []struct {
		where string
		want  int64
	}{
		{"ci = 'abc'", 1},
		{"ci = 'ABC   '", 1},
		{"ci = N'aBc'", 1},
		{"bin = 'abc'", 0},
		{"bin = 'Abc'", 1},
		{"bin = 'Abc     '", 1},
		{"ci = 'abc' COLLATE Latin1_General_BIN2", 0},
		{"ci = 'Abc' COLLATE Latin1_General_BIN2", 1},
		{"vci = 'ABC'", 1},
		{"vci LIKE 'a%'", 1},
		{"bin LIKE 'a%'", 0},
		{"ci > 'ab' AND ci < 'ABD'", 1},
		{"ci IN ('x', 'ABC')", 1},
		{"ci IS NULL", 0},
		{"NOT (ci = 'abc')", 0},
		{"vci BETWEEN 'a' AND 'b'", 1},
		{"LEN(ci) = 3 AND DATALENGTH(ci) = 10", 1},
	}
	for _, tc := range tests {
		t.Run(tc.where, func(t *testing.T) {
			got := scalar(t, s, "SELECT COUNT(*) FROM c WHERE "+tc.where)
			if got != tc.want {
				t.Fatalf("got %v, want %d", got, tc.want)
			}
		})
	}
	if n := errNumber(t, s, "SELECT COUNT(*) FROM c WHERE ci = bin"); n != 468 {
		t.Fatalf("implicit collation conflict: got %d, want 468", n)
	}
	// The CHAR value is stored padded.
	if got := scalar(t, s, "SELECT ci FROM c"); got != "Abc       " {
		t.Fatalf("stored %q", got)
	}
}

func TestDateTimeSemantics(t *testing.T) {
	db := newTestDB(t)
	s := owner(db)
	mustExec(t, s, "CREATE TABLE d (d2 DATETIME2(6), d0 DATETIME2(0), dt DATETIME, d7 DATETIME2)")
	base := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	plus4 := time.FixedZone("", 4*3600)
	tests := []struct {
		name  string
		param Param
		col   string
		want  time.Time
	}{
		{"round half up", dt2("@p", base.Add(1234565*100)), "d2", base.Add(123457 * time.Microsecond)},
		{"round down", dt2("@p", base.Add(1234564*100)), "d2", base.Add(123456 * time.Microsecond)},
		{"round to seconds", dt2("@p", base.Add(500*time.Millisecond)), "d0", base.Add(time.Second)},
		{"datetime ticks", dt2("@p", base.Add(1*time.Millisecond)), "dt", base},
		{"datetime ticks up", dt2("@p", base.Add(2*time.Millisecond)), "dt", base.Add(3333300)},
		{"datetimeoffset keeps the clock", Param{Name: "@p", Type: Type{ID: TypeDateTimeOffset, Scale: 7}, Value: base.In(plus4)}, "d7",
			time.Date(2024, 1, 2, 7, 4, 5, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mustExec(t, s, "TRUNCATE TABLE d; INSERT INTO d ("+tc.col+") VALUES (@p)", tc.param)
			got := scalar(t, s, "SELECT "+tc.col+" FROM d").(time.Time)
			if !got.Equal(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	if got := scalar(t, s, "SELECT SYSUTCDATETIME()").(time.Time); !got.Equal(roundScale(testNow, 7)) {
		t.Fatalf("SYSUTCDATETIME: %v", got)
	}
	if got := scalar(t, s, "SELECT DATEADD(second, 90, CAST('2024-01-01 00:00:00' AS DATETIME2(0)))").(time.Time); !got.Equal(time.Date(2024, 1, 1, 0, 1, 30, 0, time.UTC)) {
		t.Fatalf("DATEADD: %v", got)
	}
	if got := scalar(t, s, "SELECT DATEDIFF(minute, '2024-01-01 00:00:59', '2024-01-01 00:01:00')"); got != int64(1) {
		t.Fatalf("DATEDIFF: %v", got)
	}
}

func TestResultTypes(t *testing.T) {
	db := newTestDB(t)
	s := owner(db)
	tests := []struct {
		expr string
		want Type
	}{
		{"1", Type{ID: TypeInt}},
		{"COUNT(*)", Type{ID: TypeInt}},
		{"COUNT_BIG(*)", Type{ID: TypeBigInt}},
		{"SYSUTCDATETIME()", Type{ID: TypeDateTime2, Scale: 7}},
		{"GETUTCDATE()", Type{ID: TypeDateTime}},
		{"'abc'", Type{ID: TypeVarChar, Length: 3}},
		{"N'abc'", Type{ID: TypeNVarChar, Length: 3}},
		{"0x0102", Type{ID: TypeVarBinary, Length: 2}},
		{"@@ROWCOUNT", Type{ID: TypeInt}},
		{"CAST(1 AS BIGINT)", Type{ID: TypeBigInt}},
		{"MAX(expiry)", Type{ID: TypeDateTime2, Scale: 6}},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			from := ""
			if strings.Contains(tc.expr, "(*)") || strings.Contains(tc.expr, "expiry") {
				from = " FROM sessions"
			}
			res := mustExec(t, s, "SELECT "+tc.expr+from)
			got := res[0].Columns[0].Type
			if got.ID != tc.want.ID || got.Length != tc.want.Length || got.Scale != tc.want.Scale {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMergeDuplicateSource(t *testing.T) {
	db := newTestDB(t)
	s := owner(db)
	mustExec(t, s, "INSERT INTO sessions VALUES ('a', 0x01, '2030-01-01')")
	res, err := s.Exec(context.Background(), `MERGE INTO sessions AS t
		USING (VALUES ('a', 0x02), ('A', 0x03), ('b', 0x04)) AS s (token, data) ON t.token = s.token
		WHEN MATCHED THEN UPDATE SET data = s.data
		WHEN NOT MATCHED THEN INSERT (token, data, expiry) VALUES (s.token, s.data, '2030-01-01');
		SELECT COUNT(*) FROM sessions`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := firstErr(res); e == nil || e.Number != 8672 {
		t.Fatalf("got %v, want 8672", e)
	}
	// 8672 ends only the statement: the batch went on, nothing changed.
	if last := res[len(res)-1]; last.Rows[0][0] != int64(1) {
		t.Fatalf("rows after failed merge: %v", last.Rows)
	}
	if got := scalar(t, s, "SELECT data FROM sessions"); string(got.([]byte)) != "\x01" {
		t.Fatalf("data changed: %v", got)
	}
	// MERGE with every clause kind.
	res = mustExec(t, s, `MERGE sessions t USING (VALUES ('b', 0x05)) s (token, data) ON t.token = s.token
		WHEN MATCHED AND t.data = 0x00 THEN DELETE
		WHEN NOT MATCHED BY TARGET THEN INSERT (token, data, expiry) VALUES (s.token, s.data, '2030-01-01')
		WHEN NOT MATCHED BY SOURCE THEN UPDATE SET t.data = 0x09;`)
	if res[0].RowCount != 2 {
		t.Fatalf("merge count %d", res[0].RowCount)
	}
	if got := scalar(t, s, "SELECT data FROM sessions WHERE token = 'a'"); string(got.([]byte)) != "\x09" {
		t.Fatalf("by source update: %v", got)
	}
}

func TestXactAbort(t *testing.T) {
	tests := []struct {
		name      string
		sql       string
		wantRows  int64
		wantDepth int
		wantRes   int
	}{
		{"on rolls back and ends the batch",
			"SET XACT_ABORT ON; BEGIN TRAN; INSERT INTO sessions VALUES ('x', 0x01, '2030-01-01'); INSERT INTO sessions VALUES ('x', 0x01, '2030-01-01'); SELECT 1",
			0, 0, 4},
		{"off undoes the statement and goes on",
			"SET XACT_ABORT OFF; BEGIN TRAN; INSERT INTO sessions VALUES ('x', 0x01, '2030-01-01'); INSERT INTO sessions VALUES ('x', 0x01, '2030-01-01'), ('y', 0x01, '2030-01-01'); SELECT 1; COMMIT",
			1, 0, 6},
		{"off with a compile error ends the batch, transaction open",
			"BEGIN TRAN; INSERT INTO sessions VALUES ('x', 0x01, '2030-01-01'); SELECT * FROM nope; COMMIT",
			1, 1, 3},
		{"on with a compile error rolls back",
			"SET XACT_ABORT ON; BEGIN TRAN; INSERT INTO sessions VALUES ('x', 0x01, '2030-01-01'); SELECT * FROM nope; COMMIT",
			0, 0, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := newTestDB(t)
			s := owner(db)
			res, err := s.Exec(context.Background(), tc.sql, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != tc.wantRes {
				t.Errorf("got %d results, want %d", len(res), tc.wantRes)
			}
			if s.TransactionDepth() != tc.wantDepth {
				t.Errorf("depth %d, want %d", s.TransactionDepth(), tc.wantDepth)
			}
			if got := count(t, s); got != tc.wantRows {
				t.Errorf("rows %d, want %d", got, tc.wantRows)
			}
			s.Close()
		})
	}
}

func TestNestedTransactions(t *testing.T) {
	db := newTestDB(t)
	s := owner(db)
	mustExec(t, s, "BEGIN TRAN; BEGIN TRANSACTION; INSERT INTO sessions VALUES ('x', 0x01, '2030-01-01')")
	if got := scalar(t, s, "SELECT @@TRANCOUNT"); got != int64(2) {
		t.Fatalf("trancount %v", got)
	}
	mustExec(t, s, "COMMIT")
	if s.TransactionDepth() != 1 {
		t.Fatalf("depth after inner commit: %d", s.TransactionDepth())
	}
	mustExec(t, s, "ROLLBACK TRANSACTION")
	if s.TransactionDepth() != 0 || count(t, s) != 0 {
		t.Fatalf("rollback did not undo everything")
	}
	// DDL is transactional too.
	mustExec(t, s, "BEGIN TRAN; CREATE TABLE tmp (a INT); DROP TABLE sessions; ROLLBACK")
	if n := errNumber(t, s, "SELECT * FROM tmp"); n != 208 {
		t.Fatalf("created table survived rollback: %d", n)
	}
	if count(t, s) != 0 {
		t.Fatal("dropped table not restored")
	}
	// Updates and deletes are restored exactly.
	mustExec(t, s, "INSERT INTO sessions VALUES ('a', 0x01, '2030-01-01'), ('b', 0x02, '2030-01-01')")
	mustExec(t, s, "BEGIN TRAN; UPDATE sessions SET token = 'c', data = 0x03 WHERE token = 'a'; DELETE FROM sessions WHERE token = 'b'; TRUNCATE TABLE sessions; ROLLBACK")
	res := mustExec(t, s, "SELECT token, data FROM sessions ORDER BY token")
	if len(res[0].Rows) != 2 || strings.TrimSpace(res[0].Rows[0][0].(string)) != "a" || res[0].Rows[1][1].([]byte)[0] != 2 {
		t.Fatalf("after rollback: %v", res[0].Rows)
	}
	if got := scalar(t, s, "SELECT COUNT(*) FROM sessions WHERE token = 'a'"); got != int64(1) {
		t.Fatalf("key index not restored: %v", got)
	}
}

func TestCloseAndResetRollBack(t *testing.T) {
	for _, end := range []string{"Close", "Reset"} {
		t.Run(end, func(t *testing.T) {
			db := newTestDB(t)
			s := owner(db)
			mustExec(t, s, "SET XACT_ABORT ON; BEGIN TRAN; INSERT INTO sessions VALUES ('x', 0x01, '2030-01-01')")
			if end == "Close" {
				s.Close()
			} else {
				s.Reset()
				if s.XactAbort() {
					t.Fatal("Reset kept XACT_ABORT")
				}
			}
			// The lock was released: another session can read at once.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := db.NewSession(Principal{Name: "sa"}).Exec(ctx, "SELECT COUNT(*) FROM sessions", nil)
			if err != nil || firstErr(res) != nil {
				t.Fatal(err, firstErr(res))
			}
			if got := res[0].Rows[0][0]; got != int64(0) {
				t.Fatalf("rows %v", got)
			}
		})
	}
}

func TestLockWaitHonoursContext(t *testing.T) {
	db := newTestDB(t)
	a, b := owner(db), owner(db)
	mustExec(t, a, "BEGIN TRAN; INSERT INTO sessions VALUES ('x', 0x01, '2030-01-01')")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := b.Exec(ctx, "SELECT COUNT(*) FROM sessions", nil)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	// A ping needs no lock.
	mustExec(t, b, "select 1;")
	mustExec(t, a, "COMMIT")
	if got := count(t, b); got != 1 {
		t.Fatalf("rows %d", got)
	}
}

func TestCancelMidBatch(t *testing.T) {
	tests := []struct {
		xact      string
		wantDepth int
	}{{"ON", 0}, {"OFF", 1}}
	for _, tc := range tests {
		t.Run(tc.xact, func(t *testing.T) {
			db := newTestDB(t)
			s := owner(db)
			ctx, cancel := context.WithCancel(context.Background())
			hooks := &cancelHook{kind: "UPDATE", cancel: cancel}
			db.hooks = hooks
			_, err := s.Exec(ctx, "SET XACT_ABORT "+tc.xact+"; BEGIN TRAN; INSERT INTO sessions VALUES ('x', 0x01, '2030-01-01'); UPDATE sessions SET data = 0x02; COMMIT", nil)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v", err)
			}
			if s.TransactionDepth() != tc.wantDepth {
				t.Fatalf("depth %d, want %d", s.TransactionDepth(), tc.wantDepth)
			}
			s.Close()
		})
	}
}

type cancelHook struct {
	kind   string
	cancel func()
}

func (h *cancelHook) BeforeStatement(ctx context.Context, s *Session, info StatementInfo) error {
	if info.Kind == h.kind {
		h.cancel()
		return ctx.Err()
	}
	return nil
}

func (h *cancelHook) AfterStatement(context.Context, *Session, StatementInfo) {}

type recordHook struct {
	mu     sync.Mutex
	before []StatementInfo
	after  []StatementInfo
	fail   map[string]*Error
}

func (h *recordHook) BeforeStatement(ctx context.Context, s *Session, info StatementInfo) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.before = append(h.before, info)
	if e := h.fail[info.Kind]; e != nil {
		return e
	}
	return nil
}

func (h *recordHook) AfterStatement(ctx context.Context, s *Session, info StatementInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.after = append(h.after, info)
}

func TestHooks(t *testing.T) {
	h := &recordHook{fail: map[string]*Error{"DELETE": {Number: 1205, Class: 13, State: 51, Message: "deadlock"}}}
	db := NewDatabase(Options{Name: "db", Hooks: h})
	if err := db.ExecAdmin(context.Background(), schemaDDL); err != nil {
		t.Fatal(err)
	}
	s := owner(db)
	mustExec(t, s, "IF OBJECT_ID(N'dbo.sessions') IS NOT NULL BEGIN INSERT INTO sessions VALUES ('a', 0x01, '2030-01-01'); SELECT * FROM sessions END")
	h.mu.Lock()
	got := h.after[len(h.after)-3:]
	h.mu.Unlock()
	if got[0].Kind != "IF" || got[1].Kind != "INSERT" || got[1].Table != "dbo.sessions" || got[1].RowsWritten != 1 || got[2].Kind != "SELECT" || got[2].RowsRead != 1 {
		t.Fatalf("hooks saw %+v", got)
	}
	res, err := s.Exec(context.Background(), "BEGIN TRAN; INSERT INTO sessions VALUES ('b', 0x01, '2030-01-01'); DELETE FROM sessions; SELECT 1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := firstErr(res); e == nil || e.Number != 1205 || len(res) != 3 {
		t.Fatalf("injected error: %v, %d results", e, len(res))
	}
	// A deadlock victim's transaction is rolled back.
	if s.TransactionDepth() != 0 || count(t, s) != 1 {
		t.Fatalf("deadlock did not roll back")
	}
}

func TestPermissions(t *testing.T) {
	db := newTestDB(t)
	mustExec(t, owner(db), "CREATE TABLE secret (a INT); INSERT INTO sessions VALUES ('a', 0x01, '2030-01-01')")
	r := db.NewSession(Principal{Name: "app", Restricted: true, Grants: map[string]Permission{
		"dbo.sessions": PermSelect | PermInsert | PermUpdate | PermDelete}})
	tests := []struct {
		sql  string
		want int32
	}{
		{"SELECT * FROM secret", 229},
		{"INSERT INTO secret VALUES (1)", 229},
		{"CREATE TABLE x (a INT)", 262},
		{"CREATE TYPE x AS TABLE (a INT)", 262},
		{"DROP TABLE sessions", 3701},
		{"SELECT COUNT(*) FROM sessions", 0},
		{"UPDATE sessions SET data = 0x02", 0},
	}
	for _, tc := range tests {
		t.Run(tc.sql, func(t *testing.T) {
			if got := errNumber(t, r, tc.sql); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
	tvp := Param{Name: "@rows", Type: Type{ID: TypeTable}, Value: &TableValue{TypeName: "dbo.sessions_batch"}}
	if got := errNumber(t, r, "SELECT COUNT(*) FROM @rows", tvp); got != 229 {
		t.Fatalf("TVP without EXECUTE: got %d, want 229", got)
	}
	// Metadata visibility.
	res := mustExec(t, r, "SELECT name FROM sys.tables ORDER BY name; SELECT OBJECT_ID(N'dbo.secret'), TYPE_ID(N'dbo.sessions_batch'), HAS_PERMS_BY_NAME(N'dbo.sessions', 'OBJECT', 'DELETE'), HAS_PERMS_BY_NAME(N'dbo.sessions', 'OBJECT', 'EXECUTE')")
	if len(res[0].Rows) != 1 || res[0].Rows[0][0] != "sessions" {
		t.Fatalf("sys.tables: %v", res[0].Rows)
	}
	if row := res[1].Rows[0]; row[0] != nil || row[1] != nil || row[2] != int64(1) || row[3] != int64(0) {
		t.Fatalf("visibility: %v", row)
	}
	res = mustExec(t, owner(db), "SELECT name FROM sys.tables ORDER BY name")
	if len(res[0].Rows) != 2 {
		t.Fatalf("owner sees %v", res[0].Rows)
	}
}

func TestSchemaFunction(t *testing.T) {
	db := NewDatabase(Options{Name: "db"})
	s := owner(db)
	script := `IF OBJECT_ID(N'[dbo].[sessions]', N'U') IS NULL CREATE TABLE [dbo].[sessions] (token CHAR(43) PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL);
	IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(N'[dbo].[sessions]') AND name = N'sessions_expiry_idx') CREATE INDEX sessions_expiry_idx ON [dbo].[sessions] (expiry);
	IF TYPE_ID(N'[dbo].[sessions_batch]') IS NULL CREATE TYPE [dbo].[sessions_batch] AS TABLE (token CHAR(43) COLLATE Latin1_General_BIN2 NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL);`
	for i := 0; i < 2; i++ {
		mustExec(t, s, script)
	}
	res := mustExec(t, s, `SELECT c.name, c.system_type_id, c.max_length, c.precision, c.scale, c.is_nullable, c.collation_name
		FROM sys.columns c INNER JOIN sys.tables t ON c.object_id = t.object_id WHERE t.name = 'sessions' ORDER BY c.column_id;
		SELECT i.name, i.index_id, i.is_primary_key, i.is_unique, i.type_desc, ic.key_ordinal, ic.column_id
		FROM sys.indexes i INNER JOIN sys.index_columns ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id
		WHERE i.object_id = OBJECT_ID(N'dbo.sessions') ORDER BY i.index_id;
		SELECT tt.name, tt.is_table_type, c.name, c.collation_name FROM sys.table_types tt INNER JOIN sys.columns c ON c.object_id = tt.type_table_object_id WHERE c.column_id = 1;
		SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, IS_NULLABLE, DATETIME_PRECISION FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'sessions' ORDER BY ORDINAL_POSITION`)
	cols := fmt.Sprint(res[0].Rows)
	if cols != "[[token 175 43 0 0 false SQL_Latin1_General_CP1_CI_AS] [data 165 -1 0 0 false <nil>] [expiry 42 8 26 6 false <nil>]]" {
		t.Errorf("sys.columns: %s", cols)
	}
	idx := res[1].Rows
	if len(idx) != 2 || idx[0][2] != true || idx[0][4] != "CLUSTERED" || idx[1][0] != "sessions_expiry_idx" || idx[1][6] != int64(3) {
		t.Errorf("sys.indexes: %v", idx)
	}
	if tt := fmt.Sprint(res[2].Rows); tt != "[[sessions_batch true token Latin1_General_BIN2]]" {
		t.Errorf("sys.table_types: %s", tt)
	}
	if is := fmt.Sprint(res[3].Rows); is != "[[token char 43 NO <nil>] [data varbinary -1 NO <nil>] [expiry datetime2 <nil> NO 6]]" {
		t.Errorf("INFORMATION_SCHEMA.COLUMNS: %s", is)
	}
	mustExec(t, s, "INSERT INTO sessions VALUES ('a', 0x0102, '2030-01-01')")
	res = mustExec(t, s, "EXEC sp_spaceused N'dbo.sessions'")
	if row := res[0].Rows[0]; row[0] != "sessions" || row[1] != "1" || !strings.HasSuffix(row[2].(string), " KB") {
		t.Errorf("sp_spaceused: %v", row)
	}
	mustExec(t, s, "DROP INDEX sessions_expiry_idx ON sessions; DROP TYPE IF EXISTS dbo.sessions_batch; DROP TABLE IF EXISTS sessions; DROP TABLE IF EXISTS sessions")
}

func TestControlFlow(t *testing.T) {
	db := newTestDB(t)
	s := owner(db)
	res := mustExec(t, s, `/* comment */ DECLARE @i INT = 0, @n BIGINT; -- trailing
		DECLARE @t TABLE (k INT PRIMARY KEY, v NVARCHAR(10));
		WHILE @i < 5
		BEGIN
			SET @i += 1;
			IF @i = 3 CONTINUE;
			IF @i = 5 BREAK ELSE INSERT INTO @t (k, v) VALUES (@i, N'v' + CAST(@i AS NVARCHAR(5)));
		END
		SELECT @n = COUNT_BIG(*) FROM @t;
		SELECT @n AS n, @i AS i, (SELECT MAX(v) FROM @t) AS m
		UPDATE @t SET v = UPPER(v) WHERE k = 4
		SELECT v FROM @t WHERE k = 4`)
	last := res[len(res)-3]
	if fmt.Sprint(last.Rows) != "[[3 5 v4]]" || last.Columns[0].Name != "n" {
		t.Fatalf("got %v %v", last.Rows, last.Columns)
	}
	if got := res[len(res)-1].Rows[0][0]; got != "V4" {
		t.Fatalf("got %v", got)
	}
	mustExec(t, s, "INSERT INTO sessions VALUES ('a', 0x01, '2030-01-01')")
	res = mustExec(t, s, "UPDATE sessions SET data = 0x02 WHERE token = 'zz'; IF @@ROWCOUNT = 0 INSERT INTO sessions (token, data, expiry) VALUES ('zz', 0x02, SYSUTCDATETIME()); SELECT @@ROWCOUNT")
	if got := res[len(res)-1].Rows[0][0]; got != int64(1) {
		t.Fatalf("@@ROWCOUNT after insert: %v", got)
	}
	res = mustExec(t, s, `SET NOCOUNT ON; SELECT TOP (1) token AS [the token], LEN(token) "len" FROM dbo.sessions s ORDER BY s.token DESC`)
	if res[1].HasCount || res[1].Rows[0][0] != "zz"+strings.Repeat(" ", 41) || res[1].Columns[0].Name != "the token" {
		t.Fatalf("got %+v", res[1])
	}
	res = mustExec(t, s, "SELECT COALESCE(NULL, 'x'), ISNULL(NULL, 2), QUOTENAME('a]b'), UPPER(N'é'), DB_NAME(), USER_NAME(), SCHEMA_NAME(), CASE WHEN 1 = 1 THEN 'y' ELSE 'n' END, 'a' + 'b'")
	if got := fmt.Sprint(res[0].Rows); got != "[[x 2 [a]]b] É db dbo dbo y ab]]" {
		t.Fatalf("functions: %s", got)
	}
}

func TestConcurrentSessions(t *testing.T) {
	db := newTestDB(t)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := owner(db)
			defer s.Close()
			for i := 0; i < 20; i++ {
				sql, params := upsertBatch(5, testNow.Add(time.Hour), func(int) []byte { return []byte{byte(w)} },
					func(j int) string { return tok(i*5 + j) })
				res, err := s.Exec(context.Background(), sql, params)
				if err != nil || firstErr(res) != nil {
					t.Error(err, firstErr(res))
					return
				}
			}
		}(w)
	}
	wg.Wait()
	if got := count(t, owner(db)); got != 100 {
		t.Fatalf("rows %d, want 100", got)
	}
}

func TestSeekNeedsColumnCollation(t *testing.T) {
	db := newTestDB(t)
	s := owner(db)
	mustExec(t, s, "INSERT INTO sessions VALUES ('abc', 0x01, '2030-01-01')")
	tests := []struct {
		where       string
		param       string
		rows        int
		seeks, scan int64
	}{
		{"token = @p1", "ABC", 1, 1, 0},
		{"token = @p1 AND token = @p1 COLLATE Latin1_General_BIN2", "ABC", 0, 1, 0},
		{"token = @p1 AND token = @p1 COLLATE Latin1_General_BIN2", "abc", 1, 1, 0},
		{"token = @p1 COLLATE Latin1_General_BIN2", "abc", 1, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.where+" "+tc.param, func(t *testing.T) {
			db.ResetStats()
			res := mustExec(t, s, "SELECT data FROM sessions WHERE "+tc.where, vc("@p1", tc.param))
			st := db.Stats()
			if len(res[0].Rows) != tc.rows || st.Seeks != tc.seeks || st.Scans != tc.scan {
				t.Fatalf("got %d rows, %+v; want %d rows, %d seeks, %d scans", len(res[0].Rows), st, tc.rows, tc.seeks, tc.scan)
			}
		})
	}
}
