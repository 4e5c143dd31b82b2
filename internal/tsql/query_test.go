package tsql

import (
	"context"
	"strings"
	"testing"
)

// Query shapes and statements the store does not send, with SQL
// Server's answers: a value, or an error number.
func TestQueryAnswers(t *testing.T) {
	tests := []struct {
		name    string
		sql     string
		want    any
		wantErr int32
	}{
		{"CONVERT binary style 1", `SELECT CONVERT(VARCHAR(10), 0x0A0B, 1)`, "0x0A0B", 0},
		{"CONVERT binary style 2", `SELECT CONVERT(VARCHAR(10), 0x0A0B, 2)`, "0A0B", 0},
		{"CONVERT style 120", `SELECT CONVERT(VARCHAR(30), CAST('2024-01-02T03:04:05' AS DATETIME2(0)), 120)`, "2024-01-02 03:04:05", 0},
		{"TOP", `SELECT TOP (1) a FROM (VALUES (2), (1)) AS v(a) ORDER BY a`, int64(1), 0},
		{"ORDER BY an alias", `SELECT TOP (1) a AS x FROM (VALUES (2), (1)) AS v(a) ORDER BY x DESC`, int64(2), 0},
		{"negative TOP", `SELECT TOP (-1) 1`, nil, 1060},
		{"ORDER BY position out of range", `SELECT a FROM (VALUES (1)) AS v(a) ORDER BY 2`, nil, 108},
		{"three-part name of this database", `SELECT COUNT(*) FROM db.dbo.sessions`, int64(0), 0},
		{"three-part name of no database", `SELECT COUNT(*) FROM nodb.dbo.sessions`, nil, 911},
		{"composite key ignores case", `CREATE TABLE k (a INT NOT NULL, b VARCHAR(10) NOT NULL, PRIMARY KEY (a, b));
			INSERT INTO k VALUES (1, 'x'); INSERT INTO k VALUES (1, 'X')`, nil, 2627},
		{"composite key seek", `CREATE TABLE k2 (a INT NOT NULL, b VARCHAR(10) NOT NULL, PRIMARY KEY (a, b));
			INSERT INTO k2 VALUES (1, 'x'); INSERT INTO k2 VALUES (2, 'x');
			SELECT COUNT(*) FROM k2 WHERE a = 1 AND b = 'X'`, int64(1), 0},
		{"MERGE clauses with conditions", `CREATE TABLE m (id INT PRIMARY KEY, v INT);
			INSERT INTO m VALUES (1, 10); INSERT INTO m VALUES (2, 20);
			MERGE m AS t USING (VALUES (1, 11), (2, 21), (3, 31)) AS s(id, v) ON t.id = s.id
			WHEN MATCHED AND s.v > 15 THEN UPDATE SET v = s.v
			WHEN MATCHED THEN DELETE
			WHEN NOT MATCHED THEN INSERT (id, v) VALUES (s.id, s.v);
			SELECT SUM(v) * 10 + COUNT(*) FROM m`, int64(522), 0},
		{"MERGE not matched by source", `CREATE TABLE m2 (id INT PRIMARY KEY, v INT);
			INSERT INTO m2 VALUES (1, 10); INSERT INTO m2 VALUES (2, 20);
			MERGE m2 AS t USING (VALUES (2)) AS s(id) ON t.id = s.id
			WHEN NOT MATCHED BY SOURCE THEN DELETE;
			SELECT SUM(id) FROM m2`, int64(2), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := owner(newTestDB(t))
			defer s.Close()
			if tt.wantErr != 0 {
				if got := errNumber(t, s, tt.sql); got != tt.wantErr {
					t.Errorf("error %d, want %d", got, tt.wantErr)
				}
				return
			}
			if got := scalar(t, s, tt.sql); got != tt.want {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

// What the engine does not model it refuses with 40517, naming the
// construct, where SQL Server would run it.
func TestQueryRefusals(t *testing.T) {
	tests := []struct {
		sql  string
		what string
	}{
		{`SELECT CONVERT(INT, 1, 7)`, "CONVERT style 7"},
		{`SELECT * FROM tempdb.dbo.t`, "cross-database reference to tempdb"},
	}
	s := owner(newTestDB(t))
	defer s.Close()
	for _, tt := range tests {
		res, err := s.Exec(context.Background(), tt.sql, nil)
		if err != nil {
			t.Fatal(err)
		}
		e := firstErr(res)
		if e == nil || e.Number != 40517 || !strings.Contains(e.Message, tt.what) {
			t.Errorf("%s: error %v, want 40517 naming %q", tt.sql, e, tt.what)
		}
	}
}
