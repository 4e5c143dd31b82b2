package tsql

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// errXMLNotComparable is SQL Server's 305, for XML compared, sorted or
// grouped.
func errXMLNotComparable() *Error {
	return errf(305, 16, 1, "The XML data type cannot be compared or sorted, except when using the IS NULL operator.")
}

// parseXML reads a string as an XML value and returns the text SQL
// Server gives it back as. SQL Server stores XML in a binary form and
// writes it out again: an empty element as <a/>, attributes in double
// quotes, character references as the characters, and, under CAST's
// default style, without the white space between elements. This engine
// models that for documents and fragments of elements, attributes and
// text. What it does not model is refused (40517): comments, processing
// instructions (the XML declaration included), DTDs, CDATA sections,
// namespaces, '>' in text or attributes, quotes, tabs and line breaks in
// attributes, carriage returns in text; and malformed XML, for which SQL
// Server raises one of its 94xx XML parsing errors.
func parseXML(s string) (string, error) {
	if strings.Contains(s, "<![CDATA[") {
		return "", unsupported("XML with a CDATA section")
	}
	if strings.Contains(s, "\r") {
		// XML reads a line break \r\n as \n; how SQL Server writes the
		// result back is not modelled.
		return "", unsupported("XML with a carriage return")
	}
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	var b strings.Builder
	var open []string
	pending := false // a start tag written without its '>'
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", unsupported("malformed XML (SQL Server raises an XML parsing error, 94xx)")
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if x.Name.Space != "" {
				return "", unsupported("XML namespaces")
			}
			if pending {
				b.WriteByte('>')
			}
			b.WriteString("<" + x.Name.Local)
			seen := map[string]bool{}
			for _, a := range x.Attr {
				if a.Name.Space != "" || a.Name.Local == "xmlns" {
					return "", unsupported("XML namespaces")
				}
				if seen[a.Name.Local] {
					return "", unsupported("malformed XML (SQL Server raises an XML parsing error, 94xx)")
				}
				seen[a.Name.Local] = true
				if strings.ContainsAny(a.Value, ">'\t\n\r") {
					return "", unsupported("an XML attribute value with '>', a quote, a tab or a line break")
				}
				v := strings.NewReplacer("&", "&amp;", "<", "&lt;", `"`, "&quot;").Replace(a.Value)
				b.WriteString(" " + a.Name.Local + `="` + v + `"`)
			}
			open = append(open, x.Name.Local)
			pending = true
		case xml.EndElement:
			if len(open) == 0 || x.Name.Space != "" || open[len(open)-1] != x.Name.Local {
				return "", unsupported("malformed XML (SQL Server raises an XML parsing error, 94xx)")
			}
			open = open[:len(open)-1]
			if pending {
				b.WriteString("/>")
				pending = false
			} else {
				b.WriteString("</" + x.Name.Local + ">")
			}
		case xml.CharData:
			t := string(x)
			if strings.TrimSpace(t) == "" {
				// Insignificant white space, which CAST's default style
				// discards.
				continue
			}
			if strings.ContainsAny(t, ">\r") {
				return "", unsupported("XML text with '>' or a carriage return")
			}
			if pending {
				b.WriteByte('>')
				pending = false
			}
			b.WriteString(strings.NewReplacer("&", "&amp;", "<", "&lt;").Replace(t))
		case xml.Comment:
			return "", unsupported("XML comments")
		case xml.ProcInst:
			return "", unsupported("XML processing instructions")
		default:
			return "", unsupported("XML DTDs")
		}
	}
	if len(open) > 0 {
		return "", unsupported("malformed XML (SQL Server raises an XML parsing error, 94xx)")
	}
	return b.String(), nil
}

// convertXML converts to or from XML: a character string is parsed (see
// parseXML), XML converts to the character types as its text; the
// numbers, dates and UNIQUEIDENTIFIER do not convert to or from XML
// (529), and binary conversions, which read or write SQL Server's binary
// XML form, are refused.
func convertXML(v any, from, to Type) (any, error) {
	switch {
	case from.ID == TypeXML && to.ID == TypeXML:
		return v, nil
	case to.ID == TypeXML && (isString(from.ID) || from.ID == TypeText || from.ID == TypeNText):
		s, _ := v.(string)
		return parseXML(s)
	case from.ID == TypeXML && isString(to.ID):
		s, _ := v.(string)
		return fitString(s, to), nil
	case isNumber(from.ID) || isNumber(to.ID) || isTime(from.ID) || isTime(to.ID) ||
		from.ID == TypeTime || to.ID == TypeTime || from.ID == TypeGUID || to.ID == TypeGUID:
		return nil, errf(529, 16, 2, "Explicit conversion from data type %s to %s is not allowed.", from.baseName(), to.baseName())
	}
	return nil, unsupported("CAST from " + from.baseName() + " to " + to.baseName())
}
