package tsql

import (
	"encoding/hex"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token.
type tokKind int

const (
	tokEOF    tokKind = iota
	tokIdent          // an unquoted word: keyword or identifier
	tokQIdent         // a [bracketed] or "double-quoted" identifier
	tokString         // 'text' (nstr set for N'text')
	tokNumber         // 123, 1.5, 1e3
	tokBinary         // 0x0A0B
	tokVar            // @name or @@name
	tokOp             // punctuation and operators
)

// token is one lexical token; pos is its byte offset in the batch.
type token struct {
	kind tokKind
	text string // identifier text (unquoted), literal text, operator
	nstr bool   // N'...' literal
	bin  []byte // value of a binary literal
	pos  int
	line int
}

// lex splits a batch into tokens. Comments and whitespace are dropped.
func lex(src string) ([]token, *Error) {
	var toks []token
	line := 1
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			// T-SQL block comments nest.
			depth := 0
			j := i
			for j < len(src) {
				if strings.HasPrefix(src[j:], "/*") {
					depth++
					j += 2
					continue
				}
				if strings.HasPrefix(src[j:], "*/") {
					depth--
					j += 2
					if depth == 0 {
						break
					}
					continue
				}
				if src[j] == '\n' {
					line++
				}
				j++
			}
			if depth != 0 {
				return nil, errf(113, 15, 1, "Missing end comment mark '*/'.")
			}
			i = j
		case c == '[':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(src) {
					return nil, errf(105, 15, 1, "Unclosed quotation mark after the character string '%s'.", src[i+1:])
				}
				if src[j] == ']' {
					if j+1 < len(src) && src[j+1] == ']' {
						b.WriteByte(']')
						j += 2
						continue
					}
					break
				}
				if src[j] == '\n' {
					line++
				}
				b.WriteByte(src[j])
				j++
			}
			toks = append(toks, token{kind: tokQIdent, text: b.String(), pos: i, line: line})
			i = j + 1
		case c == '"':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(src) {
					return nil, errf(105, 15, 1, "Unclosed quotation mark after the character string '%s'.", src[i+1:])
				}
				if src[j] == '"' {
					if j+1 < len(src) && src[j+1] == '"' {
						b.WriteByte('"')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(src[j])
				j++
			}
			toks = append(toks, token{kind: tokQIdent, text: b.String(), pos: i, line: line})
			i = j + 1
		case c == '\'' || ((c == 'N' || c == 'n') && i+1 < len(src) && src[i+1] == '\''):
			start := i
			nstr := c != '\''
			if nstr {
				i++
			}
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(src) {
					return nil, errf(105, 15, 1, "Unclosed quotation mark after the character string '%s'.", src[i+1:])
				}
				if src[j] == '\'' {
					if j+1 < len(src) && src[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				if src[j] == '\n' {
					line++
				}
				b.WriteByte(src[j])
				j++
			}
			toks = append(toks, token{kind: tokString, text: b.String(), nstr: nstr, pos: start, line: line})
			i = j + 1
		case c == '0' && i+1 < len(src) && (src[i+1] == 'x' || src[i+1] == 'X'):
			j := i + 2
			for j < len(src) && isHex(src[j]) {
				j++
			}
			h := src[i+2 : j]
			if len(h)%2 == 1 {
				// SQL Server pads an odd-length binary literal with a leading zero.
				h = "0" + h
			}
			b, _ := hex.DecodeString(h)
			if b == nil {
				b = []byte{}
			}
			toks = append(toks, token{kind: tokBinary, text: src[i:j], bin: b, pos: i, line: line})
			i = j
		case c >= '0' && c <= '9' || (c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9'):
			j := i
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			if j < len(src) && src[j] == '.' {
				j++
				for j < len(src) && src[j] >= '0' && src[j] <= '9' {
					j++
				}
			}
			if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
				k := j + 1
				if k < len(src) && (src[k] == '+' || src[k] == '-') {
					k++
				}
				if k < len(src) && src[k] >= '0' && src[k] <= '9' {
					for k < len(src) && src[k] >= '0' && src[k] <= '9' {
						k++
					}
					j = k
				}
			}
			toks = append(toks, token{kind: tokNumber, text: src[i:j], pos: i, line: line})
			i = j
		case c == '@':
			j := i + 1
			if j < len(src) && src[j] == '@' {
				j++
			}
			for j < len(src) {
				r, n := utf8.DecodeRuneInString(src[j:])
				if !isIdentRune(r) {
					break
				}
				j += n
			}
			toks = append(toks, token{kind: tokVar, text: src[i:j], pos: i, line: line})
			i = j
		default:
			r, n := utf8.DecodeRuneInString(src[i:])
			if isIdentStart(r) {
				j := i + n
				for j < len(src) {
					r, n := utf8.DecodeRuneInString(src[j:])
					if !isIdentRune(r) {
						break
					}
					j += n
				}
				toks = append(toks, token{kind: tokIdent, text: src[i:j], pos: i, line: line})
				i = j
				continue
			}
			if strings.HasPrefix(src[i:], "::") {
				// geometry::Point(...), hierarchyid::GetRoot(): CLR type
				// methods, which the engine does not have.
				what := "::"
				if len(toks) > 0 {
					what = toks[len(toks)-1].text + "::"
				}
				return nil, unsupported(what)
			}
			matched := false
			for _, op := range []string{"<>", "!=", "<=", ">=", "!<", "!>", "+=", "-=", "*=", "/="} {
				if strings.HasPrefix(src[i:], op) {
					toks = append(toks, token{kind: tokOp, text: op, pos: i, line: line})
					i += len(op)
					matched = true
					break
				}
			}
			if matched {
				continue
			}
			if strings.ContainsRune("(),.;=<>+-*/%~&|^:", r) {
				toks = append(toks, token{kind: tokOp, text: string(r), pos: i, line: line})
				i += n
				continue
			}
			return nil, errf(102, 15, 1, "Incorrect syntax near '%s'.", string(r))
		}
	}
	toks = append(toks, token{kind: tokEOF, pos: len(src), line: line})
	return toks, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isIdentStart(r rune) bool {
	return r == '_' || r == '#' || unicode.IsLetter(r)
}

func isIdentRune(r rune) bool {
	return r == '_' || r == '#' || r == '$' || r == '@' || unicode.IsLetter(r) || unicode.IsDigit(r)
}
