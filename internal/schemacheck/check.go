package schemacheck

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/scs-contrib/mssqlstore/internal/sqlname"
)

// Level is the weight of a Finding.
type Level int

// The levels of a Finding.
const (
	// OK reports something that is as the store needs it.
	OK Level = iota
	// Warning reports something the store works around, at a cost.
	Warning
	// Error reports something that stops the store from working.
	Error
)

// String returns "ok", "warning" or "error".
func (l Level) String() string {
	switch l {
	case OK:
		return "ok"
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// Finding is one result of Check.
type Finding struct {
	Level Level
	// Message says what was found.
	Message string
	// Fix says how to fix a warning or an error: a statement to run or a
	// step to take. Empty for OK.
	Fix string
}

// String returns the finding as one line: "ok: ...", or
// "error: ...; fix: ...".
func (f Finding) String() string {
	if f.Fix == "" {
		return f.Level.String() + ": " + f.Message
	}
	return f.Level.String() + ": " + f.Message + "; fix: " + f.Fix
}

// Failed reports whether any finding is an Error.
func Failed(findings []Finding) bool {
	return slices.ContainsFunc(findings, func(f Finding) bool { return f.Level == Error })
}

// Options names the objects to check.
type Options struct {
	// Table is the sessions table; default "dbo.sessions".
	Table string
	// TableType is the batch table type; default "dbo.sessions_batch".
	TableType string
	// DefaultCollation gives a table that Create makes the database's
	// default collation on its token column instead of BinaryCollation.
	// Check ignores it.
	DefaultCollation bool
	// User, when set, is the database user whose permissions Check
	// verifies (the application's), instead of the DSN's own. Check
	// reads them as that user, with EXECUTE AS USER, which needs
	// IMPERSONATE on it: the database owner (db_owner) holds it.
	User string
}

// Defaults of Options, the same as the store's.
const (
	DefaultTable     = "dbo.sessions"
	DefaultTableType = "dbo.sessions_batch"
)

func (o Options) names() (table, typ sqlname.Name, err error) {
	if o.Table == "" {
		o.Table = DefaultTable
	}
	if o.TableType == "" {
		o.TableType = DefaultTableType
	}
	if table, err = sqlname.Parse(o.Table); err != nil {
		return sqlname.Name{}, sqlname.Name{}, fmt.Errorf("table: %w", err)
	}
	if typ, err = sqlname.Parse(o.TableType); err != nil {
		return sqlname.Name{}, sqlname.Name{}, fmt.Errorf("table type: %w", err)
	}
	return table, typ, nil
}

// column is a column as the catalog describes it.
type column struct {
	id         int64
	name       string
	typeName   string // lower case, as sys.types names it
	maxLength  int64  // bytes; -1 for MAX
	scale      int64
	nullable   bool
	collation  string
	userTypeID int64
}

// sqlType renders the column's type with its facets, as in DDL.
func (c column) sqlType() string {
	t := strings.ToUpper(c.typeName)
	switch c.typeName {
	case "char", "varchar", "binary", "varbinary":
		if c.maxLength < 0 {
			return t + "(MAX)"
		}
		return fmt.Sprintf("%s(%d)", t, c.maxLength)
	case "nchar", "nvarchar":
		if c.maxLength < 0 {
			return t + "(MAX)"
		}
		return fmt.Sprintf("%s(%d)", t, c.maxLength/2)
	case "datetime2", "datetimeoffset", "time":
		return fmt.Sprintf("%s(%d)", t, c.scale)
	}
	return t
}

func (c column) decl() string {
	if c.nullable {
		return c.sqlType() + " NULL"
	}
	return c.sqlType() + " NOT NULL"
}

// wantColumns are the store's columns, in the order the table type must
// have them: a table-valued parameter is matched by position.
var wantColumns = []struct{ name, decl string }{
	{"token", "CHAR(43) NOT NULL"},
	{"data", "VARBINARY(MAX) NOT NULL"},
	{"expiry", "DATETIME2(6) NOT NULL"},
}

// Check inspects the sessions table and the batch table type, and the
// permissions on them of opts.User, or else of the current database user. It returns an error only
// when it cannot ask (a lost connection, an invalid name); what it finds
// wrong with the schema comes back as findings.
func Check(ctx context.Context, db *sql.DB, opts Options) ([]Finding, error) {
	table, typ, err := opts.names()
	if err != nil {
		return nil, err
	}
	c := &checker{db: db, table: table, typ: typ}
	if opts.User != "" {
		if c.subject, err = ParseUser(opts.User); err != nil {
			return nil, err
		}
	}
	if err := c.run(ctx); err != nil {
		return c.findings, fmt.Errorf("schemacheck: %w", err)
	}
	return c.findings, nil
}

type checker struct {
	db         *sql.DB
	table, typ sqlname.Name
	user       string // the DSN's database user
	// subject is the database user whose permissions are checked:
	// Options.User, or user.
	subject string
	// perms are subject's permissions, valid when permsOK.
	perms   permSet
	permsOK bool
	types   map[int64]string // user_type_id to name
	// tableCollation is the collation of the table's token column; ""
	// when the table or the column was not found.
	tableCollation string
	findings       []Finding
}

func (c *checker) add(l Level, fix, format string, args ...any) {
	c.findings = append(c.findings, Finding{Level: l, Message: fmt.Sprintf(format, args...), Fix: fix})
}

func (c *checker) run(ctx context.Context) error {
	var tableID sql.NullInt64
	var user sql.NullString
	err := c.db.QueryRowContext(ctx, "SELECT OBJECT_ID(@p1, N'U'), USER_NAME()", c.table.Quoted()).Scan(&tableID, &user)
	if err != nil {
		return fmt.Errorf("look up table %s: %w", c.table, err)
	}
	c.user = user.String
	if c.subject == "" {
		c.subject = c.user
	}
	if err := c.loadTypes(ctx); err != nil {
		return err
	}
	switch {
	case tableID.Valid:
	case c.isOwner():
		c.add(Error, "run `mssqlstore init`", "table %s not found", c.table)
	default:
		c.add(Error, "run `mssqlstore init` as a database user allowed to create it, or, if it exists: "+c.grantTable("SELECT, INSERT, UPDATE, DELETE"),
			"table %s not found, or database user %s holds no permission on it", c.table, sqlname.QuoteIdent(c.user))
	}
	if tableID.Valid {
		c.add(OK, "", "table %s exists", c.table)
		if err := c.checkTable(ctx, tableID.Int64); err != nil {
			return err
		}
	}
	if c.permsOK, err = c.readPerms(ctx); err != nil {
		return err
	}
	if err := c.checkType(ctx); err != nil {
		return err
	}
	if tableID.Valid && c.permsOK {
		c.checkTablePerms()
	}
	return nil
}

func (c *checker) loadTypes(ctx context.Context) error {
	rows, err := c.db.QueryContext(ctx, "SELECT user_type_id, name FROM sys.types")
	if err != nil {
		return fmt.Errorf("read sys.types: %w", err)
	}
	defer rows.Close()
	c.types = map[int64]string{}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return fmt.Errorf("read sys.types: %w", err)
		}
		c.types[id] = strings.ToLower(name)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read sys.types: %w", err)
	}
	return nil
}

func (c *checker) columns(ctx context.Context, objectID int64) ([]column, error) {
	rows, err := c.db.QueryContext(ctx,
		"SELECT column_id, name, user_type_id, max_length, scale, is_nullable, collation_name FROM sys.columns WHERE object_id = @p1",
		objectID)
	if err != nil {
		return nil, fmt.Errorf("read sys.columns: %w", err)
	}
	defer rows.Close()
	var cols []column
	for rows.Next() {
		var col column
		var collation sql.NullString
		if err := rows.Scan(&col.id, &col.name, &col.userTypeID, &col.maxLength, &col.scale, &col.nullable, &collation); err != nil {
			return nil, fmt.Errorf("read sys.columns: %w", err)
		}
		col.collation = collation.String
		col.typeName = c.types[col.userTypeID]
		if col.typeName == "" {
			col.typeName = fmt.Sprintf("type#%d", col.userTypeID)
		}
		cols = append(cols, col)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read sys.columns: %w", err)
	}
	slices.SortFunc(cols, func(a, b column) int { return int(a.id - b.id) })
	return cols, nil
}

// index is an index with its key columns in key order.
type index struct {
	id      int64
	name    string
	primary bool
	keys    []string
}

func (c *checker) indexes(ctx context.Context, objectID int64, cols []column) ([]index, error) {
	rows, err := c.db.QueryContext(ctx, "SELECT index_id, name, is_primary_key FROM sys.indexes WHERE object_id = @p1", objectID)
	if err != nil {
		return nil, fmt.Errorf("read sys.indexes: %w", err)
	}
	defer rows.Close()
	var out []index
	byID := map[int64]int{}
	for rows.Next() {
		var ix index
		var name sql.NullString
		if err := rows.Scan(&ix.id, &name, &ix.primary); err != nil {
			return nil, fmt.Errorf("read sys.indexes: %w", err)
		}
		ix.name = name.String
		byID[ix.id] = len(out)
		out = append(out, ix)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read sys.indexes: %w", err)
	}
	rows.Close()

	colName := map[int64]string{}
	for _, col := range cols {
		colName[col.id] = col.name
	}
	type key struct{ index, ordinal, column int64 }
	var keys []key
	rows, err = c.db.QueryContext(ctx, "SELECT index_id, key_ordinal, column_id FROM sys.index_columns WHERE object_id = @p1", objectID)
	if err != nil {
		return nil, fmt.Errorf("read sys.index_columns: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.index, &k.ordinal, &k.column); err != nil {
			return nil, fmt.Errorf("read sys.index_columns: %w", err)
		}
		if k.ordinal > 0 { // 0: an included column, not a key
			keys = append(keys, k)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read sys.index_columns: %w", err)
	}
	slices.SortFunc(keys, func(a, b key) int { return int(a.ordinal - b.ordinal) })
	for _, k := range keys {
		if i, ok := byID[k.index]; ok {
			out[i].keys = append(out[i].keys, colName[k.column])
		}
	}
	return out, nil
}

func isStoreColumn(name string) bool {
	for _, w := range wantColumns {
		if strings.EqualFold(w.name, name) {
			return true
		}
	}
	return false
}

// checkColumns compares cols with the store's columns; inOrder requires
// the store's order too (a table type). It reports whether all is well.
// fix returns the fix for a column; decl is "" for a column to drop.
func (c *checker) checkColumns(what string, cols []column, inOrder bool, fix func(name, decl string, missing bool) string) bool {
	ok := true
	byName := map[string]column{}
	for _, col := range cols {
		byName[strings.ToLower(col.name)] = col
	}
	for i, want := range wantColumns {
		got, found := byName[want.name]
		switch {
		case !found:
			c.add(Error, fix(want.name, want.decl, true), "%s has no column %s %s", what, want.name, want.decl)
			ok = false
		case got.decl() != want.decl:
			c.add(Error, fix(want.name, want.decl, false), "%s column %s is %s, want %s", what, want.name, got.decl(), want.decl)
			ok = false
		case inOrder && (i >= len(cols) || !strings.EqualFold(cols[i].name, want.name)):
			c.add(Error, fix(want.name, want.decl, false), "%s column %s is not column %d: a table-valued parameter is matched by position, so the store needs token, data, expiry in that order", what, want.name, i+1)
			ok = false
		}
	}
	for _, col := range cols {
		if isStoreColumn(col.name) {
			continue
		}
		if inOrder {
			c.add(Error, fix(col.name, "", false), "%s has a column %s the store does not send", what, col.name)
			ok = false
		} else if !col.nullable {
			c.add(Warning, fmt.Sprintf("give it a default or make it nullable: ALTER TABLE %s ALTER COLUMN %s %s NULL", c.table, sqlname.QuoteIdent(col.name), col.sqlType()),
				"%s has a NOT NULL column %s the store does not write: inserts fail unless it has a default", what, col.name)
		}
	}
	return ok
}

func (c *checker) checkTable(ctx context.Context, tableID int64) error {
	cols, err := c.columns(ctx, tableID)
	if err != nil {
		return err
	}
	recreate := "recreate the table (`mssqlstore init -dry-run` prints its DDL)"
	fix := func(name, decl string, missing bool) string {
		switch {
		case name == "token" || decl == "":
			return recreate
		case missing:
			return fmt.Sprintf("ALTER TABLE %s ADD %s %s (a table with rows needs a DEFAULT too), or %s", c.table, sqlname.QuoteIdent(name), decl, recreate)
		}
		return fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s %s, or %s", c.table, sqlname.QuoteIdent(name), decl, recreate)
	}
	if c.checkColumns("table "+c.table.String(), cols, false, fix) {
		c.add(OK, "", "columns token CHAR(43) NOT NULL, data VARBINARY(MAX) NOT NULL, expiry DATETIME2(6) NOT NULL")
	}

	for _, col := range cols {
		if strings.EqualFold(col.name, "token") {
			c.checkCollation(col)
			c.tableCollation = col.collation
		}
	}

	ixs, err := c.indexes(ctx, tableID, cols)
	if err != nil {
		return err
	}
	var pk *index
	var expiryIndex string
	for i, ix := range ixs {
		if ix.primary {
			pk = &ixs[i]
		}
		if len(ix.keys) > 0 && strings.EqualFold(ix.keys[0], "expiry") && expiryIndex == "" {
			expiryIndex = ix.name
		}
	}
	switch {
	case pk == nil:
		c.add(Error, fmt.Sprintf("ALTER TABLE %s ADD PRIMARY KEY (token)", c.table),
			"table %s has no primary key: every Find scans the table and concurrent inserts can duplicate a token", c.table)
	case len(pk.keys) != 1 || !strings.EqualFold(pk.keys[0], "token"):
		c.add(Error, recreate, "the primary key of %s is (%s), want (token)", c.table, strings.Join(pk.keys, ", "))
	default:
		c.add(OK, "", "primary key on token")
	}
	if expiryIndex == "" {
		c.add(Error, fmt.Sprintf("CREATE INDEX %s ON %s (expiry)", sqlname.QuoteIdent(c.table.Object+"_expiry_idx"), c.table),
			"table %s has no index leading with expiry: every cleanup scans the whole table and holds its locks longer", c.table)
	} else {
		c.add(OK, "", "index %s leads with expiry", sqlname.QuoteIdent(expiryIndex))
	}
	return nil
}

// AppUserPlaceholder stands for the application's database user in a
// GRANT that Check suggests while checking as the database owner (dbo):
// SQL Server refuses a grant to dbo (error 4617), and dbo holds every
// permission anyway. It is not a valid name, so a GRANT copied without
// replacing it fails instead of granting to someone else.
const AppUserPlaceholder = "<app_user>"

// isOwner reports whether Check runs as the database owner, who holds
// every permission and sees every object.
func (c *checker) isOwner() bool { return strings.EqualFold(c.user, "dbo") }

// subjectIsOwner reports whether the checked user is the database owner.
func (c *checker) subjectIsOwner() bool { return strings.EqualFold(c.subject, "dbo") }

// grantee is the user a suggested GRANT names: the checked user, or the
// placeholder for the application's user when that is the owner.
func (c *checker) grantee() string {
	if c.subjectIsOwner() || c.subject == "" {
		return AppUserPlaceholder
	}
	return sqlname.QuoteIdent(c.subject)
}

func (c *checker) grantTable(perms string) string {
	return fmt.Sprintf("GRANT %s ON %s TO %s", perms, c.table, c.grantee())
}

func (c *checker) grantType() string {
	return fmt.Sprintf("GRANT EXECUTE ON TYPE::%s TO %s", c.typ, c.grantee())
}

// isCaseSensitive reports whether a collation tells tokens that differ
// only in case apart: a binary or a case-sensitive one.
func isCaseSensitive(collation string) bool {
	upper := strings.ToUpper(collation)
	return strings.HasSuffix(upper, "_BIN2") || strings.HasSuffix(upper, "_BIN") || strings.Contains(upper, "_CS")
}

// recreateTable is the fix for a table whose token column should have
// another collation. The type follows the table (Create gives it the
// table's collation), so it is dropped and made again after the table.
func (c *checker) recreateTable() string {
	return fmt.Sprintf("optional, as the store guards its reads: recreate the table with token CHAR(43) COLLATE %s and move the rows over, "+
		"then DROP TYPE %s and run `mssqlstore init` to make the type match", BinaryCollation, c.typ)
}

// checkCollation warns about a case-insensitive token column. SQL Server
// would then treat two tokens that differ only in case as one key; the
// store guards its reads with a binary comparison, but a binary collation
// makes the key itself exact.
func (c *checker) checkCollation(col column) {
	name := col.collation
	upper := strings.ToUpper(name)
	switch {
	case strings.HasSuffix(upper, "_BIN2") || strings.HasSuffix(upper, "_BIN"):
		c.add(OK, "", "token collation %s is binary", name)
	case isCaseSensitive(name):
		c.add(OK, "", "token collation %s is case-sensitive", name)
	default:
		if name == "" {
			name = "the database default"
		}
		c.add(Warning, c.recreateTable(),
			"token collation %s compares case-insensitively: SQL Server treats tokens that differ only in case as one key", name)
	}
}

func (c *checker) checkType(ctx context.Context) error {
	var typeID sql.NullInt64
	if err := c.db.QueryRowContext(ctx, "SELECT TYPE_ID(@p1)", c.typ.Quoted()).Scan(&typeID); err != nil {
		return fmt.Errorf("look up table type %s: %w", c.typ, err)
	}
	if !typeID.Valid {
		if c.isOwner() {
			c.add(Warning, "run `mssqlstore init`, then "+c.grantType(),
				"table type %s not found: the store falls back to a slower statement without a table-valued parameter", c.typ)
		} else {
			c.add(Warning, "run `mssqlstore init`, or, if it exists: "+c.grantType(),
				"table type %s not found, or database user %s holds no permission on it: the store falls back to a slower statement without a table-valued parameter", c.typ, sqlname.QuoteIdent(c.user))
		}
		return nil
	}
	// Create makes a missing type with the table's collation: the fix
	// for a wrong type is to drop it and let init make it again, and
	// that is right only because init makes it as this check wants it.
	dropAndInit := fmt.Sprintf("a table type cannot be altered: DROP TYPE %s, then run `mssqlstore init`", c.typ)
	if c.tableCollation != "" {
		dropAndInit += ", which makes it with the table's token collation " + c.tableCollation
	}
	var tableID sql.NullInt64
	err := c.db.QueryRowContext(ctx, "SELECT type_table_object_id FROM sys.table_types WHERE user_type_id = @p1", typeID.Int64).Scan(&tableID)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !tableID.Valid {
		c.add(Error, fmt.Sprintf("DROP TYPE %s and run `mssqlstore init`, or name another type with -type", c.typ), "type %s is not a table type", c.typ)
		return nil
	}
	if err != nil {
		return fmt.Errorf("read sys.table_types: %w", err)
	}
	cols, err := c.columns(ctx, tableID.Int64)
	if err != nil {
		return err
	}
	fix := func(string, string, bool) string { return dropAndInit }
	if c.checkColumns("table type "+c.typ.String(), cols, true, fix) {
		c.add(OK, "", "table type %s has columns token, data, expiry", c.typ)
	}
	for _, col := range cols {
		if !strings.EqualFold(col.name, "token") {
			continue
		}
		switch {
		case c.tableCollation != "" && col.collation != "" && !strings.EqualFold(c.tableCollation, col.collation):
			// SQL Server cannot compare two columns of different
			// collations (error 468): the store's MERGE joins the
			// table's token with the type's.
			c.add(Warning, dropAndInit,
				"the token columns of table %s (%s) and type %s (%s) have different collations: SQL Server cannot compare them (error 468), so every flush falls back to the slower statement without a table-valued parameter",
				c.table, c.tableCollation, c.typ, col.collation)
		case c.tableCollation != "":
			// The type has the table's collation, as it must; whether
			// that collation is case-insensitive is the table's
			// finding, with the table's fix.
			c.add(OK, "", "table type %s has the table's token collation %s", c.typ, col.collation)
		case !isCaseSensitive(col.collation):
			// No table to follow: init would create one with the binary
			// collation next to this type.
			c.add(Warning, dropAndInit, "table type %s compares tokens with collation %q, not a binary one: two tokens of one batch that differ only in case collide in its primary key", c.typ, col.collation)
		}
	}
	if !c.permsOK {
		return nil
	}
	// The owner holds every permission; Babelfish nonetheless answers 0
	// for a TYPE securable, even to the owner of the type it has just
	// created and passes as a table-valued parameter.
	if c.perms.execute.Int64 != 1 && !c.subjectIsOwner() {
		c.add(Warning, c.grantType(), "database user %s lacks EXECUTE on type %s: the store falls back to a slower statement without a table-valued parameter", sqlname.QuoteIdent(c.subject), c.typ)
	} else {
		c.add(OK, "", "database user %s has EXECUTE on type %s", sqlname.QuoteIdent(c.subject), c.typ)
	}
	return nil
}

// checkTablePerms reports the checked user's permissions on the table,
// read by readPerms.
func (c *checker) checkTablePerms() {
	var missing []string
	for i, p := range tablePerms {
		if c.perms.table[i].Int64 != 1 {
			missing = append(missing, p)
		}
	}
	switch {
	case len(missing) > 0:
		list := strings.Join(missing, ", ")
		c.add(Error, c.grantTable(list),
			"database user %s lacks %s on table %s", sqlname.QuoteIdent(c.subject), list, c.table)
	case c.subjectIsOwner():
		// The owner holds every permission, so this says nothing about
		// the application's user, which is the one that matters.
		c.add(OK, "", "database user %s has SELECT, INSERT, UPDATE, DELETE on %s; checked as the database owner, who holds every permission: "+
			"the application's database user needs %s and %s, which `mssqlstore init -grant NAME` runs and `mssqlstore check -user NAME` verifies",
			sqlname.QuoteIdent(c.subject), c.table, c.grantTable("SELECT, INSERT, UPDATE, DELETE"), c.grantType())
	default:
		c.add(OK, "", "database user %s has SELECT, INSERT, UPDATE, DELETE on %s", sqlname.QuoteIdent(c.subject), c.table)
	}
}
