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

// token is one lexical token; pos is its byte offset in the batch, line
// and col its 1-based line and column (col counts bytes from the start of
// the line). A batch is held as a slice of tokens, so the struct is kept
// small (32 bytes): a binary literal's value is decoded from its text by
// the parser, and positions are 32-bit (a batch is far below 2 GiB: the
// protocol layer caps a message in tens of MiB).
type token struct {
	text string // identifier text (unquoted), literal text, operator
	pos  int32
	line int32
	col  int32
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

// lexer is the state of lex: the batch, the read offset and the line the
// offset is on.
type lexer struct {
	src       string
	i         int   // read offset
	line      int32 // line of src[i], from 1
	lineStart int   // offset of the first byte of that line
	parens    int   // open parentheses; each is a level of nesting for the parser
	toks      []token
}

// lex splits a batch into tokens. Comments and whitespace are dropped.
// An error carries the line of the offending token, as SQL Server reports
// a syntax error.
func lex(src string) ([]token, *Error) {
	l := &lexer{src: src, line: 1}
	for l.i < len(src) {
		if len(l.toks) >= maxTokens {
			return nil, l.errAt(errTooManyTokens(), l.line)
		}
		if err := l.step(); err != nil {
			return nil, err
		}
	}
	l.emit(tokEOF, "", len(src), l.line)
	return l.toks, nil
}

// step consumes one token, comment or blank at l.i.
func (l *lexer) step() *Error {
	src, i := l.src, l.i
	c := src[i]
	switch {
	case c == '\n':
		l.newline(i)
		l.i++
	case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
		l.i++
	case c == '-' && i+1 < len(src) && src[i+1] == '-':
		for l.i < len(src) && src[l.i] != '\n' {
			l.i++
		}
	case c == '/' && i+1 < len(src) && src[i+1] == '*':
		return l.blockComment()
	case c == '[':
		return l.quoted(i, i, ']', tokQIdent)
	case c == '"':
		return l.quoted(i, i, '"', tokQIdent)
	case c == '\'':
		return l.quoted(i, i, '\'', tokString)
	case (c == 'N' || c == 'n') && i+1 < len(src) && src[i+1] == '\'':
		return l.quoted(i, i+1, '\'', tokString)
	case c == '0' && i+1 < len(src) && (src[i+1] == 'x' || src[i+1] == 'X'):
		j := i + 2
		for j < len(src) && isHex(src[j]) {
			j++
		}
		l.emit(tokBinary, src[i:j], i, l.line)
		l.i = j
	case c >= '0' && c <= '9' || (c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9'):
		l.number()
	case c == '@':
		j := i + 1
		if j < len(src) && src[j] == '@' {
			j++
		}
		k := j + identLen(src[j:])
		l.emit(tokVar, src[i:k], i, l.line)
		l.i = k
	default:
		return l.wordOrOp()
	}
	return nil
}

// newline records that the byte at offset i is a line feed.
func (l *lexer) newline(i int) {
	l.line++
	l.lineStart = i + 1
}

// emit appends a token that starts at offset start, on line line (a
// token spanning lines starts on an earlier line than l.line).
func (l *lexer) emit(kind tokKind, text string, start int, line int32) {
	col := start - l.lineStart + 1
	if line != l.line {
		col = start - strings.LastIndexByte(l.src[:start], '\n')
	}
	l.toks = append(l.toks, token{kind: kind, text: text, pos: int32(start), line: line, col: int32(col)})
}

// errAt sets the line an error reports.
func (l *lexer) errAt(e *Error, line int32) *Error {
	e.Line = line
	return e
}

// blockComment skips a /* */ comment. T-SQL block comments nest.
func (l *lexer) blockComment() *Error {
	src, line := l.src, l.line
	depth := 0
	j := l.i
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
			l.newline(j)
		}
		j++
	}
	if depth != 0 {
		return l.errAt(errf(113, 15, 1, "Missing end comment mark '*/'."), line)
	}
	l.i = j
	return nil
}

// quoted reads a [bracketed] or "quoted" identifier or a 'string' (N'string'
// when q > start): q is the offset of the opening quote, and a doubled
// closing quote stands for one.
func (l *lexer) quoted(start, q int, closing byte, kind tokKind) *Error {
	src, line := l.src, l.line
	var b strings.Builder
	j := q + 1
	for {
		if j >= len(src) {
			return l.errAt(errf(105, 15, 1, "Unclosed quotation mark after the character string '%s'.", src[q+1:]), line)
		}
		if src[j] == closing {
			if j+1 < len(src) && src[j+1] == closing {
				b.WriteByte(closing)
				j += 2
				continue
			}
			break
		}
		if src[j] == '\n' {
			l.newline(j)
		}
		b.WriteByte(src[j])
		j++
	}
	l.emit(kind, b.String(), start, line)
	l.toks[len(l.toks)-1].nstr = q > start
	l.i = j + 1
	return nil
}

// number reads 123, 1.5, .5 or 1e3.
func (l *lexer) number() {
	src, i := l.src, l.i
	j := i + digits(src[i:])
	if j < len(src) && src[j] == '.' {
		j++
		j += digits(src[j:])
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		k := j + 1
		if k < len(src) && (src[k] == '+' || src[k] == '-') {
			k++
		}
		if n := digits(src[k:]); n > 0 {
			j = k + n
		}
	}
	l.emit(tokNumber, src[i:j], i, l.line)
	l.i = j
}

// digits counts the ASCII digits s starts with.
func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

// identLen counts the bytes of the identifier characters s starts with.
func identLen(s string) int {
	j := 0
	for j < len(s) {
		r, n := utf8.DecodeRuneInString(s[j:])
		if !isIdentRune(r) {
			break
		}
		j += n
	}
	return j
}

// ops are the operators of more than one character, matched before the
// single-character ones.
var ops = []string{"<>", "!=", "<=", ">=", "!<", "!>", "+=", "-=", "*=", "/="}

// wordOrOp reads a word (keyword or identifier) or an operator.
func (l *lexer) wordOrOp() *Error {
	src, i := l.src, l.i
	r, n := utf8.DecodeRuneInString(src[i:])
	if isIdentStart(r) {
		j := i + n + identLen(src[i+n:])
		l.emit(tokIdent, src[i:j], i, l.line)
		l.i = j
		return nil
	}
	if strings.HasPrefix(src[i:], "::") && len(l.toks) > 0 && isSecurableClass(l.toks[len(l.toks)-1]) { // GRANT ON TYPE:: (perms.go)
		l.emit(tokOp, "::", i, l.line)
		l.i += 2
		return nil
	}
	if strings.HasPrefix(src[i:], "::") {
		// geometry::Point(...), hierarchyid::GetRoot(): CLR type
		// methods, which the engine does not have.
		what := "::"
		if len(l.toks) > 0 {
			what = l.toks[len(l.toks)-1].text + "::"
		}
		// Name the method too: geometry::STGeomFromText.
		j := i + 2
		for j < len(src) && (src[j] == '_' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
			j++
		}
		return l.errAt(unsupported(what+src[i+2:j]), l.line)
	}
	for _, op := range ops {
		if strings.HasPrefix(src[i:], op) {
			l.emit(tokOp, op, i, l.line)
			l.i += len(op)
			return nil
		}
	}
	if r == '(' {
		if l.parens++; l.parens > maxNesting {
			return l.errAt(errNestedTooDeeply(), l.line)
		}
	} else if r == ')' && l.parens > 0 {
		l.parens--
	}
	if strings.ContainsRune("(),.;=<>+-*/%~&|^:", r) {
		l.emit(tokOp, string(r), i, l.line)
		l.i += n
		return nil
	}
	return l.errAt(errf(102, 15, 1, "Incorrect syntax near '%s'.", string(r)), l.line)
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
