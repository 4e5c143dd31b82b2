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

// SchemaStatements returns the DDL that CreateSchema runs: the table, its
// expiry index and the batch table type, each created only if missing.
func SchemaStatements(opts SchemaOptions) ([]string, error) {
	if opts.Table == "" {
		opts.Table = DefaultTable
	}
	if opts.TableType == "" {
		opts.TableType = DefaultTableType
	}
	table, err := sqlname.Parse(opts.Table)
	if err != nil {
		return nil, fmt.Errorf("mssqlstore: table: %w", err)
	}
	typ, err := sqlname.Parse(opts.TableType)
	if err != nil {
		return nil, fmt.Errorf("mssqlstore: table type: %w", err)
	}
	collate := " COLLATE Latin1_General_BIN2"
	if opts.DefaultCollation {
		collate = ""
	}
	columns := func(collate string) string {
		return "(token CHAR(43)" + collate + " NOT NULL PRIMARY KEY, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL)"
	}
	index := sqlname.QuoteIdent(table.Object + "_expiry_idx")
	t := table.Quoted()
	return []string{
		"IF OBJECT_ID(" + sqlname.NationalLiteral(t) + ", N'U') IS NULL\n" +
			"    CREATE TABLE " + t + " " + columns(collate) + ";",
		"IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE object_id = OBJECT_ID(" + sqlname.NationalLiteral(t) + ") AND name = " + sqlname.NationalLiteral(table.Object+"_expiry_idx") + ")\n" +
			"    CREATE INDEX " + index + " ON " + t + " (expiry);",
		"IF TYPE_ID(" + sqlname.NationalLiteral(typ.Quoted()) + ") IS NULL\n" +
			"    CREATE TYPE " + typ.Quoted() + " AS TABLE " + columns(collate) + ";",
	}, nil
}

// CreateSchema creates the sessions table, its expiry index and the batch
// table type, each only if it is missing, so it is safe to run at every
// start. It needs a login allowed to run DDL; the store itself needs only
// SELECT, INSERT, UPDATE and DELETE on the table (and EXECUTE on the type
// to use it).
func CreateSchema(ctx context.Context, db *sql.DB, opts SchemaOptions) error {
	stmts, err := SchemaStatements(opts)
	if err != nil {
		return err
	}
	for _, stmt := range stmts {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("mssqlstore: create schema: %w", err)
		}
	}
	return nil
}
