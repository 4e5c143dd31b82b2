// Package schemacheck creates and inspects the objects of a session store
// in SQL Server: it is the one implementation behind the mssqlstore
// command's init, check and stats subcommands and the root package's
// CreateSchema, SchemaStatements and CheckSchema, so that the command
// stays thin and the command and the library never disagree.
//
// Check reads only the catalog views (sys.columns, sys.indexes,
// sys.index_columns, sys.types, sys.table_types), OBJECT_ID, TYPE_ID,
// USER_NAME and HAS_PERMS_BY_NAME, so it needs no permission beyond the
// ones the store itself needs. SQL Server shows a database user only the
// objects it holds a permission on, so a table the user may not touch
// looks missing; the findings say so and give both fixes. A GRANT it
// suggests names the checked database user, or, when that is the owner
// (dbo, to whom SQL Server refuses grants), a placeholder for the
// application's user.
//
// With Options.User, Check reads that database user's permissions rather
// than the connection's: HAS_PERMS_BY_NAME answers only for the current
// user, so Check switches to it for one batch (EXECUTE AS USER = @p1;
// SELECT ...; REVERT), which needs IMPERSONATE on the user (db_owner
// holds it). SQL Server refuses with error 15517 when the user does not
// exist or may not be impersonated; Check reports that as an error
// finding, and checks that USER_NAME() answered as the user before it
// trusts the answer. Grant runs the GRANTs that give a user what the
// store needs (GrantStatements); ParseGrantee refuses dbo, sys and
// INFORMATION_SCHEMA, which SQL Server refuses as grantees.
//
// PlanCreate and Create make what is missing: the table, its expiry
// index and the table type, whose token column takes the collation of
// the table's. Check's fixes lead to what Create makes, so following
// them never loops.
//
// Every finding is one line: what is right, or what is wrong together
// with the statement or step that fixes it. Errors are problems that
// stop the store from working (a missing table, a wrong column, a missing
// permission); warnings are problems it works around at some cost (no
// table type, a case-insensitive token collation).
//
// Names are parsed by the store's rules (ParseName) and always quoted in
// SQL text, so a name holding ']' or ';' is looked up as that odd name,
// and reported missing, never run as SQL.
package schemacheck
