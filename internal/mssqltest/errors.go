package mssqltest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/scs-contrib/mssqlstore/internal/tsql"
)

// errorTemplate is a SQL Server error as sys.messages defines it: number,
// severity (class), the state SQL Server usually reports, and the message
// text with its placeholders already filled in for this server (database
// name, server name, a process id) by faultError.
type errorTemplate struct {
	class  uint8
	state  uint8
	format string // fmt verbs: see faultError for the arguments
}

// faultErrors are the errors a Fault can raise, worded as SQL Server and
// Azure SQL Database word them. The arguments to format, in order, are:
// the session id (SPID), the database name, the server name, the object
// name of the statement's table ("sessions" when none), the permission the
// statement needs (its kind: SELECT, INSERT, UPDATE, DELETE; MERGE needs
// several and is named as the first SQL Server checks, INSERT).
var faultErrors = map[int32]errorTemplate{
	// Deadlock victim. Transient: the transaction was rolled back.
	1205: {13, 51, "Transaction (Process ID %[1]d) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction."},
	// LOCK_TIMEOUT expired.
	1222: {16, 56, "Lock request time out period exceeded."},
	// Azure SQL Database: database unavailable (reconfiguration, failover).
	40613: {17, 1, "Database '%[2]s' on server '%[3]s' is not currently available.  Please retry the connection later.  If the problem persists, contact customer support, and provide them the session tracing ID of '00000000-0000-0000-0000-000000000000'."},
	// Azure SQL Database: service busy.
	40501: {20, 1, "The service is currently busy. Retry the request after 10 seconds. Incident ID: 00000000-0000-0000-0000-000000000000. Code: 4653137."},
	// Azure SQL Database: error processing the request.
	40197: {20, 1, "The service has encountered an error processing your request. Please try again. Error code 4815."},
	// Unknown database at login (also raised by a failover in progress).
	4060: {11, 1, "Cannot open database \"%[2]s\" requested by the login. The login failed."},
	// Connection initialisation failed before login.
	233: {20, 0, "The client was unable to establish a connection because of an error during connection initialization process before login. Possible causes include the following:  the client tried to connect to an unsupported version of SQL Server; the server was too busy to accept new connections; or there was a resource limitation (insufficient memory or maximum allowed connections) on the server."},
	// Azure SQL Database: not enough resources.
	49918: {16, 1, "Cannot process request. Not enough resources to process request. The service is currently busy. Please retry the request later."},
	49919: {16, 1, "Cannot process create or update request. Too many create or update operations in progress for subscription \"00000000-0000-0000-0000-000000000000\". The service is busy processing multiple create or update requests for your subscription or server. Requests are currently blocked for resource optimization. Query sys.dm_operation_status for pending operations. Wait till pending create or update requests are complete or delete one of your pending requests and retry your request later."},
	49920: {16, 1, "Cannot process request. Too many operations in progress for subscription \"00000000-0000-0000-0000-000000000000\". The service is busy processing multiple requests for this subscription. Requests are currently blocked for resource optimization. Query sys.dm_operation_status for operation status. Wait until pending requests are complete or delete one of your pending requests and retry your request later."},
	// Azure SQL Database: resource governance limit reached.
	10928: {20, 1, "Resource ID : 1. The request limit for the database is 100 and has been reached. See 'http://go.microsoft.com/fwlink/?LinkId=267637' for assistance."},
	10929: {20, 1, "Resource ID : 1. The request limit guarantee is 0, maximum limit is 100 and the current usage for the database is 100. However, the server is currently too busy to support requests greater than 100 for this database. See 'http://go.microsoft.com/fwlink/?LinkId=267637' for assistance. Otherwise, please try again later."},
	// In-memory OLTP write conflict.
	41302: {16, 1, "The current transaction attempted to update a record that has been updated since this transaction started. The transaction was aborted."},
	41301: {16, 1, "A previous transaction that the current transaction took a dependency on has aborted, and the current transaction can no longer commit."},
	41305: {16, 0, "The current transaction failed to commit due to a repeatable read validation failure."},
	41325: {16, 0, "The current transaction failed to commit due to a serializable validation failure."},
	// Permanent errors.
	208:   {16, 1, "Invalid object name '%[4]s'."},
	229:   {14, 5, "The %[5]s permission was denied on the object '%[4]s', database '%[2]s', schema 'dbo'."},
	2715:  {16, 3, "Column, parameter, or variable #1: Cannot find data type dbo.sessions_batch."},
	2627:  {14, 1, "Violation of PRIMARY KEY constraint 'PK__sessions__CA90DA7B0D2B2A8C'. Cannot insert duplicate key in object 'dbo.%[4]s'. The duplicate key value is (x)."},
	2601:  {14, 1, "Cannot insert duplicate key row in object 'dbo.%[4]s' with unique index 'sessions_token_idx'. The duplicate key value is (x)."},
	2628:  {16, 1, "String or binary data would be truncated in table '%[2]s.dbo.%[4]s', column 'token'. Truncated value: 'x'."},
	8152:  {16, 30, "String or binary data would be truncated."},
	515:   {16, 2, "Cannot insert the value NULL into column 'data', table '%[2]s.dbo.%[4]s'; column does not allow nulls. INSERT fails."},
	8672:  {16, 1, "The MERGE statement attempted to UPDATE or DELETE the same row more than once. This happens when a target row matches more than one source row. A MERGE statement cannot UPDATE/DELETE the same row of the target table multiple times. Refine the ON clause to ensure a target row matches at most one source row, or use the GROUP BY clause to group the source rows."},
	18456: {14, 1, "Login failed for user 'sa'."},
	// Babelfish for PostgreSQL answers MERGE with this (checked on
	// Babelfish 4.3). SQL Server never raises it.
	33557097: {16, 1, "'MERGE' is not currently supported in Babelfish"},
	// A construct the server does not support (Azure SQL Database's
	// wording, which this test server also uses when it refuses one).
	40517: {16, 1, "Keyword or statement option '%[5]s' is not supported in this version of SQL Server."},
	// A fatal error: the connection is closed after it.
	596: {21, 1, "Cannot continue the execution because the session is in the kill state."},
}

// faultError builds the error a Fault raises. An unknown number is an
// error of its own, so a typo in a test cannot pass as a real fault.
func faultError(number int32, spid int, database, server, table, kind string) *tsql.Error {
	t, ok := faultErrors[number]
	if !ok {
		return &tsql.Error{Number: 50000, Class: 16, State: 1,
			Message: fmt.Sprintf("mssqltest: Fault.Error %d is not in the table of SQL Server errors this test server can raise", number)}
	}
	if table == "" {
		table = "sessions"
	}
	msg := t.format
	if strings.Contains(msg, "%[") {
		perm := kind
		switch kind {
		case "SELECT", "INSERT", "UPDATE", "DELETE":
		case "MERGE":
			perm = "INSERT"
		default:
			perm = "EXECUTE"
		}
		msg = fmt.Sprintf(msg, spid, database, server, table, perm)
	}
	return &tsql.Error{Number: number, Class: t.class, State: t.state, Message: msg}
}

// Errors the protocol layer raises itself.
func errLoginFailed(user string) *tsql.Error {
	return &tsql.Error{Number: 18456, Class: 14, State: 1, Message: fmt.Sprintf("Login failed for user '%s'.", user)}
}

func errCannotOpenDatabase(db string) *tsql.Error {
	return &tsql.Error{Number: 4060, Class: 11, State: 1, Message: fmt.Sprintf("Cannot open database \"%s\" requested by the login. The login failed.", db)}
}

func errNoProcedure(name string) *tsql.Error {
	if tsql.IsSystemProcName(name) {
		// A system procedure SQL Server has and this server does not.
		return errServer(&unsupportedError{"EXEC " + name})
	}
	return &tsql.Error{Number: 2812, Class: 16, State: 62, Message: fmt.Sprintf("Could not find stored procedure '%s'.", name)}
}

func errTooManyParams() *tsql.Error {
	return &tsql.Error{Number: 8003, Class: 16, State: 1, Message: "The incoming request has too many parameters. The server supports a maximum of 2100 parameters. Reduce the number of parameters and resend the request."}
}

// errServer wraps a failure of the test server itself (a malformed
// request, an engine failure) as an error for the client. 50000 is the
// number SQL Server gives user-defined messages; class 16 ends the
// request but not the connection. A construct this server does not
// implement (an unsupportedError anywhere in err's chain) is refused
// with 40517 instead, naming it.
func errServer(err error) *tsql.Error {
	var u *unsupportedError
	if errors.As(err, &u) {
		e := errUnsupported(u.what)
		if ctx := strings.TrimSuffix(strings.TrimSuffix(err.Error(), u.Error()), ": "); ctx != "" && ctx != err.Error() {
			e.Message = strings.TrimSuffix(e.Message, ".") + ": " + ctx + "."
		}
		return e
	}
	return &tsql.Error{Number: 50000, Class: 16, State: 1, Message: err.Error()}
}

// errUnsupported refuses a valid construct this test server does not
// implement. 40517 is the number SQL Server (Azure SQL Database) uses for
// "not supported in this version"; the engine words it the same way.
func errUnsupported(what string) *tsql.Error {
	return &tsql.Error{Number: 40517, Class: 16, State: 1,
		Message: fmt.Sprintf("Keyword or statement option '%s' is not supported in this version of SQL Server (mssqltest test double).", what)}
}
