package tsql

import (
	"encoding/hex"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token.
type tokKind uint8

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

// token is one lexical token; pos is its byte offset in the batch. A
// batch is held as a slice of tokens, so the struct is kept small (32
// bytes): a binary literal's value is decoded from its text by the
// parser, and positions are 32-bit (a batch is far below 2 GiB: the
// protocol layer caps a message in tens of MiB).
type token struct {
	text string // identifier text (unquoted), literal text, operator
	pos  int32
	line int32
	kind tokKind
	nstr bool // N'...' literal
}

// maxTokens bounds the tokens of one batch, and so the memory the lexer
// holds for it (32 bytes a token, 8 MiB in all; some 40 MiB allocated
// while the slice grows). The store's statements have a few hundred. SQL Server has no such
// limit, only its memory; a batch beyond it gets the error SQL Server
// gives when a batch does not fit in memory (701).
const maxTokens = 1 << 18

func errTooManyTokens() *Error {
	return errf(701, 17, 123, "There is insufficient system memory in resource pool 'default' to run this query. (mssqltest: a batch may have at most %d tokens.)", maxTokens)
}

// lex splits a batch into tokens. Comments and whitespace are dropped.
func lex(src string) ([]token, *Error) {
	var toks []token
	line := 1
	i := 0
	parens := 0 // open parentheses; each is a level of nesting for the parser
	for i < len(src) {
		if len(toks) >= maxTokens {
			return nil, errTooManyTokens()
		}
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
			toks = append(toks, token{kind: tokQIdent, text: b.String(), pos: int32(i), line: int32(line)})
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
			toks = append(toks, token{kind: tokQIdent, text: b.String(), pos: int32(i), line: int32(line)})
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
			toks = append(toks, token{kind: tokString, text: b.String(), nstr: nstr, pos: int32(start), line: int32(line)})
			i = j + 1
		case c == '0' && i+1 < len(src) && (src[i+1] == 'x' || src[i+1] == 'X'):
			j := i + 2
			for j < len(src) && isHex(src[j]) {
				j++
			}
			toks = append(toks, token{kind: tokBinary, text: src[i:j], pos: int32(i), line: int32(line)})
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
			toks = append(toks, token{kind: tokNumber, text: src[i:j], pos: int32(i), line: int32(line)})
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
			toks = append(toks, token{kind: tokVar, text: src[i:j], pos: int32(i), line: int32(line)})
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
				toks = append(toks, token{kind: tokIdent, text: src[i:j], pos: int32(i), line: int32(line)})
				i = j
				continue
			}
			if strings.HasPrefix(src[i:], "::") && len(toks) > 0 && isSecurableClass(toks[len(toks)-1]) { // GRANT ON TYPE:: (perms.go)
				toks = append(toks, token{kind: tokOp, text: "::", pos: int32(i), line: int32(line)})
				i += 2
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
					toks = append(toks, token{kind: tokOp, text: op, pos: int32(i), line: int32(line)})
					i += len(op)
					matched = true
					break
				}
			}
			if matched {
				continue
			}
			if r == '(' {
				if parens++; parens > maxNesting {
					return nil, errNestedTooDeeply()
				}
			} else if r == ')' && parens > 0 {
				parens--
			}
			if strings.ContainsRune("(),.;=<>+-*/%~&|^:", r) {
				toks = append(toks, token{kind: tokOp, text: string(r), pos: int32(i), line: int32(line)})
				i += n
				continue
			}
			return nil, errf(102, 15, 1, "Incorrect syntax near '%s'.", string(r))
		}
	}
	toks = append(toks, token{kind: tokEOF, pos: int32(len(src)), line: int32(line)})
	return toks, nil
}

// binaryValue decodes the text of a binary literal (0x0A0B). SQL Server
// pads an odd-length binary literal with a leading zero.
func binaryValue(text string) []byte {
	h := text[2:]
	if len(h)%2 == 1 {
		h = "0" + h
	}
	b, _ := hex.DecodeString(h)
	if b == nil {
		b = []byte{}
	}
	return b
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
