package mssqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/scs-contrib/mssqlstore/internal/schemacheck"
)

// CheckSchema verifies, at startup, that the store can work on db as cfg
// configures it: the sessions table (cfg.Table), its columns and primary
// key, the index leading with expiry, the optional table type
// (cfg.TableType) with its columns and token collation, and the
// permissions of the connection's database user: SELECT, INSERT, UPDATE
// and DELETE on the table, EXECUTE on the type.
//
// It returns nil when the store can work, and a *SchemaError listing
// every problem, each with its fix, when something would stop it: a
// missing table, column, key, index or permission. A store whose user
// holds only SELECT looks healthy without this check (reads come from
// the cache and the pending writes) while every flush fails. Problems the
// store works around at a cost (no table type, or no EXECUTE on it, or a
// type whose collation differs from the table's: the slower statement
// without a table-valued parameter; a case-insensitive token collation)
// do not make it fail on their own; they are listed in the SchemaError
// when it fails, and `mssqlstore check` lists them always. Any other
// error means it could not ask (a lost connection, an invalid name).
//
// It reads only catalog views and permission functions, so it needs no
// permission beyond the store's, and it is the same check as the
// mssqlstore command's check: both run one implementation. It costs a
// few round trips, once.
func CheckSchema(ctx context.Context, db *sql.DB, cfg Config) error {
	findings, err := schemacheck.Check(ctx, db, schemacheck.Options{Table: cfg.Table, TableType: cfg.TableType})
	if err != nil {
		return fmt.Errorf("mssqlstore: check schema: %w", err)
	}
	if !schemacheck.Failed(findings) {
		return nil
	}
	e := &SchemaError{}
	for _, fatal := range []bool{true, false} { // the fatal problems first
		for _, f := range findings {
			if f.Level != schemacheck.OK && (f.Level == schemacheck.Error) == fatal {
				e.Problems = append(e.Problems, SchemaProblem{Fatal: fatal, Message: f.Message, Fix: f.Fix})
			}
		}
	}
	return e
}

// SchemaError is the error of CheckSchema: the schema or the permissions
// stop the store from working. It lists every problem found, the fatal
// ones first.
type SchemaError struct {
	Problems []SchemaProblem
}

// Error lists the problems, one a line after the first: "mssqlstore:
// schema check: 2 problems (1 fatal):", then "error: ...; fix: ..." and
// "warning: ...; fix: ..." lines.
func (e *SchemaError) Error() string {
	fatal := 0
	for _, p := range e.Problems {
		if p.Fatal {
			fatal++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "mssqlstore: schema check: %d problem(s) (%d fatal):", len(e.Problems), fatal)
	for _, p := range e.Problems {
		b.WriteString("\n")
		b.WriteString(p.String())
	}
	return b.String()
}

// SchemaProblem is one problem CheckSchema found.
type SchemaProblem struct {
	// Fatal reports a problem that stops the store from working; the
	// others cost speed or exactness, and the store works around them.
	Fatal bool
	// Message says what is wrong, naming the objects, the database user
	// and the permissions concerned.
	Message string
	// Fix says how to fix it: a statement to run, or a step to take.
	Fix string
}

// String returns the problem as one line: "error: ...; fix: ..." for a
// fatal problem, "warning: ...; fix: ..." for another.
func (p SchemaProblem) String() string {
	level := "warning"
	if p.Fatal {
		level = "error"
	}
	if p.Fix == "" {
		return level + ": " + p.Message
	}
	return level + ": " + p.Message + "; fix: " + p.Fix
}
