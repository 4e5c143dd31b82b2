package tsql

import (
	"context"
	"errors"
	"testing"
	"time"
)

const schemaDDL = `CREATE TABLE sessions (token CHAR(43) PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);
CREATE TYPE dbo.sessions_batch AS TABLE (token CHAR(43) COLLATE Latin1_General_BIN2 NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL);`

var testNow = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

func newTestDB(t testing.TB) *Database {
	t.Helper()
	db := NewDatabase(Options{Name: "db", Now: func() time.Time { return testNow }})
	if err := db.ExecAdmin(context.Background(), schemaDDL); err != nil {
		t.Fatalf("schema: %v", err)
	}
	return db
}

func owner(db *Database) *Session { return db.NewSession(Principal{Name: "sa"}) }

// mustExec runs a batch and fails the test on any error.
func mustExec(t testing.TB, s *Session, sql string, params ...Param) []Result {
	t.Helper()
	res, err := s.Exec(context.Background(), sql, params)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("%s: %v", sql, r.Err)
		}
	}
	return res
}

// errNumber runs a batch and returns the number of the first error.
func errNumber(t testing.TB, s *Session, sql string, params ...Param) int32 {
	t.Helper()
	res, err := s.Exec(context.Background(), sql, params)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	for _, r := range res {
		if r.Err != nil {
			return r.Err.Number
		}
	}
	return 0
}

func firstErr(res []Result) *Error {
	for _, r := range res {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

// scalar runs a batch and returns the first column of the first row of
// the last result set.
func scalar(t testing.TB, s *Session, sql string, params ...Param) any {
	t.Helper()
	res := mustExec(t, s, sql, params...)
	for i := len(res) - 1; i >= 0; i-- {
		if res[i].Columns != nil {
			if len(res[i].Rows) == 0 {
				t.Fatalf("%s: no rows", sql)
			}
			return res[i].Rows[0][0]
		}
	}
	t.Fatalf("%s: no result set", sql)
	return nil
}

func vc(name, v string) Param {
	return Param{Name: name, Type: Type{ID: TypeVarChar, Length: 43}, Value: v}
}
func nvc(name, v string) Param {
	return Param{Name: name, Type: Type{ID: TypeNVarChar, Length: 4000}, Value: v}
}
func dt2(name string, v time.Time) Param {
	return Param{Name: name, Type: Type{ID: TypeDateTime2, Scale: 7}, Value: v}
}
func vb(name string, v []byte) Param {
	return Param{Name: name, Type: Type{ID: TypeVarBinary, Length: MaxLength}, Value: v}
}
func bigint(name string, v int64) Param {
	return Param{Name: name, Type: Type{ID: TypeBigInt}, Value: v}
}

func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
