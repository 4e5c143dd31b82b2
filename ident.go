package mssqlstore

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// errBadName is wrapped by the errors of parseObjectName.
var errBadName = errors.New("mssqlstore: invalid object name")

// objectName is a one- or two-part SQL Server object name.
type objectName struct {
	schema, name string // unquoted; schema may be ""
}

// parseObjectName parses a table or type name such as sessions,
// dbo.sessions, [dbo].[sessions] or [my.schema].[odd]]name]. Each part may
// be bracket-quoted (with ]] standing for ]) or bare; bare parts may not
// contain '.', '[' or ']'. A part is 1 to 128 characters (sysname) and may
// not hold control characters. Everything else is allowed, because every
// part is quoted when it goes into SQL.
func parseObjectName(s string) (objectName, error) {
	var parts []string
	rest := s
	for {
		part, tail, err := nextNamePart(rest)
		if err != nil {
			return objectName{}, fmt.Errorf("%w %q: %w", errBadName, s, err)
		}
		parts = append(parts, part)
		if tail == "" {
			break
		}
		if tail[0] != '.' {
			return objectName{}, fmt.Errorf("%w %q: unexpected %q after a name part", errBadName, s, tail)
		}
		rest = tail[1:]
	}
	switch len(parts) {
	case 1:
		return objectName{name: parts[0]}, nil
	case 2:
		return objectName{schema: parts[0], name: parts[1]}, nil
	}
	return objectName{}, fmt.Errorf("%w %q: want name or schema.name", errBadName, s)
}

func nextNamePart(s string) (part, rest string, err error) {
	if strings.HasPrefix(s, "[") {
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			if s[i] != ']' {
				b.WriteByte(s[i])
				continue
			}
			if i+1 < len(s) && s[i+1] == ']' {
				b.WriteByte(']')
				i++
				continue
			}
			part, rest = b.String(), s[i+1:]
			return part, rest, checkNamePart(part)
		}
		return "", "", errors.New("unterminated [")
	}
	end := strings.IndexAny(s, ".[]")
	if end < 0 {
		end = len(s)
	} else if s[end] != '.' {
		return "", "", fmt.Errorf("bracket inside an unquoted part (quote it: [%s])", s)
	}
	part, rest = s[:end], s[end:]
	if strings.TrimSpace(part) != part {
		return "", "", errors.New("leading or trailing space in an unquoted part")
	}
	return part, rest, checkNamePart(part)
}

func checkNamePart(p string) error {
	if p == "" {
		return errors.New("empty name part")
	}
	if !utf8.ValidString(p) {
		return errors.New("name part is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(p); n > 128 {
		return fmt.Errorf("name part of %d characters, more than 128", n)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return errors.New("control character in a name part")
		}
	}
	return nil
}

// quoteIdent quotes one identifier part for T-SQL: brackets, with each ]
// doubled, as QUOTENAME does.
func quoteIdent(s string) string {
	return "[" + strings.ReplaceAll(s, "]", "]]") + "]"
}

// quoted returns the name quoted for use in SQL text: [schema].[name], or
// [name] when no schema was given.
func (o objectName) quoted() string {
	if o.schema == "" {
		return quoteIdent(o.name)
	}
	return quoteIdent(o.schema) + "." + quoteIdent(o.name)
}

// nationalLiteral returns s as an N'...' string literal, for functions
// such as OBJECT_ID that take a name as a string.
func nationalLiteral(s string) string {
	return "N'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// String returns the name as the user would write it: quoted.
func (o objectName) String() string { return o.quoted() }
