package tsql

import (
	"strings"
	"time"
)

// language is a row of SQL Server's sys.syslanguages that the engine
// models: the names SET LANGUAGE accepts (name or alias), the DATEFORMAT
// the language implies, and the month names SQL Server reads and writes
// in date strings under it. SQL Server has 34 languages; the others are
// refused with 40517. The DATEFIRST a language implies (7 for us_english,
// 1 for Russian) is not kept: nothing the engine answers reads it
// (DATEPART's week and weekday, DATETRUNC, @@DATEFIRST are refused, and
// DATEDIFF's weeks start on Sunday whatever DATEFIRST says).
type language struct {
	name        string // sys.syslanguages.name, what @@LANGUAGE answers
	alias       string // sys.syslanguages.alias
	dateFormat  string // "mdy" or "dmy"
	months      [12]string
	shortMonths [12]string
}

// usEnglish is the language every login gets (the server default).
var usEnglish = &language{
	name: "us_english", alias: "English", dateFormat: "mdy",
	months: [12]string{"January", "February", "March", "April", "May", "June",
		"July", "August", "September", "October", "November", "December"},
	shortMonths: [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
}

// russian is sys.syslanguages' row for Russian (langid 21).
var russian = &language{
	name: "русский", alias: "Russian", dateFormat: "dmy",
	months: [12]string{"январь", "февраль", "март", "апрель", "май", "июнь",
		"июль", "август", "сентябрь", "октябрь", "ноябрь", "декабрь"},
	shortMonths: [12]string{"янв", "фев", "мар", "апр", "май", "июн", "июл", "авг", "сен", "окт", "ноя", "дек"},
}

// findLanguage resolves SET LANGUAGE's argument: SQL Server matches the
// name or the alias, case-insensitively (the server collation).
func findLanguage(s string) (*language, bool) {
	for _, l := range []*language{usEnglish, russian} {
		if strings.EqualFold(s, l.name) || strings.EqualFold(s, l.alias) {
			return l, true
		}
	}
	return nil, false
}

// dateStyle is what a conversion between character strings and dates
// reads from the session that runs it: the language's month names and
// the DATEFORMAT order. The session owns both (SET LANGUAGE, SET
// DATEFORMAT); the compiler asks its catalog for them and compiles each
// conversion with the answer, so convert stays a pure function. The zero
// dateStyle names no language: a conversion that would need one refuses
// (see convert) instead of guessing us_english.
type dateStyle struct {
	lang  *language
	order string // "mdy" or "dmy"
}

// defaultStyle is a login's: us_english, mdy.
var defaultStyle = dateStyle{lang: usEnglish, order: "mdy"}

// monthToEnglish rewrites the session language's month names and
// abbreviations in a date string (already upper-cased, single-spaced) to
// the English ones the layouts read. SQL Server reads month names in the
// session's language only: under Russian, 'Jul 19 2021' is not a date.
// us_english strings are returned unchanged.
func (d dateStyle) monthToEnglish(s string) (string, bool) {
	if d.lang == usEnglish {
		return s, true
	}
	words := strings.Split(s, " ")
	for i, w := range words {
		w = strings.TrimSuffix(w, ",")
		for m := 0; m < 12; m++ {
			if w == strings.ToUpper(d.lang.months[m]) || w == strings.ToUpper(d.lang.shortMonths[m]) {
				words[i] = strings.Replace(words[i], w, strings.ToUpper(usEnglish.shortMonths[m]), 1)
				break
			}
		}
	}
	out := strings.Join(words, " ")
	// Left-over English month names are not this language's.
	for m := 0; m < 12; m++ {
		if strings.Contains(s, strings.ToUpper(usEnglish.shortMonths[m])) {
			return "", false
		}
	}
	return out, true
}

// shortMonth is a month's abbreviation in the session's language, as
// style 0 (CAST of a DATETIME to a string) writes it.
func (d dateStyle) shortMonth(m time.Month) string { return d.lang.shortMonths[m-1] }
