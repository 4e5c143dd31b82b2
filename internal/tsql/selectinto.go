package tsql

import "strings"

// SELECT ... INTO table: SQL Server creates the table from the select
// list (each column a name, its type and nullability those of the
// expression) and inserts the rows, in one statement; the table is a
// local temporary one for a #name (temp.go), else a permanent one, which
// needs CREATE TABLE permission (262) and a free name (2714). The
// statement returns no result set, only its row count.
//
// Coarser than SQL Server, and refused with 40517: SELECT INTO from a
// table with an IDENTITY column (SQL Server copies the property to the
// new column), with a UNION, or in a subquery; the IDENTITY() function.
// The nullability of a computed column follows this engine's typing of
// the expression, which is coarser than SQL Server's.

// selectInto runs SELECT ... INTO.
func (x *execCtx) selectInto(n *selectStmt) (Result, error) {
	q, err := compileSelect(x.compiler(), n)
	if err != nil {
		return Result{}, err
	}
	if q.assigns != nil {
		return Result{}, unsupported("SELECT INTO with variable assignment")
	}
	for _, src := range q.p.srcs {
		if src.tbl != nil && src.tbl.ident != nil {
			return Result{}, unsupported("SELECT INTO from a table with an IDENTITY column")
		}
	}
	ct := &createTableStmt{pos: n.pos, name: *n.into}
	for _, c := range q.cols {
		if strings.TrimSpace(c.Name) == "" {
			return Result{}, errf(1038, 15, 5, "An object or column name is missing or empty. For SELECT INTO statements, verify each column has a name. For other statements, look for empty alias names. Aliases defined as \"\" or [] are not allowed. Change the alias to a valid name.")
		}
		typ := c.Type
		if typ.ID == TypeNull {
			typ = Type{ID: TypeInt, Nullable: true} // SELECT NULL AS x INTO ... makes an int column
		}
		ct.cols = append(ct.cols, colDef{pos: n.pos, name: c.Name, typ: typ, nullSet: true})
	}
	if _, err := x.createTable(ct); err != nil {
		return Result{}, err
	}
	t, err := x.lookupTable(*n.into)
	if err != nil {
		return Result{}, err
	}
	rows, err := q.run(x, nil, -1)
	if err != nil {
		return Result{}, err
	}
	all := make([]int, len(t.cols))
	types := make([]Type, len(t.cols))
	for i := range all {
		all[i], types[i] = i, q.cols[i].Type
	}
	for _, r := range rows {
		if err := x.tick(); err != nil {
			return Result{}, err
		}
		full, err := x.buildRow(t, all, r, types, "INSERT")
		if err != nil {
			return Result{}, err
		}
		if err := x.insertRow(t, full); err != nil {
			return Result{}, err
		}
	}
	return Result{RowCount: int64(len(rows)), HasCount: true}, nil
}
