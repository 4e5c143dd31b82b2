package mssqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/scs-contrib/mssqlstore/internal/sqlerr"

	mssql "github.com/microsoft/go-mssqldb"
)

// Errors returned to callers. Callers branch on them with errors.Is.
var (
	// ErrInvalidToken is returned by Commit for a token that is not 43
	// base64url characters, the form SCS generates. Such a token never
	// reaches SQL Server: with a CHAR column and the usual case-insensitive
	// collation, a padded or re-cased token could match another session.
	ErrInvalidToken = errors.New("mssqlstore: invalid session token: want 43 base64url characters")

	// ErrInvalidExpiry is returned by Commit for an expiry outside the
	// range of DATETIME2 (years 1 to 9999).
	ErrInvalidExpiry = errors.New("mssqlstore: expiry outside the DATETIME2 range (years 1 to 9999)")

	// ErrDataTooLarge is returned by Commit for data larger than
	// VARBINARY(MAX) holds (2^31-1 bytes).
	ErrDataTooLarge = errors.New("mssqlstore: session data larger than VARBINARY(MAX) holds")
)

// errStatementTimeout marks a flush statement cancelled by FlushTimeout.
var errStatementTimeout = errors.New("mssqlstore: flush statement timed out")

// RowError reports a row that SQL Server rejected on its own, found by
// splitting a failed batch. The row was dropped so that the rest of the
// batch could be written; the error callback receives it.
type RowError struct {
	Token string
	Err   error
}

func (e *RowError) Error() string {
	return fmt.Sprintf("mssqlstore: SQL Server rejected the session %s…, dropped it: %v", e.Token[:min(8, len(e.Token))], e.Err)
}

func (e *RowError) Unwrap() error { return e.Err }

// errorClass says how the store reacts to an error.
type errorClass int

const (
	// classPermanent: retrying will not help until someone changes the
	// database (a missing table, a missing permission). Reported once,
	// retried slowly.
	classPermanent errorClass = iota
	// classTransient: a deadlock, a lock timeout, a failover, a dropped
	// connection. Retried with capped exponential backoff.
	classTransient
	// classDuplicateKey: another instance inserted the same token at the
	// same moment. Retried at once: the rows now exist and become updates.
	classDuplicateKey
	// classRow: SQL Server rejected a value in one row. The batch is split
	// to find the row.
	classRow
	// classNoType: the batch table type is missing or not usable by this
	// login. The store switches to the statement that needs no type.
	classNoType
	// classNoMerge: the server does not support MERGE (Babelfish). The
	// store switches to UPDATE then INSERT for good.
	classNoMerge
	// classCanceled: the caller's context ended.
	classCanceled
	// classClientSide: the driver refused the statement before sending it
	// (no SQL Server number, no network error). On the MERGE path the
	// store switches to the typeless statement and reports it once.
	classClientSide
)

func (c errorClass) String() string {
	switch c {
	case classPermanent:
		return "permanent"
	case classTransient:
		return "transient"
	case classDuplicateKey:
		return "duplicate key"
	case classRow:
		return "row"
	case classNoType:
		return "no type"
	case classNoMerge:
		return "no MERGE"
	case classCanceled:
		return "canceled"
	case classClientSide:
		return "client side"
	}
	return fmt.Sprintf("errorClass(%d)", int(c))
}

// transientNumbers are SQL Server errors worth retrying: the transient
// error lists of EF Core's SqlServerTransientExceptionDetector and of
// Microsoft.Data.SqlClient's retry logic, and Azure SQL's documented
// transient errors.
var transientNumbers = map[int32]bool{
	596:   true,              // the session is in the kill state
	4221:  true,              // login to a readable secondary failed while it changes roles
	10936: true,              // Azure: request limit of the elastic pool reached
	18401: true,              // login failed: server in script upgrade mode
	40143: true, 40540: true, // Azure: the service met an error processing the request
	42108: true, 42109: true, // Azure serverless: the database is paused or resuming
	1204: true, 1205: true, 1222: true, // lock resources, deadlock victim, lock timeout
	20: true, 64: true, 121: true, 233: true, // connection-level failures
	4060:  true,                           // cannot open database (Azure failover)
	10053: true, 10054: true, 10060: true, // transport errors
	10928: true, 10929: true, // Azure resource limits
	40197: true, 40501: true, 40613: true, // Azure service busy or unavailable
	49918: true, 49919: true, 49920: true, // Azure too many operations
	41301: true, 41302: true, 41305: true, 41325: true, 41839: true, // In-Memory OLTP conflicts
}

// rowNumbers are errors caused by the values of a row. 515 (NULL into a
// NOT NULL column) is not one: the store never sends a NULL, so 515 means
// the table gained a NOT NULL column, which every row would meet. It is
// permanent: the rows stay pending and it is reported once.
var rowNumbers = map[int32]bool{
	2628: true, // string or binary data would be truncated
	8152: true, // the same, before SQL Server 2019
	242:  true, // datetime out of range
	517:  true, // date arithmetic overflow
	8115: true, // arithmetic overflow
	8672: true, // MERGE touched one row twice (two tokens equal under the collation)
}

// classify tells how to react to err. It looks at error numbers and
// types, never at message text.
func classify(err error) errorClass {
	if errors.Is(err, errStatementTimeout) {
		return classTransient
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return classCanceled
	}
	if n, ok := sqlerr.Number(err); ok {
		switch {
		case n == 2627 || n == 2601:
			return classDuplicateKey
		case n == 2715, n == 468, n == 4012, n == 8032:
			// 2715: the table type does not exist. 468: its token column's
			// collation differs from the table's, so SQL Server cannot
			// compare them in the MERGE. 4012, 8032: the server refused
			// the TVP's column metadata or a column's wire type. Either
			// way the typeless path, whose tokens are parameters, works.
			return classNoType
		case n == 33557097: // Babelfish: 'MERGE' is not currently supported
			return classNoMerge
		case transientNumbers[n]:
			return classTransient
		case rowNumbers[n]:
			return classRow
		}
		return classPermanent
	}
	var netErr net.Error
	var streamErr mssql.StreamError
	var serverErr mssql.ServerError
	switch {
	case errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, net.ErrClosed),
		errors.As(err, &netErr),
		errors.As(err, &streamErr),
		errors.As(err, &serverErr):
		return classTransient
	}
	return classClientSide
}

func isClientSide(err error) bool { return classify(err) == classClientSide }

func isNullInsert(err error) bool {
	n, _ := sqlerr.Number(err)
	return n == 515
}

func isPermissionDenied(err error) bool {
	n, _ := sqlerr.Number(err)
	return n == 229
}

// redact returns err with a message that holds no session token and no
// session data, for every error the store returns or reports. SQL Server
// quotes values in some messages: 2627 "The duplicate key value is
// (<token>)", 2628 "Truncated value: '<data>'". Tokens are credentials.
// The original error stays reachable with errors.As and errors.Is.
func redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := redactText(msg)
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactText removes quoted values and anything shaped like a token (a
// run of 40 or more base64url characters, of which it keeps 6).
func redactText(s string) string {
	for _, marker := range []string{"duplicate key value is (", "Truncated value: "} {
		i := strings.Index(s, marker)
		if i < 0 {
			continue
		}
		start := i + len(marker)
		end := len(s)
		switch {
		case strings.HasSuffix(marker, "("):
			if j := strings.Index(s[start:], ")"); j >= 0 {
				end = start + j
			}
		case strings.HasPrefix(s[start:], "'"):
			if j := strings.LastIndex(s[start+1:], "'"); j >= 0 {
				end = start + 1 + j + 1
			}
		}
		s = s[:start] + "<redacted>" + s[end:]
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && isTokenChar(s[j]) {
			j++
		}
		switch {
		case j-i >= 40:
			b.WriteString(s[i : i+6])
			b.WriteString("…")
		case j > i:
			b.WriteString(s[i:j])
		default:
			b.WriteByte(s[i])
			j = i + 1
		}
		i = j
	}
	return b.String()
}

func isTokenChar(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// fixHint says, for a permanent error, what the operator should do.
func fixHint(err error, table, tableType string) string {
	n, _ := sqlerr.Number(err)
	switch n {
	case 208:
		return fmt.Sprintf("the table %s does not exist: create it (see the README's DDL, or run `mssqlstore init`)", table)
	case 207:
		return fmt.Sprintf("the table %s lacks a column the store needs (token, data, expiry): see the README's DDL", table)
	case 229, 230:
		return fmt.Sprintf("the database user lacks a permission: GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO <app_user> (and GRANT EXECUTE ON TYPE::%s TO <app_user> for the table-valued path)", table, tableType)
	case 515:
		return fmt.Sprintf("the table %s has a NOT NULL column the store does not write: give it a default, or make it NULL (`mssqlstore check` lists the columns)", table)
	case 2715:
		return fmt.Sprintf("the table type %s does not exist: create it for one-statement flushes (`mssqlstore init`), or ignore this", tableType)
	case 468:
		return fmt.Sprintf("the token column of the table type %s has another collation than the table's: recreate the type with the table's collation (`mssqlstore check` shows both)", tableType)
	}
	return ""
}
