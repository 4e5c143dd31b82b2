package tsql

import (
	"context"
	"testing"
	"time"
)

// FuzzParse checks that no input makes the lexer or parser panic, and
// that whatever parses also runs without panicking.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"select 1;",
		findSQL,
		mergeSQL,
		schemaDDL,
		"SELECT [a]]b], \"q\"\"x\", N'it''s', 0xABC FROM [dbo].[sessions] AS s WHERE s.token LIKE 'a%' /* c /* nested */ */ -- end",
		"IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'x') CREATE INDEX x ON sessions (expiry)",
		"DECLARE @i INT = 0; WHILE @i < 3 BEGIN SET @i += 1; IF @i = 2 BREAK END",
		"UPDATE TOP (5) t SET t.data = 0x00 FROM sessions t INNER JOIN (VALUES ('a')) AS v (token) ON t.token = v.token",
		"SELECT CASE WHEN 1 = 1 THEN 'a' END, CAST(1 AS VARCHAR(MAX)), CONVERT(NVARCHAR(10), 1), DATEADD(ms, 1, GETDATE())",
		"SELECT", "(", "'", "[", "/*", "0x", "N'", "@", "@@", "SELECT 1 +", "MERGE t USING s ON 1 = 1 WHEN",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		stmts, err := parseBatch(sql)
		if err == nil && len(stmts) > 0 && len(sql) < 2000 {
			db := newTestDB(t)
			s := owner(db)
			// A fuzzed WHILE may loop forever, as it would in SQL Server;
			// the deadline ends it through the cancellation path.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, _ = s.Exec(ctx, sql, nil)
			s.Close()
		}
	})
}
