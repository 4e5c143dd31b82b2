package tsql

import "testing"

// XML: the text SQL Server writes back for what this engine models, a
// refusal for the rest, and XML's rules (no comparison, sort or grouping).
func TestXML(t *testing.T) {
	runFuncCases(t, []funcCase{
		{sql: "SELECT CAST('<root/>' AS xml)", want: "<root/>"},
		{sql: "SELECT CAST('<a></a>' AS xml)", want: "<a/>"},
		{sql: "SELECT CAST(N'<a x=''1'' y=\"&lt;2&quot;\">t &amp; &#65;</a>' AS xml)", want: `<a x="1" y="&lt;2&quot;">t &amp; A</a>`},
		{sql: "SELECT CAST('<a>\n  <b/>\n  <c>x y</c>\n</a>' AS xml)", want: "<a><b/><c>x y</c></a>"},
		{sql: "SELECT CAST('text <b/> more' AS xml)", want: "text <b/> more"},
		{sql: "SELECT CAST('' AS xml)", want: ""},
		{sql: "SELECT CAST(CAST('<a/>' AS xml) AS nvarchar(max))", want: "<a/>"},
		{sql: "SELECT CAST(CAST('<a/>' AS xml) AS varchar(2))", want: "<a"},
		{sql: "SELECT ISNULL(CAST(NULL AS xml), '<b/>')", want: "<b/>"},
		// What is not modelled, and malformed XML, are refused.
		{sql: "SELECT CAST('<a>' AS xml)", wantErr: 40517},
		{sql: "SELECT CAST('<a></b>' AS xml)", wantErr: 40517},
		{sql: "SELECT CAST('<a x=\"1\" x=\"2\"/>' AS xml)", wantErr: 40517},
		{sql: "SELECT CAST('<?xml version=\"1.0\"?><a/>' AS xml)", wantErr: 40517},
		{sql: "SELECT CAST('<a><!-- c --></a>' AS xml)", wantErr: 40517},
		{sql: "SELECT CAST('<a><![CDATA[x]]></a>' AS xml)", wantErr: 40517},
		{sql: "SELECT CAST('<p:a xmlns:p=\"u\"/>' AS xml)", wantErr: 40517},
		{sql: "SELECT CAST('<a>1 > 0</a>' AS xml)", wantErr: 40517},
		{sql: "SELECT CONVERT(xml, '<a> </a>', 1)", wantErr: 40517},
		{sql: "SELECT CAST(1 AS xml)", wantErr: 529},
		{sql: "SELECT CAST(CAST('<a/>' AS xml) AS int)", wantErr: 529},
		{sql: "SELECT CASE WHEN CAST('<a/>' AS xml) = '<a/>' THEN 1 ELSE 0 END", wantErr: 305},
		{sql: "SELECT CAST(s AS xml) FROM nums ORDER BY 1", wantErr: 305},
		{sql: "SELECT COUNT(*) FROM nums GROUP BY CAST(s AS xml)", wantErr: 305},
		{sql: "SELECT DISTINCT CAST(s AS xml) FROM nums", wantErr: 421},
		{sql: "SELECT CAST('<a/>' AS xml) + 'x'", wantErr: 402},
		{sql: "SELECT LEN(CAST('<a/>' AS xml))", wantErr: 40517},
		{sql: "SELECT DATALENGTH(CAST('<a/>' AS xml))", wantErr: 40517},
		{sql: "SELECT CASE WHEN CAST('<a/>' AS xml) LIKE '%a%' THEN 1 ELSE 0 END", wantErr: 40517},
		{sql: "SELECT MAX(CAST(s AS xml)) FROM nums", wantErr: 8117},
		{sql: "DECLARE @x xml = '<a>1</a>'; SELECT @x", want: "<a>1</a>"},
		// XML's methods are refused, not a syntax error.
		{sql: "DECLARE @x xml = '<a>1</a>'; SELECT @x.value('(/a)[1]', 'int')", wantErr: 40517},
		{sql: "SELECT CAST('<a>1</a>' AS xml).query('/a')", wantErr: 40517},
		{sql: "SELECT n.s.exist('/a') FROM nums AS n", wantErr: 40517},
		{sql: "SELECT dbo.f(1)", wantErr: 40517},
	})
}
