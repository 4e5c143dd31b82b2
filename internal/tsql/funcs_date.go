package tsql

import "time"

// clockFunc is SYSDATETIME and its kin. This test server runs in UTC,
// so local and UTC clocks agree. SQL Server evaluates these once per
// statement, like here.
func clockFunc(c *compiler, f *funcExpr, _ []*cexpr) (*cexpr, error) {
	x := c.cat
	t := Type{ID: TypeDateTime2, Scale: 7}
	switch f.name {
	case "GETUTCDATE", "GETDATE":
		t = Type{ID: TypeDateTime}
	case "SYSDATETIMEOFFSET":
		t = Type{ID: TypeDateTimeOffset, Scale: 7}
	}
	return &cexpr{typ: t, eval: func(*env) (any, error) {
		return convert(c.dates(), x.statementTime().UTC(), Type{ID: TypeDateTime2, Scale: 7}, t)
	}}, nil
}

// dateAddFunc is DATEADD(unit, n, d). A string d is read as DATETIME,
// the type of the result.
func dateAddFunc(c *compiler, f *funcExpr, a []*cexpr) (*cexpr, error) {
	n, d := a[0], a[1]
	// SQL Server counts the datepart as argument 1: the number is
	// argument 2, the date argument 3.
	if !isNumber(n.typ.ID) && n.typ.ID != TypeNull {
		return nil, errf(8116, 16, 1, "Argument data type %s is invalid for argument 2 of dateadd function.", n.typ.baseName())
	}
	t, err := dateArgType(d.typ, "DATEADD")
	if err != nil {
		return nil, err
	}
	if !isTime(d.typ.ID) {
		// The result of DATEADD over a string or a number is DATETIME.
		t = Type{ID: TypeDateTime}
	}
	unit := f.unit
	if err := checkDateUnit(unit, t, "dateadd"); err != nil {
		return nil, err
	}
	t.Nullable = true
	return &cexpr{typ: t, deps: depsOf(a), eval: func(en *env) (any, error) {
		nv, err := n.eval(en)
		if err != nil || nv == nil {
			return nil, err
		}
		dv, err := d.eval(en)
		if err != nil || dv == nil {
			return nil, err
		}
		dv, err = convert(c.dates(), dv, d.typ, t)
		if err != nil {
			return nil, err
		}
		// The number must fit an INT (8115 past it), as SQL Server
		// documents.
		iv, err := convert(c.dates(), nv, n.typ, Type{ID: TypeInt})
		if err != nil {
			return nil, err
		}
		r, ok := dateAdd(dv.(time.Time), unit, iv.(int64))
		if !ok || !inDateRange(r, t.ID) {
			// SQL Server: error 517 when DATEADD leaves the type's range.
			return nil, errf(517, 16, 1, "Adding a value to a '%s' column caused an overflow.", t.baseName())
		}
		return convert(c.dates(), r, t, t)
	}}, nil
}

// dateArgType is the type a date function reads its date argument as:
// a date type as itself, a string as DATETIME2(7) (SQL Server's rule for
// DATEDIFF and DATEPART; DATEADD converts the result to DATETIME), and a
// number or NULL as DATETIME, days since 1900-01-01, as in the idiom
// DATEADD(day, DATEDIFF(day, 0, @d), 0). Other types (BIT, binaries) are
// refused, naming fn and the type.
func dateArgType(t Type, fn string) (Type, error) {
	switch {
	case isTime(t.ID):
		return t, nil
	case isString(t.ID):
		return Type{ID: TypeDateTime2, Scale: 7}, nil
	case isNumber(t.ID) && t.ID != TypeBit, t.ID == TypeNull:
		return Type{ID: TypeDateTime}, nil
	}
	return Type{}, unsupported(fn + " over a " + t.baseName() + " date")
}

// checkDateUnit refuses a time-of-day unit on a DATE, as SQL Server does
// in DATEADD and DATEPART (9810); DATEDIFF accepts it.
func checkDateUnit(unit string, t Type, fn string) error {
	switch unit {
	case "hour", "minute", "second", "millisecond", "microsecond", "nanosecond":
		if t.ID == TypeDate {
			return errf(9810, 16, 1, "The datepart %s is not supported by date function %s for data type date.", unit, fn)
		}
	}
	return nil
}

// dateArg evaluates a date argument of DATEDIFF or DATEPART as type tt
// (from dateArgType). ok is false for NULL.
func dateArg(ds dateStyle, e *cexpr, tt Type, en *env) (t time.Time, ok bool, err error) {
	v, err := e.eval(en)
	if err != nil || v == nil {
		return time.Time{}, false, err
	}
	v, err = convert(ds, v, e.typ, tt)
	if err != nil {
		return time.Time{}, false, err
	}
	return v.(time.Time), true, nil
}

// dateDiffFunc is DATEDIFF and DATEDIFF_BIG: INT or BIGINT, 535 when
// the count does not fit.
func dateDiffFunc(c *compiler, f *funcExpr, a []*cexpr) (*cexpr, error) {
	rt := Type{ID: TypeInt, Nullable: true}
	if f.name == "DATEDIFF_BIG" {
		rt.ID = TypeBigInt
	}
	var tts [2]Type
	for i, e := range a {
		var err error
		if tts[i], err = dateArgType(e.typ, f.name); err != nil {
			return nil, err
		}
	}
	unit := f.unit
	return &cexpr{typ: rt, deps: depsOf(a), eval: func(en *env) (any, error) {
		var ts [2]time.Time
		for i, e := range a {
			t, ok, err := dateArg(c.dates(), e, tts[i], en)
			if !ok {
				return nil, err
			}
			// DATETIMEOFFSET values are compared as UTC instants, the
			// others by their clock reading.
			if tts[i].ID != TypeDateTimeOffset {
				t = clock(t)
			} else {
				t = t.UTC()
			}
			ts[i] = t
		}
		n, ok := dateDiff(ts[0], ts[1], unit)
		lo, hi := intRange(rt.ID)
		if !ok || n < lo || n > hi {
			return nil, errf(535, 16, 0, "The datediff function resulted in an overflow. The number of dateparts separating two date/time instances is too large. Try to use datediff with a less precise datepart.")
		}
		return n, nil
	}}, nil
}

// datePartFunc is DATEPART(unit, d) for the units datePart knows.
func datePartFunc(c *compiler, f *funcExpr, a []*cexpr) (*cexpr, error) {
	tt, err := dateArgType(a[0].typ, f.name)
	if err != nil {
		return nil, err
	}
	unit := f.unit
	if err := checkDateUnit(unit, tt, "datepart"); err != nil {
		return nil, err
	}
	return &cexpr{typ: Type{ID: TypeInt, Nullable: true}, deps: a[0].deps, eval: func(en *env) (any, error) {
		t, ok, err := dateArg(c.dates(), a[0], tt, en)
		if !ok {
			return nil, err
		}
		return datePart(t, unit)
	}}, nil
}

// datePart is one field of a date. The other units (quarter, dayofyear,
// week, weekday) are not implemented and refused.
func datePart(t time.Time, unit string) (any, error) {
	switch unit {
	case "year":
		return int64(t.Year()), nil
	case "month":
		return int64(t.Month()), nil
	case "day":
		return int64(t.Day()), nil
	case "hour":
		return int64(t.Hour()), nil
	case "minute":
		return int64(t.Minute()), nil
	case "second":
		return int64(t.Second()), nil
	case "millisecond":
		return int64(t.Nanosecond() / 1e6), nil
	case "microsecond":
		return int64(t.Nanosecond() / 1e3), nil
	case "nanosecond":
		return int64(t.Nanosecond()), nil
	}
	return nil, unsupported("DATEPART(" + unit + ")")
}

func dateAdd(t time.Time, unit string, n int64) (time.Time, bool) {
	const maxSpan = 10000 * 366 * 24 * 3600 // seconds in ten thousand years
	switch unit {
	case "year":
		if n > 10000 || n < -10000 {
			return t, false
		}
		return t.AddDate(int(n), 0, 0), true
	case "quarter":
		if n > 40000 || n < -40000 {
			return t, false
		}
		return addMonths(t, int(n)*3), true
	case "month":
		if n > 120000 || n < -120000 {
			return t, false
		}
		return addMonths(t, int(n)), true
	case "day", "dayofyear", "weekday":
		if n > maxSpan/86400 || n < -maxSpan/86400 {
			return t, false
		}
		return t.AddDate(0, 0, int(n)), true
	case "week":
		if n > maxSpan/86400/7 || n < -maxSpan/86400/7 {
			return t, false
		}
		return t.AddDate(0, 0, 7*int(n)), true
	}
	var d time.Duration
	switch unit {
	case "hour":
		d = time.Hour
	case "minute":
		d = time.Minute
	case "second":
		d = time.Second
	case "millisecond":
		d = time.Millisecond
	case "microsecond":
		d = time.Microsecond
	case "nanosecond":
		d = time.Nanosecond
	}
	limit := int64(maxSpan) * int64(time.Second/d)
	if d >= time.Second {
		limit = int64(maxSpan) / int64(d/time.Second)
	}
	if n > limit || n < -limit {
		return t, false
	}
	// Add in whole seconds and a remainder so that long spans do not
	// overflow time.Duration.
	per := int64(time.Second / d)
	if d >= time.Second {
		return t.Add(time.Duration(n) * d), true
	}
	return t.Add(time.Duration(n/per) * time.Second).Add(time.Duration(n%per) * d), true
}

// addMonths adds months as SQL Server does: the day is clamped to the
// last day of the resulting month.
func addMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	total := int(m) - 1 + n
	ny := y + total/12
	nm := total % 12
	if nm < 0 {
		nm += 12
		ny--
	}
	last := time.Date(ny, time.Month(nm+2), 0, 0, 0, 0, 0, time.UTC).Day()
	if d > last {
		d = last
	}
	h, mi, s := t.Clock()
	return time.Date(ny, time.Month(nm+1), d, h, mi, s, t.Nanosecond(), t.Location())
}

// dateDiff counts the unit boundaries crossed from a to b, as DATEDIFF.
func dateDiff(a, b time.Time, unit string) (int64, bool) {
	switch unit {
	case "year":
		return int64(b.Year() - a.Year()), true
	case "quarter":
		return int64((b.Year()*12+int(b.Month())-1)/3 - (a.Year()*12+int(a.Month())-1)/3), true
	case "month":
		return int64(b.Year()*12 + int(b.Month()) - a.Year()*12 - int(a.Month())), true
	}
	days := func(t time.Time) int64 {
		y, m, d := t.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
	}
	dd := days(b) - days(a)
	switch unit {
	case "day", "dayofyear", "weekday":
		return dd, true
	case "week":
		// Weeks start on Sunday (DATEFIRST 7).
		wk := func(t time.Time) int64 { return (days(t) + 4) / 7 }
		return wk(b) - wk(a), true
	}
	sec := func(t time.Time) int64 { return t.Unix() }
	switch unit {
	case "hour":
		return sec(b)/3600 - sec(a)/3600, true
	case "minute":
		return sec(b)/60 - sec(a)/60, true
	case "second":
		return sec(b) - sec(a), true
	}
	ds := sec(b) - sec(a)
	dn := int64(b.Nanosecond()) - int64(a.Nanosecond())
	var per int64
	switch unit {
	case "millisecond":
		per = 1000
		dn = int64(b.Nanosecond()/1e6) - int64(a.Nanosecond()/1e6)
	case "microsecond":
		per = 1000000
		dn = int64(b.Nanosecond()/1e3) - int64(a.Nanosecond()/1e3)
	case "nanosecond":
		per = 1000000000
	default:
		return 0, false
	}
	if ds > (1<<62)/per || ds < -(1<<62)/per {
		return 0, false
	}
	return ds*per + dn, true
}
