package mssqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/scs-contrib/mssqlstore/internal/schemacheck"
)

// SchemaOptions names the objects CreateSchema creates.
type SchemaOptions struct {
	// Table is the sessions table; default "dbo.sessions".
	Table string
	// TableType is the batch table type; default "dbo.sessions_batch".
	TableType string
	// DefaultCollation, when true, gives the token column of a new table
	// the database's default collation instead of Latin1_General_BIN2.
	// The binary collation is recommended: under the usual
	// case-insensitive default, SQL Server treats two tokens that differ
	// only in case as one key. The store guards its reads against that
	// either way. The table type's token column gets the same collation
	// as the table's: SQL Server cannot compare two columns of different
	// collations (error 468), and the MERGE compares them.
	DefaultCollation bool
}

func (o SchemaOptions) check() schemacheck.Options {
	return schemacheck.Options{Table: o.Table, TableType: o.TableType, DefaultCollation: o.DefaultCollation}
}

// SchemaStatements returns the DDL that CreateSchema runs on an empty
// database: the table, its expiry index and the batch table type, each
// created only if missing, the two token columns with one collation. (On
// a database where the table exists, CreateSchema gives the type the
// collation of the table's token column; the mssqlstore command's
// init -dry-run prints the DDL for a given database.)
func SchemaStatements(opts SchemaOptions) ([]string, error) {
	stmts, err := schemacheck.Statements(opts.check())
	if err != nil {
		return nil, fmt.Errorf("mssqlstore: %w", err)
	}
	return stmts, nil
}

// CreateSchema creates the sessions table, its expiry index and the batch
// table type, each only if it is missing, so it is safe to run at every
// start. The type's token column takes the collation of the table's, as
// it stands in the database: SQL Server cannot compare two columns of
// different collations (error 468), and the store's MERGE compares them.
// It needs a database user allowed to run DDL; the store itself needs
// only SELECT, INSERT, UPDATE and DELETE on the table (and EXECUTE on the
// type to use it). It does not check an existing table's columns:
// CheckSchema does.
func CreateSchema(ctx context.Context, db *sql.DB, opts SchemaOptions) error {
	if _, err := schemacheck.Create(ctx, db, opts.check()); err != nil {
		return fmt.Errorf("mssqlstore: create schema: %w", err)
	}
	return nil
}
