package tsql

import (
	"fmt"
	"maps"
	"strings"
	"sync"
)

// This file models SQL Server's database users and the statements that
// change who may do what: GRANT on an object or a type, EXECUTE AS USER
// and REVERT. The rest of the engine asks only x.grants(t) (store.go),
// which reads the registry below for a registered user.
//
// What SQL Server does, and this engine with it:
//   - GRANT perm [, ...] ON [OBJECT::]name | TYPE::name TO user [, ...]
//     adds the permissions to the user's set (GRANT statement docs:
//     "GRANT Object Permissions", "GRANT Type Permissions"). A principal
//     needs GRANT permission on the securable: the database owner has it;
//     a user who can see the object but lacks it gets 4613, one who cannot
//     see it gets 15151 for the object. An unknown grantee is 15151 for
//     the user; the grantee dbo, sys, INFORMATION_SCHEMA or oneself is
//     refused with 4617. A permission the class has not (EXECUTE on a
//     table, SELECT on a type) is 4606. GRANT is transactional: a
//     rollback undoes it.
//   - EXECUTE AS USER = 'name' switches the session's execution context
//     to a database user; it needs IMPERSONATE on that user, which the
//     database owner (db_owner) holds. A user that does not exist, or one
//     the caller may not impersonate, is 15517, worded to say neither
//     which ("EXECUTE AS" docs: the principal must exist in
//     sys.database_principals and IMPERSONATE must be granted). REVERT
//     returns to the previous context; contexts stack. The switch lasts
//     until REVERT, the end of the module it ran in (sp_executesql's
//     batch) or the session; the reset-connection flag ends it too.
//
// Not modelled, refused with 40517: REVOKE and DENY (the parser's list),
// roles (public, db_datareader), WITH GRANT OPTION, AS grantor, column
// lists, other permissions and securable classes, EXECUTE AS LOGIN,
// CALLER, SELF or OWNER, WITH NO REVERT and WITH COOKIE.

func init() {
	// These errors end their statement, not the batch, as SQL Server's
	// security errors do: "EXECUTE AS USER = 'nobody'; SELECT USER_NAME()"
	// still runs the SELECT, as the caller.
	for _, n := range []int32{15517, 15151, 4613, 4617, 4606} {
		statementLevel[n] = true
	}
}

// users is a database's users other than dbo, with the permissions
// granted to each. It has its own mutex: the server adds users outside
// any statement, while statements read and grant under the latch.
type users struct {
	mu     sync.Mutex       // guards byName
	byName map[string]*user // by lower-case name
}

// user is one database user. grants is never changed once stored: a
// GRANT stores a new map, so a reader may keep the one it got.
type user struct {
	name   string
	grants map[string]Permission // "dbo.sessions", lower case
}

// SetUser creates the database user name, or replaces it, with grants
// (keyed like Principal.Grants) as its permissions. A restricted session
// whose Principal has that name then runs with the user's permissions,
// which GRANT extends, instead of its Principal's Grants; EXECUTE AS
// USER may name it.
func (db *Database) SetUser(name string, grants map[string]Permission) {
	g := make(map[string]Permission, len(grants))
	for k, v := range grants {
		g[strings.ToLower(k)] |= v
	}
	db.users.set(&user{name: name, grants: g})
}

func (u *users) set(usr *user) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.byName == nil {
		u.byName = map[string]*user{}
	}
	u.byName[strings.ToLower(usr.name)] = usr
}

func (u *users) lookup(name string) (*user, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	usr, ok := u.byName[strings.ToLower(name)]
	return usr, ok
}

// principalGrants returns the permissions of the session's current
// principal: its database user's, when the database has that user,
// else the Principal's own Grants.
func (x *execCtx) principalGrants() map[string]Permission {
	if usr, ok := x.db.users.lookup(x.s.p.Name); ok && x.s.p.Restricted {
		return usr.grants
	}
	return x.s.p.Grants
}

// isSecurableClass reports whether tok names a securable class, so that
// "::" after it is the class qualifier of GRANT (TYPE::dbo.t), not a CLR
// method call (geometry::Point), which the lexer refuses.
func isSecurableClass(tok token) bool {
	if tok.kind != tokIdent {
		return false
	}
	switch strings.ToUpper(tok.text) {
	case "OBJECT", "TYPE", "SCHEMA", "DATABASE", "USER", "ROLE", "LOGIN", "SERVER", "ASSEMBLY",
		"CERTIFICATE", "XML", "FULLTEXT", "SYMMETRIC", "ASYMMETRIC", "ENDPOINT", "APPLICATION":
		return true
	}
	return false
}

// permStmt is a statement of this file; exec (dml.go) runs it.
type permStmt interface {
	stmt
	run(x *execCtx) (Result, error)
}

type (
	// grantStmt is GRANT perms ON [class::]securable TO principals.
	grantStmt struct {
		pos
		perms    Permission
		names    []string // the permissions as written, for 4606
		class    string   // "OBJECT" or "TYPE"
		target   objName
		grantees []string
	}
	// executeAsStmt is EXECUTE AS USER = name.
	executeAsStmt struct {
		pos
		name expr
	}
	// revertStmt is REVERT.
	revertStmt struct{ pos }
)

func (*grantStmt) kind() string     { return "GRANT" }
func (*executeAsStmt) kind() string { return "EXECUTE AS" }
func (*revertStmt) kind() string    { return "REVERT" }

var grantablePerms = map[string]Permission{
	"SELECT": PermSelect, "INSERT": PermInsert, "UPDATE": PermUpdate, "DELETE": PermDelete, "EXECUTE": PermExecute,
}

// grantStmt parses GRANT; the statement switch has seen the keyword.
func (p *parser) grantStmt() stmt {
	p.next()
	s := &grantStmt{}
	for {
		t := p.peek()
		if t.kind != tokIdent {
			p.syntaxError()
		}
		name := strings.ToUpper(t.text)
		bits, ok := grantablePerms[name]
		if !ok {
			// ALL, REFERENCES, CONTROL, ALTER, VIEW DEFINITION, CREATE
			// TABLE, ...: valid T-SQL this engine does not model.
			p.fail(unsupported("GRANT " + name))
		}
		p.next()
		if p.isOp("(") {
			p.fail(unsupported("GRANT on a column list"))
		}
		s.perms |= bits
		s.names = append(s.names, name)
		if !p.acceptOp(",") {
			break
		}
	}
	if !p.acceptKw("ON") {
		// GRANT CREATE TABLE TO u and the like: database permissions.
		p.fail(unsupported("GRANT of a database permission"))
	}
	s.class = "OBJECT"
	if p.peekN(1).kind == tokOp && p.peekN(1).text == "::" {
		s.class = strings.ToUpper(p.next().text)
		p.next()
		if s.class != "OBJECT" && s.class != "TYPE" {
			p.fail(unsupported("GRANT ON " + s.class + "::"))
		}
	}
	s.target = p.objName()
	p.expectKw("TO")
	for {
		s.grantees = append(s.grantees, p.ident())
		if !p.acceptOp(",") {
			break
		}
	}
	if p.isKw("WITH") {
		p.fail(unsupported("GRANT ... WITH GRANT OPTION"))
	}
	if p.isKw("AS") {
		p.fail(unsupported("GRANT ... AS grantor"))
	}
	return s
}

// executeAsStmt parses EXECUTE AS; the statement switch has seen EXEC
// or EXECUTE followed by AS.
func (p *parser) executeAsStmt() stmt {
	p.next()
	p.expectKw("AS")
	if !p.acceptKw("USER") {
		// LOGIN, CALLER, SELF, OWNER.
		p.fail(unsupported("EXECUTE AS " + strings.ToUpper(p.peek().text)))
	}
	p.expectOp("=")
	s := &executeAsStmt{name: p.expr()}
	if p.isKw("WITH") {
		p.fail(unsupported("EXECUTE AS ... WITH NO REVERT or COOKIE"))
	}
	return s
}

// revertStmt parses REVERT.
func (p *parser) revertStmt() stmt {
	p.next()
	if p.isKw("WITH") {
		p.fail(unsupported("REVERT WITH COOKIE"))
	}
	return &revertStmt{}
}

// isSpecialGrantee reports whether SQL Server refuses name as a grantee
// (4617): the owner, the system schemas' users, or the grantor itself.
func (x *execCtx) isSpecialGrantee(name string) bool {
	switch strings.ToLower(name) {
	case "dbo", "sys", "information_schema":
		return true
	}
	return strings.EqualFold(name, x.currentUserName())
}

// currentUserName is USER_NAME(): dbo for the owner.
func (x *execCtx) currentUserName() string {
	if !x.s.p.Restricted {
		return "dbo"
	}
	return x.s.p.Name
}

func (s *grantStmt) run(x *execCtx) (Result, error) {
	if err := x.checkDB(s.target); err != nil {
		return Result{}, err
	}
	var t *table
	what := "object"
	if s.class == "TYPE" {
		t, what = x.db.types[lowerKey(s.target.Schema, s.target.Name)], "type"
	} else {
		t = x.db.tables[lowerKey(s.target.Schema, s.target.Name)]
	}
	notFound := errf(15151, 16, 1, "Cannot find the %s '%s', because it does not exist or you do not have permission.", what, s.target.Name)
	if t == nil {
		return Result{}, notFound
	}
	if x.s.p.Restricted {
		// Only the owner holds GRANT here (no WITH GRANT OPTION is
		// modelled). A user who cannot see the securable learns nothing
		// of it.
		if !x.visible(t) {
			return Result{}, notFound
		}
		return Result{}, errf(4613, 16, 1, "Grantor does not have GRANT permission.")
	}
	for _, n := range s.names {
		if (s.class == "TYPE") != (n == "EXECUTE") {
			return Result{}, errf(4606, 16, 1, "Granted or revoked privilege %s is not compatible with object.", n)
		}
	}
	grantees := make([]*user, 0, len(s.grantees))
	for _, g := range s.grantees {
		switch {
		case x.isSpecialGrantee(g):
			return Result{}, errf(4617, 16, 1, "Cannot grant, deny, or revoke permissions to sa, dbo, entity owner, information_schema, sys, or yourself.")
		case strings.EqualFold(g, "public"), strings.EqualFold(g, "guest"):
			return Result{}, unsupported("GRANT to " + g)
		}
		usr, ok := x.db.users.lookup(g)
		if !ok {
			return Result{}, errf(15151, 16, 1, "Cannot find the user '%s', because it does not exist or you do not have permission.", g)
		}
		grantees = append(grantees, usr)
	}
	key := strings.ToLower(t.qualified())
	for _, usr := range grantees {
		old := usr
		g := maps.Clone(old.grants)
		if g == nil {
			g = map[string]Permission{}
		}
		g[key] |= s.perms
		x.db.users.set(&user{name: old.name, grants: g})
		// A rollback of the transaction restores the user as it was.
		x.addUndo(func() { x.db.users.set(old) }, false)
	}
	return Result{}, nil
}

func (s *executeAsStmt) run(x *execCtx) (Result, error) {
	e, err := x.compiler().value(s.name)
	if err != nil {
		return Result{}, err
	}
	v, err := e.eval(&env{})
	if err != nil {
		return Result{}, err
	}
	sv, err := convert(x.s.dates, v, e.typ, Type{ID: TypeNVarChar, Length: 128})
	if err != nil {
		return Result{}, err
	}
	name, _ := sv.(string)
	refused := errf(15517, 16, 1, "Cannot execute as the database principal because the principal \"%s\" does not exist, this type of principal cannot be impersonated, or you do not have permission.", name)
	if x.s.p.Restricted {
		// IMPERSONATE is not modelled: only the owner may switch.
		return Result{}, refused
	}
	next := Principal{Name: "dbo"}
	if !strings.EqualFold(name, "dbo") {
		usr, ok := x.db.users.lookup(name)
		if !ok {
			return Result{}, refused
		}
		next = Principal{Name: usr.name, Restricted: true}
	}
	if len(x.s.execAs) >= maxExecAsDepth {
		return Result{}, unsupported(fmt.Sprintf("EXECUTE AS nested more than %d deep", maxExecAsDepth))
	}
	x.s.execAs = append(x.s.execAs, x.s.p)
	x.s.p = next
	return Result{}, nil
}

// maxExecAsDepth bounds the EXECUTE AS contexts a session may stack, so
// that a loop of EXECUTE AS without REVERT cannot grow a session without
// end. SQL Server documents no such limit that we know of; the test
// server refuses past it with 40517 rather than guess.
const maxExecAsDepth = 64

func (s *revertStmt) run(x *execCtx) (Result, error) {
	// REVERT with no context to leave does nothing.
	if n := len(x.s.execAs); n > 0 {
		x.s.p = x.s.execAs[n-1]
		x.s.execAs = x.s.execAs[:n-1]
	}
	return Result{}, nil
}

// revertTo ends the execution contexts opened past depth: the end of an
// sp_executesql batch ends those it opened, the reset-connection flag
// (depth 0) all of them.
func (s *Session) revertTo(depth int) {
	if len(s.execAs) > depth {
		s.p = s.execAs[depth]
		s.execAs = s.execAs[:depth]
	}
}

// String describes a Permission set, for test failures.
func (p Permission) String() string {
	var names []string
	for _, n := range []string{"SELECT", "INSERT", "UPDATE", "DELETE", "EXECUTE"} {
		if p&grantablePerms[n] != 0 {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf("Permission(%d)", uint8(p))
	}
	return strings.Join(names, "|")
}
