package tsql

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestParseTree parses the statements the store and its tools send, and
// compares the tree with the expected one. A tree is written one node a
// line: the node's type, @line:col of its first token, its non-zero
// scalar fields, then its child nodes indented (a list's items after
// "-").
func TestParseTree(t *testing.T) {
	tests := []struct {
		name, sql, want string
	}{
		{"SELECT with TOP, WHERE and ORDER BY", "SELECT TOP (5) token, expiry AS e\nFROM dbo.sessions WITH (NOLOCK)\nWHERE expiry > @p1 AND data IS NOT NULL\nORDER BY expiry DESC, token", `
selectStmt@1:1
  top: litExpr@1:13 val=5 typ=int
  items:
    - selectItem@1:16
        x: colExpr@1:16 parts=[token]
    - selectItem@1:23 alias="e"
        x: colExpr@1:23 parts=[expiry]
  from:
    - tableRef@2:6 name=dbo.sessions hints=[NOLOCK]
  where: binExpr@3:7 op="AND"
    l: binExpr@3:7 op=">"
      l: colExpr@3:7 parts=[expiry]
      r: varExpr@3:16 name="@p1"
    r: isNullExpr@3:24 not=true
      x: colExpr@3:24 parts=[data]
  orderBy:
    - orderItem@4:10 desc=true
        x: colExpr@4:10 parts=[expiry]
    - orderItem@4:23
        x: colExpr@4:23 parts=[token]`},
		{"SELECT with CASE, IN, BETWEEN, NOT LIKE and GROUP BY", "SELECT CASE WHEN a IN (1, 2) THEN 'x' ELSE 'y' END AS k, COUNT(*)\nFROM t\nWHERE c BETWEEN 1 AND 2 OR NOT d LIKE 'a%' GROUP BY a", `
selectStmt@1:1
  items:
    - selectItem@1:8 alias="k"
        x: caseExpr@1:8
          whens:
            - caseWhen@1:13
                cond: inExpr@1:18
                  x: colExpr@1:18 parts=[a]
                  list:
                    - litExpr@1:24 val=1 typ=int
                    - litExpr@1:27 val=2 typ=int
                then: litExpr@1:35 val="x" typ=varchar(1)
          els: litExpr@1:44 val="y" typ=varchar(1)
    - selectItem@1:58
        x: funcExpr@1:58 name="COUNT" star=true
  from:
    - tableRef@2:6 name=t
  where: binExpr@3:7 op="OR"
    l: betweenExpr@3:7
      x: colExpr@3:7 parts=[c]
      lo: litExpr@3:17 val=1 typ=int
      hi: litExpr@3:23 val=2 typ=int
    r: unaryExpr@3:28 op="NOT"
      x: likeExpr@3:32
        x: colExpr@3:32 parts=[d]
        pat: litExpr@3:39 val="a%" typ=varchar(2)
  groupBy:
    - colExpr@3:53 parts=[a]`},
		{"the store's MERGE of a table-valued parameter", "SET XACT_ABORT ON;\nMERGE [dbo].[sessions] WITH (UPDLOCK, HOLDLOCK) AS t\nUSING @rows AS s ON t.token = s.token\nWHEN MATCHED THEN UPDATE SET t.data = s.data, t.expiry = s.expiry\nWHEN NOT MATCHED BY TARGET THEN INSERT (token, data, expiry) VALUES (s.token, s.data, s.expiry);", `
setOptionStmt@1:1 option="XACT_ABORT" value="ON"
mergeStmt@2:1
  target: tableRef@2:7 name=dbo.sessions alias="t" hints=[UPDLOCK HOLDLOCK]
  source: tableRef@3:7 varName="@rows" alias="s"
  on: binExpr@3:21 op="="
    l: colExpr@3:21 parts=[t token]
    r: colExpr@3:31 parts=[s token]
  clauses:
    - mergeClause@4:1 match="MATCHED" action="UPDATE"
        sets:
          - setClause@4:30 col=[t data] op="=" line=4
              x: colExpr@4:39 parts=[s data]
          - setClause@4:47 col=[t expiry] op="=" line=4
              x: colExpr@4:58 parts=[s expiry]
    - mergeClause@5:1 match="TARGET" action="INSERT" cols=[token data expiry]
        values:
          - colExpr@5:70 parts=[s token]
          - colExpr@5:79 parts=[s data]
          - colExpr@5:87 parts=[s expiry]`},
		{"the store's typeless UPDATE ... FROM (VALUES ...)", "UPDATE t SET t.data = v.data, t.expiry = v.expiry\nFROM [dbo].[sessions] AS t WITH (UPDLOCK, SERIALIZABLE)\nINNER JOIN (VALUES (CAST(@p1 AS CHAR(43)), @p2, CAST(@p3 AS DATETIME2(6)))) AS v (token, data, expiry) ON t.token = v.token\nWHERE v.data IS NOT NULL;", `
updateStmt@1:1
  target: tableRef@1:8 name=t
  sets:
    - setClause@1:14 col=[t data] op="=" line=1
        x: colExpr@1:23 parts=[v data]
    - setClause@1:31 col=[t expiry] op="=" line=1
        x: colExpr@1:42 parts=[v expiry]
  from:
    - tableRef@2:6 name=dbo.sessions alias="t" hints=[UPDLOCK SERIALIZABLE]
    - tableRef@3:12 alias="v" colAls=[token data expiry] join="INNER"
        values:
          -
              - castExpr@3:21 typ=char(43)
                  x: varExpr@3:26 name="@p1"
              - varExpr@3:44 name="@p2"
              - castExpr@3:49 typ=datetime2(6)
                  x: varExpr@3:54 name="@p3"
        on: binExpr@3:107 op="="
          l: colExpr@3:107 parts=[t token]
          r: colExpr@3:117 parts=[v token]
  where: isNullExpr@4:7 not=true
    x: colExpr@4:7 parts=[v data]`},
		{"INSERT ... VALUES", "INSERT INTO dbo.sessions (token, data, expiry)\nVALUES (N'a', 0x0102, '2030-01-01'), (@t, NULL, SYSUTCDATETIME())", `
insertStmt@1:1 cols=[token data expiry]
  target: tableRef@1:13 name=dbo.sessions
  values:
    -
        - litExpr@2:9 val="a" typ=nvarchar(1)
        - litExpr@2:15 val=0x0102 typ=varbinary(2)
        - litExpr@2:23 val="2030-01-01" typ=varchar(10)
    -
        - varExpr@2:39 name="@t"
        - litExpr@2:43 typ=null null
        - funcExpr@2:49 name="SYSUTCDATETIME"`},
		{"the store's typeless INSERT ... SELECT ... WHERE NOT EXISTS", "INSERT INTO [dbo].[sessions] (token, data, expiry)\nSELECT v.token, v.data, v.expiry FROM @rows AS v\nWHERE NOT EXISTS (SELECT 1 FROM [dbo].[sessions] AS t WITH (UPDLOCK, SERIALIZABLE) WHERE t.token = v.token);", `
insertStmt@1:1 cols=[token data expiry]
  target: tableRef@1:13 name=dbo.sessions
  sel: selectStmt@2:1
    items:
      - selectItem@2:8
          x: colExpr@2:8 parts=[v token]
      - selectItem@2:17
          x: colExpr@2:17 parts=[v data]
      - selectItem@2:25
          x: colExpr@2:25 parts=[v expiry]
    from:
      - tableRef@2:39 varName="@rows" alias="v"
    where: unaryExpr@3:7 op="NOT"
      x: existsExpr@3:11
        sub: selectStmt@3:19
          items:
            - selectItem@3:26
                x: litExpr@3:26 val=1 typ=int
          from:
            - tableRef@3:33 name=dbo.sessions alias="t" hints=[UPDLOCK SERIALIZABLE]
          where: binExpr@3:90 op="="
            l: colExpr@3:90 parts=[t token]
            r: colExpr@3:100 parts=[v token]`},
		{"the store's DELETE TOP (n), then SELECT @@ROWCOUNT", "DELETE TOP (@p1) FROM [dbo].[sessions] WHERE expiry <= CAST(@p2 AS DATETIME2(6));\nSELECT @@ROWCOUNT;", `
deleteStmt@1:1
  top: varExpr@1:13 name="@p1"
  target: tableRef@1:23 name=dbo.sessions
  where: binExpr@1:46 op="<="
    l: colExpr@1:46 parts=[expiry]
    r: castExpr@1:56 typ=datetime2(6)
      x: varExpr@1:61 name="@p2"
selectStmt@2:1
  items:
    - selectItem@2:8
        x: globalExpr@2:8 name="@@ROWCOUNT"`},
		{"DECLARE and SET", "DECLARE @n INT = 1, @s NVARCHAR(10);\nSET @n += -2 * (@n - 1);\nSET NOCOUNT ON", `
declareStmt@1:1
  vars:
    - declareVar@1:9 name="@n" typ=int null
        init: litExpr@1:18 val=1 typ=int
    - declareVar@1:21 name="@s" typ=nvarchar(10) null
setVarStmt@2:1
  set: setClause@2:5 vr="@n" op="+=" line=2
    x: binExpr@2:11 op="*"
      l: litExpr@2:11 val=-2 typ=int
      r: binExpr@2:17 op="-"
        l: varExpr@2:17 name="@n"
        r: litExpr@2:22 val=1 typ=int
setOptionStmt@3:1 option="NOCOUNT" value="ON"`},
		{"the store's CREATE TYPE AS TABLE", "CREATE TYPE dbo.sessions_batch AS TABLE (\n  token CHAR(43) COLLATE Latin1_General_BIN2 NOT NULL PRIMARY KEY,\n  data VARBINARY(MAX) NOT NULL,\n  expiry DATETIME2(6) NOT NULL)", `
createTableStmt@1:1 name=dbo.sessions_batch isType=true
  cols:
    - colDef@2:3 name="token" typ=char(43) collate Latin1_General_BIN2 nullSet=true pk=true
    - colDef@3:3 name="data" typ=varbinary(max) nullSet=true
    - colDef@4:3 name="expiry" typ=datetime2(6) nullSet=true`},
		{"IF ... BEGIN ... END ELSE", "IF OBJECT_ID(N'dbo.sessions', N'U') IS NULL\nBEGIN\n  PRINT 'missing';\n  RAISERROR ('no table %s', 16, 1, 'sessions')\nEND\nELSE\n  BEGIN TRAN", `
ifStmt@1:1 line=1 hasElse=true condLine=1
  cond: isNullExpr@1:4
    x: funcExpr@1:4 name="OBJECT_ID"
      args:
        - litExpr@1:14 val="dbo.sessions" typ=nvarchar(12)
        - litExpr@1:31 val="U" typ=nvarchar(1)
  then: blockStmt@2:1
    body:
      - printStmt@3:3
          x: litExpr@3:9 val="missing" typ=varchar(7)
      - raiserrorStmt@4:3
          msg: litExpr@4:14 val="no table %s" typ=varchar(11)
          severity: litExpr@4:29 val=16 typ=int
          state: litExpr@4:33 val=1 typ=int
          args:
            - litExpr@4:36 val="sessions" typ=varchar(8)
  els: beginTranStmt@7:3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stmts, err := parseBatch(tt.sql)
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for _, s := range stmts {
				got.WriteString("\n")
				dumpNode(&got, reflect.ValueOf(s), "")
			}
			if got.String() != tt.want {
				t.Errorf("tree of %q:%s\nwant:%s", tt.sql, got.String(), tt.want)
			}
		})
	}
}

var (
	typeType    = reflect.TypeOf(Type{})
	objNameType = reflect.TypeOf(objName{})
	posType     = reflect.TypeOf(pos{})
)

// dumpNode writes v as TestParseTree shows a tree; ind is the indentation
// of v's line. reflect reads the unexported fields, and fmt prints the
// values it holds.
func dumpNode(b *strings.Builder, v reflect.Value, ind string) {
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		dumpNode(b, v.Elem(), ind)
	case reflect.Struct:
		switch v.Type() {
		case typeType:
			b.WriteString(typeString(v))
			return
		case objNameType:
			n := objName{DB: v.Field(0).String(), Schema: v.Field(1).String(), Name: v.Field(2).String()}
			b.WriteString(n.String())
			return
		}
		b.WriteString(v.Type().Name())
		var children []int
		for i := 0; i < v.NumField(); i++ {
			f, fv := v.Type().Field(i), v.Field(i)
			switch {
			case f.Type == posType:
				fmt.Fprintf(b, "@%d:%d", fv.Field(0).Int(), fv.Field(1).Int())
			case fv.IsZero():
			case isScalar(fv):
				fmt.Fprintf(b, " %s=", f.Name)
				dumpNode(b, fv, ind)
			default:
				children = append(children, i)
			}
		}
		for _, i := range children {
			fmt.Fprintf(b, "\n%s  %s:", ind, v.Type().Field(i).Name)
			if v.Field(i).Kind() != reflect.Slice {
				b.WriteString(" ")
			}
			dumpNode(b, v.Field(i), ind+"  ")
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			fmt.Fprintf(b, "0x%X", v.Bytes())
			return
		}
		if v.Type().Elem().Kind() == reflect.String {
			b.WriteString("[")
			for i := 0; i < v.Len(); i++ {
				if i > 0 {
					b.WriteString(" ")
				}
				b.WriteString(v.Index(i).String()) // a name: unquoted
			}
			b.WriteString("]")
			return
		}
		for i := 0; i < v.Len(); i++ {
			fmt.Fprintf(b, "\n%s  -", ind)
			if v.Index(i).Kind() != reflect.Slice {
				b.WriteString(" ")
			}
			dumpNode(b, v.Index(i), ind+"    ")
		}
	case reflect.String:
		fmt.Fprintf(b, "%q", v.String())
	default:
		fmt.Fprint(b, v)
	}
}

// isScalar reports whether v is written inline: not a node, nor a list
// of nodes.
func isScalar(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return true
		}
		return isScalar(v.Elem())
	case reflect.Pointer:
		return v.IsNil()
	case reflect.Struct:
		return v.Type() == typeType || v.Type() == objNameType
	case reflect.Slice:
		e := v.Type().Elem()
		return e.Kind() == reflect.String || e.Kind() == reflect.Uint8
	}
	return true
}

// typeString writes a Type: its name and facets, then its collation and
// NULL when set.
func typeString(v reflect.Value) string {
	t := Type{ID: TypeID(v.FieldByName("ID").Int()), Length: int(v.FieldByName("Length").Int()),
		Scale: int(v.FieldByName("Scale").Int())}
	s := t.String()
	if c := v.FieldByName("Collation").String(); c != "" {
		s += " collate " + c
	}
	if v.FieldByName("Nullable").Bool() {
		s += " null"
	}
	return s
}
