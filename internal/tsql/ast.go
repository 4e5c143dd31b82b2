package tsql

// The syntax tree produced by the parser.

// objName is a multi-part object name; empty parts were omitted.
type objName struct {
	DB, Schema, Name string
}

func (n objName) String() string {
	s := n.Name
	if n.Schema != "" {
		s = n.Schema + "." + s
	}
	if n.DB != "" {
		if n.Schema == "" {
			s = "." + s
		}
		s = n.DB + "." + s
	}
	return s
}

// pos is where a node starts in its batch: the line (from 1) and the
// column (from 1, in bytes) of its first token. Every node of the tree
// embeds one; errors report a statement's line.
type pos struct{ line, col int32 }

// position returns the node's position.
func (p pos) position() pos { return p }

// setPos sets the node's position.
func (p *pos) setPos(q pos) { *p = q }

// stmt is a statement. The kinds are the *...Stmt types of this file.
type stmt interface {
	kind() string
	position() pos
	setPos(pos)
}

// expr is an expression: one of the *...Expr types of this file (and
// *subqueryExp); exprNode closes the set.
type expr interface {
	exprNode()
	position() pos
}

type (
	litExpr struct {
		pos
		val any
		typ Type
	}
	colExpr struct {
		pos
		parts []string // qualifier parts then the column name
	}
	varExpr struct {
		pos
		name string // @name
	}
	globalExpr struct {
		pos
		name string // @@NAME, upper case
	}
	binExpr struct {
		pos
		op   string // + - * / % = <> < <= > >= AND OR
		l, r expr
	}
	unaryExpr struct {
		pos
		op string // NOT, -, +, ~
		x  expr
	}
	isNullExpr struct {
		pos
		x   expr
		not bool
	}
	inExpr struct {
		pos
		x    expr
		list []expr
		sub  *selectStmt
		not  bool
	}
	betweenExpr struct {
		pos
		x, lo, hi expr
		not       bool
	}
	likeExpr struct {
		pos
		x, pat, esc expr
		not         bool
	}
	funcExpr struct {
		pos
		name     string // upper case
		args     []expr
		star     bool   // COUNT(*)
		distinct bool   // COUNT(DISTINCT x)
		unit     string // DATEADD/DATEDIFF/DATEPART unit, lower case
	}
	castExpr struct {
		pos
		x     expr
		typ   Type
		style expr // CONVERT's style, or nil
	}
	collateExpr struct {
		pos
		x         expr
		collation string
	}
	existsExpr struct {
		pos
		sub *selectStmt
	}
	subqueryExp struct {
		pos
		sub *selectStmt
	}
	caseExpr struct {
		pos
		operand expr // nil for a searched CASE
		whens   []caseWhen
		els     expr
	}
	caseWhen struct {
		pos
		cond, then expr
	}
)

// tableRef is one source in a FROM clause.
type tableRef struct {
	pos
	name    objName     // a table or catalog view
	varName string      // @table variable or TVP
	values  [][]expr    // (VALUES ...)
	sub     *selectStmt // (SELECT ...)
	alias   string
	colAls  []string // AS v (c1, c2)
	hints   []string
	join    string // "" for the first source, "INNER", "LEFT", "CROSS"
	on      expr
}

type selectItem struct {
	pos
	x     expr
	alias string
	star  bool
	qual  string // qualifier of t.*
}

type orderItem struct {
	pos
	x    expr
	desc bool
}

type selectStmt struct {
	pos
	distinct bool
	top      expr
	items    []selectItem
	from     []tableRef
	where    expr
	groupBy  []expr
	having   expr
	orderBy  []orderItem
	assigns  []string // SELECT @v = expr: the variable of each item, "" otherwise
	into     *objName // SELECT ... INTO table (selectinto.go)
}

type setClause struct {
	pos
	col  []string // column (optionally qualified); nil for a variable
	vr   string   // @var
	op   string   // "=", "+=", ...
	x    expr
	line int // as pos.line (which it hides)
}

type insertStmt struct {
	pos
	target  tableRef
	cols    []string
	values  [][]expr
	sel     *selectStmt
	defVals bool
}

type updateStmt struct {
	pos
	top    expr
	target tableRef
	sets   []setClause
	from   []tableRef
	where  expr
}

type deleteStmt struct {
	pos
	top    expr
	target tableRef
	from   []tableRef
	where  expr
}

type mergeClause struct {
	pos
	match  string // "MATCHED", "TARGET", "SOURCE"
	cond   expr
	action string // "UPDATE", "DELETE", "INSERT"
	sets   []setClause
	cols   []string
	values []expr
}

type mergeStmt struct {
	pos
	top     expr
	target  tableRef
	source  tableRef
	on      expr
	clauses []mergeClause
}

type truncateStmt struct {
	pos
	name objName
}

type colDef struct {
	pos
	name     string
	typ      Type
	nullSet  bool // NULL or NOT NULL was given
	pk       bool
	pkName   string
	clusterd string // "CLUSTERED", "NONCLUSTERED" or ""
	unique   bool
	ident    *identSpec // IDENTITY(seed, increment) (identity.go)
}

type createTableStmt struct {
	pos
	name     objName
	isType   bool // CREATE TYPE ... AS TABLE
	cols     []colDef
	pkCols   []string
	pkName   string
	pkClust  string
	uniques  [][]string
	typeName bool
}

type createIndexStmt struct {
	pos
	name    string
	table   objName
	unique  bool
	cluster string
	cols    []string
}

type dropStmt struct {
	pos
	what     string // TABLE, TYPE, INDEX
	names    []objName
	index    string // DROP INDEX name ON t
	ifExists bool
}

type setOptionStmt struct {
	pos
	option string // upper case, e.g. XACT_ABORT, TRANSACTION ISOLATION LEVEL
	value  string // ON, OFF, or the argument
}

type setVarStmt struct {
	pos
	set setClause
}

type declareVar struct {
	pos
	name  string
	typ   Type
	table *createTableStmt
	init  expr
}

type declareStmt struct {
	pos
	vars []declareVar
}

type beginTranStmt struct{ pos }
type commitStmt struct{ pos }
type rollbackStmt struct{ pos }

type ifStmt struct {
	pos
	cond     expr
	then     stmt
	els      stmt
	line     int // the IF's line, as pos.line (which it hides)
	hasElse  bool
	condLine int // the condition's line
}

type whileStmt struct {
	pos
	cond expr
	body stmt
}

type blockStmt struct {
	pos
	body []stmt
}
type breakStmt struct{ pos }
type continueStmt struct{ pos }

type execStmt struct {
	pos
	proc objName
	args []expr
}

type printStmt struct {
	pos
	x expr
}

// raiserrorStmt is RAISERROR (msg, severity, state, args...) [WITH ...].
type raiserrorStmt struct {
	pos
	msg, severity, state expr
	args                 []expr
	with                 []string // LOG, NOWAIT, SETERROR
}

// waitforStmt is WAITFOR DELAY 'hh:mm[:ss[.mmm]]'.
type waitforStmt struct {
	pos
	delay expr
}

func (*litExpr) exprNode()     {}
func (*colExpr) exprNode()     {}
func (*varExpr) exprNode()     {}
func (*globalExpr) exprNode()  {}
func (*binExpr) exprNode()     {}
func (*unaryExpr) exprNode()   {}
func (*isNullExpr) exprNode()  {}
func (*inExpr) exprNode()      {}
func (*betweenExpr) exprNode() {}
func (*likeExpr) exprNode()    {}
func (*funcExpr) exprNode()    {}
func (*castExpr) exprNode()    {}
func (*collateExpr) exprNode() {}
func (*existsExpr) exprNode()  {}
func (*subqueryExp) exprNode() {}
func (*caseExpr) exprNode()    {}

func (*selectStmt) kind() string      { return "SELECT" }
func (*insertStmt) kind() string      { return "INSERT" }
func (*updateStmt) kind() string      { return "UPDATE" }
func (*deleteStmt) kind() string      { return "DELETE" }
func (*mergeStmt) kind() string       { return "MERGE" }
func (*truncateStmt) kind() string    { return "TRUNCATE" }
func (*createIndexStmt) kind() string { return "CREATE INDEX" }
func (*setOptionStmt) kind() string   { return "SET" }
func (*setVarStmt) kind() string      { return "SET" }
func (*declareStmt) kind() string     { return "DECLARE" }
func (*beginTranStmt) kind() string   { return "BEGIN TRAN" }
func (*commitStmt) kind() string      { return "COMMIT" }
func (*rollbackStmt) kind() string    { return "ROLLBACK" }
func (*ifStmt) kind() string          { return "IF" }
func (*whileStmt) kind() string       { return "WHILE" }
func (*blockStmt) kind() string       { return "BEGIN" }
func (*breakStmt) kind() string       { return "BREAK" }
func (*continueStmt) kind() string    { return "CONTINUE" }
func (*execStmt) kind() string        { return "EXECUTE" }
func (*printStmt) kind() string       { return "PRINT" }
func (*waitforStmt) kind() string     { return "WAITFOR" }
func (*raiserrorStmt) kind() string   { return "RAISERROR" }

func (s *createTableStmt) kind() string {
	if s.isType {
		return "CREATE TYPE"
	}
	return "CREATE TABLE"
}

func (s *dropStmt) kind() string { return "DROP " + s.what }
