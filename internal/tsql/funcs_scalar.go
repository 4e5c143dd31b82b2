package tsql

// isNullFunc is ISNULL(a, b): the type of a (of b when a is a NULL
// literal), b converted to it.
func isNullFunc(c *compiler, _ *funcExpr, a []*cexpr) (*cexpr, error) {
	t := a[0].typ
	if t.ID == TypeNull {
		t = a[1].typ
	}
	t.Nullable = a[1].typ.Nullable
	return &cexpr{typ: t, deriv: a[0].deriv, deps: depsOf(a), eval: func(en *env) (any, error) {
		v, err := a[0].eval(en)
		if err != nil {
			return nil, err
		}
		if v != nil {
			return v, nil
		}
		v, err = a[1].eval(en)
		if err != nil || v == nil {
			return nil, err
		}
		return convert(c.dates(), v, a[1].typ, t)
	}}, nil
}

// coalesceFunc is COALESCE: the first non-NULL argument, in the type of
// highest precedence among them; 4127 when every argument is the NULL
// constant.
func coalesceFunc(c *compiler, _ *funcExpr, a []*cexpr) (*cexpr, error) {
	t := Type{ID: TypeNull}
	d := derivNone
	for _, e := range a {
		t = commonType(t, e.typ)
		d = max(d, e.deriv)
	}
	if t.ID == TypeNull {
		return nil, errf(4127, 16, 1, "At least one of the arguments to COALESCE must be an expression that is not the NULL constant.")
	}
	t.Nullable = true
	return &cexpr{typ: t, deriv: d, deps: depsOf(a), eval: func(en *env) (any, error) {
		for _, e := range a {
			v, err := e.eval(en)
			if err != nil {
				return nil, err
			}
			if v != nil {
				return convert(c.dates(), v, e.typ, t)
			}
		}
		return nil, nil
	}}, nil
}

// absFunc is ABS over the numeric types; 8117 for others.
func absFunc(c *compiler, _ *funcExpr, a []*cexpr) (*cexpr, error) {
	return &cexpr{typ: a[0].typ, deps: a[0].deps, eval: func(en *env) (any, error) {
		v, err := a[0].eval(en)
		if err != nil || v == nil {
			return nil, err
		}
		switch n := v.(type) {
		case int64:
			// The result keeps the argument's type: ABS of its most
			// negative value overflows (8115).
			if _, hi := intRange(a[0].typ.ID); n < -hi {
				return nil, overflow(a[0].typ)
			}
			if n < 0 {
				return -n, nil
			}
			return n, nil
		case float64:
			if n < 0 {
				return -n, nil
			}
			return n, nil
		case Decimal:
			if n.Sign() < 0 {
				return negate(n, a[0].typ)
			}
			return n, nil
		}
		return nil, errf(8117, 16, 1, "Operand data type %s is invalid for abs operator.", a[0].typ.baseName())
	}}, nil
}

// nullIfFunc is NULLIF(a, b): NULL when a = b, else a, in a's type. SQL
// Server expands it to CASE WHEN a = b THEN NULL ELSE a END, so a is
// evaluated twice and the comparison follows the rules of =; the first
// argument may not be the NULL constant (4151).
func nullIfFunc(c *compiler, f *funcExpr, a []*cexpr) (*cexpr, error) {
	if a[0].typ.ID == TypeNull {
		return nil, errf(4151, 16, 1, "The type of the first argument to NULLIF cannot be the NULL constant because the type of the first argument has to be known.")
	}
	eq, err := c.predicate(&binExpr{op: "=", l: f.args[0], r: f.args[1]})
	if err != nil {
		return nil, err
	}
	t := a[0].typ
	t.Nullable = true
	return &cexpr{typ: t, deriv: a[0].deriv, deps: depsOf(a) | eq.deps, eval: func(en *env) (any, error) {
		same, err := eq.eval(en)
		if err != nil || same == true {
			return nil, err
		}
		return a[0].eval(en)
	}}, nil
}
