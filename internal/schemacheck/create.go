package schemacheck

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/scs-contrib/mssqlstore/internal/sqlname"
)

// BinaryCollation is the collation a new table's token column gets unless
// Options.DefaultCollation asks for the database default: under the
// usual case-insensitive default SQL Server treats two tokens that differ
// only in case as one key.
const BinaryCollation = "Latin1_General_BIN2"

// Step is one object of a Plan.
type Step struct {
	// What says what the object is: "table", "index" or "table type".
	What string
	// Name is the object's name, quoted.
	Name string
	// Exists reports whether the object was in the database when the
	// plan was made; Plan leaves it false.
	Exists bool
	// DDL creates the object if it is missing (it checks first, so it is
	// safe to run twice).
	DDL string
}

// Plan is what init runs: the DDL of the table, its expiry index and the
// batch table type, and which of them already exist.
type Plan struct {
	Table, Index, Type Step
	// TableCollation is the collation of the existing table's token
	// column; "" when the table or the column does not exist, or the
	// column has no collation (it is not a character column).
	TableCollation string
	// TypeCollation is the collation the type's token column gets: the
	// table's, as it stands or as the plan creates it; "" means the
	// database default. The store's MERGE compares the two token
	// columns, and SQL Server cannot compare two columns of different
	// collations (error 468).
	TypeCollation string
}

// Steps returns the table, index and type steps, in the order they run.
func (p Plan) Steps() []Step { return []Step{p.Table, p.Index, p.Type} }

// Statements returns the DDL of the steps whose object is missing, in the
// order they run.
func (p Plan) Statements() []string {
	var out []string
	for _, s := range p.Steps() {
		if !s.Exists {
			out = append(out, s.DDL)
		}
	}
	return out
}

// newPlan returns the plan for a database without any of the objects.
func newPlan(opts Options) (Plan, error) {
	table, typ, err := opts.names()
	if err != nil {
		return Plan{}, err
	}
	collation := BinaryCollation
	if opts.DefaultCollation {
		collation = ""
	}
	t := table.Quoted()
	index := table.Object + "_expiry_idx"
	p := Plan{
		Table: Step{What: "table", Name: t, DDL: "IF OBJECT_ID(" + sqlname.NationalLiteral(t) + ", N'U') IS NULL\n" +
			"    CREATE TABLE " + t + " " + columnsDDL(collation) + ";"},
		Index: Step{What: "index", Name: sqlname.QuoteIdent(index), DDL: "IF NOT EXISTS (" + expiryIndexQuery("1", sqlname.NationalLiteral(t)) + ")\n" +
			"    CREATE INDEX " + sqlname.QuoteIdent(index) + " ON " + t + " (expiry);"},
		Type:          Step{What: "table type", Name: typ.Quoted()},
		TypeCollation: collation,
	}
	p.Type.DDL = typeDDL(typ, collation)
	return p, nil
}

// expiryIndexQuery selects what from the key columns of table's indexes
// that lead with expiry. The index is found by its table and first key
// column, not by its name: an index created by hand may have any name,
// and Babelfish keeps index names unique per schema by storing each one
// with a hash of its table appended, so a lookup by name misses it there
// and init would create it a second time (2714).
func expiryIndexQuery(what, table string) string {
	return "SELECT " + what + " FROM sys.index_columns AS ic INNER JOIN sys.columns AS c" +
		" ON c.object_id = ic.object_id AND c.column_id = ic.column_id" +
		" WHERE ic.object_id = OBJECT_ID(" + table + ") AND ic.key_ordinal = 1 AND c.name = N'expiry'"
}

// columnsDDL is the column list of the table and of the type; collation
// "" leaves the token column the database default.
func columnsDDL(collation string) string {
	collate := ""
	if collation != "" {
		collate = " COLLATE " + collation
	}
	return "(token CHAR(43)" + collate + " NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL)"
}

func typeDDL(typ sqlname.Name, collation string) string {
	return "IF TYPE_ID(" + sqlname.NationalLiteral(typ.Quoted()) + ") IS NULL\n" +
		"    CREATE TYPE " + typ.Quoted() + " AS TABLE " + columnsDDL(collation) + ";"
}

// Statements returns the DDL init runs on a database without the table:
// the table, its expiry index and the type, the two token columns with
// one collation. On a database where the table exists, PlanCreate gives
// the type the collation of the table's token column instead.
func Statements(opts Options) ([]string, error) {
	p, err := newPlan(opts)
	if err != nil {
		return nil, err
	}
	return p.Statements(), nil
}

// PlanCreate reads the catalog and returns what Create would run against
// db: the objects that exist are marked so, and the type's token column
// takes the collation of the existing table's. It changes nothing, and
// needs only the permissions Check needs.
func PlanCreate(ctx context.Context, db *sql.DB, opts Options) (Plan, error) {
	p, err := newPlan(opts)
	if err != nil {
		return Plan{}, err
	}
	table, typ, _ := opts.names()
	t := table.Quoted()
	var tableID, typeID sql.NullInt64
	var indexes int64
	var collation sql.NullString
	err = db.QueryRowContext(ctx,
		"SELECT OBJECT_ID(@p1, N'U'), TYPE_ID(@p2), "+
			"("+expiryIndexQuery("COUNT(*)", "@p1")+"), "+
			"(SELECT collation_name FROM sys.columns WHERE object_id = OBJECT_ID(@p1) AND name = N'token')",
		t, typ.Quoted()).Scan(&tableID, &typeID, &indexes, &collation)
	if err != nil {
		return Plan{}, fmt.Errorf("read the catalog: %w", err)
	}
	p.Table.Exists = tableID.Valid
	p.Index.Exists = indexes > 0
	p.Type.Exists = typeID.Valid
	if p.Table.Exists {
		// The collation goes into DDL: accept only what SQL Server's
		// collation names are made of.
		if !validCollationName(collation.String) {
			return Plan{}, fmt.Errorf("the token column of %s has collation %q, which is not a collation name", t, collation.String)
		}
		p.TableCollation = collation.String
		p.TypeCollation = collation.String
		p.Type.DDL = typeDDL(typ, collation.String)
	}
	return p, nil
}

// Create creates the objects PlanCreate finds missing, in order, and
// returns the plan it ran. Each statement checks again that its object is
// missing, so a concurrent Create is harmless (both may then report
// having created it). On an error the objects created before it stay.
func Create(ctx context.Context, db *sql.DB, opts Options) (Plan, error) {
	p, err := PlanCreate(ctx, db, opts)
	if err != nil {
		return p, err
	}
	for _, s := range p.Steps() {
		if s.Exists {
			continue
		}
		if _, err := db.ExecContext(ctx, s.DDL); err != nil {
			return p, fmt.Errorf("create %s %s: %w", s.What, s.Name, err)
		}
	}
	return p, nil
}

// validCollationName reports whether s can stand as a collation name in
// DDL: SQL Server's collation names are letters, digits and underscores.
func validCollationName(s string) bool {
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}
