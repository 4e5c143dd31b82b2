package sqlname_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/scs-contrib/mssqlstore"
	. "github.com/scs-contrib/mssqlstore/internal/sqlname"
)

func TestParseName(t *testing.T) {
	tests := []struct {
		in         string
		want       Name
		wantQuoted string
		wantErr    string
	}{
		{in: "sessions", want: Name{Object: "sessions"}, wantQuoted: "[sessions]"},
		{in: "dbo.sessions", want: Name{"dbo", "sessions"}, wantQuoted: "[dbo].[sessions]"},
		{in: "[dbo].[sessions]", want: Name{"dbo", "sessions"}, wantQuoted: "[dbo].[sessions]"},
		{in: "[my.schema].[odd]]name]", want: Name{"my.schema", "odd]name"}, wantQuoted: "[my.schema].[odd]]name]"},
		{in: "dbo.x;DROP TABLE y", want: Name{"dbo", "x;DROP TABLE y"}, wantQuoted: "[dbo].[x;DROP TABLE y]"},
		{in: "app.[web sessions]", want: Name{"app", "web sessions"}, wantQuoted: "[app].[web sessions]"},
		{in: "[it's]", want: Name{Object: "it's"}, wantQuoted: "[it's]"},
		{in: "", wantErr: "empty name part"},
		{in: "dbo.", wantErr: "empty name part"},
		{in: "dbo.a]b", wantErr: "bracket inside an unquoted part"},
		{in: "a[b", wantErr: "bracket inside an unquoted part"},
		{in: "[dbo", wantErr: "unterminated ["},
		{in: "[a]b", wantErr: `unexpected "b" after a name part`},
		{in: "db.dbo.t", wantErr: "want name or schema.name"},
		{in: " dbo.t", wantErr: "leading or trailing space"},
		{in: "dbo.t\n", wantErr: "leading or trailing space"},
		{in: "[t\x01]", wantErr: "control character"},
		{in: strings.Repeat("x", 129), wantErr: "more than 128"},
		{in: "\xff", wantErr: "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrBadName) {
					t.Fatalf("Parse(%q) = %v, %v; want an ErrBadName error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			if q := got.Quoted(); q != tt.wantQuoted {
				t.Errorf("Quoted() = %q, want %q", q, tt.wantQuoted)
			}
		})
	}
}

func TestNationalLiteral(t *testing.T) {
	tests := []struct{ in, want string }{
		{"[dbo].[sessions]", "N'[dbo].[sessions]'"},
		{"[it's]", "N'[it''s]'"},
		{"", "N''"},
	}
	for _, tt := range tests {
		if got := NationalLiteral(tt.in); got != tt.want {
			t.Errorf("NationalLiteral(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzParseName checks that ParseName accepts exactly the names the
// store accepts, quotes them as the store does, and that the quoted form
// parses back to the same name.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{"sessions", "dbo.sessions", "[dbo].[sessions]", "[a]]b].c", "x;DROP TABLE y", "a]b", "[a", "a.b.c", " a", "[\x00]", "[]", "[.].[.]", "[it's]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return // the store reads "" as "the default name"
		}
		name, err := Parse(s)
		stmts, storeErr := mssqlstore.SchemaStatements(mssqlstore.SchemaOptions{Table: s})
		if (err == nil) != (storeErr == nil) {
			t.Fatalf("%q: ParseName error %v, store error %v", s, err, storeErr)
		}
		if err != nil {
			return
		}
		q := name.Quoted()
		if want := "OBJECT_ID(" + NationalLiteral(q) + ", N'U')"; !strings.Contains(stmts[0], want) {
			t.Fatalf("%q: the store's DDL %q lacks %q", s, stmts[0], want)
		}
		back, err := Parse(q)
		if err != nil || back != name {
			t.Fatalf("%q: quoted %q parses back to %#v, %v", s, q, back, err)
		}
	})
}

func TestParseQuoting(t *testing.T) {
	for _, tc := range []struct {
		in, quoted string
		ok         bool
	}{
		{"sessions", "[sessions]", true},
		{"dbo.sessions", "[dbo].[sessions]", true},
		{"[dbo].[sessions]", "[dbo].[sessions]", true},
		{"[my.schema].[odd]]name]", "[my.schema].[odd]]name]", true},
		{"[x; DROP TABLE y--]", "[x; DROP TABLE y--]", true},
		{"web.[sessions table]", "[web].[sessions table]", true},
		{"", "", false},
		{".sessions", "", false},
		{"dbo.", "", false},
		{"a.b.c", "", false},
		{"[unterminated", "", false},
		{"dbo.sess]ions", "", false},
		{"x]; DROP TABLE y--", "", false},
		{"dbo. sessions", "", false},
		{"bad\nname", "", false},
		{strings.Repeat("a", 129), "", false},
		{strings.Repeat("a", 128), "[" + strings.Repeat("a", 128) + "]", true},
	} {
		got, err := Parse(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("Parse(%q) error = %v, want ok = %v", tc.in, err, tc.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrBadName) {
				t.Errorf("Parse(%q) error %v does not wrap ErrBadName", tc.in, err)
			}
			continue
		}
		if q := got.Quoted(); q != tc.quoted {
			t.Errorf("Parse(%q).Quoted() = %s, want %s", tc.in, q, tc.quoted)
		}
	}
}

// FuzzObjectName checks that whatever name is accepted, its quoted form
// parses back to the same parts and cannot end the bracket early: no input
// can smuggle SQL through a configured table name.
func FuzzQuoted(f *testing.F) {
	for _, s := range []string{"dbo.sessions", "[a]]b].[c.d]", "x]; DROP TABLE y--", "[", "a.b.c", "[a]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		name, err := Parse(in)
		if err != nil {
			return
		}
		q := name.Quoted()
		back, err := Parse(q)
		if err != nil {
			t.Fatalf("quoted form %q of %q does not parse: %v", q, in, err)
		}
		if back != name {
			t.Fatalf("round trip of %q: %+v, want %+v", in, back, name)
		}
		// Outside the brackets there is nothing but one dot.
		if rest := stripBracketed(t, q); rest != "" && rest != "." {
			t.Fatalf("quoted form %q has %q outside its brackets", q, rest)
		}
	})
}

// stripBracketed removes the bracketed parts of a quoted name and returns
// what is left.
func stripBracketed(t *testing.T, q string) string {
	var out strings.Builder
	for i := 0; i < len(q); i++ {
		if q[i] != '[' {
			out.WriteByte(q[i])
			continue
		}
		for i++; ; i++ {
			if i >= len(q) {
				t.Fatalf("unterminated bracket in %q", q)
			}
			if q[i] == ']' {
				if i+1 < len(q) && q[i+1] == ']' {
					i++
					continue
				}
				break
			}
		}
	}
	return out.String()
}
