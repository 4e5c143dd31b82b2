// Package sqlname parses and quotes SQL Server object names: the table and
// type names a user configures, which go into SQL text. Every part is
// bracket-quoted on the way out, so no name can carry SQL.
package sqlname

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrBadName is wrapped by the errors of Parse.
var ErrBadName = errors.New("invalid object name")

// Name is a one- or two-part SQL Server object name, unquoted.
type Name struct {
	// Schema is "" for a one-part name, which SQL Server resolves in the
	// login's default schema.
	Schema string
	// Object is the table or type name.
	Object string
}

// Parse parses a table or type name such as sessions, dbo.sessions,
// [dbo].[sessions] or [my.schema].[odd]]name], by the rules the store
// applies to Config.Table and Config.TableType: each part may be bracket-quoted (with ]]
// standing for ]) or bare; a bare part may not contain '.', '[' or ']',
// nor begin or end with a space; a part is 1 to 128 characters without
// control characters. Anything else, ';' included, is allowed, because
// every part is quoted when it goes into SQL text.
func Parse(s string) (Name, error) {
	var parts []string
	rest := s
	for {
		part, tail, err := nextPart(rest)
		if err != nil {
			return Name{}, fmt.Errorf("%w %q: %w", ErrBadName, s, err)
		}
		parts = append(parts, part)
		if tail == "" {
			break
		}
		if tail[0] != '.' {
			return Name{}, fmt.Errorf("%w %q: unexpected %q after a name part", ErrBadName, s, tail)
		}
		rest = tail[1:]
	}
	switch len(parts) {
	case 1:
		return Name{Object: parts[0]}, nil
	case 2:
		return Name{Schema: parts[0], Object: parts[1]}, nil
	}
	return Name{}, fmt.Errorf("%w %q: want name or schema.name", ErrBadName, s)
}

func nextPart(s string) (part, rest string, err error) {
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
			return part, rest, checkPart(part)
		}
		return "", "", errors.New("unterminated [")
	}
	end := strings.IndexAny(s, ".[]")
	if end < 0 {
		end = len(s)
	} else if s[end] != '.' {
		return "", "", errors.New("bracket inside an unquoted part (quote the part, writing ]] for ])")
	}
	part, rest = s[:end], s[end:]
	if strings.TrimSpace(part) != part {
		return "", "", errors.New("leading or trailing space in an unquoted part")
	}
	return part, rest, checkPart(part)
}

func checkPart(p string) error {
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

// QuoteIdent quotes one identifier part as QUOTENAME does: in brackets,
// with each ] doubled.
func QuoteIdent(s string) string {
	return "[" + strings.ReplaceAll(s, "]", "]]") + "]"
}

// Quoted returns the name for SQL text: [schema].[object], or [object].
func (n Name) Quoted() string {
	if n.Schema == "" {
		return QuoteIdent(n.Object)
	}
	return QuoteIdent(n.Schema) + "." + QuoteIdent(n.Object)
}

// String returns the name quoted, as Quoted does.
func (n Name) String() string { return n.Quoted() }

// NationalLiteral returns s as a T-SQL N'...' string literal.
func NationalLiteral(s string) string {
	return "N'" + strings.ReplaceAll(s, "'", "''") + "'"
}
