package tsql

import (
	"fmt"
	"strings"
	"time"
)

// buildTable turns a column list (CREATE TABLE, CREATE TYPE, DECLARE
// @t TABLE) into an empty table.
func (x *execCtx) buildTable(s *createTableStmt) (*table, error) {
	t := &table{name: s.name.Name, schema: "dbo", created: x.now.UTC()}
	var pkCols []string
	pkName, pkClust := s.pkName, s.pkClust
	if s.pkCols != nil {
		pkCols = s.pkCols
	}
	for _, cd := range s.cols {
		if t.colIndex(cd.name) >= 0 {
			return nil, errf(2705, 16, 3, "Column names in each table must be unique. Column name '%s' in table '%s' is specified more than once.", cd.name, s.name.Name)
		}
		typ := cd.typ
		if typ.Collation != "" && !isString(typ.ID) {
			return nil, errf(447, 16, 1, "Expression type %s is invalid for COLLATE clause.", typ.baseName())
		}
		if cd.pk {
			if pkCols != nil {
				return nil, errf(8110, 16, 0, "Cannot add multiple PRIMARY KEY constraints to table '%s'.", s.name.Name)
			}
			pkCols = []string{cd.name}
			pkName, pkClust = cd.pkName, cd.clusterd
		}
		t.cols = append(t.cols, Column{Name: cd.name, Type: typ})
		if cd.ident != nil {
			if err := setIdentity(t, s, cd, len(t.cols)-1); err != nil { // identity.go
				return nil, err
			}
		}
	}
	if len(t.cols) > 1024 {
		return nil, errf(1702, 16, 1, "CREATE TABLE failed because column '%s' in table '%s' exceeds the maximum of 1024 columns.", t.cols[1024].Name, s.name.Name)
	}
	// A PRIMARY KEY or UNIQUE constraint on a column the table does not
	// have (1911) or cannot index (1919): SQL Server sends that error,
	// then 1750 for the constraint.
	mkIndex := func(cols []string, kind string) (*index, error) {
		ix := &index{keys: map[string]*row{}}
		for _, cn := range cols {
			ci := t.colIndex(cn)
			if ci < 0 {
				return nil, errCannotCreateConstraint(errf(1911, 16, 1, "Column name '%s' does not exist in the target table or view.", cn))
			}
			if t.cols[ci].Type.ID == TypeVariant {
				return nil, unsupported("sql_variant key column " + cn) // variant.go
			}
			if t.cols[ci].Type.Length == MaxLength || isLOB(t.cols[ci].Type.ID) || t.cols[ci].Type.ID == TypeXML {
				return nil, errCannotCreateConstraint(errf(1919, 16, 1, "Column '%s' in table '%s' is of a type that is invalid for use as a key column in an index.", cn, s.name.Name))
			}
			ix.cols = append(ix.cols, ci)
		}
		return ix, nil
	}
	if pkCols != nil {
		ix, err := mkIndex(pkCols, "PK")
		if err != nil {
			return nil, err
		}
		for j, ci := range ix.cols {
			cd := s.cols[ci]
			if cd.nullSet && cd.typ.Nullable {
				return nil, errCannotCreateConstraint(errf(8111, 16, 1, "Cannot define PRIMARY KEY constraint on nullable column in table '%s'.", s.name.Name))
			}
			// PRIMARY KEY columns are NOT NULL.
			t.cols[ci].Type.Nullable = false
			_ = j
		}
		ix.primary, ix.unique = true, true
		ix.clustered = pkClust != "NONCLUSTERED"
		ix.name = pkName
		t.pk = ix
		t.indexes = append(t.indexes, ix)
	}
	for _, cd := range s.cols {
		if cd.unique {
			s.uniques = append(s.uniques, []string{cd.name})
		}
	}
	for _, u := range s.uniques {
		ix, err := mkIndex(u, "UQ")
		if err != nil {
			return nil, err
		}
		ix.unique, ix.uqCons = true, true
		t.indexes = append(t.indexes, ix)
	}
	return t, nil
}

// errCannotCreateConstraint is SQL Server's 1750, which follows the error
// that explains why a constraint could not be created.
func errCannotCreateConstraint(cause *Error) *Error {
	e := errf(1750, 16, 0, "Could not create constraint or index. See previous errors.")
	e.Preceding = []*Error{cause}
	return e
}

func (x *execCtx) createTable(n *createTableStmt) (Result, error) {
	if !n.isType && isTempName(n.name.Name) {
		return x.createTemp(n) // temp.go
	}
	if err := x.checkDB(n.name); err != nil {
		return Result{}, err
	}
	what := "TABLE"
	if n.isType {
		what = "TYPE"
	}
	if x.s.p.Restricted {
		return Result{}, errf(262, 14, 1, "CREATE %s permission denied in database '%s'.", what, x.db.name)
	}
	if n.name.Schema != "" && !strings.EqualFold(n.name.Schema, "dbo") {
		return Result{}, errf(2760, 16, 1, "The specified schema name \"%s\" either does not exist or you do not have permission to use it.", n.name.Schema)
	}
	key := lowerKey("dbo", n.name.Name)
	if n.isType {
		if x.db.types[key] != nil {
			// Types live apart from objects in SQL Server: 219, not 2714.
			return Result{}, errf(219, 16, 1, "The type 'dbo.%s' already exists, or you do not have permission to create it.", n.name.Name)
		}
	} else if x.db.tables[key] != nil {
		return Result{}, errf(2714, 16, 6, "There is already an object named '%s' in the database.", n.name.Name)
	}
	t, err := x.buildTable(n)
	if err != nil {
		return Result{}, err
	}
	t.id = x.db.newObjectID()
	nextIdx := int32(1)
	if t.pk != nil && !t.pk.clustered {
		nextIdx = 2
	}
	for _, ix := range t.indexes {
		if ix.primary {
			ix.objID = x.db.newObjectID()
			if ix.name == "" {
				prefix := "PK"
				if n.isType {
					prefix = "PK__TT"
				}
				ix.name = pkName(prefix, t.name, ix.objID)
			}
			if ix.clustered {
				ix.id = 1
			} else {
				ix.id = nextIdx
				nextIdx++
			}
			continue
		}
		if nextIdx == 1 {
			nextIdx = 2
		}
		ix.objID = x.db.newObjectID()
		ix.name = pkName("UQ", t.name, ix.objID)
		ix.id = nextIdx
		nextIdx++
	}
	db := x.db
	if n.isType {
		t.isType = true
		t.typeID = db.nextType
		db.nextType++
		t.id = x.db.newObjectID()
		db.types[key] = t
		x.addUndo(func() { delete(db.types, key) }, false)
	} else {
		db.tables[key] = t
		x.addUndo(func() { delete(db.tables, key) }, false)
	}
	return Result{}, nil
}

func (x *execCtx) createIndex(n *createIndexStmt) (Result, error) {
	if err := x.checkDB(n.table); err != nil {
		return Result{}, err
	}
	t := x.db.tables[lowerKey(n.table.Schema, n.table.Name)]
	if isTempName(n.table.Name) {
		t = x.s.temps[tempKey(n.table.Name)] // temp.go
	}
	if t == nil || (x.s.p.Restricted && !t.temp) {
		return Result{}, errf(1088, 16, 12, "Cannot find the object \"%s\" because it does not exist or you do not have permissions.", n.table.Name)
	}
	if err := x.lockSchema(t); err != nil {
		return Result{}, err
	}
	for _, ix := range t.indexes {
		if strings.EqualFold(ix.name, n.name) {
			return Result{}, errf(1913, 16, 1, "The operation failed because an index or statistics with name '%s' already exists on table '%s'.", n.name, t.qualified())
		}
	}
	ix := &index{name: n.name, unique: n.unique, clustered: n.cluster == "CLUSTERED"}
	for _, cn := range n.cols {
		ci := t.colIndex(cn)
		if ci < 0 {
			return Result{}, errf(1911, 16, 1, "Column name '%s' does not exist in the target table or view.", cn)
		}
		if t.cols[ci].Type.ID == TypeVariant {
			return Result{}, unsupported("sql_variant key column " + cn) // variant.go
		}
		if t.cols[ci].Type.Length == MaxLength || isLOB(t.cols[ci].Type.ID) || t.cols[ci].Type.ID == TypeXML {
			return Result{}, errf(1919, 16, 1, "Column '%s' in table '%s' is of a type that is invalid for use as a key column in an index.", cn, t.qualified())
		}
		ix.cols = append(ix.cols, ci)
	}
	maxID := int32(1)
	for _, o := range t.indexes {
		if ix.clustered && o.clustered {
			return Result{}, errf(1902, 16, 3, "Cannot create more than one clustered index on table '%s'. Drop the existing clustered index '%s' before creating another.", t.qualified(), o.name)
		}
		if o.id > maxID {
			maxID = o.id
		}
	}
	if ix.clustered {
		ix.id = 1
	} else {
		ix.id = maxID + 1
	}
	if ix.unique {
		ix.keys = map[string]*row{}
		for _, r := range t.rows {
			k := t.key(ix, r.vals)
			if _, dup := ix.keys[k]; dup {
				return Result{}, errf(1505, 16, 1, "The CREATE UNIQUE INDEX statement terminated because a duplicate key was found for the object name '%s' and the index name '%s'. The duplicate key value is (%s).", t.qualified(), ix.name, t.keyDisplay(ix, r.vals))
			}
			ix.keys[k] = r
		}
	}
	t.buildSorted(ix)
	t.indexes = append(t.indexes, ix)
	x.addUndo(func() { t.removeIndex(ix) }, false)
	return Result{}, nil
}

func (t *table) removeIndex(ix *index) {
	for i, o := range t.indexes {
		if o == ix {
			t.indexes = append(t.indexes[:i:i], t.indexes[i+1:]...)
			return
		}
	}
}

func (x *execCtx) drop(n *dropStmt) (Result, error) {
	db := x.db
	for _, name := range n.names {
		if n.what == "TABLE" && isTempName(name.Name) {
			if err := x.dropTemp(name, n.ifExists); err != nil { // temp.go
				return Result{}, err
			}
			continue
		}
		if err := x.checkDB(name); err != nil {
			return Result{}, err
		}
		key := lowerKey(name.Schema, name.Name)
		switch n.what {
		case "TABLE":
			t := db.tables[key]
			if t == nil || x.s.p.Restricted {
				if n.ifExists && !x.s.p.Restricted {
					continue
				}
				return Result{}, errf(3701, 11, 5, "Cannot drop the table '%s', because it does not exist or you do not have permission.", name.String())
			}
			if err := x.lockSchema(t); err != nil {
				return Result{}, err
			}
			delete(db.tables, key)
			x.addUndo(func() { db.tables[key] = t }, false)
		case "TYPE":
			t := db.types[key]
			if t == nil || x.s.p.Restricted {
				if n.ifExists && !x.s.p.Restricted {
					continue
				}
				// SQL Server reports a missing type with 218, not 3701.
				return Result{}, errf(218, 16, 1, "Cannot find the type '%s', because it does not exist or you do not have permission.", name.Name)
			}
			delete(db.types, key)
			x.addUndo(func() { db.types[key] = t }, false)
		case "INDEX":
			t := db.tables[key]
			var ix *index
			if t != nil {
				for _, o := range t.indexes {
					if strings.EqualFold(o.name, n.index) {
						ix = o
					}
				}
			}
			if ix == nil || x.s.p.Restricted {
				if n.ifExists && !x.s.p.Restricted {
					continue
				}
				return Result{}, errf(3701, 11, 7, "Cannot drop the index '%s.%s', because it does not exist or you do not have permission.", name.Name, n.index)
			}
			if ix.primary || ix.uqCons {
				return Result{}, errf(3723, 16, 4, "An explicit DROP INDEX is not allowed on index '%s.%s'. It is being used for %s constraint enforcement.", t.qualified(), ix.name, map[bool]string{true: "PRIMARY KEY", false: "UNIQUE KEY"}[ix.primary])
			}
			if err := x.lockSchema(t); err != nil {
				return Result{}, err
			}
			old := append([]*index(nil), t.indexes...)
			t.removeIndex(ix)
			x.addUndo(func() { t.indexes = old }, false)
		}
	}
	return Result{}, nil
}

// bindTVP turns a table-valued parameter into a read-only table
// variable of its table type, checking the type exists (2715), that the
// principal may EXECUTE it (229) and each row against the type.
func (b *batch) bindTVP(p Param, ordinal int) (*table, error) {
	x := &execCtx{ctx: b.ctx, b: b, db: b.s.db, s: b.s, now: b.s.db.clock()}
	var tv *TableValue
	switch v := p.Value.(type) {
	case *TableValue:
		tv = v
	case TableValue:
		tv = &v
	default:
		return nil, errf(8047, 16, 1, "The incoming tabular data stream (TDS) remote procedure call (RPC) protocol stream is incorrect. Table-valued parameter %d (\"%s\"): the value is not a table.", ordinal, p.Name)
	}
	name, ok := parseObjectName(tv.TypeName)
	if !ok || tv.TypeName == "" {
		return nil, errf(2715, 16, 3, "Column, parameter, or variable #%d: Cannot find data type %s.", ordinal, tv.TypeName)
	}
	// Name resolution ignores permissions; EXECUTE is checked below.
	var tt *table
	if name.DB == "" || strings.EqualFold(name.DB, x.db.name) {
		tt = x.db.types[lowerKey(name.Schema, name.Name)]
	}
	if tt == nil {
		return nil, errf(2715, 16, 3, "Column, parameter, or variable #%d: Cannot find data type %s.", ordinal, tv.TypeName)
	}
	// SQL Server requires EXECUTE on a table type to pass it as a parameter.
	if err := x.checkPerm(tt, PermExecute); err != nil {
		return nil, err
	}
	t := &table{name: p.Name, schema: "dbo", isVar: true, cols: tt.cols, created: x.now}
	for _, ix := range tt.indexes {
		c := *ix
		c.keys, c.sorted = nil, sortedRows{}
		if ix.keys != nil {
			c.keys = map[string]*row{}
		}
		t.indexes = append(t.indexes, &c)
		if ix.primary {
			t.pk = &c
		}
	}
	for ri, r := range tv.Rows {
		if len(r) != len(tt.cols) {
			return nil, errf(8047, 16, 1, "The incoming tabular data stream (TDS) remote procedure call (RPC) protocol stream is incorrect. Table-valued parameter %d (\"%s\"), row %d: %d columns were sent where the table type has %d.", ordinal, p.Name, ri+1, len(r), len(tt.cols))
		}
		vals := make([]any, len(r))
		for ci, v := range r {
			from := inferType(v)
			if ci < len(tv.Columns) && tv.Columns[ci].Type.ID != TypeNull {
				from = tv.Columns[ci].Type
			}
			cv, err := x.assign(v, from, t, ci, "INSERT")
			if err != nil {
				return nil, err
			}
			vals[ci] = cv
		}
		for _, ix := range t.indexes {
			if ix.keys != nil {
				if _, dup := ix.keys[t.key(ix, vals)]; dup {
					return nil, t.dupError(ix, vals)
				}
			}
		}
		t.rawInsert(&row{vals: vals})
	}
	return t, nil
}

// inferType gives the natural type of a Go value.
func inferType(v any) Type {
	switch x := v.(type) {
	case nil:
		return Type{ID: TypeNull}
	case bool:
		return Type{ID: TypeBit}
	case int64:
		return Type{ID: TypeBigInt}
	case float64:
		return Type{ID: TypeFloat}
	case string:
		return Type{ID: TypeNVarChar, Length: MaxLength}
	case []byte:
		return Type{ID: TypeVarBinary, Length: MaxLength}
	case GUID:
		return Type{ID: TypeGUID}
	case Decimal:
		return Type{ID: TypeDecimal, Precision: 38, Scale: x.Scale()}
	case time.Time:
		if _, off := x.Zone(); off != 0 || x.Location() != time.UTC {
			return Type{ID: TypeDateTimeOffset, Scale: 7}
		}
		return Type{ID: TypeDateTime2, Scale: 7}
	}
	return Type{ID: TypeNull}
}

// execProc runs EXEC. Only sp_spaceused exists.
func (x *execCtx) execProc(n *execStmt) (Result, error) {
	name := strings.ToLower(n.proc.Name)
	switch name {
	case "sp_spaceused":
		if len(n.args) != 1 {
			return Result{}, unsupported("sp_spaceused without exactly one @objname argument")
		}
		e, err := x.compiler().value(n.args[0])
		if err != nil {
			return Result{}, err
		}
		v, err := strArg(x.s.dates, e, &env{})
		if err != nil {
			return Result{}, err
		}
		if v == nil {
			return Result{}, unsupported("sp_spaceused for the whole database")
		}
		on, ok := parseObjectName(v.(string))
		var t *table
		if ok {
			t = x.db.tables[lowerKey(on.Schema, on.Name)]
		}
		if t == nil || !x.visible(t) {
			return Result{}, errf(15009, 16, 1, "The object '%s' does not exist in database '%s' or is invalid for this operation.", v, x.db.name)
		}
		if err := x.checkPerm(t, PermSelect); err != nil {
			return Result{}, err
		}
		return spaceUsed(t), nil
	case "sp_executesql", "sp_prepare", "sp_execute", "sp_prepexec", "sp_unprepare", "sp_getapplock", "sp_releaseapplock",
		"sp_who", "sp_help", "sp_helpindex", "sp_columns", "sp_tables", "sp_rename", "sp_reset_connection":
		return Result{}, unsupported("EXEC " + n.proc.Name)
	}
	if IsSystemProcName(n.proc.Name) {
		// SQL Server has a system procedure of that name (in master or
		// sys); the engine does not: refuse it rather than say it is
		// missing.
		return Result{}, unsupported("EXEC " + n.proc.Name)
	}
	return Result{}, errf(2812, 16, 62, "Could not find stored procedure '%s'.", n.proc.String())
}

// IsSystemProcName reports a system procedure SQL Server has and this
// engine does not run: calling one is refused (40517) rather than
// reported missing (2812).
func IsSystemProcName(name string) bool { return systemProcs[strings.ToLower(name)] }

var systemProcs = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`sp_databases sp_helpdb sp_who sp_who2 sp_lock sp_configure sp_server_info
		sp_tables sp_tables_ex sp_columns sp_columns_ex sp_stored_procedures sp_sproc_columns sp_datatype_info
		sp_special_columns sp_statistics sp_pkeys sp_fkeys sp_table_privileges sp_column_privileges
		sp_help sp_helptext sp_helpindex sp_helpconstraint sp_helpuser sp_helplogins sp_helprole
		sp_helpfile sp_helpserver sp_describe_first_result_set sp_describe_undeclared_parameters
		sp_addlogin sp_droplogin sp_adduser sp_dropuser sp_addrolemember sp_droprolemember
		sp_addextendedproperty sp_rename sp_recompile sp_refreshview sp_depends sp_monitor
		sp_spaceused sp_set_session_context sp_getapplock sp_releaseapplock sp_cursoropen
		sp_cursorfetch sp_cursorclose sp_prepare sp_execute sp_prepexec sp_unprepare
		sp_reset_connection sp_updatestats sp_addmessage sp_dropmessage sp_procoption
		xp_cmdshell xp_msver xp_fixeddrives xp_readerrorlog`) {
		systemProcs[n] = true
	}
}

// spaceUsed approximates sp_spaceused: SQL Server reports allocated
// pages; this engine counts the stored bytes (plus a row header of 11
// bytes, as a data row's overhead) and rounds up to 8 KB pages, with one
// index page per 8 KB of key bytes. The figures are of the right order,
// not SQL Server's exact numbers.
func spaceUsed(t *table) Result {
	var data, keys int64
	for _, r := range t.rows {
		data += 11
		for ci, v := range r.vals {
			if v != nil {
				data += int64(dataLength(v, t.cols[ci].Type))
			}
		}
		for _, ix := range t.indexes {
			if ix.clustered {
				continue
			}
			for _, ci := range ix.cols {
				if v := r.vals[ci]; v != nil {
					keys += int64(dataLength(v, t.cols[ci].Type)) + 9
				}
			}
		}
	}
	pages := func(b int64) int64 {
		if b == 0 {
			return 0
		}
		return (b + 8095) / 8096
	}
	dataKB := pages(data) * 8
	indexKB := pages(keys) * 8
	if len(t.rows) > 0 {
		indexKB += 8 // the clustered index's root page
	}
	reserved := dataKB + indexKB
	// SQL Server reserves whole 64 KB extents once a table grows.
	if rem := reserved % 64; reserved > 64 && rem != 0 {
		reserved += 64 - rem
	}
	if reserved < dataKB+indexKB {
		reserved = dataKB + indexKB
	}
	if len(t.rows) > 0 && reserved < 72 {
		reserved = 72
	}
	kb := func(n int64) string { return fmt.Sprintf("%d KB", n) }
	vc := func(n int) Type { return Type{ID: TypeVarChar, Length: n} }
	return Result{
		Columns: []Column{
			{Name: "name", Type: Type{ID: TypeNVarChar, Length: 128}},
			{Name: "rows", Type: vc(20)},
			{Name: "reserved", Type: vc(18)},
			{Name: "data", Type: vc(18)},
			{Name: "index_size", Type: vc(18)},
			{Name: "unused", Type: vc(18)},
		},
		Rows: [][]any{{t.name, fmt.Sprintf("%d", len(t.rows)), kb(reserved), kb(dataKB), kb(indexKB),
			kb(reserved - dataKB - indexKB)}},
		RowCount: 1,
		HasCount: true,
	}
}
