package mssqlstore

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/sqlerr"
)

// The invalidation journal keeps the caches of several instances coherent
// (see Config.InvalidationBound). It lives in the sessions table itself,
// so that it needs no permission but the four the store needs anyway,
// and no feature an engine may lack (SQL Server's Change Tracking needs
// ALTER DATABASE, VIEW CHANGE TRACKING, and is missing from Babelfish):
//
//   - A counter row, token counterKey, whose data is a BIGINT (8 bytes,
//     big-endian) and whose expiry is 0001-01-01.
//   - One journal row per write statement: token journalPrefix followed by
//     the counter's new value in 19 digits; data the writing instance's
//     id, the time it sent the statement, and a 64-bit hash of each token
//     it wrote or deleted; expiry the time it was written.
//
// So both are expired from the start: no query for live sessions counts
// them (of this store, of an older one, or a user's). This store's
// cleanup keeps the journal rows journalRetention, for the other
// instances' polls, and never deletes the counter. Another program's
// cleanup may delete either sooner: a deleted counter is created again
// at a random number (not after the last journal row left: an
// expiry-based cleanup may have deleted a newer row and kept an older
// one, whose writer's clock was ahead, and the numbers a poll applied
// would come again), so the polls see a gap or a counter below what they
// applied; deleted journal rows make the polls that had not read them
// drop their whole caches. Both are safe, and counted in Stats
// (InvalidationPurges).
//
// No session token can equal either key: a token is 43 base64url
// characters, and '~' is not one of them (and every token comparison of
// the store is also binary). Both keys are shorter than 43 characters.
//
// Every write statement (flush, write-through, and a Delete that deleted
// a row) increments the counter and inserts its journal row in the same
// transaction as its writes, after them. The counter's row lock is held
// until the transaction commits, so the statements that write the journal
// commit in the order of their numbers: once number n is committed, every
// number below it is. A poll reads the counter first, then the journal
// rows after the last number it applied: every number up to the counter
// is committed by then, so one missing at or below it was deleted, not
// late. What this costs: the journaling writes of all instances queue for
// the counter, each for the time of its journal INSERT and its commit.
//
// Hashes instead of tokens keep live session tokens out of the journal.
const (
	journalPrefix    = "~j"
	counterKey       = journalPrefix + "9999999999999999999" // after every journal key: 19 digits, above any BIGINT
	journalDigits    = 19
	journalRetention = time.Minute // how long cleanup keeps journal rows; a poll further behind purges its cache
	journalHeader    = 16          // instance id, then the writer's clock in Unix nanoseconds
	pollRows         = 256         // journal rows one poll reads at most: with journalMaxHashes, a poll holds at most about 1 MiB
	journalMaxHashes = 512         // hashes one journal row names at most; a statement that changed more names none: purge
	pollRounds       = 16          // polls in a row to catch up, before waiting for the next tick
	// counterWrap is the largest counter the journal increments: far
	// above any it reaches from a random start below 2^62, below the
	// largest BIGINT.
	counterWrap = "9000000000000000000"
)

// journal owns whether this instance's statements write the journal and
// its polls read it: on from the start when Config.InvalidationBound is
// not negative. The reading stops for good when the engine refused the
// journal's SQL, in a poll or a write (a fallback, reported once); the
// writing only when it refused a journaled write: while this instance's
// writes can journal, the other instances' caches rely on them.
type journal struct {
	id     [8]byte // this instance, to skip its own journal rows
	now    func() time.Time
	report func(error)
	off    func() // when set, runs once when the journal falls back

	on       atomic.Bool // statements write the journal
	fellBack atomic.Bool // polls no longer read it
}

func newJournal(now func() time.Time, report func(error)) (*journal, error) {
	j := &journal{now: now, report: report}
	if _, err := rand.Read(j.id[:]); err != nil {
		return nil, fmt.Errorf("mssqlstore: an instance id for the invalidation journal: %w", err)
	}
	j.on.Store(true)
	return j, nil
}

// active reports whether statements write the journal now. A nil journal
// (invalidation off by configuration) is never active.
func (j *journal) active() bool { return j != nil && j.on.Load() }

// reading reports whether polls read the journal now.
func (j *journal) reading() bool { return !j.fellBack.Load() }

// payload is the data of the journal row for a statement that writes or
// deletes tokens. A statement of more than journalMaxHashes tokens (a
// MERGE of a batch larger than that) names none, which tells the other
// instances to drop their whole caches: so that no journal row, and no
// poll, holds more than a bounded amount of memory.
func (j *journal) payload(tokens []string) []byte {
	if len(tokens) > journalMaxHashes {
		tokens = nil
	}
	b := make([]byte, journalHeader, journalHeader+8*len(tokens))
	copy(b, j.id[:])
	binary.BigEndian.PutUint64(b[8:], uint64(j.now().UnixNano()))
	for _, t := range tokens {
		b = binary.BigEndian.AppendUint64(b, tokenHash(t))
	}
	return b
}

// start is a random first number for a new counter, below 2^62 so that
// numbers stay 19 digits.
func (j *journal) start() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return int64(binary.BigEndian.Uint64(b[:])>>2) + 1
}

// expiry is the expiry of a journal row written now: now (see above).
func (j *journal) expiry() time.Time { return j.now() }

// unsupported reports whether err says the engine cannot run the
// journal's SQL at all: it refuses a construct (40517; Babelfish's
// 33557097) or cannot parse it (102, 156). Every instance on that engine
// meets the same.
func unsupported(err error) bool {
	n, ok := sqlerr.Number(err)
	return ok && (n == 40517 || n == 33557097 || n == 102 || n == 156)
}

// fallBack turns the journal off for good, writing and reading: the
// server refused a journaled write.
func (j *journal) fallBack(cause error) {
	j.on.Store(false)
	j.stopReading(cause)
}

// stopReading stops the polls for good and reports why once: the cache
// serves by its age alone. The writes still journal while the server
// runs them (a refused poll says nothing of them), for the other
// instances, whose polls may succeed.
func (j *journal) stopReading(cause error) {
	if j.fellBack.Swap(true) {
		return
	}
	if j.off != nil {
		j.off()
	}
	j.report(fmt.Errorf("mssqlstore: cross-instance invalidation is off from now on: the server cannot run its SQL (%w); another instance's change reaches this cache only once CacheMaxAge has passed", redact(cause)))
}

// journalEntry is one journal row, decoded.
type journalEntry struct {
	seq    uint64
	writer [8]byte
	at     time.Time // the writer's clock when it sent the statement
	hashes []uint64
}

var errNotJournal = errors.New("mssqlstore: not a journal row")

// decodeJournal decodes a row the poll read. A row of another form (which
// only an odd collation could sort among the journal keys) is
// errNotJournal.
func decodeJournal(token string, data []byte) (journalEntry, error) {
	token = strings.TrimRight(token, " ")
	digits, ok := strings.CutPrefix(token, journalPrefix)
	if !ok || len(digits) != journalDigits || len(data) < journalHeader || (len(data)-journalHeader)%8 != 0 {
		return journalEntry{}, errNotJournal
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return journalEntry{}, errNotJournal
	}
	e := journalEntry{seq: seq, at: time.Unix(0, int64(binary.BigEndian.Uint64(data[8:16])))}
	copy(e.writer[:], data[:8])
	for b := data[journalHeader:]; len(b) > 0; b = b[8:] {
		e.hashes = append(e.hashes, binary.BigEndian.Uint64(b))
	}
	return e, nil
}

// journalKey is the token of journal row seq, and the poll's lower bound.
func journalKey(seq uint64) string {
	return fmt.Sprintf("%s%0*d", journalPrefix, journalDigits, seq)
}

// tokenHash is the 64-bit FNV-1a hash of a token: what the journal
// carries for it, and what the cache is keyed by.
func tokenHash(token string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(token); i++ {
		h = (h ^ uint64(token[i])) * 1099511628211
	}
	return h
}

// journalSQL is what a journaling statement runs after its writes, inside
// its transaction, with parameters @j (the payload), @je (the expiry) and
// @jn (a random start): it increments the counter, then inserts the
// journal row numbered with the counter's new value. A missing counter
// (a new table, or one another program emptied or cleaned) is created at
// the random @jn, so that a poll that applied numbers of the table's past
// cannot mistake new rows for old ones (it finds the counter below its
// last number, or a gap, and drops its cache). It is never created after
// the journal rows left: they may not include the newest one. Two
// instances creating it at once meet a duplicate key, which rolls one
// back to retry.
func journalSQL(table string) string {
	p := journalParts(table)
	return p.increment + "IF @@ROWCOUNT = 0\n  " + p.create + p.insert
}

// counterSQL is the counter's key in SQL, typed as the token column (so
// that Babelfish seeks, as for every token the store sends).
const counterSQL = "CAST('" + counterKey + "' AS CHAR(43))"

// journalStatements are journalSQL's three statements.
type journalStatements struct{ increment, create, insert string }

func journalParts(table string) journalStatements {
	ctr := counterSQL
	return journalStatements{
		// A counter outside 0 to counterWrap (a program or a person wrote
		// it) starts again at @jn: its increment would overflow (8115),
		// which the flush would take for an error of its rows, and drop
		// them. The polls then see a gap or a counter below their last
		// number, and drop their caches.
		increment: "UPDATE c SET c.data = CAST(CASE WHEN CAST(c.data AS BIGINT) BETWEEN 0 AND " + counterWrap +
			" THEN CAST(c.data AS BIGINT) + 1 ELSE @jn END AS BINARY(8)) FROM " + table + " AS c WHERE c.token = " + ctr + ";\n",
		create: "INSERT INTO " + table + " (token, data, expiry)\n" +
			"  VALUES (" + ctr + ", CAST(@jn AS BINARY(8)), CAST('0001-01-01' AS DATETIME2(6)));\n",
		insert: "INSERT INTO " + table + " (token, data, expiry)\n" +
			"SELECT CAST('" + journalPrefix + "' + RIGHT('" + strings.Repeat("0", journalDigits) + "' + CAST(CAST(c.data AS BIGINT) AS VARCHAR(19)), 19) AS CHAR(43)), @j, CAST(@je AS DATETIME2(6))\n" +
			"FROM " + table + " AS c WHERE c.token = " + ctr + ";\n",
	}
}

// pollSQL reads the counter, then up to @p2 journal rows after key @p1.
func pollSQL(table string) string {
	ctr := counterSQL
	return "SELECT data FROM " + table + " WHERE token = " + ctr + ";\n" +
		"SELECT TOP (@p2) token, data FROM " + table + " WHERE token > CAST(@p1 AS CHAR(43)) AND token < " + ctr + " ORDER BY token;"
}
