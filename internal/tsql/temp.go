package tsql

import (
	"fmt"
	"strings"
)

// Local temporary tables (#name).
//
// SQL Server creates a #table in tempdb, under a name padded with
// underscores to 116 characters and followed by a 12-digit hexadecimal
// suffix that makes it unique to the session; the session that created
// it resolves its own #name to it, and no other session can see it. It is
// dropped at DROP TABLE, when the session ends and when the connection
// is reset (sp_reset_connection). A negative object_id marks it (SQL
// Server 2012 and later). Its changes, its creation and its DROP are
// transactional like a permanent table's (a table variable's are not).
//
// Here each session keeps its temporary tables in its own map, apart
// from the database's catalog: they never appear in sys.tables,
// sys.objects or INFORMATION_SCHEMA of the user database (SQL Server
// lists them in tempdb's catalog, which the engine does not model).
// OBJECT_ID('tempdb..#t') finds one; OBJECT_ID('#t') does not, as in
// SQL Server, which looks the name up in the current database. Global
// temporary tables (##name), shared by all sessions, are refused.
// Temporary stored procedures and a #table's scope ending with the
// procedure that created it are not modelled (there are no procedures).

// maxTempName is the longest #name SQL Server accepts (error 193): the
// rest of sysname's 128 characters holds the unique suffix.
const maxTempName = 116

// isTempName reports a local or global temporary table's name.
func isTempName(name string) bool { return strings.HasPrefix(name, "#") }

// tempKey is the session map's key of a #name: names compare
// case-insensitively, as under the default collation.
func tempKey(name string) string { return strings.ToLower(name) }

// checkTempName refuses a global temporary table and rejects a
// schema or database SQL Server would not accept for a #name: a
// database part must be tempdb (or the current database, where SQL
// Server looks in tempdb anyway), a schema part dbo.
func (x *execCtx) checkTempName(n objName) error {
	if strings.HasPrefix(n.Name, "##") {
		return unsupported("global temporary table " + n.Name)
	}
	if n.DB != "" && !strings.EqualFold(n.DB, "tempdb") && !strings.EqualFold(n.DB, x.db.name) {
		return errf(911, 16, 1, "Database '%s' does not exist. Make sure that the name is entered correctly.", n.DB)
	}
	if n.Schema != "" && !strings.EqualFold(n.Schema, "dbo") {
		return errf(208, 16, 1, "Invalid object name '%s'.", n.String())
	}
	return nil
}

// lookupTemp resolves a #name to the session's temporary table: 208
// when this session has none of that name (another session's #table of
// the same name is invisible to it).
func (x *execCtx) lookupTemp(n objName) (*table, error) {
	if err := x.checkTempName(n); err != nil {
		return nil, err
	}
	if t := x.s.temps[tempKey(n.Name)]; t != nil {
		return t, nil
	}
	return nil, errf(208, 16, 1, "Invalid object name '%s'.", n.String())
}

// createTemp runs CREATE TABLE #name. Any principal may create one: SQL
// Server requires no CREATE TABLE permission in tempdb for a #table,
// and its creator holds every permission on it.
func (x *execCtx) createTemp(n *createTableStmt) (Result, error) {
	if err := x.checkTempName(n.name); err != nil {
		return Result{}, err
	}
	if len(n.name.Name) > maxTempName {
		return Result{}, errf(193, 15, 1, "The object or column name starting with '%s' is too long. The maximum length is %d characters.", n.name.Name[:maxTempName], maxTempName)
	}
	key := tempKey(n.name.Name)
	if x.s.temps[key] != nil {
		return Result{}, errf(2714, 16, 6, "There is already an object named '%s' in the database.", n.name.Name)
	}
	t, err := x.buildTable(n)
	if err != nil {
		return Result{}, err
	}
	t.temp = true
	t.id = -x.db.newObjectID()
	for i, ix := range t.indexes {
		ix.objID = -x.db.newObjectID()
		prefix := "UQ"
		if ix.primary {
			prefix = "PK"
		}
		if ix.name == "" {
			ix.name = pkName(prefix, t.name, ix.objID)
		}
		ix.id = int32(i + 2)
		if ix.clustered {
			ix.id = 1
		}
	}
	s := x.s
	if s.temps == nil {
		s.temps = map[string]*table{}
	}
	s.temps[key] = t
	x.addUndo(func() { delete(s.temps, key) }, false)
	return Result{}, nil
}

// dropTemp runs DROP TABLE [IF EXISTS] #name: 3701 when the session has
// no such table.
func (x *execCtx) dropTemp(name objName, ifExists bool) error {
	if err := x.checkTempName(name); err != nil {
		return err
	}
	key := tempKey(name.Name)
	t := x.s.temps[key]
	if t == nil {
		if ifExists {
			return nil
		}
		return errf(3701, 11, 5, "Cannot drop the table '%s', because it does not exist or you do not have permission.", name.String())
	}
	s := x.s
	delete(s.temps, key)
	x.addUndo(func() { s.temps[key] = t }, false)
	return nil
}

// dropTemps drops the session's temporary tables: its connection ended
// or was reset. Call it after the open transaction is rolled back.
func (s *Session) dropTemps() { s.temps = nil }

// tempObjectID is OBJECT_ID of a #name: found only under tempdb
// (tempdb..#t or tempdb.dbo.#t), as in SQL Server.
func (x *execCtx) tempObjectID(n objName, kind string) any {
	if !strings.EqualFold(n.DB, "tempdb") || (n.Schema != "" && !strings.EqualFold(n.Schema, "dbo")) {
		return nil
	}
	t := x.s.temps[tempKey(n.Name)]
	if t == nil || (kind != "" && kind != "U") {
		return nil
	}
	return int64(t.id)
}

// storedName is a table's name as SQL Server's 515 and 2628 messages
// give it: database.schema.name, where a #table's database is tempdb and
// its name the padded, suffixed one SQL Server stores.
func (x *execCtx) storedName(t *table) string {
	if !t.temp {
		return x.db.name + "." + t.qualified()
	}
	return "tempdb." + t.schema + "." + paddedTempName(t)
}

// paddedTempName is a #table's name in tempdb: the name, underscores up
// to 116 characters, then 12 hexadecimal digits (SQL Server's come from
// a per-instance counter; here from the object id).
func paddedTempName(t *table) string {
	n := t.name
	if len(n) < maxTempName {
		n += strings.Repeat("_", maxTempName-len(n))
	}
	return n + fmt.Sprintf("%012X", uint64(uint32(-t.id)))
}
