package mssqlstore

import (
	"fmt"
	"strings"

	"github.com/scs-contrib/mssqlstore/internal/sqlname"
)

// queries holds the statements the store sends, built once from the
// quoted table and type names.
//
// Every token comparison carries a second, binary one: with the usual
// case-insensitive collation SQL Server would otherwise match a token in
// other case (and CHAR comparison ignores trailing spaces, which token
// validation rules out). The first predicate seeks the primary key; the
// binary one is a residual filter on the row it found, so it costs no scan.
type queries struct {
	find, all, delete, deleteExpired string
	merge                            string
	typeName                         string // for mssql.TVP.TypeName
}

func buildQueries(table, tableType sqlname.Name) queries {
	t := table.Quoted()
	typeName := tableType.Object
	if tableType.Schema != "" {
		typeName = tableType.Schema + "." + tableType.Object
	}
	return queries{
		find:          "SELECT data, expiry FROM " + t + " WHERE token = @p1 AND token = @p1 COLLATE Latin1_General_BIN2 AND expiry > @p2",
		all:           "SELECT token, data, expiry FROM " + t + " WHERE expiry > @p1",
		delete:        "DELETE FROM " + t + " WHERE token = @p1 AND token = @p1 COLLATE Latin1_General_BIN2",
		deleteExpired: "DELETE TOP (@p1) FROM " + t + " WHERE expiry <= @p2",
		// MERGE WITH (HOLDLOCK) alone is a known deadlock: two writers of
		// one key both take shared range locks, then both wait to convert
		// them. UPDLOCK makes the first reader of a key take an update
		// lock, which the second must wait for; HOLDLOCK (SERIALIZABLE)
		// holds key-range locks so that two instances inserting the same
		// new token cannot both see it missing. XACT_ABORT rolls the
		// statement back on any error or cancellation, so no transaction
		// is ever left open on a pooled connection. Rows are sent sorted
		// by token, so concurrent flushes lock keys in one order.
		merge: "SET XACT_ABORT ON;\n" +
			"MERGE " + t + " WITH (UPDLOCK, HOLDLOCK) AS t\n" +
			"USING @rows AS s ON t.token = s.token\n" +
			"WHEN MATCHED THEN UPDATE SET t.data = s.data, t.expiry = s.expiry\n" +
			"WHEN NOT MATCHED BY TARGET THEN INSERT (token, data, expiry) VALUES (s.token, s.data, s.expiry);",
		typeName: typeName,
	}
}

// upsertTypeless returns the batch statement that needs no table type, for
// n rows with parameters @p1..@p(3n): token, data, expiry for each row.
//
// It is the pattern SQL Server's experts recommend for upserts, without
// MERGE: UPDATE the rows that exist, under UPDLOCK and SERIALIZABLE, then
// INSERT those still missing, in one transaction. It also runs on engines
// without MERGE, such as Babelfish. A VALUES list used as a derived table
// has no 1,000-row limit; the parameter limit (2,100) caps a batch at 500
// rows.
func (q queries) upsertTypeless(table sqlname.Name, n int) string {
	var v strings.Builder
	v.WriteString("(VALUES ")
	for i := 0; i < n; i++ {
		if i > 0 {
			v.WriteString(", ")
		}
		fmt.Fprintf(&v, "(@p%d, @p%d, @p%d)", 3*i+1, 3*i+2, 3*i+3)
	}
	v.WriteString(") AS v (token, data, expiry)")
	values := v.String()
	t := table.Quoted()
	return "SET XACT_ABORT ON;\n" +
		"BEGIN TRANSACTION;\n" +
		"UPDATE t SET t.data = v.data, t.expiry = v.expiry\n" +
		"FROM " + t + " AS t WITH (UPDLOCK, SERIALIZABLE)\n" +
		"INNER JOIN " + values + " ON t.token = v.token;\n" +
		"INSERT INTO " + t + " (token, data, expiry)\n" +
		"SELECT v.token, v.data, v.expiry FROM " + values + "\n" +
		"WHERE NOT EXISTS (SELECT 1 FROM " + t + " AS t WITH (UPDLOCK, SERIALIZABLE) WHERE t.token = v.token);\n" +
		"COMMIT TRANSACTION;"
}
