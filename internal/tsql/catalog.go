package tsql

import (
	"math"
	"sort"
	"strings"
	"time"
)

// The catalog views. Each is generated from the catalog when a statement
// reads it; restricted principals see only the objects they hold a
// permission on, as SQL Server's metadata visibility rules do.

func sysname() Type               { return Type{ID: TypeNVarChar, Length: 128} }
func nsysname() Type              { return Type{ID: TypeNVarChar, Length: 128, Nullable: true} }
func intT() Type                  { return Type{ID: TypeInt} }
func nintT() Type                 { return Type{ID: TypeInt, Nullable: true} }
func tinyT() Type                 { return Type{ID: TypeTinyInt} }
func smallT() Type                { return Type{ID: TypeSmallInt} }
func bitT() Type                  { return Type{ID: TypeBit} }
func dtT() Type                   { return Type{ID: TypeDateTime} }
func nv(n int) Type               { return Type{ID: TypeNVarChar, Length: n, Nullable: true} }
func vcT(n int) Type              { return Type{ID: TypeVarChar, Length: n, Nullable: true} }
func charT(n int) Type            { return Type{ID: TypeChar, Length: n} }
func col(n string, t Type) Column { return Column{Name: n, Type: t} }

// sysTypeInfo returns sys.types figures for a column type.
func sysTypeInfo(t Type) (sysID, userID, maxLen, prec, scale int64) {
	for _, st := range systemTypes {
		if st.id == t.ID && st.name != "sysname" {
			sysID, userID, prec, scale = st.sysID, st.userType, st.prec, st.scale
			maxLen = st.maxLen
			break
		}
	}
	switch {
	case isString(t.ID) || isBinary(t.ID):
		prec, scale = 0, 0
		switch {
		case t.Length == MaxLength:
			maxLen = -1
		case isUnicode(t.ID):
			maxLen = int64(2 * t.Length)
		default:
			maxLen = int64(t.Length)
		}
	case t.ID == TypeDateTime2:
		maxLen = int64(timeBytes(t.Scale) + 3)
		prec = 19 + int64(t.Scale)
		if t.Scale > 0 {
			prec++
		}
		scale = int64(t.Scale)
	case t.ID == TypeGUID:
		maxLen, prec, scale = 16, 0, 0
	case isDecimal(t.ID):
		maxLen, prec, scale = int64(DecimalBytes(t.Precision)), int64(t.Precision), int64(t.Scale)
	case t.ID == TypeTime:
		// SQL Server: time(7) is 5 bytes, precision 16; time(0) 3 bytes,
		// precision 8.
		maxLen = int64(timeBytes(t.Scale))
		prec = 8 + int64(t.Scale)
		if t.Scale > 0 {
			prec++
		}
		scale = int64(t.Scale)
	case t.ID == TypeDateTimeOffset:
		maxLen = int64(timeBytes(t.Scale) + 5)
		prec = 26 + int64(t.Scale)
		if t.Scale > 0 {
			prec++
		}
		scale = int64(t.Scale)
	}
	return
}

func collationOf(t Type) any {
	if !isString(t.ID) {
		return nil
	}
	if t.Collation == "" {
		return DefaultCollation
	}
	return t.Collation
}

// visibleTables lists the tables the principal may see, by name.
func (x *execCtx) visibleTables() []*table {
	var out []*table
	for _, t := range x.db.tables {
		if x.visible(t) {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func (x *execCtx) visibleTypes() []*table {
	var out []*table
	for _, t := range x.db.types {
		if x.visible(t) {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].typeID < out[j].typeID })
	return out
}

func ttName(t *table) string {
	return "TT_" + t.name + "_" + strings.TrimPrefix(pkName("", "", t.id), "____")[:8]
}

// catalogView returns the columns and a row generator of a catalog view.
func (x *execCtx) catalogView(n objName) ([]Column, func() [][]any, bool) {
	schema := strings.ToLower(n.Schema)
	name := strings.ToLower(n.Name)
	view, ok := catalogViews[schema+"."+name]
	if !ok {
		return nil, nil, false
	}
	cols, rows := view(x, name)
	return cols, rows, true
}

// catalogViews maps each catalog view the engine has (schema.name, lower
// case) to the function that builds it. A function gets the view's name
// (without the schema) when it builds several views that differ a little.
var catalogViews = map[string]func(x *execCtx, name string) ([]Column, func() [][]any){
	"sys.schemas":                sysSchemas,
	"sys.objects":                sysObjects,
	"sys.all_objects":            sysObjects,
	"sys.tables":                 sysObjects,
	"sys.columns":                sysColumns,
	"sys.all_columns":            sysColumns,
	"sys.types":                  sysTypes,
	"sys.table_types":            sysTypes,
	"sys.indexes":                sysIndexes,
	"sys.index_columns":          sysIndexColumns,
	"information_schema.tables":  infoSchemaTables,
	"information_schema.columns": infoSchemaColumns,
}

// createdAt is an object's create_date: DATETIME, so rounded as one.
func createdAt(t *table) time.Time { return roundDateTime(t.created) }

// eachTableAndType calls f on each visible table, then each visible
// table type.
func (x *execCtx) eachTableAndType(f func(t *table)) {
	for _, t := range x.visibleTables() {
		f(t)
	}
	for _, t := range x.visibleTypes() {
		f(t)
	}
}

func sysSchemas(*execCtx, string) ([]Column, func() [][]any) {
	return []Column{col("name", sysname()), col("schema_id", intT()), col("principal_id", nintT())}, func() [][]any {
		var rows [][]any
		for _, s := range schemas {
			rows = append(rows, []any{s.name, s.id, int64(1)})
		}
		return rows
	}
}

// sysObjects builds sys.objects and sys.all_objects (tables, their key
// constraints and table types) and sys.tables (tables only, with two
// more columns).
func sysObjects(x *execCtx, name string) ([]Column, func() [][]any) {
	cols := []Column{col("name", sysname()), col("object_id", intT()), col("principal_id", nintT()),
		col("schema_id", intT()), col("parent_object_id", intT()), col("type", charT(2)), col("type_desc", nv(60)),
		col("create_date", dtT()), col("modify_date", dtT()), col("is_ms_shipped", bitT())}
	if name == "tables" {
		cols = append(cols, col("max_column_id_used", intT()), col("is_memory_optimized", bitT()))
	}
	return cols, func() [][]any {
		var rows [][]any
		for _, t := range x.visibleTables() {
			r := []any{t.name, int64(t.id), nil, int64(1), int64(0), "U ", "USER_TABLE", createdAt(t), createdAt(t), false}
			if name == "tables" {
				r = append(r, int64(len(t.cols)), false)
				rows = append(rows, r)
				continue
			}
			rows = append(rows, r)
			for _, ix := range t.indexes {
				if ix.primary {
					rows = append(rows, []any{ix.name, int64(ix.objID), nil, int64(1), int64(t.id), "PK", "PRIMARY_KEY_CONSTRAINT", createdAt(t), createdAt(t), false})
				} else if ix.uqCons {
					rows = append(rows, []any{ix.name, int64(ix.objID), nil, int64(1), int64(t.id), "UQ", "UNIQUE_CONSTRAINT", createdAt(t), createdAt(t), false})
				}
			}
		}
		if name != "tables" {
			for _, t := range x.visibleTypes() {
				rows = append(rows, []any{ttName(t), int64(t.id), nil, int64(1), int64(0), "TT", "TYPE_TABLE", createdAt(t), createdAt(t), false})
			}
		}
		return rows
	}
}

func sysColumns(x *execCtx, _ string) ([]Column, func() [][]any) {
	return []Column{col("object_id", intT()), col("name", nsysname()), col("column_id", intT()),
			col("system_type_id", tinyT()), col("user_type_id", intT()), col("max_length", smallT()),
			col("precision", tinyT()), col("scale", tinyT()), col("collation_name", nsysname()),
			col("is_nullable", Type{ID: TypeBit, Nullable: true}), col("is_identity", bitT()), col("is_computed", bitT())},
		func() [][]any {
			var rows [][]any
			x.eachTableAndType(func(t *table) {
				for i, c := range t.cols {
					sys, user, ml, p, s := sysTypeInfo(c.Type)
					rows = append(rows, []any{int64(t.id), c.Name, int64(i + 1), sys, user, ml, p, s,
						collationOf(c.Type), c.Type.Nullable, t.ident != nil && t.ident.col == i, false})
				}
			})
			return rows
		}
}

// sysTypes builds sys.types (system types and table types) and
// sys.table_types (table types only, with two more columns).
func sysTypes(x *execCtx, name string) ([]Column, func() [][]any) {
	cols := []Column{col("name", sysname()), col("system_type_id", tinyT()), col("user_type_id", intT()),
		col("schema_id", intT()), col("principal_id", nintT()), col("max_length", smallT()), col("precision", tinyT()),
		col("scale", tinyT()), col("collation_name", nsysname()), col("is_nullable", bitT()), col("is_user_defined", bitT()),
		col("is_assembly_type", bitT()), col("default_object_id", intT()), col("rule_object_id", intT()), col("is_table_type", bitT())}
	if name == "table_types" {
		cols = append(cols, col("type_table_object_id", intT()), col("is_memory_optimized", bitT()))
	}
	return cols, func() [][]any {
		var rows [][]any
		if name == "types" {
			for _, st := range systemTypes {
				var coll any
				if isString(st.id) {
					coll = DefaultCollation
				}
				rows = append(rows, []any{st.name, st.sysID, st.userType, int64(4), nil, st.maxLen, st.prec, st.scale,
					coll, true, false, false, int64(0), int64(0), false})
			}
		}
		for _, t := range x.visibleTypes() {
			r := []any{t.name, int64(243), int64(t.typeID), int64(1), nil, int64(-1), int64(0), int64(0), nil,
				false, true, false, int64(0), int64(0), true}
			if name == "table_types" {
				r = append(r, int64(t.id), false)
			}
			rows = append(rows, r)
		}
		return rows
	}
}

func sysIndexes(x *execCtx, _ string) ([]Column, func() [][]any) {
	return []Column{col("object_id", intT()), col("name", nsysname()), col("index_id", intT()), col("type", tinyT()),
			col("type_desc", nv(60)), col("is_unique", bitT()), col("data_space_id", intT()), col("ignore_dup_key", bitT()),
			col("is_primary_key", bitT()), col("is_unique_constraint", bitT()), col("fill_factor", tinyT()),
			col("is_padded", bitT()), col("is_disabled", bitT()), col("is_hypothetical", bitT()),
			col("allow_row_locks", bitT()), col("allow_page_locks", bitT()), col("has_filter", bitT())},
		func() [][]any {
			var rows [][]any
			x.eachTableAndType(func(t *table) {
				heap := true
				for _, ix := range t.indexes {
					if ix.clustered {
						heap = false
					}
				}
				if heap {
					rows = append(rows, []any{int64(t.id), nil, int64(0), int64(0), "HEAP", false, int64(1), false,
						false, false, int64(0), false, false, false, true, true, false})
				}
				for _, ix := range t.indexes {
					typ, desc := int64(2), "NONCLUSTERED"
					if ix.clustered {
						typ, desc = 1, "CLUSTERED"
					}
					rows = append(rows, []any{int64(t.id), ix.name, int64(ix.id), typ, desc, ix.unique, int64(1), false,
						ix.primary, ix.uqCons, int64(0), false, false, false, true, true, false})
				}
			})
			return rows
		}
}

func sysIndexColumns(x *execCtx, _ string) ([]Column, func() [][]any) {
	return []Column{col("object_id", intT()), col("index_id", intT()), col("index_column_id", intT()),
			col("column_id", intT()), col("key_ordinal", tinyT()), col("partition_ordinal", tinyT()),
			col("is_descending_key", bitT()), col("is_included_column", bitT())},
		func() [][]any {
			var rows [][]any
			x.eachTableAndType(func(t *table) {
				for _, ix := range t.indexes {
					for i, ci := range ix.cols {
						rows = append(rows, []any{int64(t.id), int64(ix.id), int64(i + 1), int64(ci + 1), int64(i + 1),
							int64(0), false, false})
					}
				}
			})
			return rows
		}
}

func infoSchemaTables(x *execCtx, _ string) ([]Column, func() [][]any) {
	return []Column{col("TABLE_CATALOG", nsysname()), col("TABLE_SCHEMA", nsysname()), col("TABLE_NAME", sysname()),
			col("TABLE_TYPE", vcT(10))},
		func() [][]any {
			var rows [][]any
			for _, t := range x.visibleTables() {
				rows = append(rows, []any{x.db.name, t.schema, t.name, "BASE TABLE"})
			}
			return rows
		}
}

func infoSchemaColumns(x *execCtx, _ string) ([]Column, func() [][]any) {
	return []Column{col("TABLE_CATALOG", nsysname()), col("TABLE_SCHEMA", nsysname()), col("TABLE_NAME", sysname()),
			col("COLUMN_NAME", nsysname()), col("ORDINAL_POSITION", nintT()), col("COLUMN_DEFAULT", nv(4000)),
			col("IS_NULLABLE", vcT(3)), col("DATA_TYPE", nv(128)), col("CHARACTER_MAXIMUM_LENGTH", nintT()),
			col("CHARACTER_OCTET_LENGTH", nintT()), col("NUMERIC_PRECISION", Type{ID: TypeTinyInt, Nullable: true}),
			col("NUMERIC_PRECISION_RADIX", Type{ID: TypeSmallInt, Nullable: true}), col("NUMERIC_SCALE", nintT()),
			col("DATETIME_PRECISION", Type{ID: TypeSmallInt, Nullable: true}), col("CHARACTER_SET_NAME", nsysname()),
			col("COLLATION_NAME", nsysname())},
		func() [][]any {
			var rows [][]any
			for _, t := range x.visibleTables() {
				for i, c := range t.cols {
					ct := c.Type
					nullable := "NO"
					if ct.Nullable {
						nullable = "YES"
					}
					rows = append(rows, append(append([]any{x.db.name, t.schema, t.name, c.Name, int64(i + 1), nil, nullable,
						ct.baseName()}, infoSchemaFacets(ct)...), collationOf(ct)))
				}
			}
			return rows
		}
}

// infoSchemaFacets returns INFORMATION_SCHEMA.COLUMNS' CHARACTER_MAXIMUM_LENGTH
// to CHARACTER_SET_NAME for a column type.
func infoSchemaFacets(ct Type) []any {
	var charMax, octet, numPrec, radix, numScale, dtPrec, charset any
	switch {
	case isString(ct.ID) || isBinary(ct.ID):
		charMax = int64(ct.Length)
		octet = int64(ct.Length)
		if isUnicode(ct.ID) && ct.Length != MaxLength {
			octet = int64(2 * ct.Length)
		}
		if isString(ct.ID) {
			charset = "iso_1"
			if isUnicode(ct.ID) {
				charset = "UNICODE"
			}
		}
	case ct.ID == TypeXML:
		charMax, octet = int64(-1), int64(-1)
	case isLOB(ct.ID):
		// TEXT and IMAGE hold up to 2^31-1 bytes, NTEXT 2^30-1 characters.
		charMax, octet = int64(math.MaxInt32), int64(math.MaxInt32)
		switch ct.ID {
		case TypeNText:
			charMax, octet, charset = int64(math.MaxInt32/2), int64(math.MaxInt32-1), "UNICODE"
		case TypeText:
			charset = "iso_1"
		}
	case isNumber(ct.ID):
		_, _, _, p, s := sysTypeInfo(ct)
		numPrec, numScale = p, s
		radix = int64(10)
		if isFloat(ct.ID) {
			radix, numScale = int64(2), nil
		}
	case ct.ID == TypeDateTime:
		dtPrec = int64(3)
	case ct.ID == TypeSmallDateTime:
		dtPrec = int64(0)
	case ct.ID == TypeDate:
		dtPrec = int64(0)
	case ct.ID == TypeDateTime2 || ct.ID == TypeDateTimeOffset || ct.ID == TypeTime:
		dtPrec = int64(ct.Scale)
	}
	return []any{charMax, octet, numPrec, radix, numScale, dtPrec, charset}
}
