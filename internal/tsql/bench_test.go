package tsql

import (
	"context"
	"testing"
	"time"
)

// fill inserts n sessions through the store's upsert batch, 500 at a time.
func fill(tb testing.TB, db *Database, n int, exp time.Time) {
	tb.Helper()
	s := owner(db)
	defer s.Close()
	for i := 0; i < n; i += 500 {
		sql, params := upsertBatch(500, exp, func(int) []byte { return make([]byte, 200) },
			func(j int) string { return tok(i + j) })
		mustExec(tb, s, sql, params...)
	}
}

func BenchmarkFind(b *testing.B) {
	db := newTestDB(b)
	fill(b, db, 100000, testNow.Add(time.Hour))
	s := owner(db)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		res, err := s.Exec(context.Background(), findSQL, []Param{vc("@p1", tok(i%100000)), dt2("@p2", testNow)})
		if err != nil || len(res[0].Rows) != 1 {
			b.Fatal(err, res)
		}
		i++
	}
}

func BenchmarkDeleteExpired(b *testing.B) {
	db := newTestDB(b)
	s := owner(db)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		fill(b, db, 100000, testNow.Add(-time.Hour))
		b.StartTimer()
		for {
			res := mustExec(b, s, "DELETE TOP (@p1) FROM [dbo].[sessions] WHERE expiry <= @p2", bigint("@p1", 1000), dt2("@p2", testNow))
			if res[0].RowCount < 1000 {
				break
			}
		}
	}
}

func BenchmarkUpsert500(b *testing.B) {
	db := newTestDB(b)
	fill(b, db, 100000, testNow.Add(time.Hour))
	s := owner(db)
	sql, params := upsertBatch(500, testNow.Add(2*time.Hour), func(int) []byte { return make([]byte, 200) }, tok)
	b.ReportAllocs()
	for b.Loop() {
		mustExec(b, s, sql, params...)
	}
}
