package tsql

import (
	"fmt"
	"strings"
	"time"
)

// table is a permanent table, a table type's definition, a table
// variable or a table-valued parameter.
type table struct {
	id      int32 // object_id
	schema  string
	name    string
	cols    []Column
	isType  bool  // a table type (CREATE TYPE ... AS TABLE)
	typeID  int32 // user_type_id of a table type
	isVar   bool  // a table variable or TVP
	pk      *index
	indexes []*index
	rows    []*row
	nextSeq uint64 // the last row.seq given
	created time.Time

	temp  bool      // a local temporary table (#name, temp.go)
	ident *identity // its IDENTITY column, if any (identity.go)
}

// index is an index; unique ones (and the primary key) keep a map from
// the normalised key to the row, which is how equality seeks work. Every
// index keeps its rows in key order in sorted, which is how range seeks
// work (range.go).
type index struct {
	id        int32
	objID     int32 // object id of its constraint, if any
	name      string
	cols      []int
	unique    bool
	primary   bool
	uqCons    bool // a UNIQUE constraint rather than a unique index
	clustered bool
	keys      map[string]*row
	sorted    sortedRows // the table's rows in key order (cmpEntry)
	kinds     []collKind // the collation of each column, set by cmpIndex
}

func (t *table) qualified() string { return t.schema + "." + t.name }

func (t *table) colIndex(name string) int {
	for i, c := range t.cols {
		if strings.EqualFold(c.Name, name) {
			return i
		}
	}
	return -1
}

// key is the index key of a row's values: values that are equal under
// each column's type and collation get the same key.
func (t *table) key(ix *index, vals []any) string {
	if len(ix.cols) == 1 {
		c := ix.cols[0]
		return keyPart(vals[c], collationKind(t.cols[c].Type.Collation))
	}
	var b strings.Builder
	for _, c := range ix.cols {
		b.WriteString(keyPart(vals[c], collationKind(t.cols[c].Type.Collation)))
		b.WriteByte(0x1f)
	}
	return b.String()
}

func (t *table) keyDisplay(ix *index, vals []any) string {
	parts := make([]string, len(ix.cols))
	for i, c := range ix.cols {
		parts[i] = displayValue(vals[c], t.cols[c].Type)
	}
	return strings.Join(parts, ", ")
}

func (t *table) dupError(ix *index, vals []any) *Error {
	obj := t.qualified()
	if t.isVar {
		obj = "dbo." + t.name
	}
	switch {
	case ix.primary:
		return errf(2627, 14, 1, "Violation of PRIMARY KEY constraint '%s'. Cannot insert duplicate key in object '%s'. The duplicate key value is (%s).", ix.name, obj, t.keyDisplay(ix, vals))
	case ix.uqCons:
		return errf(2627, 14, 1, "Violation of UNIQUE KEY constraint '%s'. Cannot insert duplicate key in object '%s'. The duplicate key value is (%s).", ix.name, obj, t.keyDisplay(ix, vals))
	}
	return errf(2601, 14, 1, "Cannot insert duplicate key row in object '%s' with unique index '%s'. The duplicate key value is (%s).", obj, ix.name, t.keyDisplay(ix, vals))
}

// rawInsert adds a row without an undo entry.
func (t *table) rawInsert(r *row) {
	for _, ix := range t.indexes {
		if ix.keys != nil {
			ix.keys[t.key(ix, r.vals)] = r
		}
	}
	t.sortedInsert(r)
	r.pos = len(t.rows)
	t.rows = append(t.rows, r)
}

func (t *table) rawDelete(r *row) {
	t.sortedRemove(r, r.vals)
	for _, ix := range t.indexes {
		if ix.keys != nil {
			k := t.key(ix, r.vals)
			if ix.keys[k] == r {
				delete(ix.keys, k)
			}
		}
	}
	last := len(t.rows) - 1
	if r.pos != last {
		m := t.rows[last]
		t.rows[r.pos] = m
		m.pos = r.pos
	}
	t.rows[last] = nil
	t.rows = t.rows[:last]
	r.pos = -1
}

// insertRow adds a row, checking unique indexes.
func (x *execCtx) insertRow(t *table, vals []any) error {
	if t.pk != nil {
		// The new key is locked before the duplicate check, so that an
		// uncommitted insert or delete of the same key is waited for.
		if err := x.lockWrite(t, keyRes(t, vals), vals); err != nil {
			return err
		}
	}
	for _, ix := range t.indexes {
		if ix.keys != nil {
			if _, dup := ix.keys[t.key(ix, vals)]; dup {
				return t.dupError(ix, vals)
			}
		}
	}
	r := &row{vals: vals}
	if t.pk == nil {
		if err := x.lockWrite(t, rowRes(t, r), vals); err != nil {
			return err
		}
	}
	t.rawInsert(r)
	x.rowsWritten++
	x.addUndo(func() { t.rawDelete(r) }, t.isVar)
	return nil
}

func (x *execCtx) deleteRow(t *table, r *row) error {
	if err := x.lockWrite(t, rowRes(t, r), r.vals); err != nil {
		return err
	}
	t.rawDelete(r)
	x.rowsWritten++
	x.addUndo(func() { t.rawInsert(r) }, t.isVar)
	return nil
}

// updateRow replaces a row's values, maintaining unique indexes.
func (x *execCtx) updateRow(t *table, r *row, vals []any) error {
	old := r.vals
	if err := x.lockWrite(t, rowRes(t, r), old, vals); err != nil {
		return err
	}
	if t.pk != nil {
		if nk := keyRes(t, vals); nk != rowRes(t, r) {
			if err := x.lockWrite(t, nk, vals); err != nil {
				return err
			}
		}
	}
	for _, ix := range t.indexes {
		if ix.keys == nil {
			continue
		}
		ok, nk := t.key(ix, old), t.key(ix, vals)
		if ok == nk {
			continue
		}
		if other, dup := ix.keys[nk]; dup && other != r {
			return t.dupError(ix, vals)
		}
	}
	for _, ix := range t.indexes {
		if ix.keys == nil {
			continue
		}
		ok, nk := t.key(ix, old), t.key(ix, vals)
		if ok != nk {
			if ix.keys[ok] == r {
				delete(ix.keys, ok)
			}
			ix.keys[nk] = r
		}
	}
	t.setVals(r, vals)
	x.rowsWritten++
	x.addUndo(func() {
		for _, ix := range t.indexes {
			if ix.keys == nil {
				continue
			}
			ok, nk := t.key(ix, old), t.key(ix, vals)
			if ok != nk {
				if ix.keys[nk] == r {
					delete(ix.keys, nk)
				}
				ix.keys[ok] = r
			}
		}
		t.setVals(r, old)
	}, t.isVar)
	return nil
}

// assign converts a value for storage in a column, with SQL Server's
// checks: NULL into NOT NULL is 515, and a value longer than the column
// is 2628 for a table (8152 for table variables and parameters, whose
// message SQL Server does not extend).
func (x *execCtx) assign(v any, from Type, t *table, col int, verb string) (any, error) {
	c := t.cols[col]
	if v == nil {
		if !c.Type.Nullable {
			name := x.storedName(t)
			if t.isVar {
				name = t.name
			}
			return nil, errf(515, 16, 2, "Cannot insert the value NULL into column '%s', table '%s'; column does not allow nulls. %s fails.", c.Name, name, verb)
		}
		return nil, nil
	}
	wide := c.Type
	if isString(wide.ID) || isBinary(wide.ID) {
		wide.Length = MaxLength
		switch wide.ID {
		case TypeChar:
			wide.ID = TypeVarChar
		case TypeNChar:
			wide.ID = TypeNVarChar
		case TypeBinary:
			wide.ID = TypeVarBinary
		}
	}
	w, err := convert(x.s.dates, v, from, wide)
	if err != nil {
		return nil, err
	}
	if tooLong(w, c.Type) {
		if t.isVar {
			return nil, errf(8152, 16, 30, "String or binary data would be truncated.")
		}
		return nil, errf(2628, 16, 1, "String or binary data would be truncated in table '%s', column '%s'. Truncated value: '%s'.", x.storedName(t), c.Name, truncatedValue(w, c.Type.Length))
	}
	return convert(x.s.dates, w, wide, c.Type)
}

// ---- catalog lookups ----

type schemaInfo struct {
	id   int64
	name string
}

var schemas = []schemaInfo{{1, "dbo"}, {2, "guest"}, {3, "INFORMATION_SCHEMA"}, {4, "sys"}}

func lowerKey(schema, name string) string {
	if schema == "" {
		schema = "dbo"
	}
	return strings.ToLower(schema + "." + name)
}

// checkDB rejects references to another database.
func (x *execCtx) checkDB(n objName) error {
	if isTempName(n.Name) && strings.EqualFold(n.DB, "tempdb") {
		return nil // a #table lives in tempdb (temp.go)
	}
	if n.DB != "" && !strings.EqualFold(n.DB, x.db.name) {
		if strings.EqualFold(n.DB, "tempdb") || strings.EqualFold(n.DB, "master") || strings.EqualFold(n.DB, "msdb") {
			return unsupported("cross-database reference to " + n.DB)
		}
		return errf(911, 16, 1, "Database '%s' does not exist. Make sure that the name is entered correctly.", n.DB)
	}
	return nil
}

// lookupTable finds a permanent table. Name resolution ignores
// permissions, as in SQL Server: a principal without permission on an
// existing table gets 229 from checkPerm, not 208 (metadata visibility
// only filters the catalog views and OBJECT_ID).
func (x *execCtx) lookupTable(n objName) (*table, error) {
	if isTempName(n.Name) {
		return x.lookupTemp(n) // temp.go
	}
	if err := x.checkDB(n); err != nil {
		return nil, err
	}
	t := x.db.tables[lowerKey(n.Schema, n.Name)]
	if t == nil {
		if strings.EqualFold(n.Schema, "sys") || strings.EqualFold(n.Schema, "INFORMATION_SCHEMA") {
			// A system view this engine does not model (sys.dm_exec_connections,
			// ...): refused, not reported missing.
			return nil, unsupported("system view " + n.Schema + "." + n.Name)
		}
		return nil, errf(208, 16, 1, "Invalid object name '%s'.", n.String())
	}
	return t, nil
}

func (x *execCtx) visible(t *table) bool {
	if !x.s.p.Restricted {
		return true
	}
	return x.grants(t) != 0
}

func (x *execCtx) grants(t *table) Permission {
	if !x.s.p.Restricted || t.temp {
		return PermSelect | PermInsert | PermUpdate | PermDelete | PermExecute
	}
	for k, v := range x.principalGrants() { // perms.go
		if strings.EqualFold(k, t.qualified()) {
			return v
		}
	}
	return 0
}

// checkPerm raises 229 when the principal lacks a permission.
func (x *execCtx) checkPerm(t *table, p Permission) error {
	if p == 0 || t.isVar || x.grants(t)&p != 0 {
		return nil
	}
	name := map[Permission]string{PermSelect: "SELECT", PermInsert: "INSERT", PermUpdate: "UPDATE", PermDelete: "DELETE", PermExecute: "EXECUTE"}[p]
	return errf(229, 14, 5, "The %s permission was denied on the object '%s', database '%s', schema '%s'.", name, t.name, x.db.name, t.schema)
}

// parseObjectName splits a name as OBJECT_ID receives it
// ("[dbo].[sessions]", "dbo.sessions", "sessions").
func parseObjectName(s string) (objName, bool) {
	toks, err := lex(s)
	if err != nil {
		return objName{}, false
	}
	var parts []string
	expectName := true
	for _, t := range toks {
		switch {
		case t.kind == tokEOF:
		case t.kind == tokOp && t.text == ".":
			if expectName {
				parts = append(parts, "")
			}
			expectName = true
		case (t.kind == tokIdent || t.kind == tokQIdent) && expectName:
			parts = append(parts, t.text)
			expectName = false
		default:
			return objName{}, false
		}
	}
	switch len(parts) {
	case 1:
		return objName{Name: parts[0]}, true
	case 2:
		return objName{Schema: parts[0], Name: parts[1]}, true
	case 3:
		return objName{DB: parts[0], Schema: parts[1], Name: parts[2]}, true
	}
	return objName{}, false
}

func (x *execCtx) objectID(s, kind string) any {
	n, ok := parseObjectName(s)
	if ok && isTempName(n.Name) {
		return x.tempObjectID(n, kind) // temp.go
	}
	if !ok || (n.DB != "" && !strings.EqualFold(n.DB, x.db.name)) {
		return nil
	}
	t := x.db.tables[lowerKey(n.Schema, n.Name)]
	if t != nil && x.visible(t) && (kind == "" || kind == "U") {
		return int64(t.id)
	}
	if kind == "" || kind == "PK" {
		for _, t := range x.db.tables {
			if t.pk != nil && strings.EqualFold(t.pk.name, n.Name) && x.visible(t) {
				return int64(t.pk.objID)
			}
		}
	}
	return nil
}

// systemTypes are the built-in types visible in sys.types.
var systemTypes = []struct {
	name     string
	id       TypeID
	sysID    int64
	maxLen   int64
	prec     int64
	scale    int64
	userType int64
}{
	{"bigint", TypeBigInt, 127, 8, 19, 0, 127},
	{"decimal", TypeDecimal, 106, 17, 38, 38, 106},
	{"money", TypeMoney, 60, 8, 19, 4, 60},
	{"numeric", TypeNumeric, 108, 17, 38, 38, 108},
	{"smalldatetime", TypeSmallDateTime, 58, 4, 16, 0, 58},
	{"smallmoney", TypeSmallMoney, 122, 4, 10, 4, 122},
	{"image", TypeImage, 34, 16, 0, 0, 34},
	{"ntext", TypeNText, 99, 16, 0, 0, 99},
	{"text", TypeText, 35, 16, 0, 0, 35},
	{"xml", TypeXML, 241, -1, 0, 0, 241},
	{"sql_variant", TypeVariant, 98, 8016, 0, 0, 98},
	{"binary", TypeBinary, 173, 8000, 0, 0, 173},
	{"bit", TypeBit, 104, 1, 1, 0, 104},
	{"char", TypeChar, 175, 8000, 0, 0, 175},
	{"date", TypeDate, 40, 3, 10, 0, 40},
	{"datetime", TypeDateTime, 61, 8, 23, 3, 61},
	{"datetime2", TypeDateTime2, 42, 8, 27, 7, 42},
	{"datetimeoffset", TypeDateTimeOffset, 43, 10, 34, 7, 43},
	{"float", TypeFloat, 62, 8, 53, 0, 62},
	{"real", TypeReal, 59, 4, 24, 0, 59},
	{"int", TypeInt, 56, 4, 10, 0, 56},
	{"nchar", TypeNChar, 239, 8000, 0, 0, 239},
	{"nvarchar", TypeNVarChar, 231, 8000, 0, 0, 231},
	{"smallint", TypeSmallInt, 52, 2, 5, 0, 52},
	{"sysname", TypeNVarChar, 231, 256, 0, 0, 256},
	{"time", TypeTime, 41, 5, 16, 7, 41},
	{"tinyint", TypeTinyInt, 48, 1, 3, 0, 48},
	{"uniqueidentifier", TypeGUID, 36, 16, 0, 0, 36},
	{"varbinary", TypeVarBinary, 165, 8000, 0, 0, 165},
	{"varchar", TypeVarChar, 167, 8000, 0, 0, 167},
}

func (x *execCtx) lookupType(n objName) *table {
	if n.DB != "" && !strings.EqualFold(n.DB, x.db.name) {
		return nil
	}
	t := x.db.types[lowerKey(n.Schema, n.Name)]
	if t == nil || !x.visible(t) {
		return nil
	}
	return t
}

func (x *execCtx) typeID(s string) any {
	n, ok := parseObjectName(s)
	if !ok {
		return nil
	}
	if n.Schema == "" || strings.EqualFold(n.Schema, "sys") {
		for _, st := range systemTypes {
			if strings.EqualFold(st.name, n.Name) {
				return st.userType
			}
		}
	}
	if t := x.lookupType(n); t != nil {
		return int64(t.typeID)
	}
	return nil
}

// hasPermsByName is HAS_PERMS_BY_NAME for OBJECT, TYPE and DATABASE.
func (x *execCtx) hasPermsByName(securable, class, perm string) any {
	class = strings.ToUpper(strings.TrimSpace(class))
	perm = strings.ToUpper(strings.TrimSpace(perm))
	permBits := map[string]Permission{"SELECT": PermSelect, "INSERT": PermInsert, "UPDATE": PermUpdate,
		"DELETE": PermDelete, "EXECUTE": PermExecute, "REFERENCES": PermSelect, "VIEW DEFINITION": PermSelect,
		"ANY": PermSelect | PermInsert | PermUpdate | PermDelete | PermExecute}
	switch class {
	case "DATABASE":
		if x.s.p.Restricted {
			if perm == "CONNECT" {
				return int64(1)
			}
			return int64(0)
		}
		return int64(1)
	case "OBJECT", "TYPE":
		n, ok := parseObjectName(securable)
		if !ok {
			return nil
		}
		var t *table
		if class == "OBJECT" {
			t = x.db.tables[lowerKey(n.Schema, n.Name)]
		} else {
			t = x.db.types[lowerKey(n.Schema, n.Name)]
		}
		if t == nil {
			return nil
		}
		bits, ok := permBits[perm]
		if !ok {
			return nil
		}
		if x.grants(t)&bits != 0 {
			return int64(1)
		}
		return int64(0)
	}
	return nil
}

func (db *Database) newObjectID() int32 {
	db.nextObj += 16061 // spread ids a little, as SQL Server's look
	return db.nextObj
}

func pkName(prefix, table string, id int32) string {
	n := table
	if len(n) > 8 {
		n = n[:8]
	}
	return fmt.Sprintf("%s__%s__%016X", prefix, n, uint64(uint32(id))*0x9E3779B1)
}
