package mssqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"sync/atomic"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/sqlname"

	"github.com/golang-sql/civil"
	mssql "github.com/microsoft/go-mssqldb"
)

// queries holds the statements the store sends, built once from the
// quoted table and type names.
//
// Every parameter compared with a column is cast to the column's type in
// the SQL. SQL Server seeks with a VARCHAR parameter against the CHAR(43)
// key as it is, but Babelfish casts the column to the parameter's type
// and scans the table; with the cast, both engines seek the primary key
// (and the expiry index), and the cast costs nothing.
//
// Every token comparison carries a second, binary one: with the usual
// case-insensitive collation SQL Server would otherwise match a token in
// other case (and CHAR comparison ignores trailing spaces, which token
// validation rules out). The first predicate seeks the primary key; the
// binary one is a residual filter on the row it found, so it costs no scan.
type queries struct {
	find, all, delete, deleteExpired string
	deleteJournal                    string
	merge                            string
	typeName                         string   // for mssql.TVP.TypeName
	typeless                         []string // by size class: typeless[k] upserts 1<<k rows

	// journaled are the write statements that also write the
	// invalidation journal (journal.go), and poll reads it.
	journaled struct {
		merge, delete string
		typeless      []string
	}
	poll string
}

const (
	tokenParam  = "CAST(@p1 AS CHAR(43))"
	tokenBinary = tokenParam + " COLLATE Latin1_General_BIN2"
)

func buildQueries(table, tableType sqlname.Name) queries {
	t := table.Quoted()
	q := queries{
		find:   "SELECT data, expiry FROM " + t + " WHERE token = " + tokenParam + " AND token = " + tokenBinary + " AND expiry > CAST(@p2 AS DATETIME2(6))",
		all:    "SELECT token, data, expiry FROM " + t + " WHERE expiry > CAST(@p1 AS DATETIME2(6))",
		delete: "DELETE FROM " + t + " WHERE token = " + tokenParam + " AND token = " + tokenBinary,
		// @@ROWCOUNT, not the DONE token's count: a DBA may set NOCOUNT
		// in the server's 'user options', and the DONE count is then 0.
		// The invalidation journal's rows expire when they are written
		// (journal.go): they are left to deleteJournal.
		deleteExpired: "DELETE TOP (@p1) FROM " + t + " WHERE expiry <= CAST(@p2 AS DATETIME2(6))" +
			" AND token NOT LIKE '" + journalPrefix + "%';\nSELECT @@ROWCOUNT;",
		// The journal's rows in number order (a range of the primary
		// key, oldest first), those written before @p2.
		deleteJournal: "DELETE TOP (@p1) FROM " + t + " WHERE token > CAST('" + journalPrefix + "' AS CHAR(43))" +
			" AND token < " + counterSQL + " AND expiry <= CAST(@p2 AS DATETIME2(6));\nSELECT @@ROWCOUNT;",
		// MERGE WITH (HOLDLOCK) alone is a known deadlock: two writers of
		// one key both take shared range locks, then both wait to convert
		// them. UPDLOCK makes the first reader of a key take an update
		// lock, which the second must wait for; HOLDLOCK (SERIALIZABLE)
		// holds key-range locks so that two instances inserting the same
		// new token cannot both see it missing. XACT_ABORT rolls the
		// statement back on any error or cancellation, so no transaction
		// is ever left open on a pooled connection. Rows are sent sorted
		// by token, so concurrent flushes lock keys in one order.
		merge: "SET XACT_ABORT ON;\n" +
			"MERGE " + t + " WITH (UPDLOCK, HOLDLOCK) AS t\n" +
			"USING @rows AS s ON t.token = s.token\n" +
			"WHEN MATCHED THEN UPDATE SET t.data = s.data, t.expiry = s.expiry\n" +
			"WHEN NOT MATCHED BY TARGET THEN INSERT (token, data, expiry) VALUES (s.token, s.data, s.expiry);",
		typeName: tvpTypeName(tableType),
		poll:     pollSQL(t),
	}
	for n := 1; n <= maxTypelessRows; n *= 2 {
		q.typeless = append(q.typeless, upsertTypeless(t, n, ""))
		q.journaled.typeless = append(q.journaled.typeless, upsertTypeless(t, n, journalSQL(t)))
	}
	// The same MERGE, in a transaction with the journal's statements
	// after it.
	q.journaled.merge = "SET XACT_ABORT ON;\nBEGIN TRANSACTION;\n" +
		strings.TrimPrefix(q.merge, "SET XACT_ABORT ON;\n") + "\n" +
		journalSQL(t) +
		"COMMIT TRANSACTION;"
	// A Delete journals only when it deleted a row: a cache elsewhere
	// can hold a token only while its row exists.
	q.journaled.delete = "SET XACT_ABORT ON;\nBEGIN TRANSACTION;\n" +
		q.delete + ";\n" +
		"IF @@ROWCOUNT > 0\nBEGIN\n" + journalSQL(t) + "END\n" +
		"COMMIT TRANSACTION;"
	return q
}

// tvpTypeName is the type name in the form go-mssqldb parses: it splits
// the name at '.', removes every bracket, and refuses a bare part with a
// space or a leading digit. Each part bracketed, without '.', '[' or ']'
// inside (checkTypeName refuses those), passes through unchanged.
func tvpTypeName(n sqlname.Name) string {
	if n.Schema == "" {
		return "[" + n.Object + "]"
	}
	return "[" + n.Schema + "].[" + n.Object + "]"
}

// checkTypeName refuses a table type name go-mssqldb cannot pass on as it
// is (see tvpTypeName), so that a bad name fails at NewWithConfig instead
// of failing every flush on the client side.
func checkTypeName(n sqlname.Name) error {
	for _, part := range []string{n.Schema, n.Object} {
		if strings.ContainsAny(part, ".[]") {
			return fmt.Errorf("%w: go-mssqldb cannot pass a table type whose name contains '.', '[' or ']'", sqlname.ErrBadName)
		}
	}
	return nil
}

// upsertTypeless returns the batch statement that needs no table type,
// for n rows with parameters @p1..@p(3n): token, data and expiry of each
// row; then, in its transaction, the statements of tail. Batches are padded up to a power of two with rows whose data is
// NULL, which the statement skips: the store sends at most ten statement
// texts, not one per batch size, so SQL Server caches ten plans.
//
// It is the pattern SQL Server's experts recommend for upserts, without
// MERGE: UPDATE the rows that exist, under UPDLOCK and SERIALIZABLE, then
// INSERT those still missing, in one transaction. It also runs on engines
// without MERGE, such as Babelfish. A VALUES list used as a derived table
// has no 1,000-row limit; the parameter limit (2,100) caps a batch at 512
// rows.
func upsertTypeless(table string, n int, tail string) string {
	var v strings.Builder
	v.WriteString("(VALUES ")
	for i := 0; i < n; i++ {
		if i > 0 {
			v.WriteString(", ")
		}
		fmt.Fprintf(&v, "(CAST(@p%d AS CHAR(43)), @p%d, CAST(@p%d AS DATETIME2(6)))", 3*i+1, 3*i+2, 3*i+3)
	}
	v.WriteString(") AS v (token, data, expiry)")
	values := v.String()
	return "SET XACT_ABORT ON;\n" +
		"BEGIN TRANSACTION;\n" +
		"UPDATE t SET t.data = v.data, t.expiry = v.expiry\n" +
		"FROM " + table + " AS t WITH (UPDLOCK, SERIALIZABLE)\n" +
		"INNER JOIN " + values + " ON t.token = v.token\n" +
		"WHERE v.data IS NOT NULL;\n" +
		"INSERT INTO " + table + " (token, data, expiry)\n" +
		"SELECT v.token, v.data, v.expiry FROM " + values + "\n" +
		"WHERE v.data IS NOT NULL AND NOT EXISTS (SELECT 1 FROM " + table + " AS t WITH (UPDLOCK, SERIALIZABLE) WHERE t.token = v.token);\n" +
		tail +
		"COMMIT TRANSACTION;"
}

// sizeClass returns k such that 1<<k is the smallest power of two >= n.
func sizeClass(n int) int { return bits.Len(uint(n - 1)) }

// writer sends the store's statements. It owns the choice between the
// MERGE of a table-valued parameter and the typeless statement, and
// reports a switch once through report.
type writer struct {
	db      *sql.DB
	q       queries
	timeout time.Duration // FlushTimeout, for each write statement
	report  func(error)
	typ     string   // the table type, quoted, for messages
	j       *journal // nil: the statements write no journal

	path atomic.Int32 // pathMerge or pathTypeless
}

const (
	pathMerge int32 = iota
	pathTypeless
)

// tvpRow is one row of the batch table type; the field order is the
// type's column order. Inside a TVP the driver types a column by its
// field's zero value, and SQL Server converts each value into the table
// type's own column (CHAR(43), VARBINARY(MAX), DATETIME2(6)) when it binds
// the parameter; so, unlike a plain parameter, the wire type inside a TVP
// cannot cost a seek.
//
// Token is a string (NVARCHAR), a type go-mssqldb's own TVP tests cover;
// an mssql.VarChar field would go out as VARCHAR(MAX) with an all-zero
// collation, which no driver test covers. Expiry is a civil.DateTime
// (DATETIME2(7)), not the time.Time (DATETIMEOFFSET) the driver's tests
// use: Babelfish refuses DATETIMEOFFSET inside a TVP (8032, "Data type
// 0x2B is unknown"), and accepts DATETIME2. Expiries are UTC and truncated
// to the microsecond, so the value converts to DATETIME2(6) exactly. If a
// server refuses the TVP itself (8032, 4012) or the driver refuses it
// before sending, the store falls back to the typeless statement.
type tvpRow struct {
	Token  string
	Data   []byte
	Expiry civil.DateTime
}

// write writes items in one round trip, on the path the server supports,
// switching paths when the server tells it to. A duplicate key from
// another instance inserting the same token at the same moment is retried
// at once: the row now exists and the retry updates it.
func (w *writer) write(ctx context.Context, items []item) error {
	for dup := 0; ; {
		path := w.path.Load()
		err := w.withJournal(func(journaled bool) error { return w.writeOn(ctx, path, items, journaled) })
		if err == nil {
			return nil
		}
		switch cls := classify(err); {
		case cls == classDuplicateKey && dup < duplicateKeyRetries:
			dup++
			continue
		case path == pathMerge && (cls == classNoType || cls == classNoMerge || isClientSide(err)):
			w.switchToTypeless(err)
			continue
		case path == pathMerge && isNullInsert(err):
			// SQL Server raises 515 only for a NOT NULL column the store
			// does not write (the typeless statement meets it too, and
			// returns it). Babelfish also raises it for TVPs of some row
			// counts; there the typeless statement works, and the store
			// switches to it.
			err2 := w.withJournal(func(journaled bool) error { return w.writeOn(ctx, pathTypeless, items, journaled) })
			if err2 == nil {
				w.switchToTypeless(err)
			}
			return err2
		case path == pathMerge && isPermissionDenied(err):
			// SQL Server requires EXECUTE on a table type to pass it as a
			// parameter. The typeless statement needs only the table's
			// permissions, which SQL Server checks before it runs: any
			// answer but 229 says they are there, and only the type's is
			// missing. Its own error then decides what happens to the rows.
			err2 := w.withJournal(func(journaled bool) error { return w.writeOn(ctx, pathTypeless, items, journaled) })
			if !isPermissionDenied(err2) {
				w.switchToTypeless(err)
			}
			return err2
		}
		return err
	}
}

// withJournal runs a write statement, journaled while the journal is on.
// When the server refuses the journaled statement as unsupported and
// runs the same statement without the journal, the journal's SQL is what
// it cannot run: the journal falls back (for good, reported once), and
// the result without it stands.
func (w *writer) withJournal(run func(journaled bool) error) error {
	if !w.j.active() {
		return run(false)
	}
	err := run(true)
	if !unsupported(err) {
		return err
	}
	if err2 := run(false); err2 == nil || !unsupported(err2) {
		w.j.fallBack(err)
		return err2
	}
	return err
}

// writeOn runs one attempt on path, bounded by FlushTimeout. A statement
// that outlives it is cancelled on the wire (XACT_ABORT rolls it back)
// and reported as errStatementTimeout, which is retried like any
// transient failure. The journal's statements, when journaled, run in
// the same transaction: the rows and their journal row commit together
// or not at all.
func (w *writer) writeOn(ctx context.Context, path int32, items []item, journaled bool) error {
	tctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	var err error
	if path == pathMerge {
		err = w.merge(tctx, items, journaled)
	} else {
		err = w.typeless(tctx, items, journaled)
	}
	if err != nil && ctx.Err() == nil && tctx.Err() != nil {
		return fmt.Errorf("%w after %v: %w", errStatementTimeout, w.timeout, redact(err))
	}
	return redact(err)
}

func (w *writer) switchToTypeless(cause error) {
	if w.path.Swap(pathTypeless) == pathTypeless {
		return
	}
	w.report(fmt.Errorf("mssqlstore: flushing with UPDATE then INSERT instead of a MERGE of table type %s, from now on (%w); create the type, or GRANT EXECUTE ON TYPE::%s, for one-statement flushes",
		w.typ, redact(cause), w.typ))
}

func (w *writer) merge(ctx context.Context, items []item, journaled bool) error {
	rows := make([]tvpRow, len(items))
	for i, it := range items {
		rows[i] = tvpRow{Token: it.token, Data: it.data, Expiry: civilTime(it.expiry)}
	}
	args := []any{sql.Named("rows", mssql.TVP{TypeName: w.q.typeName, Value: rows})}
	query := w.q.merge
	if journaled {
		query = w.q.journaled.merge
		args = append(args, w.journalArgs(tokensOf(items))...)
	}
	_, err := w.db.ExecContext(ctx, query, args...)
	return err
}

func (w *writer) typeless(ctx context.Context, items []item, journaled bool) error {
	for len(items) > 0 {
		n := min(len(items), maxTypelessRows)
		chunk := items[:n]
		items = items[n:]
		k := sizeClass(n)
		args := make([]any, 0, 3<<k+2)
		for _, it := range chunk {
			args = append(args, mssql.VarChar(it.token), it.data, civilTime(it.expiry))
		}
		for range 1<<k - n {
			// A padding row: NULL data, which the statement skips.
			args = append(args, mssql.VarChar(""), []byte(nil), civilTime(time.Time{}))
		}
		query := w.q.typeless[k]
		if journaled {
			query = w.q.journaled.typeless[k]
			args = append(args, w.journalArgs(tokensOf(chunk))...)
		}
		if _, err := w.db.ExecContext(ctx, query, args...); err != nil {
			return err
		}
	}
	return nil
}

// tokensOf returns the tokens of items.
func tokensOf(items []item) []string {
	tokens := make([]string, len(items))
	for i, it := range items {
		tokens[i] = it.token
	}
	return tokens
}

// journalArgs are the journal's parameters for a statement that writes or
// deletes tokens.
func (w *writer) journalArgs(tokens []string) []any {
	return []any{sql.Named("j", w.j.payload(tokens)), sql.Named("je", civilTime(w.j.expiry())), sql.Named("jn", w.j.start())}
}

// find reads one live session.
func (w *writer) find(ctx context.Context, token string, now time.Time) (data []byte, expiry time.Time, found bool, err error) {
	err = w.db.QueryRowContext(ctx, w.q.find, mssql.VarChar(token), civilTime(now)).Scan(&data, &expiry)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, false, nil
	}
	if err != nil {
		return nil, time.Time{}, false, redact(err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, utcWallClock(expiry), true, nil
}

// delete deletes one session, journaled while the journal is on. A
// duplicate key can only be the journal's counter, which another instance
// created at the same moment (journalSQL): the statement rolled back, and
// is retried at once, as a flush is.
func (w *writer) delete(ctx context.Context, token string) error {
	for dup := 0; ; dup++ {
		err := w.withJournal(func(journaled bool) error {
			if !journaled {
				_, err := w.db.ExecContext(ctx, w.q.delete, mssql.VarChar(token))
				return err
			}
			args := append([]any{mssql.VarChar(token)}, w.journalArgs([]string{token})...)
			_, err := w.db.ExecContext(ctx, w.q.journaled.delete, args...)
			return err
		})
		if err != nil && classify(err) == classDuplicateKey && dup < duplicateKeyRetries {
			continue
		}
		return redact(err)
	}
}

// deleteExpired deletes up to batch expired sessions and returns how many
// it deleted.
func (w *writer) deleteExpired(ctx context.Context, batch int64, now time.Time) (int64, error) {
	var n int64
	err := w.db.QueryRowContext(ctx, w.q.deleteExpired, batch, civilTime(now)).Scan(&n)
	return n, redact(err)
}

// deleteJournal deletes up to batch journal rows written before the
// retention, and returns how many it deleted.
func (w *writer) deleteJournal(ctx context.Context, batch int64, now time.Time) (int64, error) {
	var n int64
	err := w.db.QueryRowContext(ctx, w.q.deleteJournal, batch, civilTime(now.Add(-journalRetention))).Scan(&n)
	return n, redact(err)
}

// all reads every live session.
func (w *writer) all(ctx context.Context, now time.Time) (map[string][]byte, error) {
	rows, err := w.db.QueryContext(ctx, w.q.all, civilTime(now))
	if err != nil {
		return nil, redact(err)
	}
	defer rows.Close()
	out := make(map[string][]byte)
	for rows.Next() {
		var token string
		var data []byte
		var expiry time.Time
		if err := rows.Scan(&token, &data, &expiry); err != nil {
			return nil, redact(err)
		}
		if !validToken(token) {
			continue // the invalidation journal's rows (journal.go)
		}
		if data == nil {
			data = []byte{}
		}
		out[token] = data
	}
	return out, redact(rows.Err())
}

// civilTime types a UTC time as DATETIME2 on the wire, truncated to the
// microsecond that DATETIME2(6) stores (so the CAST in the SQL, which
// rounds, changes nothing). A time.Time would go out as DATETIMEOFFSET,
// which outranks DATETIME2 and would make SQL Server convert the expiry
// column instead of seeking its index.
func civilTime(t time.Time) civil.DateTime {
	return civil.DateTimeOf(t.UTC().Truncate(time.Microsecond))
}

// utcWallClock reads a DATETIME2 the store wrote as the UTC wall clock it
// is. go-mssqldb decodes it in the DSN's timezone (UTC unless the DSN
// says timezone=), which would shift every expiry by the zone's offset.
func utcWallClock(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC)
}
