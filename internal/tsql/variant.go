package tsql

import (
	"fmt"
	"strings"
)

// SQL_VARIANT.
//
// A sql_variant value carries a value of a base type together with that
// type's facets (BaseType, Precision, Scale, MaxLength and Collation of
// SQL_VARIANT_PROPERTY). SQL Server converts any value to sql_variant
// implicitly (the highest type in the precedence list after the
// user-defined types), except the large types: VARCHAR(MAX),
// NVARCHAR(MAX), VARBINARY(MAX), XML, TEXT, NTEXT and IMAGE (206). A
// sql_variant converts to another type only explicitly, with CAST or
// CONVERT (257 otherwise), which converts the base value.
//
// Coarser than SQL Server, and refused with 40517 rather than guessed:
// comparing, sorting, grouping, DISTINCT and indexing sql_variant values
// (SQL Server orders values of different base type families by a family
// hierarchy, and compares within a family after converting), LIKE, the
// built-in functions other than SQL_VARIANT_PROPERTY taking one, and
// CONVERT with a style. Arithmetic on sql_variant is SQL Server's 8117.
// SQL_VARIANT_PROPERTY's TotalBytes is refused too.

// Variant is a sql_variant value: Value, carried as a value of Type is
// (see the list under Param), and Type, its base type with its facets.
// A NULL sql_variant is nil, not a Variant.
type Variant struct {
	Type  Type
	Value any
}

// errVariantClash is SQL Server's 206 for a type sql_variant cannot hold.
func errVariantClash(from Type) *Error {
	return errf(206, 16, 2, "Operand type clash: %s is incompatible with sql_variant", from.String())
}

// variantBase reports whether a value of type t can be held in a
// sql_variant.
func variantBase(t Type) bool {
	switch {
	case t.Length == MaxLength && (isString(t.ID) || isBinary(t.ID)):
		return false
	case isLOB(t.ID), t.ID == TypeXML, t.ID == TypeTable:
		return false
	}
	return true
}

// toVariant converts v of type from to sql_variant: a Variant keeps its
// base type, any other value takes from as its base type.
func toVariant(v any, from Type) (any, error) {
	if vv, ok := v.(Variant); ok {
		return vv, nil
	}
	if !variantBase(from) {
		return nil, errVariantClash(from)
	}
	base := from
	base.Nullable = false
	if base.ID == TypeNull {
		return nil, nil
	}
	if isString(base.ID) && base.Collation == "" {
		base.Collation = DefaultCollation
	}
	return Variant{Type: base, Value: v}, nil
}

// fromVariant is CAST(v AS to) of a sql_variant: its base value
// converted explicitly.
func fromVariant(ds dateStyle, v any, to Type) (any, error) {
	vv, ok := v.(Variant)
	if !ok {
		return nil, fmt.Errorf("tsql: a sql_variant holds %T", v)
	}
	if to.ID == TypeVariant {
		return vv, nil
	}
	return convert(ds, vv.Value, vv.Type, to)
}

// errVariantImplicit is SQL Server's 257: a sql_variant converts to
// another type only with CAST or CONVERT.
func errVariantImplicit(to Type) *Error {
	return errf(257, 16, 3, "Implicit conversion from data type sql_variant to %s is not allowed. Use the CONVERT function to run this query.", to.baseName())
}

// refuseVariant refuses an operation the engine does not model on
// sql_variant operands.
func refuseVariant(what string, ts ...Type) error {
	for _, t := range ts {
		if t.ID == TypeVariant {
			return unsupported(what + " over sql_variant")
		}
	}
	return nil
}

// variantPropertyFunc is SQL_VARIANT_PROPERTY(expression, property): the
// base type's name (sysname) for BaseType, its precision, scale and
// maximum length in bytes (int) for Precision, Scale and MaxLength, its
// collation (sysname) for Collation; NULL for a NULL expression or an
// unknown property, as in SQL Server. The result is a sql_variant.
func variantPropertyFunc(c *compiler, _ *funcExpr, a []*cexpr) (*cexpr, error) {
	if !variantBase(a[0].typ) {
		return nil, errVariantClash(a[0].typ)
	}
	return &cexpr{typ: Type{ID: TypeVariant, Nullable: true}, deps: depsOf(a), eval: func(en *env) (any, error) {
		v, err := a[0].eval(en)
		if err != nil || v == nil {
			return nil, err
		}
		vv, err := toVariant(v, a[0].typ)
		if err != nil || vv == nil {
			return nil, err
		}
		p, err := strArg(c.dates(), a[1], en)
		if err != nil || p == nil {
			return nil, err
		}
		base := vv.(Variant).Type
		_, _, maxLen, prec, scale := sysTypeInfo(base)
		name := Type{ID: TypeNVarChar, Length: 128, Collation: DefaultCollation}
		switch strings.ToLower(strings.TrimSpace(p.(string))) {
		case "basetype":
			return Variant{Type: name, Value: base.baseName()}, nil
		case "precision":
			return Variant{Type: Type{ID: TypeInt}, Value: prec}, nil
		case "scale":
			return Variant{Type: Type{ID: TypeInt}, Value: scale}, nil
		case "maxlength":
			return Variant{Type: Type{ID: TypeInt}, Value: maxLen}, nil
		case "collation":
			if !isString(base.ID) {
				return nil, nil
			}
			return Variant{Type: name, Value: base.Collation}, nil
		case "totalbytes":
			return nil, unsupported("SQL_VARIANT_PROPERTY TotalBytes")
		}
		return nil, nil
	}}, nil
}
