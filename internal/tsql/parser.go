package tsql

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// reserved holds the T-SQL reserved keywords the parser cares about: they
// are never taken as aliases, and a syntax error at one of them is
// reported as SQL Server does (error 156 instead of 102).
var reserved = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`ADD ALL ALTER AND ANY AS ASC BEGIN BETWEEN BREAK BY CASE CHECK
		CLUSTERED COLLATE COLUMN COMMIT CONSTRAINT CONTINUE CONVERT CREATE CROSS CURRENT_TIMESTAMP
		CURRENT_USER DECLARE DEFAULT DELETE DESC DISTINCT DROP ELSE END ESCAPE EXCEPT EXEC EXECUTE
		EXISTS FOR FOREIGN FROM FULL GOTO GROUP HAVING IDENTITY IF IN INDEX INNER INSERT INTERSECT
		INTO IS JOIN KEY LEFT LIKE MERGE NONCLUSTERED NOT NULL OF ON OPTION OR ORDER OUTER OVER
		PERCENT PRIMARY PRINT PROC PROCEDURE RAISERROR REFERENCES RETURN RIGHT ROLLBACK SELECT
		SESSION_USER SET SYSTEM_USER TABLE THEN TOP TRAN TRANSACTION TRUNCATE UNION UNIQUE UPDATE
		USE VALUES WHEN WHERE WHILE WITH`) {
		reserved[w] = true
	}
}

// tableHints are the table hints the engine accepts. They steer locking
// (see lockSpec in lock.go); PAGLOCK and ROWLOCK choose a lock
// granularity the key-level model does not distinguish.
var tableHints = map[string]bool{
	"UPDLOCK": true, "HOLDLOCK": true, "SERIALIZABLE": true, "ROWLOCK": true, "PAGLOCK": true,
	"TABLOCK": true, "TABLOCKX": true, "READCOMMITTED": true, "READCOMMITTEDLOCK": true,
	"NOLOCK": true, "READPAST": true, "READUNCOMMITTED": true, "REPEATABLEREAD": true, "XLOCK": true,
	"NOWAIT": true,
}

type parser struct {
	toks  []token
	i     int
	depth int // nesting of the construct being parsed; see enter
	// unionOK lets the next selectStmt be followed by UNION (union.go).
	unionOK bool
}

// maxNesting bounds how deeply expressions and statements nest: nested
// parentheses, NOT NOT ..., - - ..., IF inside IF, and the length of a
// chain of binary operators (a + b + ..., which the engine evaluates by
// recursion too). The parser and the evaluator recurse once per level,
// so without a bound a hostile batch overflows the goroutine stack,
// which kills the process. SQL Server's own limit depends on its stack;
// past it, it raises error 191, as the parser does here (and the lexer,
// for parentheses nested deeper than the parser could ever go).
const maxNesting = 1000

// enter counts one level of nesting and fails with 191 past maxNesting;
// leave undoes it. A failure unwinds the whole parse, so a panic between
// them needs no leave.
func (p *parser) enter() {
	p.depth++
	if p.depth > maxNesting {
		p.fail(errNestedTooDeeply())
	}
}

func errNestedTooDeeply() *Error {
	return errf(191, 15, 1, "Some part of your SQL statement is nested too deeply. Rewrite the query or break it up into smaller queries.")
}

func (p *parser) leave() { p.depth-- }

// parseError unwinds the parser.
type parseError struct{ err *Error }

// parseBatch parses a whole batch. SQL Server compiles a batch before it
// runs any of it, so a syntax error anywhere means nothing runs.
func parseBatch(src string) (stmts []stmt, err *Error) {
	toks, lerr := lex(src)
	if lerr != nil {
		return nil, lerr
	}
	p := &parser{toks: toks}
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(parseError)
			if !ok {
				panic(r)
			}
			stmts, err = nil, pe.err
		}
	}()
	for {
		for p.acceptOp(";") {
		}
		if p.peek().kind == tokEOF {
			break
		}
		stmts = append(stmts, p.statement())
	}
	return stmts, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekN(n int) token {
	if p.i+n >= len(p.toks) {
		return p.toks[len(p.toks)-1]
	}
	return p.toks[p.i+n]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// fail unwinds the parser with e. An error that does not say its line
// gets the line of the current token, as SQL Server reports the line of
// the offending token.
func (p *parser) fail(e *Error) {
	if e.Line == 0 {
		e.Line = p.peek().line
	}
	panic(parseError{e})
}

// tokPos is the position of a token.
func tokPos(t token) pos { return pos{line: t.line, col: t.col} }

// here is the position of the current token.
func (p *parser) here() pos { return tokPos(p.peek()) }

// syntaxError reports a syntax error at the current token, worded as
// SQL Server words it.
func (p *parser) syntaxError() {
	t := p.peek()
	switch {
	case t.kind == tokEOF:
		// SQL Server names the last token, and reports its line.
		last, line := "end of batch", t.line
		if p.i > 0 {
			last, line = tokText(p.toks[p.i-1]), p.toks[p.i-1].line
		}
		e := errf(102, 15, 1, "Incorrect syntax near '%s'.", last)
		e.Line = line
		p.fail(e)
	case t.kind == tokIdent && reserved[strings.ToUpper(t.text)]:
		p.fail(errf(156, 15, 1, "Incorrect syntax near the keyword '%s'.", strings.ToUpper(t.text)))
	default:
		p.fail(errf(102, 15, 1, "Incorrect syntax near '%s'.", tokText(t)))
	}
}

func tokText(t token) string {
	switch t.kind {
	case tokString:
		return t.text
	case tokQIdent:
		return t.text
	}
	return t.text
}

// unsupported fails on a construct that is valid T-SQL but that this test
// double does not implement. 40517 is the number SQL Server (Azure SQL
// Database) uses for "not supported in this version".
func unsupported(what string) *Error {
	return errf(40517, 16, 1, "Keyword or statement option '%s' is not supported in this version of SQL Server (mssqltest test double).", what)
}

func (p *parser) isKw(w string) bool {
	t := p.peek()
	return t.kind == tokIdent && strings.EqualFold(t.text, w)
}

func (p *parser) isKwAt(n int, w string) bool {
	t := p.peekN(n)
	return t.kind == tokIdent && strings.EqualFold(t.text, w)
}

func (p *parser) acceptKw(w string) bool {
	if p.isKw(w) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectKw(w string) {
	if !p.acceptKw(w) {
		p.syntaxError()
	}
}

func (p *parser) isOp(op string) bool {
	t := p.peek()
	return t.kind == tokOp && t.text == op
}

func (p *parser) acceptOp(op string) bool {
	if p.isOp(op) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectOp(op string) {
	if !p.acceptOp(op) {
		p.syntaxError()
	}
}

// ident reads one identifier (quoted or a non-reserved word).
func (p *parser) ident() string {
	t := p.peek()
	if t.kind == tokQIdent || (t.kind == tokIdent && !reserved[strings.ToUpper(t.text)]) {
		p.i++
		return t.text
	}
	p.syntaxError()
	return ""
}

// anyIdent reads an identifier, allowing reserved words (after a dot,
// SQL Server accepts them).
func (p *parser) anyIdent() string {
	t := p.peek()
	if t.kind == tokQIdent || t.kind == tokIdent {
		p.i++
		return t.text
	}
	p.syntaxError()
	return ""
}

func (p *parser) isIdentStart() bool {
	t := p.peek()
	return t.kind == tokQIdent || (t.kind == tokIdent && !reserved[strings.ToUpper(t.text)])
}

// multipart reads a.b.c, allowing empty parts (db..t).
func (p *parser) multipart() []string {
	parts := []string{p.ident()}
	for p.isOp(".") {
		p.i++
		if p.isOp(".") {
			parts = append(parts, "")
			continue
		}
		if p.isOp("*") {
			// t.* is handled by the caller.
			p.i--
			break
		}
		parts = append(parts, p.anyIdent())
	}
	return parts
}

func (p *parser) objName() objName {
	parts := p.multipart()
	return partsToName(p, parts)
}

func partsToName(p *parser, parts []string) objName {
	switch len(parts) {
	case 1:
		return objName{Name: parts[0]}
	case 2:
		return objName{Schema: parts[0], Name: parts[1]}
	case 3:
		return objName{DB: parts[0], Schema: parts[1], Name: parts[2]}
	}
	p.fail(unsupported("four-part (linked server) names"))
	return objName{}
}

// statement parses one statement. The node keeps the position of its
// first token.
func (p *parser) statement() (s stmt) {
	p.enter()
	defer p.leave()
	t := p.peek()
	if t.kind != tokIdent {
		p.syntaxError()
	}
	defer func() {
		if s != nil { // nil while a parse error unwinds
			s.setPos(tokPos(t))
		}
	}()
	switch strings.ToUpper(t.text) {
	case "SELECT":
		return p.selectStatement()
	case "INSERT":
		return p.insertStmt()
	case "UPDATE":
		return p.updateStmt()
	case "DELETE":
		return p.deleteStmt()
	case "MERGE":
		return p.mergeStatement()
	case "TRUNCATE":
		p.next()
		p.expectKw("TABLE")
		return &truncateStmt{name: p.objName()}
	case "CREATE":
		return p.createStmt()
	case "DROP":
		return p.dropStmt()
	case "SET":
		return p.setStmt()
	case "DECLARE":
		return p.declareStmt()
	case "BEGIN":
		return p.beginStmt()
	case "COMMIT":
		return p.commitStmt()
	case "ROLLBACK":
		return p.rollbackStmt()
	case "IF":
		return p.ifStmt()
	case "WHILE":
		p.next()
		s := &whileStmt{cond: p.expr()}
		s.body = p.bodyStatement()
		return s
	case "BREAK":
		p.next()
		return &breakStmt{}
	case "CONTINUE":
		p.next()
		return &continueStmt{}
	case "EXEC", "EXECUTE":
		if p.isKwAt(1, "AS") { // perms.go
			return p.executeAsStmt()
		}
		return p.execStmt()
	case "GRANT": // perms.go
		return p.grantStmt()
	case "REVERT": // perms.go
		return p.revertStmt()
	case "PRINT":
		p.next()
		return &printStmt{x: p.expr()}
	case "RAISERROR":
		return p.raiserrorStmt()
	case "WAITFOR":
		p.next()
		if !p.acceptKw("DELAY") {
			p.fail(unsupported("WAITFOR without DELAY"))
		}
		return &waitforStmt{delay: p.expr()}
	case "WITH":
		return p.withStatement() // cte.go
	case "ALTER", "REVOKE", "DENY", "USE", "THROW", "RETURN", "GOTO",
		"SAVE", "OPEN", "FETCH", "CLOSE", "DEALLOCATE", "BULK", "DBCC", "BACKUP", "RESTORE",
		"CHECKPOINT", "KILL", "SHUTDOWN", "RECONFIGURE", "READTEXT", "WRITETEXT", "UPDATETEXT":
		p.fail(unsupported(strings.ToUpper(t.text)))
	}
	p.syntaxError()
	return nil
}

// selectStatement parses a SELECT statement, which may be a UNION
// (union.go); EXCEPT and INTERSECT are refused.
func (p *parser) selectStatement() stmt {
	p.unionOK = true
	s := p.selectStmt()
	if p.isSetOperator() {
		return p.unionTail(s)
	}
	return s
}

// mergeStatement parses a MERGE statement and its terminating semicolon.
func (p *parser) mergeStatement() stmt {
	s := p.mergeStmt()
	// SQL Server: "A MERGE statement must be terminated by a semi-colon (;)."
	if !p.isOp(";") {
		p.fail(errf(10713, 15, 1, "A MERGE statement must be terminated by a semi-colon (;)."))
	}
	return s
}

// beginStmt parses BEGIN TRAN or a BEGIN ... END block.
func (p *parser) beginStmt() stmt {
	p.expectKw("BEGIN")
	if p.acceptKw("TRAN") || p.acceptKw("TRANSACTION") {
		p.tranName()
		return &beginTranStmt{}
	}
	if p.isKw("TRY") || p.isKw("DISTRIBUTED") || p.isKw("CATCH") || p.isKw("ATOMIC") || p.isKw("DIALOG") || p.isKw("CONVERSATION") {
		p.fail(unsupported("BEGIN " + strings.ToUpper(p.peek().text)))
	}
	b := &blockStmt{}
	for {
		for p.acceptOp(";") {
		}
		if p.acceptKw("END") {
			return b
		}
		if p.peek().kind == tokEOF {
			p.syntaxError()
		}
		b.body = append(b.body, p.statement())
	}
}

// commitStmt parses COMMIT [TRAN[SACTION] [name] | WORK].
func (p *parser) commitStmt() stmt {
	p.expectKw("COMMIT")
	if !p.acceptKw("TRAN") && !p.acceptKw("TRANSACTION") {
		p.acceptKw("WORK")
	}
	p.tranName()
	return &commitStmt{}
}

// rollbackStmt parses ROLLBACK [TRAN[SACTION] | WORK]; savepoints and
// named transactions are refused.
func (p *parser) rollbackStmt() stmt {
	p.expectKw("ROLLBACK")
	if !p.acceptKw("TRAN") && !p.acceptKw("TRANSACTION") {
		p.acceptKw("WORK")
	}
	if p.isIdentStart() || p.peek().kind == tokVar {
		p.fail(unsupported("ROLLBACK to a savepoint or named transaction"))
	}
	return &rollbackStmt{}
}

// ifStmt parses IF cond stmt [ELSE stmt].
func (p *parser) ifStmt() stmt {
	t := p.next()
	s := &ifStmt{line: int(t.line)}
	s.cond = p.expr()
	s.condLine = int(s.cond.position().line)
	s.then = p.bodyStatement()
	// An ELSE may follow a semicolon that ends the THEN statement.
	save := p.i
	for p.acceptOp(";") {
	}
	if p.acceptKw("ELSE") {
		s.els = p.bodyStatement()
		s.hasElse = true
	} else {
		p.i = save
	}
	return s
}

// raiserrorStmt parses RAISERROR (msg, severity, state [, args]) [WITH ...].
func (p *parser) raiserrorStmt() stmt {
	p.expectKw("RAISERROR")
	p.expectOp("(")
	s := &raiserrorStmt{msg: p.expr()}
	p.expectOp(",")
	s.severity = p.expr()
	p.expectOp(",")
	s.state = p.expr()
	for p.acceptOp(",") {
		s.args = append(s.args, p.expr())
	}
	p.expectOp(")")
	if p.acceptKw("WITH") {
		for {
			s.with = append(s.with, strings.ToUpper(p.ident()))
			if !p.acceptOp(",") {
				break
			}
		}
	}
	return s
}

// bodyStatement parses the statement governed by IF, ELSE or WHILE.
func (p *parser) bodyStatement() stmt {
	for p.acceptOp(";") {
	}
	if p.peek().kind == tokEOF {
		p.syntaxError()
	}
	s := p.statement()
	if _, ok := s.(*mergeStmt); ok {
		return s
	}
	return s
}

func (p *parser) tranName() {
	if p.peek().kind == tokVar || p.isIdentStart() {
		p.next()
	}
}

// ---- SELECT ----

func (p *parser) selectStmt() *selectStmt {
	p.enter()
	defer p.leave()
	s := &selectStmt{pos: p.here()}
	unionOK := p.unionOK
	p.unionOK = false
	p.expectKw("SELECT")
	if p.acceptKw("DISTINCT") {
		s.distinct = true
	} else {
		p.acceptKw("ALL")
	}
	if p.isKw("TOP") {
		s.top = p.top()
	}
	for {
		s.items = append(s.items, p.selectItem(s))
		if !p.acceptOp(",") {
			break
		}
	}
	if p.isKw("INTO") {
		if !unionOK {
			p.fail(unsupported("SELECT INTO in a subquery or INSERT"))
		}
		p.next()
		into := p.objName()
		s.into = &into
	}
	if p.acceptKw("FROM") {
		s.from = p.fromList()
	}
	if p.acceptKw("WHERE") {
		s.where = p.expr()
	}
	if p.acceptKw("GROUP") {
		p.expectKw("BY")
		for {
			s.groupBy = append(s.groupBy, p.expr())
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.acceptKw("HAVING") {
		s.having = p.expr()
	}
	if p.acceptKw("ORDER") {
		p.expectKw("BY")
		for {
			o := orderItem{pos: p.here(), x: p.expr()}
			if p.acceptKw("DESC") {
				o.desc = true
			} else {
				p.acceptKw("ASC")
			}
			s.orderBy = append(s.orderBy, o)
			if !p.acceptOp(",") {
				break
			}
		}
		if p.isKw("OFFSET") {
			p.fail(unsupported("OFFSET ... FETCH"))
		}
	}
	if p.isKw("FOR") {
		p.fail(unsupported("FOR XML/JSON/BROWSE"))
	}
	if p.isKw("OPTION") {
		p.fail(unsupported("OPTION (query hints)"))
	}
	if !unionOK {
		p.refuseSetOperator() // union.go
	}
	return s
}

func (p *parser) top() expr {
	p.expectKw("TOP")
	var x expr
	if p.acceptOp("(") {
		x = p.expr()
		p.expectOp(")")
	} else if p.peek().kind == tokNumber {
		x = p.primary()
	} else {
		p.syntaxError()
	}
	if p.isKw("PERCENT") {
		p.fail(unsupported("TOP ... PERCENT"))
	}
	if p.isKw("WITH") && p.isKwAt(1, "TIES") {
		p.fail(unsupported("TOP ... WITH TIES"))
	}
	return x
}

func (p *parser) selectItem(s *selectStmt) selectItem {
	t := p.peek()
	at := tokPos(t)
	// @v = expr: variable assignment.
	if t.kind == tokVar && !strings.HasPrefix(t.text, "@@") && p.peekN(1).kind == tokOp && p.peekN(1).text == "=" {
		p.i += 2
		for len(s.assigns) < len(s.items) {
			s.assigns = append(s.assigns, "")
		}
		s.assigns = append(s.assigns, t.text)
		return selectItem{pos: at, x: p.expr()}
	}
	if len(s.assigns) > 0 {
		s.assigns = append(s.assigns, "")
	}
	if p.isOp("*") {
		p.i++
		return selectItem{pos: at, star: true}
	}
	// t.* and alias = expr
	if t.kind == tokQIdent || (t.kind == tokIdent && !reserved[strings.ToUpper(t.text)]) {
		n1 := p.peekN(1)
		if n1.kind == tokOp && n1.text == "=" {
			p.i += 2
			return selectItem{pos: at, x: p.expr(), alias: t.text}
		}
		// qualifier.* : scan ahead over ident . ident . *
		j := p.i
		var parts []string
		for {
			tk := p.toks[j]
			if tk.kind != tokIdent && tk.kind != tokQIdent {
				break
			}
			parts = append(parts, tk.text)
			if p.toks[j+1].kind == tokOp && p.toks[j+1].text == "." {
				if p.toks[j+2].kind == tokOp && p.toks[j+2].text == "*" {
					p.i = j + 3
					return selectItem{pos: at, star: true, qual: strings.Join(parts, ".")}
				}
				j += 2
				continue
			}
			break
		}
	}
	it := selectItem{pos: at, x: p.expr()}
	if p.acceptKw("AS") {
		if p.peek().kind == tokString {
			it.alias = p.next().text
		} else {
			it.alias = p.anyIdent()
		}
	} else if p.isIdentStart() {
		it.alias = p.ident()
	} else if p.peek().kind == tokString {
		it.alias = p.next().text
	}
	return it
}

func (p *parser) fromList() []tableRef {
	refs := []tableRef{p.tableRef()}
	for {
		switch {
		case p.acceptOp(","):
			r := p.tableRef()
			r.join = "CROSS"
			refs = append(refs, r)
		case p.isKw("INNER") || p.isKw("JOIN"):
			p.acceptKw("INNER")
			if p.isKw("HASH") || p.isKw("LOOP") || p.isKw("MERGE") {
				p.fail(unsupported("join hints"))
			}
			p.expectKw("JOIN")
			r := p.tableRef()
			r.join = "INNER"
			p.expectKw("ON")
			r.on = p.expr()
			refs = append(refs, r)
		case p.isKw("LEFT"):
			p.next()
			p.acceptKw("OUTER")
			p.expectKw("JOIN")
			r := p.tableRef()
			r.join = "LEFT"
			p.expectKw("ON")
			r.on = p.expr()
			refs = append(refs, r)
		case p.isKw("CROSS"):
			p.next()
			if p.isKw("APPLY") {
				p.fail(unsupported("CROSS APPLY"))
			}
			p.expectKw("JOIN")
			r := p.tableRef()
			r.join = "CROSS"
			refs = append(refs, r)
		case p.isKw("RIGHT") || p.isKw("FULL") || p.isKw("OUTER"):
			p.fail(unsupported(strings.ToUpper(p.peek().text) + " JOIN"))
		default:
			return refs
		}
	}
}

// tableRef parses one FROM source with its alias and hints.
func (p *parser) tableRef() tableRef {
	p.enter()
	defer p.leave()
	r := tableRef{pos: p.here()}
	t := p.peek()
	switch {
	case p.isOp("("):
		p.next()
		switch {
		case p.isKw("VALUES"):
			p.next()
			r.values = p.valuesRows()
		case p.isKw("SELECT"):
			r.sub = p.selectStmt()
		default:
			p.syntaxError()
		}
		p.expectOp(")")
		p.acceptKw("AS")
		r.alias = p.ident()
		if p.acceptOp("(") {
			for {
				r.colAls = append(r.colAls, p.ident())
				if !p.acceptOp(",") {
					break
				}
			}
			p.expectOp(")")
		}
		if r.values != nil && r.colAls == nil {
			// SQL Server requires column names for a VALUES derived table.
			p.fail(errf(8155, 16, 2, "No column name was specified for column 1 of '%s'.", r.alias))
		}
		return r
	case t.kind == tokVar && !strings.HasPrefix(t.text, "@@"):
		p.next()
		r.varName = t.text
	default:
		r.name = p.objName()
		if p.isOp("(") {
			p.fail(unsupported("table-valued function " + r.name.String()))
		}
	}
	p.hintsAndAlias(&r)
	return r
}

func (p *parser) hintsAndAlias(r *tableRef) {
	p.tableHints(r)
	if p.acceptKw("AS") {
		r.alias = p.ident()
	} else if p.isIdentStart() {
		r.alias = p.ident()
	}
	p.tableHints(r)
}

func (p *parser) tableHints(r *tableRef) {
	if !(p.isKw("WITH") && p.peekN(1).kind == tokOp && p.peekN(1).text == "(") {
		return
	}
	p.next()
	p.next()
	for {
		t := p.next()
		if t.kind != tokIdent && t.kind != tokQIdent {
			p.i--
			p.syntaxError()
		}
		h := strings.ToUpper(t.text)
		if h == "INDEX" || h == "FORCESEEK" || h == "FORCESCAN" {
			p.fail(unsupported("table hint " + h))
		}
		if !tableHints[h] {
			p.fail(errf(321, 15, 1, "'%s' is not a recognized table hints option.", t.text))
		}
		r.hints = append(r.hints, h)
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
}

func (p *parser) valuesRows() [][]expr {
	var rows [][]expr
	for {
		p.expectOp("(")
		var row []expr
		for {
			if p.isKw("DEFAULT") {
				p.fail(unsupported("DEFAULT in VALUES"))
			}
			row = append(row, p.expr())
			if !p.acceptOp(",") {
				break
			}
		}
		p.expectOp(")")
		rows = append(rows, row)
		if !p.acceptOp(",") {
			return rows
		}
	}
}

// ---- DML ----

func (p *parser) dmlTarget() tableRef {
	r := tableRef{pos: p.here()}
	t := p.peek()
	if t.kind == tokVar && !strings.HasPrefix(t.text, "@@") {
		p.next()
		r.varName = t.text
	} else {
		r.name = p.objName()
	}
	return r
}

func (p *parser) noOutput() {
	if p.isKw("OUTPUT") {
		p.fail(unsupported("OUTPUT clause"))
	}
}

func (p *parser) insertStmt() stmt {
	p.expectKw("INSERT")
	if p.isKw("TOP") {
		p.fail(unsupported("INSERT TOP"))
	}
	// INSERT BULK t (...) starts a bulk load (go-mssqldb's CopyIn): the
	// rows follow in a BULKLOAD message, which this server does not
	// implement. A table named bulk is followed by VALUES, SELECT, a
	// column list or DEFAULT VALUES instead of a name.
	if p.isKw("BULK") {
		if n := p.peekN(1); n.kind == tokQIdent || n.kind == tokIdent && !reserved[strings.ToUpper(n.text)] && !strings.EqualFold(n.text, "VALUES") {
			p.fail(unsupported("INSERT BULK (bulk load)"))
		}
	}
	p.acceptKw("INTO")
	s := &insertStmt{target: p.dmlTarget()}
	p.tableHints(&s.target)
	if p.isOp("(") && !p.isKwAt(1, "SELECT") {
		p.next()
		for {
			parts := p.multipart()
			s.cols = append(s.cols, parts[len(parts)-1])
			if !p.acceptOp(",") {
				break
			}
		}
		p.expectOp(")")
	}
	p.noOutput()
	switch {
	case p.acceptKw("VALUES"):
		s.values = p.valuesRows()
	case p.isKw("SELECT"):
		s.sel = p.selectStmt()
	case p.isOp("(") && p.isKwAt(1, "SELECT"):
		p.next()
		s.sel = p.selectStmt()
		p.expectOp(")")
	case p.isKw("DEFAULT") && p.isKwAt(1, "VALUES"):
		p.fail(unsupported("DEFAULT VALUES"))
	case p.isKw("EXEC") || p.isKw("EXECUTE"):
		p.fail(unsupported("INSERT ... EXECUTE"))
	default:
		p.syntaxError()
	}
	return s
}

func (p *parser) setClauses() []setClause {
	var sets []setClause
	for {
		c := setClause{pos: p.here()}
		c.line = int(p.peek().line)
		t := p.peek()
		if t.kind == tokVar && !strings.HasPrefix(t.text, "@@") {
			p.next()
			c.vr = t.text
		} else {
			c.col = p.multipart()
		}
		op := p.next()
		if op.kind != tokOp || (op.text != "=" && op.text != "+=" && op.text != "-=" && op.text != "*=" && op.text != "/=") {
			p.i--
			p.syntaxError()
		}
		c.op = op.text
		if c.vr != "" && p.isIdentStart() && p.peekN(1).kind == tokOp && p.peekN(1).text == "=" {
			p.fail(unsupported("SET @variable = column = expression"))
		}
		c.x = p.expr()
		sets = append(sets, c)
		if !p.acceptOp(",") {
			return sets
		}
	}
}

func (p *parser) updateStmt() stmt {
	p.expectKw("UPDATE")
	s := &updateStmt{}
	if p.isKw("TOP") {
		s.top = p.top()
	}
	s.target = p.dmlTarget()
	p.tableHints(&s.target)
	p.expectKw("SET")
	s.sets = p.setClauses()
	p.noOutput()
	s.from, s.where = p.fromWhere()
	return s
}

// fromWhere parses the optional FROM and WHERE clauses that end UPDATE
// and DELETE.
func (p *parser) fromWhere() (from []tableRef, where expr) {
	if p.acceptKw("FROM") {
		from = p.fromList()
	}
	if p.acceptKw("WHERE") {
		if p.isKw("CURRENT") {
			p.fail(unsupported("WHERE CURRENT OF"))
		}
		where = p.expr()
	}
	if p.isKw("OPTION") {
		p.fail(unsupported("OPTION (query hints)"))
	}
	return from, where
}

func (p *parser) deleteStmt() stmt {
	p.expectKw("DELETE")
	s := &deleteStmt{}
	if p.isKw("TOP") {
		s.top = p.top()
	}
	p.acceptKw("FROM")
	s.target = p.dmlTarget()
	p.hintsAndAlias(&s.target)
	p.noOutput()
	s.from, s.where = p.fromWhere()
	return s
}

func (p *parser) mergeStmt() stmt {
	p.expectKw("MERGE")
	s := &mergeStmt{}
	if p.isKw("TOP") {
		s.top = p.top()
	}
	p.acceptKw("INTO")
	s.target = p.dmlTarget()
	p.hintsAndAlias(&s.target)
	p.expectKw("USING")
	s.source = p.tableRef()
	p.expectKw("ON")
	s.on = p.expr()
	for p.isKw("WHEN") {
		c := mergeClause{pos: p.here()}
		p.next()
		if p.acceptKw("NOT") {
			p.expectKw("MATCHED")
			c.match = "TARGET"
			if p.acceptKw("BY") {
				if p.acceptKw("SOURCE") {
					c.match = "SOURCE"
				} else {
					p.expectKw("TARGET")
				}
			}
		} else {
			p.expectKw("MATCHED")
			c.match = "MATCHED"
		}
		if p.acceptKw("AND") {
			c.cond = p.expr()
		}
		p.expectKw("THEN")
		switch {
		case p.acceptKw("UPDATE"):
			if c.match == "TARGET" {
				p.fail(errf(10711, 15, 1, "An action of type 'UPDATE' is not allowed in the 'WHEN NOT MATCHED' clause of a MERGE statement."))
			}
			c.action = "UPDATE"
			p.expectKw("SET")
			c.sets = p.setClauses()
		case p.acceptKw("DELETE"):
			if c.match == "TARGET" {
				p.fail(errf(10711, 15, 1, "An action of type 'DELETE' is not allowed in the 'WHEN NOT MATCHED' clause of a MERGE statement."))
			}
			c.action = "DELETE"
		case p.acceptKw("INSERT"):
			if c.match != "TARGET" {
				p.fail(errf(10710, 15, 1, "An action of type 'INSERT' is not allowed in the 'WHEN MATCHED' clause of a MERGE statement."))
			}
			c.action = "INSERT"
			if p.acceptOp("(") {
				for {
					parts := p.multipart()
					c.cols = append(c.cols, parts[len(parts)-1])
					if !p.acceptOp(",") {
						break
					}
				}
				p.expectOp(")")
			}
			if p.isKw("DEFAULT") {
				p.fail(unsupported("INSERT DEFAULT VALUES in MERGE"))
			}
			p.expectKw("VALUES")
			rows := p.valuesRows()
			if len(rows) != 1 {
				p.syntaxError()
			}
			c.values = rows[0]
		default:
			p.syntaxError()
		}
		s.clauses = append(s.clauses, c)
	}
	if len(s.clauses) == 0 {
		p.syntaxError()
	}
	p.noOutput()
	if p.isKw("OPTION") {
		p.fail(unsupported("OPTION (query hints)"))
	}
	return s
}

// ---- DDL ----

func (p *parser) createStmt() stmt {
	p.expectKw("CREATE")
	switch {
	case p.acceptKw("TABLE"):
		s := &createTableStmt{name: p.objName()}
		p.tableBody(s)
		for p.isKw("WITH") || p.isKw("ON") || p.isKw("TEXTIMAGE_ON") {
			p.fail(unsupported("CREATE TABLE options (" + strings.ToUpper(p.peek().text) + ")"))
		}
		return s
	case p.acceptKw("TYPE"):
		s := &createTableStmt{name: p.objName(), isType: true}
		if p.acceptKw("FROM") {
			p.fail(unsupported("CREATE TYPE ... FROM (alias types)"))
		}
		p.expectKw("AS")
		p.expectKw("TABLE")
		p.tableBody(s)
		return s
	case p.isKw("UNIQUE") || p.isKw("CLUSTERED") || p.isKw("NONCLUSTERED") || p.isKw("INDEX"):
		s := &createIndexStmt{}
		if p.acceptKw("UNIQUE") {
			s.unique = true
		}
		if p.acceptKw("CLUSTERED") {
			s.cluster = "CLUSTERED"
		} else if p.acceptKw("NONCLUSTERED") {
			s.cluster = "NONCLUSTERED"
		}
		if p.isKw("COLUMNSTORE") {
			p.fail(unsupported("COLUMNSTORE"))
		}
		p.expectKw("INDEX")
		s.name = p.ident()
		p.expectKw("ON")
		s.table = p.objName()
		s.cols = p.indexCols()
		if p.acceptKw("INCLUDE") {
			p.expectOp("(")
			for {
				p.ident()
				if !p.acceptOp(",") {
					break
				}
			}
			p.expectOp(")")
		}
		if p.isKw("WHERE") {
			p.fail(unsupported("filtered index"))
		}
		if p.isKw("WITH") {
			p.fail(unsupported("index options (WITH ...)"))
		}
		return s
	}
	if p.peek().kind == tokIdent {
		p.fail(unsupported("CREATE " + strings.ToUpper(p.peek().text)))
	}
	p.syntaxError()
	return nil
}

func (p *parser) indexCols() []string {
	var cols []string
	p.expectOp("(")
	for {
		cols = append(cols, p.ident())
		if !p.acceptKw("ASC") {
			p.acceptKw("DESC")
		}
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
	return cols
}

func (p *parser) tableBody(s *createTableStmt) {
	p.expectOp("(")
	for {
		switch {
		case p.isKw("CONSTRAINT") || p.isKw("PRIMARY") || p.isKw("UNIQUE"):
			name := ""
			if p.acceptKw("CONSTRAINT") {
				name = p.ident()
			}
			if p.acceptKw("PRIMARY") {
				p.expectKw("KEY")
				if s.pkCols != nil {
					p.fail(errf(8110, 16, 0, "Cannot add multiple PRIMARY KEY constraints to table '%s'.", s.name.Name))
				}
				s.pkName = name
				if p.acceptKw("CLUSTERED") {
					s.pkClust = "CLUSTERED"
				} else if p.acceptKw("NONCLUSTERED") {
					s.pkClust = "NONCLUSTERED"
				}
				s.pkCols = p.indexCols()
			} else if p.acceptKw("UNIQUE") {
				p.acceptKw("CLUSTERED")
				p.acceptKw("NONCLUSTERED")
				s.uniques = append(s.uniques, p.indexCols())
			} else {
				if p.peek().kind == tokIdent {
					p.fail(unsupported(strings.ToUpper(p.peek().text) + " constraint"))
				}
				p.syntaxError()
			}
			// SQL Server accepts index options and a filegroup after a
			// constraint's columns; the engine models neither.
			if p.isKw("WITH") {
				p.fail(unsupported("index options (WITH ...)"))
			}
			if p.isKw("ON") {
				p.fail(unsupported("filegroup (ON ...)"))
			}
		case p.isKw("INDEX") || p.isKw("CHECK") || p.isKw("FOREIGN"):
			p.fail(unsupported(strings.ToUpper(p.peek().text) + " in CREATE TABLE"))
		default:
			s.cols = append(s.cols, p.colDef(len(s.cols)+1))
		}
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
	if p.isKw("ON") || p.isKw("TEXTIMAGE_ON") {
		// CREATE TABLE ... ON filegroup: the engine has no filegroups.
		p.fail(unsupported("filegroup (" + strings.ToUpper(p.peek().text) + " ...)"))
	}
}

func (p *parser) colDef(ordinal int) colDef {
	c := colDef{pos: p.here()}
	c.name = p.ident()
	if p.isKw("AS") {
		p.fail(unsupported("computed columns"))
	}
	c.typ = p.dataType(ordinal, true)
	c.typ.Nullable = true
	for {
		switch {
		case p.acceptKw("COLLATE"):
			c.typ.Collation = p.collationName()
		case p.acceptKw("NULL"):
			c.nullSet = true
			c.typ.Nullable = true
		case p.isKw("NOT") && p.isKwAt(1, "NULL"):
			p.i += 2
			c.nullSet = true
			c.typ.Nullable = false
		case p.isKw("CONSTRAINT") || p.isKw("PRIMARY") || p.isKw("UNIQUE"):
			name := ""
			if p.acceptKw("CONSTRAINT") {
				name = p.ident()
			}
			if p.acceptKw("PRIMARY") {
				p.expectKw("KEY")
				c.pk = true
				c.pkName = name
				if p.acceptKw("CLUSTERED") {
					c.clusterd = "CLUSTERED"
				} else if p.acceptKw("NONCLUSTERED") {
					c.clusterd = "NONCLUSTERED"
				}
			} else if p.acceptKw("UNIQUE") {
				c.unique = true
				p.acceptKw("CLUSTERED")
				p.acceptKw("NONCLUSTERED")
			} else {
				if p.peek().kind == tokIdent {
					p.fail(unsupported(strings.ToUpper(p.peek().text) + " constraint"))
				}
				p.syntaxError()
			}
		case p.isKw("IDENTITY") && c.ident == nil:
			c.ident = p.identitySpec() // identity.go
		case p.isKw("IDENTITY") || p.isKw("DEFAULT") || p.isKw("CHECK") || p.isKw("REFERENCES") ||
			p.isKw("ROWGUIDCOL") || p.isKw("SPARSE") || p.isKw("FILESTREAM") || p.isKw("MASKED") || p.isKw("GENERATED"):
			p.fail(unsupported(strings.ToUpper(p.peek().text) + " column property"))
		default:
			return c
		}
	}
}

func (p *parser) collationName() string {
	t := p.next()
	if t.kind != tokIdent && t.kind != tokQIdent {
		p.i--
		p.syntaxError()
	}
	c, ok := canonicalCollation(t.text)
	if !ok && wellFormedCollation(t.text) {
		p.fail(unsupported("collation " + t.text))
	}
	if !ok {
		p.fail(errf(448, 16, 1, "Invalid collation '%s'.", t.text))
	}
	return c
}

func (p *parser) dropStmt() stmt {
	p.expectKw("DROP")
	s := &dropStmt{}
	switch {
	case p.acceptKw("TABLE"):
		s.what = "TABLE"
	case p.acceptKw("TYPE"):
		s.what = "TYPE"
	case p.acceptKw("INDEX"):
		s.what = "INDEX"
	default:
		if p.peek().kind == tokIdent {
			p.fail(unsupported("DROP " + strings.ToUpper(p.peek().text)))
		}
		p.syntaxError()
	}
	if p.isKw("IF") && p.isKwAt(1, "EXISTS") {
		p.i += 2
		s.ifExists = true
	}
	if s.what == "INDEX" {
		parts := p.multipart()
		if len(parts) > 1 {
			// The old form: DROP INDEX t.ix
			s.index = parts[len(parts)-1]
			s.names = []objName{partsToName(p, parts[:len(parts)-1])}
			return s
		}
		s.index = parts[0]
		p.expectKw("ON")
		s.names = []objName{p.objName()}
		return s
	}
	for {
		s.names = append(s.names, p.objName())
		if !p.acceptOp(",") || s.what == "TYPE" {
			break
		}
	}
	return s
}

// ---- SET, DECLARE, EXEC ----

func (p *parser) setStmt() stmt {
	p.expectKw("SET")
	t := p.peek()
	if t.kind == tokVar && !strings.HasPrefix(t.text, "@@") {
		cl := p.setClauses()
		if len(cl) != 1 {
			p.syntaxError()
		}
		return &setVarStmt{set: cl[0]}
	}
	if t.kind != tokIdent {
		p.syntaxError()
	}
	opt := strings.ToUpper(t.text)
	switch opt {
	case "TRANSACTION":
		p.next()
		return p.setIsolationLevel()
	case "LOCK_TIMEOUT", "TEXTSIZE", "ROWCOUNT", "DEADLOCK_PRIORITY", "DATEFIRST", "QUERY_GOVERNOR_COST_LIMIT":
		p.next()
		return p.setValueOption(opt)
	case "IDENTITY_INSERT":
		p.next()
		return p.identityInsert() // identity.go
	case "DATEFORMAT", "LANGUAGE":
		p.next()
		v := p.next()
		if v.kind != tokIdent && v.kind != tokString && v.kind != tokQIdent && v.kind != tokVar {
			p.i--
			p.syntaxError()
		}
		return &setOptionStmt{option: opt, value: v.text}
	}
	return p.setOnOff()
}

// setIsolationLevel parses the rest of SET TRANSACTION ISOLATION LEVEL.
func (p *parser) setIsolationLevel() stmt {
	p.expectKw("ISOLATION")
	p.expectKw("LEVEL")
	var words []string
	for p.peek().kind == tokIdent && len(words) < 2 {
		w := strings.ToUpper(p.peek().text)
		if len(words) == 0 && (w == "READ" || w == "REPEATABLE") || len(words) == 1 ||
			w == "SERIALIZABLE" || w == "SNAPSHOT" {
			words = append(words, w)
			p.next()
			if w == "SERIALIZABLE" || w == "SNAPSHOT" {
				break
			}
			continue
		}
		break
	}
	lvl := strings.Join(words, " ")
	switch lvl {
	case "READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE", "SNAPSHOT":
	default:
		p.syntaxError()
	}
	return &setOptionStmt{option: "TRANSACTION ISOLATION LEVEL", value: lvl}
}

// setValueOption parses the value of SET LOCK_TIMEOUT, TEXTSIZE and the
// other options set to a number (or a word, or a variable).
func (p *parser) setValueOption(opt string) stmt {
	neg := p.acceptOp("-")
	v := p.next()
	if v.kind != tokNumber && v.kind != tokIdent && v.kind != tokVar {
		p.i--
		p.syntaxError()
	}
	val := v.text
	if neg {
		val = "-" + val
	}
	if opt == "ROWCOUNT" && val != "0" {
		p.fail(unsupported("SET ROWCOUNT n"))
	}
	return &setOptionStmt{option: opt, value: strings.ToUpper(val)}
}

// setOnOff parses SET option[, option...] ON|OFF.
func (p *parser) setOnOff() stmt {
	var opts []string
	for {
		t := p.next()
		if t.kind != tokIdent {
			p.i--
			p.syntaxError()
		}
		opts = append(opts, strings.ToUpper(t.text))
		if !p.acceptOp(",") {
			break
		}
	}
	var val string
	switch {
	case p.acceptKw("ON"):
		val = "ON"
	case p.acceptKw("OFF"):
		val = "OFF"
	default:
		p.syntaxError()
	}
	for _, o := range opts {
		switch o {
		case "XACT_ABORT", "NOCOUNT", "ANSI_NULLS", "ANSI_WARNINGS", "ANSI_PADDING", "ANSI_NULL_DFLT_ON",
			"ANSI_NULL_DFLT_OFF", "QUOTED_IDENTIFIER", "CONCAT_NULL_YIELDS_NULL", "ARITHABORT",
			"NUMERIC_ROUNDABORT", "CURSOR_CLOSE_ON_COMMIT", "ANSI_DEFAULTS", "NOEXEC", "PARSEONLY",
			"FMTONLY", "STATISTICS", "SHOWPLAN_ALL", "SHOWPLAN_TEXT", "SHOWPLAN_XML", "FORCEPLAN",
			"REMOTE_PROC_TRANSACTIONS", "IMPLICIT_TRANSACTIONS", "ARITHIGNORE", "NO_BROWSETABLE":
		default:
			p.fail(unsupported("SET " + o))
		}
	}
	// Several options share one statement; the executor applies each.
	return &setOptionStmt{option: strings.Join(opts, ","), value: val}
}

func (p *parser) declareStmt() stmt {
	p.expectKw("DECLARE")
	s := &declareStmt{}
	for {
		t := p.next()
		if t.kind != tokVar || strings.HasPrefix(t.text, "@@") {
			p.i--
			p.syntaxError()
		}
		v := declareVar{pos: tokPos(t), name: t.text}
		p.acceptKw("AS")
		if p.acceptKw("TABLE") {
			ct := &createTableStmt{pos: tokPos(t), name: objName{Name: t.text}}
			p.tableBody(ct)
			v.table = ct
		} else {
			if p.isKw("CURSOR") {
				p.fail(unsupported("CURSOR"))
			}
			v.typ = p.dataType(len(s.vars)+1, false)
			v.typ.Nullable = true
			if isLOB(v.typ.ID) {
				p.fail(errf(2739, 16, 1, "The text, ntext, and image data types are invalid for local variables."))
			}
			if p.acceptOp("=") {
				v.init = p.expr()
			}
		}
		s.vars = append(s.vars, v)
		if !p.acceptOp(",") {
			return s
		}
	}
}

func (p *parser) execStmt() stmt {
	p.next()
	if p.isOp("(") {
		p.fail(unsupported("EXEC (dynamic SQL)"))
	}
	if p.peek().kind == tokVar {
		p.fail(unsupported("EXEC @variable"))
	}
	s := &execStmt{proc: p.objName()}
	if p.peek().kind == tokEOF || p.isOp(";") || (p.peek().kind == tokIdent && reserved[strings.ToUpper(p.peek().text)]) {
		return s
	}
	for {
		t := p.peek()
		if t.kind == tokVar && p.peekN(1).kind == tokOp && p.peekN(1).text == "=" {
			p.i += 2
		}
		s.args = append(s.args, p.expr())
		if p.isKw("OUTPUT") || p.isKw("OUT") {
			p.fail(unsupported("OUTPUT parameters"))
		}
		if !p.acceptOp(",") {
			return s
		}
	}
}

// ---- types ----

// dataType parses a type name with its facets. ordinal numbers the
// column or variable for SQL Server's error 2715.
func (p *parser) dataType(ordinal int, column bool) Type {
	parts := p.multipart()
	name := parts[len(parts)-1]
	if len(parts) > 2 || (len(parts) == 2 && !strings.EqualFold(parts[0], "sys") && !strings.EqualFold(parts[0], "dbo")) {
		p.fail(errf(2715, 16, 6, "Column, parameter, or variable #%d: Cannot find data type %s.", ordinal, strings.Join(parts, ".")))
	}
	var args []string
	if p.acceptOp("(") {
		for {
			t := p.next()
			switch {
			case t.kind == tokNumber:
				args = append(args, t.text)
			case t.kind == tokIdent && strings.EqualFold(t.text, "MAX"):
				args = append(args, "MAX")
			default:
				p.i--
				p.syntaxError()
			}
			if !p.acceptOp(",") {
				break
			}
		}
		p.expectOp(")")
	}
	typ, err := typeFromName(name, args, ordinal, column)
	if err != nil {
		p.fail(err)
	}
	return typ
}

// ---- expressions ----

func (p *parser) expr() expr { return p.orExpr() }

// The binary operator loops below build left-deep trees: each operator
// adds a level, counted by enter until the chain ends.

func (p *parser) orExpr() expr {
	x := p.andExpr()
	n := p.depth
	for p.acceptKw("OR") {
		p.enter()
		x = &binExpr{pos: x.position(), op: "OR", l: x, r: p.andExpr()}
	}
	p.depth = n
	return x
}

func (p *parser) andExpr() expr {
	x := p.notExpr()
	n := p.depth
	for p.acceptKw("AND") {
		p.enter()
		x = &binExpr{pos: x.position(), op: "AND", l: x, r: p.notExpr()}
	}
	p.depth = n
	return x
}

func (p *parser) notExpr() expr {
	p.enter()
	defer p.leave()
	if at := p.here(); p.acceptKw("NOT") {
		return &unaryExpr{pos: at, op: "NOT", x: p.notExpr()}
	}
	return p.predicate()
}

func (p *parser) predicate() expr {
	if at := p.here(); p.acceptKw("EXISTS") {
		p.expectOp("(")
		s := p.selectStmt()
		p.expectOp(")")
		return &existsExpr{pos: at, sub: s}
	}
	x := p.additive()
	t := p.peek()
	if t.kind == tokOp {
		switch t.text {
		case "=", "<>", "!=", "<", "<=", ">", ">=", "!<", "!>":
			p.next()
			op := t.text
			switch op {
			case "!=":
				op = "<>"
			case "!<":
				op = ">="
			case "!>":
				op = "<="
			}
			if p.isKw("ALL") || p.isKw("ANY") || p.isKw("SOME") {
				p.fail(unsupported(strings.ToUpper(p.peek().text) + " (subquery)"))
			}
			return &binExpr{pos: x.position(), op: op, l: x, r: p.additive()}
		}
		return x
	}
	if p.acceptKw("IS") {
		not := p.acceptKw("NOT")
		p.expectKw("NULL")
		return &isNullExpr{pos: x.position(), x: x, not: not}
	}
	not := false
	if p.isKw("NOT") && (p.isKwAt(1, "IN") || p.isKwAt(1, "BETWEEN") || p.isKwAt(1, "LIKE")) {
		p.next()
		not = true
	}
	switch {
	case p.acceptKw("IN"):
		p.expectOp("(")
		in := &inExpr{pos: x.position(), x: x, not: not}
		if p.isKw("SELECT") {
			in.sub = p.selectStmt()
		} else {
			for {
				in.list = append(in.list, p.expr())
				if !p.acceptOp(",") {
					break
				}
			}
		}
		p.expectOp(")")
		return in
	case p.acceptKw("BETWEEN"):
		lo := p.additive()
		p.expectKw("AND")
		hi := p.additive()
		return &betweenExpr{pos: x.position(), x: x, lo: lo, hi: hi, not: not}
	case p.acceptKw("LIKE"):
		l := &likeExpr{pos: x.position(), x: x, pat: p.additive(), not: not}
		if p.acceptKw("ESCAPE") {
			l.esc = p.additive()
		}
		return l
	}
	return x
}

func (p *parser) additive() expr {
	x := p.multiplicative()
	n := p.depth
	defer func() { p.depth = n }()
	for {
		t := p.peek()
		if t.kind == tokOp && (t.text == "+" || t.text == "-" || t.text == "&" || t.text == "|" || t.text == "^") {
			p.next()
			p.enter()
			x = &binExpr{pos: x.position(), op: t.text, l: x, r: p.multiplicative()}
			continue
		}
		return x
	}
}

func (p *parser) multiplicative() expr {
	x := p.unary()
	n := p.depth
	defer func() { p.depth = n }()
	for {
		t := p.peek()
		if t.kind == tokOp && (t.text == "*" || t.text == "/" || t.text == "%") {
			p.next()
			p.enter()
			x = &binExpr{pos: x.position(), op: t.text, l: x, r: p.unary()}
			continue
		}
		return x
	}
}

func (p *parser) unary() expr {
	p.enter()
	defer p.leave()
	t := p.peek()
	if t.kind == tokOp && (t.text == "-" || t.text == "+" || t.text == "~") {
		p.next()
		x := p.unary()
		if t.text == "-" {
			if l, ok := x.(*litExpr); ok {
				switch v := l.val.(type) {
				case int64:
					if l.typ.ID == TypeBigInt && v == -math.MinInt32 {
						return &litExpr{pos: tokPos(t), val: int64(math.MinInt32), typ: Type{ID: TypeInt}}
					}
					return &litExpr{pos: tokPos(t), val: -v, typ: l.typ}
				case float64:
					return &litExpr{pos: tokPos(t), val: -v, typ: l.typ}
				}
			}
		}
		if t.text == "+" {
			return x
		}
		return &unaryExpr{pos: tokPos(t), op: t.text, x: x}
	}
	x := p.primary()
	if p.isOp(".") && p.peekN(1).kind == tokIdent {
		// @x.value(...), CAST(... AS xml).query(...)
		p.fail(unsupported("xml data type method " + strings.ToLower(p.peekN(1).text)))
	}
	for p.acceptKw("COLLATE") {
		x = &collateExpr{pos: x.position(), x: x, collation: p.collationName()}
	}
	return x
}

// primary parses a literal, a variable, a column, a function call,
// CASE, CAST, CONVERT, a parenthesized expression or a subquery. The node
// keeps the position of its first token.
func (p *parser) primary() expr {
	t := p.peek()
	switch t.kind {
	case tokNumber:
		p.next()
		return numberLiteral(p, t)
	case tokString:
		p.next()
		return stringLiteral(t)
	case tokBinary:
		p.next()
		return binaryLiteral(t)
	case tokVar:
		p.next()
		if strings.HasPrefix(t.text, "@@") {
			return &globalExpr{pos: tokPos(t), name: strings.ToUpper(t.text)}
		}
		return &varExpr{pos: tokPos(t), name: t.text}
	case tokOp:
		if t.text == "(" {
			return p.parenthesized()
		}
	case tokQIdent:
		return p.column(t)
	case tokIdent:
		return p.wordExpr(t)
	}
	p.syntaxError()
	return nil
}

// stringLiteral types 'text' as VARCHAR and N'text' as NVARCHAR, of the
// literal's length (at least 1), MAX past 8000 bytes or 4000 characters.
func stringLiteral(t token) expr {
	n := utf8.RuneCountInString(t.text)
	if n == 0 {
		n = 1
	}
	if t.nstr {
		typ := Type{ID: TypeNVarChar, Length: n, Nullable: false}
		if n > 4000 {
			typ.Length = MaxLength
		}
		return &litExpr{pos: tokPos(t), val: t.text, typ: typ}
	}
	typ := Type{ID: TypeVarChar, Length: n}
	if n > 8000 {
		typ.Length = MaxLength
	}
	return &litExpr{pos: tokPos(t), val: t.text, typ: typ}
}

// binaryLiteral types 0x... as VARBINARY of its length (at least 1).
func binaryLiteral(t token) expr {
	b := binaryValue(t.text)
	n := len(b)
	if n == 0 {
		n = 1
	}
	typ := Type{ID: TypeVarBinary, Length: n}
	if n > 8000 {
		typ.Length = MaxLength
	}
	return &litExpr{pos: tokPos(t), val: b, typ: typ}
}

// parenthesized parses (expr) or (SELECT ...). A parenthesized expression
// has no node of its own: it keeps the position of its first token
// inside the parentheses.
func (p *parser) parenthesized() expr {
	at := p.here()
	p.expectOp("(")
	if p.isKw("SELECT") {
		s := p.selectStmt()
		p.expectOp(")")
		return &subqueryExp{pos: at, sub: s}
	}
	x := p.expr()
	p.expectOp(")")
	return x
}

// wordExpr parses an expression that starts with the word t: NULL, a
// keyword expression, a function call or a column.
func (p *parser) wordExpr(t token) expr {
	w := strings.ToUpper(t.text)
	switch w {
	case "NULL":
		p.next()
		return &litExpr{pos: tokPos(t), val: nil, typ: Type{ID: TypeNull, Nullable: true}}
	case "CASE":
		return p.caseExpr()
	case "CAST", "TRY_CAST":
		return p.castExpr()
	case "CONVERT", "TRY_CONVERT":
		return p.convertExpr()
	case "CURRENT_TIMESTAMP":
		p.next()
		return &funcExpr{pos: tokPos(t), name: "GETDATE"}
	case "CURRENT_USER", "SESSION_USER", "USER":
		if !(p.peekN(1).kind == tokOp && p.peekN(1).text == "(") {
			p.next()
			return &funcExpr{pos: tokPos(t), name: "USER_NAME"}
		}
	case "SYSTEM_USER":
		p.next()
		return &funcExpr{pos: tokPos(t), name: "SUSER_SNAME"}
	}
	if p.peekN(1).kind == tokOp && p.peekN(1).text == "(" {
		return p.funcCall()
	}
	if reserved[w] {
		p.syntaxError()
	}
	return p.column(t)
}

// column parses a column reference. A dotted name followed by '(' is a
// call this engine does not have: an xml data type method on a column
// (t.x.value(...)) or a user-defined function (dbo.f(...)).
func (p *parser) column(t token) expr {
	parts := p.multipart()
	if len(parts) > 1 && p.isOp("(") {
		switch m := strings.ToLower(parts[len(parts)-1]); m {
		case "value", "query", "exist", "nodes", "modify":
			p.fail(unsupported("xml data type method " + m))
		}
		p.fail(unsupported("user-defined function " + strings.Join(parts, ".")))
	}
	return &colExpr{pos: tokPos(t), parts: parts}
}

// castExpr parses CAST(x AS type); TRY_CAST is refused.
func (p *parser) castExpr() expr {
	t := p.next()
	if strings.EqualFold(t.text, "TRY_CAST") {
		p.fail(unsupported("TRY_CAST"))
	}
	p.expectOp("(")
	x := p.expr()
	p.expectKw("AS")
	typ := p.dataType(0, false)
	p.expectOp(")")
	return &castExpr{pos: tokPos(t), x: x, typ: typ}
}

// convertExpr parses CONVERT(type, x [, style]); TRY_CONVERT is refused.
func (p *parser) convertExpr() expr {
	t := p.next()
	if strings.EqualFold(t.text, "TRY_CONVERT") {
		p.fail(unsupported("TRY_CONVERT"))
	}
	p.expectOp("(")
	typ := p.dataType(0, false)
	p.expectOp(",")
	c := &castExpr{pos: tokPos(t), typ: typ, x: p.expr()}
	if p.acceptOp(",") {
		c.style = p.expr()
	}
	p.expectOp(")")
	return c
}

func numberLiteral(p *parser, t token) expr {
	s, at := t.text, tokPos(t)
	if !strings.ContainsAny(s, ".eE") {
		v, err := strconv.ParseInt(s, 10, 64)
		if err == nil {
			if v <= math.MaxInt32 {
				// Precision records the literal's digits, which decimal
				// arithmetic reads (see exactFacets).
				digits := max(1, len(strings.TrimLeft(s, "0")))
				return &litExpr{pos: at, val: v, typ: Type{ID: TypeInt, Precision: digits}}
			}
			// SQL Server types a larger integer literal as NUMERIC; BIGINT
			// is this engine's closest type.
			return &litExpr{pos: at, val: v, typ: Type{ID: TypeBigInt}}
		}
	}
	// SQL Server types 1.5 as NUMERIC(2,1), its digits and those after
	// the point, and 1e5 as FLOAT.
	if !strings.ContainsAny(s, "eE") {
		if d, ok := parseDecimal(s); ok {
			whole, frac, _ := strings.Cut(s, ".")
			prec := max(1, len(strings.TrimLeft(whole, "0"))+len(frac))
			if prec > 38 {
				p.fail(errf(1007, 15, 1, "The number '%s' is out of the range for numeric representation (maximum precision 38).", s))
			}
			return &litExpr{pos: at, val: d, typ: Type{ID: TypeNumeric, Precision: prec, Scale: len(frac)}}
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		p.fail(errf(102, 15, 1, "Incorrect syntax near '%s'.", s))
	}
	return &litExpr{pos: at, val: f, typ: Type{ID: TypeFloat}}
}

func (p *parser) caseExpr() expr {
	c := &caseExpr{pos: p.here()}
	p.expectKw("CASE")
	if !p.isKw("WHEN") {
		c.operand = p.expr()
	}
	for p.isKw("WHEN") {
		w := caseWhen{pos: p.here()}
		p.next()
		w.cond = p.expr()
		p.expectKw("THEN")
		w.then = p.expr()
		c.whens = append(c.whens, w)
	}
	if len(c.whens) == 0 {
		p.syntaxError()
	}
	if p.acceptKw("ELSE") {
		c.els = p.expr()
	}
	p.expectKw("END")
	return c
}

// dateUnits maps DATEADD/DATEDIFF unit names and abbreviations.
var dateUnits = map[string]string{
	"year": "year", "yy": "year", "yyyy": "year",
	"quarter": "quarter", "qq": "quarter", "q": "quarter",
	"month": "month", "mm": "month", "m": "month",
	"dayofyear": "dayofyear", "dy": "dayofyear", "y": "dayofyear",
	"day": "day", "dd": "day", "d": "day",
	"week": "week", "wk": "week", "ww": "week",
	"weekday": "weekday", "dw": "weekday", "w": "weekday",
	"hour": "hour", "hh": "hour",
	"minute": "minute", "mi": "minute", "n": "minute",
	"second": "second", "ss": "second", "s": "second",
	"millisecond": "millisecond", "ms": "millisecond",
	"microsecond": "microsecond", "mcs": "microsecond",
	"nanosecond": "nanosecond", "ns": "nanosecond",
}

func (p *parser) funcCall() expr {
	t := p.next()
	name := strings.ToUpper(t.text)
	p.expectOp("(")
	f := &funcExpr{pos: tokPos(t), name: name}
	switch name {
	case "DATEADD", "DATEDIFF", "DATEDIFF_BIG", "DATEPART", "DATENAME", "DATETRUNC":
		u := p.next()
		if u.kind != tokIdent && u.kind != tokQIdent {
			p.i--
			p.syntaxError()
		}
		unit, ok := dateUnits[strings.ToLower(u.text)]
		if !ok {
			p.fail(errf(155, 15, 1, "'%s' is not a recognized %s option.", u.text, strings.ToLower(name)))
		}
		f.unit = unit
		if p.isOp(")") {
			p.syntaxError()
		}
		p.expectOp(",")
	}
	if p.acceptOp(")") {
		if p.isKw("OVER") {
			p.fail(unsupported("OVER (window functions)"))
		}
		return f
	}
	if p.isOp("*") {
		p.next()
		f.star = true
		p.expectOp(")")
		return f
	}
	if p.acceptKw("DISTINCT") {
		f.distinct = true
	} else {
		p.acceptKw("ALL")
	}
	for {
		f.args = append(f.args, p.expr())
		if !p.acceptOp(",") {
			break
		}
	}
	p.expectOp(")")
	if p.isKw("OVER") {
		p.fail(unsupported("OVER (window functions)"))
	}
	if p.isKw("WITHIN") {
		p.fail(unsupported("WITHIN GROUP"))
	}
	return f
}
