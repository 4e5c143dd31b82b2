package schemacheck

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/scs-contrib/mssqlstore/internal/sqlerr"
	"github.com/scs-contrib/mssqlstore/internal/sqlname"
)

// ErrBadUser is wrapped by the errors of ParseUser.
var ErrBadUser = errors.New("invalid database user name")

// ErrSpecialUser is wrapped by ParseGrantee's error for a user SQL Server
// refuses as a grantee (error 4617): dbo, sys and INFORMATION_SCHEMA.
var ErrSpecialUser = errors.New("SQL Server refuses a grant to this user")

// ParseUser returns the database user name s names: s itself, or, when
// s is bracket-quoted ([app]), the name inside, with ]] standing for ].
// A name is 1 to 128 characters without control characters; it is
// always quoted when it goes into SQL text.
func ParseUser(s string) (string, error) {
	name := s
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		inner := s[1 : len(s)-1]
		if strings.Contains(strings.ReplaceAll(inner, "]]", ""), "]") {
			return "", fmt.Errorf("%w %q: a ] inside brackets must be doubled", ErrBadUser, s)
		}
		name = strings.ReplaceAll(inner, "]]", "]")
	}
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return "", fmt.Errorf("%w: empty", ErrBadUser)
	case n > 128:
		return "", fmt.Errorf("%w %q: longer than 128 characters", ErrBadUser, s)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return "", fmt.Errorf("%w %q: a control character or invalid UTF-8", ErrBadUser, s)
		}
	}
	return name, nil
}

// ParseGrantee is ParseUser for a user to grant to. It refuses dbo, sys
// and INFORMATION_SCHEMA, which SQL Server refuses as grantees (error
// 4617): dbo holds every permission already.
func ParseGrantee(s string) (string, error) {
	name, err := ParseUser(s)
	if err != nil {
		return "", err
	}
	switch strings.ToLower(name) {
	case "dbo", "sys", "information_schema":
		return "", fmt.Errorf("%w (error 4617): %s", ErrSpecialUser, sqlname.QuoteIdent(name))
	}
	return name, nil
}

// GrantStatements returns the GRANTs that give the database user the
// permissions the store needs: SELECT, INSERT, UPDATE and DELETE on the
// table, EXECUTE on the batch table type. user is a name ParseGrantee
// accepted.
func GrantStatements(opts Options, user string) ([]string, error) {
	table, typ, err := opts.names()
	if err != nil {
		return nil, err
	}
	u := sqlname.QuoteIdent(user)
	return []string{
		"GRANT SELECT, INSERT, UPDATE, DELETE ON " + table.Quoted() + " TO " + u + ";",
		"GRANT EXECUTE ON TYPE::" + typ.Quoted() + " TO " + u + ";",
	}, nil
}

// Grant runs GrantStatements, in order, and returns those that ran. A
// GRANT of a permission the user holds already succeeds, so Grant is
// safe to rerun.
func Grant(ctx context.Context, db *sql.DB, opts Options, user string) ([]string, error) {
	stmts, err := GrantStatements(opts, user)
	if err != nil {
		return nil, err
	}
	for i, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return stmts[:i], fmt.Errorf("%s: %w", strings.TrimSuffix(s, ";"), err)
		}
	}
	return stmts, nil
}

// permSet is what the checked user may do with the store's objects, as
// HAS_PERMS_BY_NAME answers: 1 yes, 0 no, NULL for an object it cannot
// see or that does not exist.
type permSet struct {
	table   [4]sql.NullInt64 // SELECT, INSERT, UPDATE, DELETE on the table
	execute sql.NullInt64    // EXECUTE on the type
}

var tablePerms = []string{"SELECT", "INSERT", "UPDATE", "DELETE"}

// permsQuery selects the user name and the permSet of the current user.
const permsQuery = "SELECT USER_NAME(), " +
	"HAS_PERMS_BY_NAME(@p2, N'OBJECT', N'SELECT'), HAS_PERMS_BY_NAME(@p2, N'OBJECT', N'INSERT'), " +
	"HAS_PERMS_BY_NAME(@p2, N'OBJECT', N'UPDATE'), HAS_PERMS_BY_NAME(@p2, N'OBJECT', N'DELETE'), " +
	"HAS_PERMS_BY_NAME(@p3, N'TYPE', N'EXECUTE')"

// impersonatedPermsQuery is permsQuery run as the database user @p1:
// HAS_PERMS_BY_NAME answers only for the current user, so the batch
// switches to that one and back. EXECUTE AS USER needs IMPERSONATE on the
// user, which the database owner (db_owner) holds; SQL Server refuses it
// with error 15517 otherwise, or when the user does not exist, and goes on
// with the batch as the caller: readPerms checks USER_NAME() for that
// reason. The context also ends with the sp_executesql batch and with the
// connection's reset.
const impersonatedPermsQuery = "EXECUTE AS USER = @p1; " + permsQuery + "; REVERT;"

// readPerms reads the permissions of c.subject. It reports false, with a
// finding, when SQL Server refuses to impersonate the user.
func (c *checker) readPerms(ctx context.Context) (bool, error) {
	q := permsQuery
	if c.impersonate() {
		q = impersonatedPermsQuery
	}
	var user sql.NullString
	var p permSet
	err := c.db.QueryRowContext(ctx, q, c.subject, c.table.Quoted(), c.typ.Quoted()).Scan(
		&user, &p.table[0], &p.table[1], &p.table[2], &p.table[3], &p.execute)
	if n, _ := sqlerr.Number(err); n == 15517 {
		c.add(Error, fmt.Sprintf("create the user (CREATE USER %s FOR LOGIN <login>), or run check -user with a DSN whose user is a member of db_owner",
			sqlname.QuoteIdent(c.subject)),
			"cannot check the permissions of database user %s: SQL Server refused to impersonate it (error 15517): it does not exist in this database, or the DSN's database user %s lacks IMPERSONATE on it",
			sqlname.QuoteIdent(c.subject), sqlname.QuoteIdent(c.user))
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the permissions of database user %s: %w", sqlname.QuoteIdent(c.subject), err)
	}
	if !strings.EqualFold(user.String, c.subject) {
		// Not as asked: the answers are someone else's.
		return false, fmt.Errorf("read the permissions of database user %s: the server answered as database user %s",
			sqlname.QuoteIdent(c.subject), sqlname.QuoteIdent(user.String))
	}
	c.perms = p
	return true, nil
}

// impersonate reports whether reading the subject's permissions needs
// EXECUTE AS USER: it is another user than the DSN's.
func (c *checker) impersonate() bool {
	return !strings.EqualFold(c.subject, c.user)
}
