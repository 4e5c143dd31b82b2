// Package schemacheck inspects the objects of a session store in SQL
// Server: it is the logic behind the mssqlstore command's check and stats
// subcommands, kept out of the command so that the command stays thin.
//
// Check reads only the catalog views (sys.columns, sys.indexes,
// sys.index_columns, sys.types, sys.table_types), OBJECT_ID, TYPE_ID,
// USER_NAME and HAS_PERMS_BY_NAME, so it needs no permission beyond the
// ones the store itself needs. SQL Server shows a login only the objects
// it holds a permission on, so a table the login may not touch looks
// missing; the findings say so and give both fixes.
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
