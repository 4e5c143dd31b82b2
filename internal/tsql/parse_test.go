package tsql

import (
	"strings"
	"testing"
)

func TestParseAccepts(t *testing.T) {
	tests := []string{
		"select 1;",
		"SELECT 1 AS x; SELECT x = 1; SELECT 1 x",
		`SELECT [to]]k] = 1, "quoted""id" = 2`,
		"SELECT N'it''s', 'plain', 0xABC, -1, 1.5, 1e3",
		"select  /* a /* nested */ comment */ 1 -- trailing",
		"SELECT s.token FROM [dbo].[sessions] s WITH (NOLOCK) WHERE s.token IN ('a', 'b') AND s.expiry BETWEEN '2020-01-01' AND '2030-01-01'",
		"SELECT t.* FROM dbo.sessions AS t LEFT OUTER JOIN sessions u ON u.token = t.token, sessions v",
		"SET TEXTSIZE 2147483647; SET ANSI_NULLS ON; SET QUOTED_IDENTIFIER, ANSI_PADDING ON; SET DATEFORMAT mdy; SET LANGUAGE us_english",
		"SET TRANSACTION ISOLATION LEVEL READ COMMITTED; SET LOCK_TIMEOUT -1; SET IMPLICIT_TRANSACTIONS OFF; SET NOCOUNT ON",
		"BEGIN TRAN; COMMIT TRAN; BEGIN TRANSACTION t1; ROLLBACK",
		"DELETE s FROM sessions s INNER JOIN sessions u ON s.token = u.token WHERE 1 = 0",
		"UPDATE TOP (1) sessions SET data = 0x00 WHERE 1 = 0",
		"IF 1 = 1 SELECT 1; ELSE SELECT 2",
		"SELECT @@VERSION, @@SPID, @@SERVERNAME, @@TRANCOUNT, @@ROWCOUNT",
		"SELECT COUNT(*), MIN(expiry), MAX(expiry), SUM(LEN(token)) FROM sessions GROUP BY token HAVING COUNT(*) > 0",
	}
	for _, sql := range tests {
		t.Run(sql, func(t *testing.T) {
			db := newTestDB(t)
			mustExec(t, owner(db), sql)
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		sql  string
		want int32
		name string // the construct the message must name
	}{
		{"SELECT 1 +", 102, "+"},
		{"SELECT * FROM (SELECT 1 AS a) AS x INTERSECT SELECT 2", 40517, "INTERSECT"},
		{"SELECT * FROM (SELECT 1 AS a UNION SELECT 2) AS x", 40517, "UNION"},
		{"WITH c AS (SELECT 1 AS a) DELETE FROM sessions", 40517, "WITH"},
		{"BEGIN TRY SELECT 1 END TRY BEGIN CATCH END CATCH", 40517, "BEGIN TRY"},
		{"SELECT * FROM ##tmp", 40517, "##tmp"},
		{"CREATE PROCEDURE p AS SELECT 1", 40517, "CREATE PROCEDURE"},
		{"SELECT ROW_NUMBER() OVER (ORDER BY token) FROM sessions", 40517, "OVER"},
		{"CREATE TABLE x (a INT IDENTITY(1,1) NOT FOR REPLICATION)", 40517, "IDENTITY"},
		{"CREATE TABLE x (a INT, CONSTRAINT pk PRIMARY KEY CLUSTERED (a ASC) WITH (PAD_INDEX = OFF))", 40517, "index options"},
		{"CREATE TABLE x (a INT) ON [PRIMARY]", 40517, "filegroup"},
		{"SELECT 'unterminated", 105, "unterminated"},
		{"SET IMPLICIT_TRANSACTIONS ON", 40517, "IMPLICIT_TRANSACTIONS"},
		{"INSERT BULK sessions (token CHAR(43), data VARBINARY(MAX), expiry DATETIME2(6))", 40517, "INSERT BULK"},
		{"insert bulk [dbo].[sessions] ([token] char(43))", 40517, "INSERT BULK"},
	}
	for _, tc := range tests {
		t.Run(tc.sql, func(t *testing.T) {
			db := newTestDB(t)
			res, err := owner(db).Exec(t.Context(), tc.sql, nil)
			if err != nil {
				t.Fatal(err)
			}
			e := firstErr(res)
			if e == nil || e.Number != tc.want || !strings.Contains(e.Message, tc.name) {
				t.Fatalf("got %v, want %d naming %q", e, tc.want, tc.name)
			}
		})
	}
}
