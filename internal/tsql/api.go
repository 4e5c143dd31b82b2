// This file is the contract between the engine and the protocol layer.

package tsql

import (
	"context"
	"fmt"
	"time"
)

// TypeID identifies a SQL Server data type.
type TypeID int

// The data types the engine knows.
const (
	TypeNull TypeID = iota // the type of an untyped NULL literal
	TypeBit
	TypeTinyInt
	TypeSmallInt
	TypeInt
	TypeBigInt
	TypeFloat
	TypeChar
	TypeVarChar
	TypeNChar
	TypeNVarChar
	TypeBinary
	TypeVarBinary
	TypeDate
	TypeDateTime
	TypeDateTime2
	TypeDateTimeOffset
	TypeReal  // REAL, FLOAT(1) to FLOAT(24): single precision
	TypeTable // a table-valued parameter; the Param's Value is a *TableValue
	TypeTime  // TIME(n): a time of day
	TypeGUID  // UNIQUEIDENTIFIER
	// TypeDecimal is DECIMAL(p,s): an exact number of Precision digits,
	// Scale of them after the point. TypeNumeric is NUMERIC(p,s), the same
	// type under its other name (SQL Server keeps the name: NUMERICN on
	// the wire, system_type_id 108 rather than 106).
	TypeDecimal
	TypeNumeric
	TypeMoney         // MONEY: an 8-byte count of ten-thousandths
	TypeSmallMoney    // SMALLMONEY: a 4-byte count of ten-thousandths
	TypeSmallDateTime // SMALLDATETIME: 1900-01-01 to 2079-06-06, to the minute
	// TypeText, TypeNText and TypeImage are the legacy large types TEXT,
	// NTEXT and IMAGE: no length facet, and SQL Server neither compares
	// nor sorts them (see isLOB).
	TypeText
	TypeNText
	TypeImage
	TypeXML // XML, untyped (no schema collection): its text, as SQL Server writes it
	// TypeVariant is SQL_VARIANT: a value of a base type that carries the
	// type (a Variant; variant.go).
	TypeVariant
)

// MaxLength marks a (N)VARCHAR(MAX) or VARBINARY(MAX) type in Type.Length.
const MaxLength = -1

// Type is a SQL Server type with its facets.
type Type struct {
	ID TypeID
	// Length is the declared length: characters for CHAR, VARCHAR, NCHAR
	// and NVARCHAR, bytes for BINARY and VARBINARY, MaxLength for MAX.
	Length int
	// Scale is the fractional-second precision of TIME, DATETIME2 and
	// DATETIMEOFFSET (0 to 7), and the digits after the point of DECIMAL
	// and NUMERIC (0 to Precision).
	Scale int
	// Precision is the number of digits of DECIMAL and NUMERIC (1 to 38).
	// On an INT literal it is the literal's digits, which decimal
	// arithmetic reads as SQL Server does (2.0/3 has scale 6).
	Precision int
	// Collation is the collation of a character type; "" means the
	// database default.
	Collation string
	// Nullable reports whether a column accepts NULL.
	Nullable bool
}

// Values are carried as Go values:
//   - NULL: nil
//   - BIT: bool; TINYINT to BIGINT: int64; FLOAT: float64; REAL: float64
//     holding a float32 value
//   - CHAR, VARCHAR, NCHAR, NVARCHAR: string (UTF-8)
//   - BINARY, VARBINARY: []byte
//   - DATE, DATETIME, DATETIME2: time.Time in UTC
//   - DATETIMEOFFSET: time.Time in a fixed zone carrying the offset
//   - UNIQUEIDENTIFIER: GUID, in SQL Server's byte order
//   - DECIMAL, NUMERIC, MONEY, SMALLMONEY: Decimal, at the type's scale
//     (4 for MONEY and SMALLMONEY)
//   - SMALLDATETIME: time.Time in UTC, a whole minute
//   - TEXT, NTEXT: string (UTF-8); IMAGE: []byte
//   - XML: string, the text SQL Server would give back (see parseXML)
//   - TIME: time.Time in UTC on 1900-01-01 (the date SQL Server gives a
//     TIME converted to DATETIME2), the time of day its clock
//   - SQL_VARIANT: Variant, the base type's value with its type

// GUID is a UNIQUEIDENTIFIER value in SQL Server's byte order, the order
// of CAST(x AS binary(16)) and of the TDS wire: the first three groups of
// the text form little-endian, the last two as written.
type GUID [16]byte

// Column is a named, typed column of a result set, table or table type.
type Column struct {
	Name string
	Type Type
}

// TableValue is the value of a table-valued parameter.
type TableValue struct {
	// TypeName is the table type's name as the client sent it
	// (schema-qualified or not, unquoted).
	TypeName string
	Columns  []Column
	Rows     [][]any
}

// Param is one parameter of an RPC call, as decoded from the wire.
type Param struct {
	Name  string // with the leading @
	Type  Type
	Value any
}

// Result is what one statement of a batch produced. Each Result becomes
// one DONE (or DONEINPROC) token on the wire, preceded by COLMETADATA and
// ROW tokens when Columns is not nil, and by an ERROR token when Err is
// not nil.
type Result struct {
	Kind     string   // the statement kind, as in StatementInfo.Kind
	Columns  []Column // nil when the statement returns no result set
	Rows     [][]any
	RowCount int64 // rows returned or affected
	HasCount bool  // whether DONE carries the count (false under SET NOCOUNT ON or for SET, BEGIN TRAN ...)
	Err      *Error
	// Messages are informational messages (class 0, such as PRINT's),
	// each sent as an INFO token before the statement's DONE.
	Messages []*Error
}

// Error is a SQL Server error, with SQL Server's number, class (severity)
// and state.
type Error struct {
	Number  int32
	State   uint8
	Class   uint8
	Message string
	// Line is the line within the batch (from 1) that the error token
	// reports: for a syntax error the line of the offending token, for
	// an error at execution the line the statement starts on. 0 means
	// the engine does not know it (an RPC parameter that does not bind);
	// the protocol layer then sends 1.
	Line int32
	// Preceding are errors SQL Server sends before this one for the
	// same statement (8111 before 1750, for instance); clients such as
	// go-mssqldb report the last error's number.
	Preceding []*Error

	// raised marks an error raised by RAISERROR, which ends only its
	// statement, whatever XACT_ABORT says.
	raised bool
}

// atLine returns e reporting line, unless e already knows its line. It
// copies e (and the errors before it) instead of changing it: a hook may
// return the same *Error to many sessions.
func (e *Error) atLine(line int32) *Error {
	if e.Line != 0 {
		return e
	}
	c := *e
	c.Line = line
	if e.Preceding != nil {
		c.Preceding = make([]*Error, len(e.Preceding))
		for i, p := range e.Preceding {
			c.Preceding[i] = p.atLine(line)
		}
	}
	return &c
}

func (e *Error) Error() string {
	return fmt.Sprintf("mssqltest: error %d, severity %d, state %d: %s", e.Number, e.Class, e.State, e.Message)
}

// StatementInfo describes a statement about to run, for the hooks.
type StatementInfo struct {
	// Kind is the statement's kind in upper case: "SELECT", "INSERT",
	// "UPDATE", "DELETE", "MERGE", "TRUNCATE", "CREATE TABLE",
	// "CREATE TYPE", "CREATE INDEX", "DROP TABLE", "DROP TYPE",
	// "DROP INDEX", "SET", "DECLARE", "BEGIN TRAN", "COMMIT", "ROLLBACK",
	// "IF", "WHILE", "PRINT", "WAITFOR", "RAISERROR".
	Kind string
	// Table is the target table of DML (schema.name, unquoted), if any.
	Table string
	// RowsRead and RowsWritten are filled in for AfterStatement.
	RowsRead, RowsWritten int64
}

// Hooks lets the server observe and disturb statements: counters, latency
// and injected faults live there, not in the engine.
type Hooks interface {
	// BeforeStatement runs before each statement. A non-nil error is
	// raised as if the statement had failed with it (an *Error is raised
	// with its number; ctx's error ends the batch as a cancellation).
	// It may block, honouring ctx, to model latency or a stalled statement.
	BeforeStatement(ctx context.Context, s *Session, info StatementInfo) error
	// AfterStatement runs after each statement that completed, with the
	// rows it read and wrote filled in.
	AfterStatement(ctx context.Context, s *Session, info StatementInfo)
}

// Permission is a bit set of object permissions.
type Permission uint8

// The object permissions a restricted principal can be granted.
const (
	PermSelect Permission = 1 << iota
	PermInsert
	PermUpdate
	PermDelete
	PermExecute // on a table type: needed to use it as a parameter
)

// Principal is the database user a session runs as.
type Principal struct {
	Name string
	// Restricted principals may run no DDL (error 262) and may touch
	// only the objects in Grants (error 229 otherwise). Unrestricted
	// principals own the database.
	Restricted bool
	// Grants maps object names ("dbo.sessions", case-insensitive,
	// unquoted, schema-qualified) to the permissions granted on them.
	Grants map[string]Permission
}

// Options configures a Database.
type Options struct {
	// Name is the database name (DB_NAME()).
	Name string
	// Now returns the server's current time; SYSUTCDATETIME(),
	// GETUTCDATE(), GETDATE() and SYSDATETIME() read it. Nil means time.Now.
	Now func() time.Time
	// Hooks may be nil.
	Hooks Hooks
}

// The engine's entry points, implemented in the package's other files:
//
//	func NewDatabase(opts Options) *Database
//	func (db *Database) NewSession(p Principal) *Session
//	func (db *Database) SetNow(now func() time.Time)
//	// Exec runs one batch. Params are those of sp_executesql (nil for a
//	// plain SQL batch). It returns one Result per statement that ran; a
//	// batch-aborting error ends the slice with a Result whose Err is set.
//	// When ctx is cancelled mid-batch it stops, rolls back the open
//	// transaction when XACT_ABORT is ON, and returns ctx's error.
//	func (s *Session) Exec(ctx context.Context, sql string, params []Param) ([]Result, error)
//	func (s *Session) Reset()  // the reset-connection flag: roll back, restore SET options
//	func (s *Session) Close()  // the connection ended: roll back
//	func (s *Session) TransactionDepth() int // @@TRANCOUNT
