package mssqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/scs-contrib/mssqlstore/internal/sqlname"
)

// SchemaOptions names the objects CreateSchema creates.
type SchemaOptions struct {
	// Table is the sessions table; default "dbo.sessions".
	Table string
	// TableType is the batch table type; default "dbo.sessions_batch".
	TableType string
	// DefaultCollation, when true, gives the token column the database's
	// default collation instead of Latin1_General_BIN2. The binary
	// collation is recommended: under the usual case-insensitive default,
	// SQL Server treats two tokens that differ only in case as one key.
	// The store guards its reads against that either way. The table
	// type's token column gets the same collation as the table's: SQL
	// Server cannot compare two columns of different collations (error
	// 468), and the MERGE compares them.
	DefaultCollation bool
}

// SchemaStatements returns the DDL that CreateSchema runs on an empty
// database: the table, its expiry index and the batch table type, each
// created only if missing. (On a database where the table exists,
// CreateSchema gives the type the collation of the table's token column.)
func SchemaStatements(opts SchemaOptions) ([]string, error) {
	ddl, err := newSchemaDDL(opts)
	if err != nil {
		return nil, err
	}
	return []string{ddl.table, ddl.index, ddl.tableType(ddl.collation)}, nil
}

// CreateSchema creates the sessions table, its expiry index and the batch
// table type, each only if it is missing, so it is safe to run at every
// start. The type's token column takes the collation of the table's, as
// it stands in the database: SQL Server cannot compare two columns of
// different collations (error 468), and the store's MERGE compares them.
// It needs a login allowed to run DDL; the store itself needs only
// SELECT, INSERT, UPDATE and DELETE on the table (and EXECUTE on the type
// to use it).
func CreateSchema(ctx context.Context, db *sql.DB, opts SchemaOptions) error {
	ddl, err := newSchemaDDL(opts)
	if err != nil {
		return err
	}
	for _, stmt := range []string{ddl.table, ddl.index} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("mssqlstore: create schema: %w", err)
		}
	}
	var collation sql.NullString
	err = db.QueryRowContext(ctx, "SELECT collation_name FROM sys.columns WHERE object_id = OBJECT_ID(@p1) AND name = N'token'",
		ddl.tableName.Quoted()).Scan(&collation)
	if err != nil {
		return fmt.Errorf("mssqlstore: create schema: reading the token column's collation: %w", err)
	}
	if !validCollationName(collation.String) {
		return fmt.Errorf("mssqlstore: create schema: the token column's collation %q is not a collation name", collation.String)
	}
	if _, err := db.ExecContext(ctx, ddl.tableType(collation.String)); err != nil {
		return fmt.Errorf("mssqlstore: create schema: %w", err)
	}
	return nil
}

// schemaDDL is the DDL of one schema, with the table type's collation
// left open.
type schemaDDL struct {
	tableName    sqlname.Name
	table, index string
	collation    string // the token column's, "" for the database default
	tableType    func(collation string) string
}

func newSchemaDDL(opts SchemaOptions) (schemaDDL, error) {
	orDefault(&opts.Table, DefaultTable)
	orDefault(&opts.TableType, DefaultTableType)
	table, err := sqlname.Parse(opts.Table)
	if err != nil {
		return schemaDDL{}, fmt.Errorf("mssqlstore: table: %w", err)
	}
	typ, err := sqlname.Parse(opts.TableType)
	if err != nil {
		return schemaDDL{}, fmt.Errorf("mssqlstore: table type: %w", err)
	}
	columns := func(collation string) string {
		collate := ""
		if collation != "" {
			collate = " COLLATE " + collation
		}
		return "(token CHAR(43)" + collate + " NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL)"
	}
	d := schemaDDL{tableName: table, collation: "Latin1_General_BIN2"}
	if opts.DefaultCollation {
		d.collation = ""
	}
	t := table.Quoted()
	d.table = "IF OBJECT_ID(" + sqlname.NationalLiteral(t) + ", N'U') IS NULL\n" +
		"    CREATE TABLE " + t + " " + columns(d.collation) + ";"
	d.index = "IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(" + sqlname.NationalLiteral(t) + ") AND name = " + sqlname.NationalLiteral(table.Object+"_expiry_idx") + ")\n" +
		"    CREATE INDEX " + sqlname.QuoteIdent(table.Object+"_expiry_idx") + " ON " + t + " (expiry);"
	d.tableType = func(collation string) string {
		return "IF TYPE_ID(" + sqlname.NationalLiteral(typ.Quoted()) + ") IS NULL\n" +
			"    CREATE TYPE " + typ.Quoted() + " AS TABLE " + columns(collation) + ";"
	}
	return d, nil
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
