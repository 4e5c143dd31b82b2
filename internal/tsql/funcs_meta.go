package tsql

import "strings"

// sysnameType (NVARCHAR(128), as sysname) is the type of the metadata functions that return a name.
var sysnameType = Type{ID: TypeNVarChar, Length: 128, Nullable: true}

// objectIDFunc is OBJECT_ID(name [, type]).
func objectIDFunc(c *compiler, _ *funcExpr, a []*cexpr) (*cexpr, error) {
	x := c.cat
	return &cexpr{typ: Type{ID: TypeInt, Nullable: true}, deps: depsOf(a), eval: func(en *env) (any, error) {
		v, err := strArg(c.dates(), a[0], en)
		if err != nil || v == nil {
			return nil, err
		}
		kind := ""
		if len(a) == 2 {
			k, err := strArg(c.dates(), a[1], en)
			if err != nil {
				return nil, err
			}
			if k != nil {
				kind = strings.ToUpper(strings.TrimSpace(k.(string)))
			}
		}
		return x.objectID(v.(string), kind), nil
	}}, nil
}

// typeIDFunc is TYPE_ID(name).
func typeIDFunc(c *compiler, _ *funcExpr, a []*cexpr) (*cexpr, error) {
	x := c.cat
	return &cexpr{typ: Type{ID: TypeInt, Nullable: true}, deps: depsOf(a), eval: func(en *env) (any, error) {
		v, err := strArg(c.dates(), a[0], en)
		if err != nil || v == nil {
			return nil, err
		}
		return x.typeID(v.(string)), nil
	}}, nil
}

// objectNameFunc is OBJECT_NAME(id): NULL for an object the caller
// cannot see, as in SQL Server.
func objectNameFunc(c *compiler, _ *funcExpr, a []*cexpr) (*cexpr, error) {
	x := c.cat
	return &cexpr{typ: sysnameType, deriv: derivDefault, deps: a[0].deps, eval: func(en *env) (any, error) {
		id, err := intArg(c.dates(), a[0], en)
		if err != nil || id == nil {
			return nil, err
		}
		return x.objectName(id.(int64)), nil
	}}, nil
}

// schemaNameFunc is SCHEMA_NAME([id]): the default schema, dbo, without
// an argument.
func schemaNameFunc(c *compiler, _ *funcExpr, a []*cexpr) (*cexpr, error) {
	return &cexpr{typ: sysnameType, deriv: derivDefault, deps: depsOf(a), eval: func(en *env) (any, error) {
		if len(a) == 0 {
			return "dbo", nil
		}
		id, err := intArg(c.dates(), a[0], en)
		if err != nil || id == nil {
			return nil, err
		}
		for _, s := range schemas {
			if s.id == id.(int64) {
				return s.name, nil
			}
		}
		return nil, nil
	}}, nil
}

// schemaIDFunc is SCHEMA_ID([name]): the default schema's, 1, without an
// argument.
func schemaIDFunc(c *compiler, _ *funcExpr, a []*cexpr) (*cexpr, error) {
	return &cexpr{typ: Type{ID: TypeInt, Nullable: true}, deriv: derivDefault, deps: depsOf(a), eval: func(en *env) (any, error) {
		if len(a) == 0 {
			return int64(1), nil
		}
		v, err := a[0].eval(en)
		if err != nil || v == nil {
			return nil, err
		}
		for _, s := range schemas {
			if sv, ok := v.(string); ok && strings.EqualFold(sv, s.name) {
				return s.id, nil
			}
		}
		return nil, nil
	}}, nil
}

// dbID is the database_id of the test server's one database: 5, the
// first after master, tempdb, model and msdb, as on a fresh instance.
const dbID = 5

// dbNameFunc is DB_NAME([id]). An argument naming another database is
// refused: the test server has no other.
func dbNameFunc(c *compiler, _ *funcExpr, a []*cexpr) (*cexpr, error) {
	name := c.cat.dbName()
	if len(a) == 0 {
		return constExpr(name, sysnameType, derivDefault), nil
	}
	return &cexpr{typ: sysnameType, deriv: derivDefault, deps: a[0].deps, eval: func(en *env) (any, error) {
		id, err := intArg(c.dates(), a[0], en)
		if err != nil || id == nil {
			return nil, err
		}
		if id.(int64) != dbID {
			return nil, unsupported("DB_NAME of another database")
		}
		return name, nil
	}}, nil
}

// dbIDFunc is DB_ID([name]). An argument naming another database is
// refused: the test server has no other.
func dbIDFunc(c *compiler, _ *funcExpr, a []*cexpr) (*cexpr, error) {
	rt := Type{ID: TypeSmallInt}
	if len(a) == 0 {
		return constExpr(int64(dbID), rt, derivNone), nil
	}
	name := c.cat.dbName()
	rt.Nullable = true
	return &cexpr{typ: rt, deps: a[0].deps, eval: func(en *env) (any, error) {
		v, err := strArg(c.dates(), a[0], en)
		if err != nil || v == nil {
			return nil, err
		}
		if !strings.EqualFold(v.(string), name) {
			return nil, unsupported("DB_ID of another database")
		}
		return int64(dbID), nil
	}}, nil
}

// userNameFunc is USER_NAME(), SUSER_SNAME(), SUSER_NAME() and
// ORIGINAL_LOGIN(): the login's name, except that the owner login maps
// to the dbo user, as in SQL Server.
func userNameFunc(c *compiler, f *funcExpr, _ []*cexpr) (*cexpr, error) {
	p := c.cat.principal()
	name := p.Name
	if f.name == "USER_NAME" && !p.Restricted {
		name = "dbo"
	}
	return constExpr(name, sysnameType, derivDefault), nil
}

// hasPermsByNameFunc is HAS_PERMS_BY_NAME(securable, class, permission).
func hasPermsByNameFunc(c *compiler, _ *funcExpr, a []*cexpr) (*cexpr, error) {
	x := c.cat
	return &cexpr{typ: Type{ID: TypeInt, Nullable: true}, deps: depsOf(a), eval: func(en *env) (any, error) {
		var s [3]string
		for i, e := range a {
			v, err := strArg(c.dates(), e, en)
			if err != nil {
				return nil, err
			}
			if v == nil {
				return nil, nil
			}
			s[i] = v.(string)
		}
		return x.hasPermsByName(s[0], s[1], s[2]), nil
	}}, nil
}
