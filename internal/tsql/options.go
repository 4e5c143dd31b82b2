package tsql

// userOptions is the bit set @@OPTIONS reports (SQL Server's "user
// options" configuration values).
type userOptions int64

const (
	optImplicitTransactions userOptions = 2
	optCursorCloseOnCommit  userOptions = 4
	optAnsiWarnings         userOptions = 8
	optAnsiPadding          userOptions = 16
	optAnsiNulls            userOptions = 32
	optArithAbort           userOptions = 64
	optArithIgnore          userOptions = 128
	optQuotedIdentifier     userOptions = 256
	optNoCount              userOptions = 512
	optAnsiNullDfltOn       userOptions = 1024
	optAnsiNullDfltOff      userOptions = 2048
	optConcatNullYieldsNull userOptions = 4096
	optNumericRoundAbort    userOptions = 8192
	optXactAbort            userOptions = 16384
)

// optionBits are the SET options kept in the bit set.
var optionBits = map[string]userOptions{
	"CURSOR_CLOSE_ON_COMMIT": optCursorCloseOnCommit, "ANSI_WARNINGS": optAnsiWarnings,
	"ANSI_PADDING": optAnsiPadding, "ANSI_NULLS": optAnsiNulls, "ARITHABORT": optArithAbort,
	"ARITHIGNORE": optArithIgnore, "QUOTED_IDENTIFIER": optQuotedIdentifier,
	"ANSI_NULL_DFLT_ON": optAnsiNullDfltOn, "ANSI_NULL_DFLT_OFF": optAnsiNullDfltOff,
	"CONCAT_NULL_YIELDS_NULL": optConcatNullYieldsNull, "NUMERIC_ROUNDABORT": optNumericRoundAbort,
}

// defaultOptions are what SQL Server gives a login that sets the ODBC
// flag, as go-mssqldb does: ANSI_WARNINGS, ANSI_PADDING, ANSI_NULLS,
// QUOTED_IDENTIFIER, ANSI_NULL_DFLT_ON and CONCAT_NULL_YIELDS_NULL ON
// (@@OPTIONS 5432); ARITHABORT follows the database default, OFF. The
// engine's semantics are those of these settings.
const defaultOptions = optAnsiWarnings | optAnsiPadding | optAnsiNulls | optQuotedIdentifier |
	optAnsiNullDfltOn | optConcatNullYieldsNull

// trackedOptions may be set either way, because the other setting
// changes nothing the engine does: with ANSI_WARNINGS ON, SQL Server
// raises overflow and divide-by-zero errors whatever ARITHABORT and
// ARITHIGNORE say, and the engine has no cursors for
// CURSOR_CLOSE_ON_COMMIT to close.
const trackedOptions = optArithAbort | optArithIgnore | optCursorCloseOnCommit

func (o userOptions) has(b userOptions) bool { return o&b != 0 }

func (o *userOptions) set(b userOptions, on bool) {
	if on {
		*o |= b
	} else {
		*o &^= b
	}
}
