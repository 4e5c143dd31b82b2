package tsql

import (
	"strings"
	"time"
)

// catalog is everything the bind step (the compiler) needs from the
// session that runs a statement. The compiler resolves names through it
// and never sees the execution context itself; *execCtx implements it.
//
// Most methods answer at bind time. Some results are consulted again
// when a compiled expression runs (the clock, the catalog functions,
// subqueries): the closures capture the catalog, not the session.
type catalog interface {
	// Names in expressions.
	variable(name string) (*variable, bool)       // @name, table variables included
	global(name string) (*cexpr, error)           // @@name
	checkDB(n objName) error                      // a three-part name's database
	lookupTable(n objName) (*table, error)        // a permanent table
	checkPerm(t *table, p Permission) error       // 229 when the principal lacks p
	specFor(hints []string, target bool) lockSpec // how a table read is locked

	// catalogView returns the columns and a row generator of a sys or
	// INFORMATION_SCHEMA view.
	catalogView(n objName) ([]Column, func() [][]any, bool)

	// What built-in functions read.
	statementTime() time.Time // SYSUTCDATETIME and friends: one value per statement
	dateStyle() dateStyle     // SET LANGUAGE and DATEFORMAT, for conversions between strings and dates
	dbName() string
	principal() Principal
	typeID(name string) any
	objectID(name, kind string) any
	objectName(id int64) any
	hasPermsByName(securable, class, perm string) any
	scopeIdentity() any                  // SCOPE_IDENTITY() (identity.go)
	identityFigure(fn, table string) any // IDENT_CURRENT, IDENT_SEED, IDENT_INCR

	// Common table expressions (cte.go).
	hasCTE(name string) bool
	enterCTE(name string) (d *cteDef, leave func(), err error)

	// Run time.
	runSelect(q *compiledSelect, outer *env, limit int) ([][]any, error) // a subquery
	countConversion()                                                    // an implicit conversion of a column
}

var _ catalog = (*execCtx)(nil)

func (x *execCtx) variable(name string) (*variable, bool) {
	v, ok := x.b.vars[strings.ToLower(name)]
	return v, ok
}

func (x *execCtx) global(name string) (*cexpr, error) { return x.s.global(name) }

func (x *execCtx) statementTime() time.Time { return x.now }

func (x *execCtx) dateStyle() dateStyle { return x.s.dates }

func (x *execCtx) dbName() string { return x.db.name }

func (x *execCtx) principal() Principal { return x.s.p }

// objectName is OBJECT_NAME: the name of a table the principal can see.
func (x *execCtx) objectName(id int64) any {
	for _, t := range x.db.tables {
		if int64(t.id) == id && x.visible(t) {
			return t.name
		}
	}
	return nil
}

func (x *execCtx) runSelect(q *compiledSelect, outer *env, limit int) ([][]any, error) {
	return q.run(x, outer, limit)
}

func (x *execCtx) countConversion() { x.db.stats.conversions.Add(1) }
