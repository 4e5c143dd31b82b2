package tsql

import (
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

// allocDuring returns the bytes allocated while f runs. TotalAlloc only
// grows, so it bounds the heap f could have held at its peak.
func allocDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Hostile batches get a clean error, not a stack overflow or gigabytes
// of memory (issue 16): nesting raises 191, a batch of millions of
// tokens 701.
func TestHostileBatches(t *testing.T) {
	const deep = 500000       // the batch of issue 16: 2 MB, a million tokens
	const deepTokens = 100000 // fits under maxTokens, so the parser sees it
	tests := []struct {
		name     string
		sql      string
		want     int32
		maxAlloc uint64
	}{
		{"parentheses", "SELECT " + strings.Repeat("(", deep) + "1" + strings.Repeat(")", deep), 191, 16 << 20},
		{"NOT", "SELECT 1 WHERE " + strings.Repeat("NOT ", deep) + "1 = 1", 701, 64 << 20},
		{"NOT, fewer", "SELECT 1 WHERE " + strings.Repeat("NOT ", deepTokens) + "1 = 1", 191, 64 << 20},
		{"unary minus", "SELECT " + strings.Repeat("- ", deep) + "1", 701, 64 << 20},
		{"unary minus, fewer", "SELECT " + strings.Repeat("- ", deepTokens) + "1", 191, 64 << 20},
		{"binary chain", "SELECT 1" + strings.Repeat(" + 1", deepTokens/2), 191, 64 << 20},
		{"AND chain", "SELECT 1 WHERE 1 = 1" + strings.Repeat(" AND 1 = 1", deepTokens/4), 191, 64 << 20},
		{"nested IF", strings.Repeat("IF 1 = 1 ", deepTokens/4) + "SELECT 1", 191, 64 << 20},
		{"nested derived tables", "SELECT * FROM " + strings.Repeat("(SELECT * FROM ", 900) + "sessions" + strings.Repeat(") x", 900), 191, 64 << 20},
		{"semicolons", strings.Repeat(";", 5000000), 701, 64 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := owner(newTestDB(t))
			var got int32
			alloc := allocDuring(func() { got = errNumber(t, s, tc.sql) })
			if got != tc.want {
				t.Errorf("error = %d, want %d", got, tc.want)
			}
			if alloc > tc.maxAlloc {
				t.Errorf("allocated %d MiB, want at most %d MiB", alloc>>20, tc.maxAlloc>>20)
			}
			t.Logf("%s: error %d, %d MiB allocated", tc.name, got, alloc>>20)
		})
	}
}

// Nesting below the limit still works.
func TestNestingBelowLimit(t *testing.T) {
	s := owner(newTestDB(t))
	res := mustExec(t, s, "SELECT "+strings.Repeat("(", 200)+"1"+strings.Repeat(")", 200)+" + "+strings.Repeat("- ", 200)+"2")
	if got := res[0].Rows[0][0]; got != int64(3) {
		t.Errorf("got %v, want 3", got)
	}
}

// A token stays at 32 bytes: the lexer's memory is 32 bytes a token.
func TestTokenSize(t *testing.T) {
	if got := unsafe.Sizeof(token{}); got > 32 {
		t.Errorf("token is %d bytes, want at most 32", got)
	}
}

// REPLICATE and CONCAT cap their results as SQL Server does: 8,000 bytes
// for non-MAX types, 2^31-1 for MAX (7119), and this server's 64 MiB
// bound on what one call builds (701).
func TestStringFunctionCaps(t *testing.T) {
	tests := []struct {
		expr    string
		wantLen int64
		wantErr int32
	}{
		{"LEN(REPLICATE('ab', 9223372036854775807))", 8000, 0},
		{"LEN(REPLICATE('abc', 3000))", 8000, 0},
		{"LEN(REPLICATE(N'ab', 5000))", 4000, 0},
		{"LEN(REPLICATE('a', 100))", 100, 0},
		{"LEN(REPLICATE('', 9223372036854775807))", 0, 0},
		{"LEN(REPLICATE(CAST('a' AS VARCHAR(MAX)), 10000))", 10000, 0},
		{"LEN(REPLICATE(CAST('a' AS VARCHAR(MAX)), 1000000000))", 0, 701},
		{"LEN(REPLICATE(CAST('ab' AS VARCHAR(MAX)), 2000000000))", 0, 7119},
		{"LEN(REPLICATE(CAST(N'a' AS NVARCHAR(MAX)), 1073741824))", 0, 7119},
		{"LEN(CONCAT(REPLICATE('a', 8000), 'b'))", 8000, 0},
		{"LEN(CONCAT(CAST(REPLICATE('a', 8000) AS VARCHAR(MAX)), 'b'))", 8001, 0},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			s := owner(newTestDB(t))
			var res []Result
			alloc := allocDuring(func() {
				var err error
				res, err = s.Exec(t.Context(), "SELECT "+tc.expr, nil)
				if err != nil {
					t.Fatal(err)
				}
			})
			if alloc > 64<<20 {
				t.Errorf("allocated %d MiB", alloc>>20)
			}
			if e := firstErr(res); e != nil || tc.wantErr != 0 {
				if e == nil || e.Number != tc.wantErr {
					t.Fatalf("error %v, want %d", e, tc.wantErr)
				}
				return
			}
			if got := res[0].Rows[0][0]; got != tc.wantLen {
				t.Errorf("got %v, want %d", got, tc.wantLen)
			}
		})
	}
}
