package mssqltest_test

import (
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
)

// SET LANGUAGE through the driver: the batch of the driver's own
// TestSetLanguage, then the reset the driver asks for when the pool hands
// the connection out again, which restores us_english.
func TestEngineSetLanguage(t *testing.T) {
	_, db := open(t, mssqltest.Options{})
	db.SetMaxOpenConns(1)
	ctx := testCtx(t)
	var lang string
	var got time.Time
	err := db.QueryRowContext(ctx, "SET LANGUAGE Russian; SELECT @@LANGUAGE, CAST(N'июл 19 2021  8:12PM' AS datetime)").Scan(&lang, &got)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2021, 7, 19, 20, 12, 0, 0, time.UTC); lang != "русский" || !got.Equal(want) {
		t.Fatalf("under Russian: @@LANGUAGE %q, date %v; want русский, %v", lang, got, want)
	}
	// The same connection, reused: sp_reset_connection's flag.
	if err := db.QueryRowContext(ctx, "SELECT @@LANGUAGE").Scan(&lang); err != nil {
		t.Fatal(err)
	}
	if lang != "us_english" {
		t.Fatalf("after the reset: @@LANGUAGE %q, want us_english", lang)
	}
	if err := db.QueryRowContext(ctx, "SELECT CAST('07/19/2021' AS date)").Scan(&got); err != nil {
		t.Fatalf("mdy after the reset: %v", err)
	}
}
