package tsql

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Decimal is an exact numeric value: a DECIMAL, NUMERIC, MONEY or
// SMALLMONEY. Its value is Coef × 10^-Scale. A Decimal is immutable: no
// method changes the coefficient it holds, and the zero Decimal is 0.
type Decimal struct {
	coef  *big.Int // nil is zero
	scale int
}

// NewDecimal returns coef × 10^-scale. It copies coef.
func NewDecimal(coef *big.Int, scale int) Decimal {
	return Decimal{coef: new(big.Int).Set(coef), scale: scale}
}

// Coef returns a copy of the coefficient.
func (d Decimal) Coef() *big.Int { return new(big.Int).Set(d.int()) }

// Scale returns the number of digits after the point.
func (d Decimal) Scale() int { return d.scale }

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int { return d.int().Sign() }

// int is the coefficient, never nil; callers must not change it.
func (d Decimal) int() *big.Int {
	if d.coef == nil {
		return new(big.Int)
	}
	return d.coef
}

var bigTen = big.NewInt(10)

func pow10(n int) *big.Int { return new(big.Int).Exp(bigTen, big.NewInt(int64(n)), nil) }

// String is the value with exactly Scale digits after the point and a
// leading zero before it, as SQL Server writes a DECIMAL converted to a
// string: CAST(CAST(-0.5 AS decimal(5,2)) AS varchar) is '-0.50'.
func (d Decimal) String() string {
	c := d.int()
	digits := new(big.Int).Abs(c).String()
	if d.scale > 0 {
		if len(digits) <= d.scale {
			digits = strings.Repeat("0", d.scale-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-d.scale] + "." + digits[len(digits)-d.scale:]
	}
	if c.Sign() < 0 {
		return "-" + digits
	}
	return digits
}

// rescale returns d with s digits after the point. Fewer digits round
// half away from zero, as SQL Server rounds a value assigned to a
// DECIMAL, NUMERIC or MONEY of a smaller scale: CAST(2.345 AS
// decimal(3,2)) is 2.35 and CAST(-2.345 AS decimal(3,2)) is -2.35.
func (d Decimal) rescale(s int) Decimal {
	c := d.int()
	switch {
	case s == d.scale:
		return d
	case s > d.scale:
		return Decimal{coef: new(big.Int).Mul(c, pow10(s-d.scale)), scale: s}
	}
	q, r := new(big.Int).QuoRem(c, pow10(d.scale-s), new(big.Int))
	// Round half away from zero: |r| * 2 >= 10^k moves q one further
	// from zero.
	r.Abs(r).Lsh(r, 1)
	if r.Cmp(pow10(d.scale-s)) >= 0 {
		if c.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return Decimal{coef: q, scale: s}
}

// truncated is d's integer part, cut toward zero, as SQL Server converts
// a DECIMAL or NUMERIC to an integer type: CAST(2.7 AS int) is 2.
func (d Decimal) truncated() *big.Int {
	return new(big.Int).Quo(d.int(), pow10(d.scale))
}

// fits reports whether d's coefficient has at most p digits.
func (d Decimal) fits(p int) bool {
	return new(big.Int).Abs(d.int()).Cmp(pow10(p)) < 0
}

// cmp orders two values whatever their scales.
func (d Decimal) cmp(e Decimal) int {
	s := max(d.scale, e.scale)
	return d.rescale(s).int().Cmp(e.rescale(s).int())
}

// float is the nearest float64.
func (d Decimal) float() float64 {
	f, _ := new(big.Rat).SetFrac(d.int(), pow10(d.scale)).Float64()
	return f
}

// key is d without trailing zeros after the point, so that equal values
// of different scales share it.
func (d Decimal) key() string {
	s := d.String()
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// parseDecimal reads [+|-]digits[.digits] (at least one digit; no
// exponent: SQL Server's CAST('1e5' AS decimal) fails with 8114).
func parseDecimal(s string) (Decimal, bool) {
	s = strings.TrimSpace(s)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole+frac == "" || strings.Trim(whole+frac, "0123456789") != "" {
		return Decimal{}, false
	}
	c, ok := new(big.Int).SetString("0"+whole+frac, 10)
	if !ok {
		return Decimal{}, false
	}
	if neg {
		c.Neg(c)
	}
	return Decimal{coef: c, scale: len(frac)}, true
}

// decimalFromFloat reads a float by its shortest decimal form, the
// digits strconv prints for it. SQL Server converts a FLOAT with up to 17
// significant digits, so a value with no short form (0.1e0 cast to
// decimal(38,30)) can show more digits there than here.
func decimalFromFloat(f float64) (Decimal, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Decimal{}, false
	}
	return parseDecimal(strconv.FormatFloat(f, 'f', -1, 64))
}

// isExact reports the exact numeric types other than the integers:
// DECIMAL, NUMERIC, MONEY and SMALLMONEY, carried as Decimal.
func isExact(id TypeID) bool {
	return id == TypeDecimal || id == TypeNumeric || id == TypeMoney || id == TypeSmallMoney
}

func isDecimal(id TypeID) bool { return id == TypeDecimal || id == TypeNumeric }
func isMoney(id TypeID) bool   { return id == TypeMoney || id == TypeSmallMoney }

// isNumber reports every numeric type: integers, BIT, FLOAT, REAL and
// the exact ones.
func isNumber(id TypeID) bool { return isNumeric(id) || isExact(id) }

// moneyRange is MONEY's and SMALLMONEY's range in ten-thousandths:
// -922,337,203,685,477.5808 to 922,337,203,685,477.5807, and
// -214,748.3648 to 214,748.3647.
func moneyRange(id TypeID) (lo, hi int64) {
	if id == TypeSmallMoney {
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// decimalType is DECIMAL or NUMERIC with its facets: DECIMAL alone is
// DECIMAL(18,0), DECIMAL(p) DECIMAL(p,0); p is 1 to 38 and s 0 to p.
func decimalType(lname string, args []string, ordinal int) (Type, *Error) {
	t := Type{ID: TypeDecimal, Precision: 18}
	if lname == "numeric" {
		t.ID = TypeNumeric
	}
	if len(args) > 2 {
		return Type{}, errf(102, 15, 1, "Incorrect syntax near ','.")
	}
	if len(args) >= 1 {
		p, err := strconv.Atoi(args[0])
		if err != nil || p < 1 || p > 38 {
			return Type{}, errf(2750, 16, 1, "Column or parameter #%d: Specified column precision %s is greater than the maximum precision of 38.", ordinal, args[0])
		}
		t.Precision = p
	}
	if len(args) == 2 {
		s, err := strconv.Atoi(args[1])
		if err != nil || s < 0 || s > t.Precision {
			// SQL Server: 192, "The scale must be less than or equal to
			// the precision."
			return Type{}, errf(192, 16, 1, "The scale must be less than or equal to the precision.")
		}
		t.Scale = s
	}
	return t, nil
}

// DecimalBytes is the storage size of a DECIMAL of precision p, also its
// TDS length with the sign byte (MS-TDS 2.2.5.5.1.6): 5, 9, 13 or 17
// bytes.
func DecimalBytes(p int) int {
	switch {
	case p <= 9:
		return 5
	case p <= 19:
		return 9
	case p <= 28:
		return 13
	}
	return 17
}

// decimalOf reads a value as an exact number, without rounding or a
// range check: integers and BIT exactly, FLOAT and REAL by their shortest
// decimal form, strings as digits (MONEY also takes a leading '$' and
// comma separators, as SQL Server's CAST('$1,234.50' AS money) does).
func decimalOf(v any, from, to Type) (Decimal, error) {
	switch x := v.(type) {
	case Decimal:
		return x, nil
	case int64:
		return Decimal{coef: big.NewInt(x)}, nil
	case bool:
		if x {
			return Decimal{coef: big.NewInt(1)}, nil
		}
		return Decimal{}, nil
	case float64:
		d, ok := decimalFromFloat(x)
		if !ok {
			return Decimal{}, decimalOverflow(from, to)
		}
		return d, nil
	case string:
		s := strings.TrimSpace(x)
		if isMoney(to.ID) {
			s = strings.ReplaceAll(strings.TrimPrefix(s, "$"), ",", "")
		}
		d, ok := parseDecimal(s)
		if !ok {
			if isMoney(to.ID) {
				return Decimal{}, errf(235, 16, 0, "Cannot convert a char value to money. The char value has incorrect syntax.")
			}
			return Decimal{}, errf(8114, 16, 5, "Error converting data type %s to %s.", from.baseName(), "numeric")
		}
		return d, nil
	}
	return Decimal{}, errDateToNumber(v, from, to)
}

// toDecimal converts to DECIMAL, NUMERIC, MONEY or SMALLMONEY: rounded
// half away from zero to the target's scale, then checked against its
// precision or range (8115).
func toDecimal(v any, from, to Type) (any, error) {
	d, err := decimalOf(v, from, to)
	if err != nil {
		return nil, err
	}
	if isMoney(to.ID) {
		d = d.rescale(4)
		lo, hi := moneyRange(to.ID)
		c := d.int()
		if !c.IsInt64() || c.Int64() < lo || c.Int64() > hi {
			return nil, overflow(to)
		}
		return d, nil
	}
	d = d.rescale(to.Scale)
	if !d.fits(to.Precision) {
		return nil, decimalOverflow(from, to)
	}
	return d, nil
}

// decimalOverflow is 8115 for a value too large for a DECIMAL or NUMERIC:
// SQL Server names the source type, and calls the target numeric
// whichever name it was declared with.
func decimalOverflow(from, to Type) *Error {
	return errf(8115, 16, 8, "Arithmetic overflow error converting %s to data type %s.", numericName(from), "numeric")
}

// numericName is a type's name in SQL Server's conversion errors, which
// call DECIMAL numeric.
func numericName(t Type) string {
	if isDecimal(t.ID) {
		return "numeric"
	}
	return t.baseName()
}

// decimalToInt converts an exact number to an integer: DECIMAL and
// NUMERIC are truncated toward zero, MONEY and SMALLMONEY rounded half
// away from zero (SQL Server's CAST(CAST(2.5 AS money) AS int) is 3, its
// CAST(2.5 AS int) 2).
func decimalToInt(d Decimal, from, to Type) (int64, error) {
	var n *big.Int
	if isMoney(from.ID) {
		n = d.rescale(0).int()
	} else {
		n = d.truncated()
	}
	if !n.IsInt64() {
		return 0, overflow(to)
	}
	return n.Int64(), nil
}

// decimalResult is the type of l op r when it is exact, by SQL Server's
// rules ("Precision, scale, and length (Transact-SQL)"): for + and -,
// max(s1,s2) + max(p1-s1,p2-s2) + 1 digits, max(s1,s2) after the point;
// for *, p1+p2+1 and s1+s2; for /, p1-s1+s2+max(6,s1+p2+1) and
// max(6,s1+p2+1); for %, min(p1-s1,p2-s2)+max(s1,s2) and max(s1,s2).
// Past 38 digits the scale gives way, as SQL Server reduces it: for + and
// - to 38 less the integer digits; for * and / to min(s, 38 less the
// integer digits) while those are fewer than 32, else to min(s, 6).
func decimalResult(op string, a, b Type) Type {
	p1, s1 := exactFacets(a)
	p2, s2 := exactFacets(b)
	var p, s int
	switch op {
	case "+", "-":
		s = max(s1, s2)
		p = s + max(p1-s1, p2-s2) + 1
	case "*":
		p, s = p1+p2+1, s1+s2
	case "/":
		s = max(6, s1+p2+1)
		p = p1 - s1 + s2 + s
	default: // %
		s = max(s1, s2)
		p = min(p1-s1, p2-s2) + s
	}
	if p > 38 {
		whole := p - s
		switch {
		case op == "+" || op == "-" || op == "%":
			s = max(0, 38-whole)
		case whole < 32:
			s = min(s, 38-whole)
		default:
			s = min(s, 6)
		}
		p = 38
	}
	return Type{ID: TypeNumeric, Precision: p, Scale: s}
}

// decimalArith compiles an arithmetic operator whose result is exact.
// DECIMAL and NUMERIC follow decimalResult; the result is rounded half
// away from zero to its scale, except for /, which SQL Server truncates
// (SELECT 2.0/3 is 0.666666); 8115 when it has too many digits, 8134 on
// a zero divisor. MONEY keeps its type for + and - with MONEY or an
// integer and for * by an integer, where the result is exact; the rest
// of MONEY's and SMALLMONEY's arithmetic is refused (40517).
func decimalArith(ds dateStyle, op string, l, r *cexpr) (*cexpr, error) {
	lt, rt := l.typ, r.typ
	ct := commonType(lt, rt)
	if op == "&" || op == "|" || op == "^" {
		return nil, errf(8117, 16, 1, "Operand data type %s is invalid for %s operator.", ct.baseName(), opName(op))
	}
	var t Type
	switch {
	case ct.ID == TypeMoney && (op == "+" || op == "-" || op == "*" && !(isExact(lt.ID) && isExact(rt.ID))) &&
		(isInt(lt.ID) || lt.ID == TypeMoney || lt.ID == TypeNull) && (isInt(rt.ID) || rt.ID == TypeMoney || rt.ID == TypeNull):
		t = Type{ID: TypeMoney}
	case isMoney(ct.ID):
		return nil, unsupported(opName(op) + " operator on " + ct.baseName())
	default:
		t = decimalResult(op, lt, rt)
		if ct.ID == TypeDecimal {
			t.ID = TypeDecimal
		}
	}
	t.Nullable = true
	return &cexpr{typ: t, deps: l.deps | r.deps, eval: func(en *env) (any, error) {
		a, err := l.eval(en)
		if err != nil || a == nil {
			return nil, err
		}
		b, err := r.eval(en)
		if err != nil || b == nil {
			return nil, err
		}
		x, err := decimalOf(a, lt, t)
		if err != nil {
			return nil, err
		}
		y, err := decimalOf(b, rt, t)
		if err != nil {
			return nil, err
		}
		return decimalOp(op, t, x, y)
	}}, nil
}

// decimalOp computes x op y at t's scale and checks t's range.
func decimalOp(op string, t Type, x, y Decimal) (any, error) {
	s := t.Scale
	if isMoney(t.ID) {
		s = 4
	}
	var z Decimal
	switch op {
	case "+", "-":
		k := max(x.scale, y.scale)
		a, b := x.rescale(k).int(), y.rescale(k).int()
		c := new(big.Int)
		if op == "+" {
			c.Add(a, b)
		} else {
			c.Sub(a, b)
		}
		z = Decimal{coef: c, scale: k}.rescale(s)
	case "*":
		z = Decimal{coef: new(big.Int).Mul(x.int(), y.int()), scale: x.scale + y.scale}.rescale(s)
	case "/", "%":
		if y.Sign() == 0 {
			return nil, errf(8134, 16, 1, "Divide by zero error encountered.")
		}
		if op == "%" {
			k := max(x.scale, y.scale)
			z = Decimal{coef: new(big.Int).Rem(x.rescale(k).int(), y.rescale(k).int()), scale: k}.rescale(s)
			break
		}
		// x/y at scale s, cut toward zero: x·10^(s+ys-xs) / y.
		n := new(big.Int).Set(x.int())
		if e := s + y.scale - x.scale; e >= 0 {
			n.Mul(n, pow10(e))
		} else {
			n.Quo(n, pow10(-e))
		}
		z = Decimal{coef: n.Quo(n, y.int()), scale: s}
	}
	if isMoney(t.ID) {
		lo, hi := moneyRange(t.ID)
		if c := z.int(); !c.IsInt64() || c.Int64() < lo || c.Int64() > hi {
			return nil, overflow(t)
		}
		return z, nil
	}
	if !z.fits(t.Precision) {
		return nil, errf(8115, 16, 2, "Arithmetic overflow error converting expression to data type numeric.")
	}
	return z, nil
}

// negate is -d of type t: 8115 for MONEY's and SMALLMONEY's most
// negative value, whose opposite is out of range.
func negate(d Decimal, t Type) (any, error) {
	n := Decimal{coef: new(big.Int).Neg(d.int()), scale: d.scale}
	if isMoney(t.ID) {
		lo, hi := moneyRange(t.ID)
		if c := n.int(); !c.IsInt64() || c.Int64() < lo || c.Int64() > hi {
			return nil, overflow(t)
		}
	}
	return n, nil
}
