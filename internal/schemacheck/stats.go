package schemacheck

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/sqlname"

	"github.com/golang-sql/civil"
)

// Stats describes the sessions table.
type Stats struct {
	// Live and Expired count the sessions whose expiry is after, and not
	// after, the time given to ReadStats. The store's invalidation
	// journal (its rows' tokens begin with "~j", which no session token
	// has) is no session: it is left out here and from Oldest and Newest.
	Live, Expired int64
	// Oldest and Newest are the earliest and latest expiry in the table,
	// in UTC; zero when the table is empty.
	Oldest, Newest time.Time
	// Size is the table's size on disk as sp_spaceused reports it.
	Size Size
	// SizeErr is why Size is unavailable (the login may not run
	// sp_spaceused, for one); nil when Size is set.
	SizeErr error
}

// Size is a row of sp_spaceused; SQL Server reports each figure as text
// such as "72 KB".
type Size struct {
	Rows, Reserved, Data, IndexSize, Unused string
}

// ReadStats reads the figures of the sessions table opts.Table. now
// decides what has expired; pass the clock the store uses (the store
// compares expiry with its own clock, not the server's).
func ReadStats(ctx context.Context, db *sql.DB, opts Options, now time.Time) (Stats, error) {
	table, _, err := opts.names()
	if err != nil {
		return Stats{}, err
	}
	var st Stats
	var oldest, newest sql.NullTime
	q := "SELECT COUNT_BIG(*), MIN(expiry), MAX(expiry) FROM " + table.Quoted() + " WHERE " + notJournal
	var total int64
	if err := db.QueryRowContext(ctx, q).Scan(&total, &oldest, &newest); err != nil {
		return Stats{}, fmt.Errorf("schemacheck: read %s: %w", table, err)
	}
	// civil.DateTime goes out as DATETIME2, the expiry column's type, so
	// SQL Server can seek the expiry index instead of converting the column.
	q = "SELECT COUNT_BIG(*) FROM " + table.Quoted() + " WHERE expiry > @p1 AND " + notJournal
	if err := db.QueryRowContext(ctx, q, civil.DateTimeOf(now.UTC())).Scan(&st.Live); err != nil {
		return Stats{}, fmt.Errorf("schemacheck: count live sessions in %s: %w", table, err)
	}
	// Two reads without a transaction: a session committed in between
	// may be counted live but not in the total; never below zero.
	st.Expired = max(total-st.Live, 0)
	if oldest.Valid {
		st.Oldest = oldest.Time.UTC()
	}
	if newest.Valid {
		st.Newest = newest.Time.UTC()
	}
	st.Size, st.SizeErr = spaceUsed(ctx, db, table)
	return st, nil
}

// notJournal leaves out the rows of the store's invalidation journal
// (mssqlstore's journal.go): its counter, expiring 0001-01-01, and its
// rows, which expire when written.
const notJournal = "token NOT LIKE '~j%'"

func spaceUsed(ctx context.Context, db *sql.DB, table sqlname.Name) (Size, error) {
	var name string
	var sz Size
	err := db.QueryRowContext(ctx, "EXEC sp_spaceused "+sqlname.NationalLiteral(table.Quoted())).
		Scan(&name, &sz.Rows, &sz.Reserved, &sz.Data, &sz.IndexSize, &sz.Unused)
	if err != nil {
		return Size{}, fmt.Errorf("sp_spaceused: %w", err)
	}
	for _, f := range []*string{&sz.Rows, &sz.Reserved, &sz.Data, &sz.IndexSize, &sz.Unused} {
		*f = strings.TrimSpace(*f) // SQL Server pads some of them
	}
	return sz, nil
}
