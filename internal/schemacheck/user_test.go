package schemacheck

import (
	"errors"
	"strings"
	"testing"
)

func TestParseUser(t *testing.T) {
	tests := []struct {
		in, want string
		err      error
	}{
		{"app", "app", nil},
		{"[app]", "app", nil},
		{"[a]]b]", "a]b", nil},
		{"o'neil", "o'neil", nil},
		{"DOMAIN\\web", "DOMAIN\\web", nil},
		{"a.b", "a.b", nil}, // one name: a user name is not schema-qualified
		{"[a]b]", "", ErrBadUser},
		{"", "", ErrBadUser},
		{"[]", "", ErrBadUser},
		{strings.Repeat("x", 128), strings.Repeat("x", 128), nil},
		{strings.Repeat("x", 129), "", ErrBadUser},
		{"a\nb", "", ErrBadUser},
		{"a\xffb", "", ErrBadUser},
	}
	for _, tt := range tests {
		got, err := ParseUser(tt.in)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("ParseUser(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParseGrantee(t *testing.T) {
	for _, in := range []string{"dbo", "[DBO]", "sys", "INFORMATION_SCHEMA", "[information_schema]"} {
		if _, err := ParseGrantee(in); !errors.Is(err, ErrSpecialUser) {
			t.Errorf("ParseGrantee(%q): %v, want ErrSpecialUser", in, err)
		}
	}
	for _, in := range []string{"app", "dbo2", "[dbo ]"} {
		if _, err := ParseGrantee(in); err != nil {
			t.Errorf("ParseGrantee(%q): %v", in, err)
		}
	}
}

func TestGrantStatements(t *testing.T) {
	got, err := GrantStatements(Options{Table: "app.[web]]sessions]", TableType: "batch"}, "o'dd]user")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"GRANT SELECT, INSERT, UPDATE, DELETE ON [app].[web]]sessions] TO [o'dd]]user];",
		"GRANT EXECUTE ON TYPE::[batch] TO [o'dd]]user];",
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("GrantStatements = %q, want %q", got, want)
	}
	if _, err := GrantStatements(Options{Table: "a]b"}, "app"); err == nil {
		t.Error("GrantStatements with a bad table name: no error")
	}
}

// FuzzParseUser: whatever ParseUser accepts, its quoted form is one
// bracketed identifier that reads back as the same name.
func FuzzParseUser(f *testing.F) {
	for _, s := range []string{"app", "[a]]b]", "[a]b]", "x]y", "'; DROP TABLE t --", "a TO [b]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, err := ParseUser(s)
		if err != nil {
			return
		}
		stmts, err := GrantStatements(Options{}, name)
		if err != nil {
			t.Fatal(err)
		}
		quoted := strings.TrimSuffix(strings.TrimPrefix(stmts[0], "GRANT SELECT, INSERT, UPDATE, DELETE ON [dbo].[sessions] TO "), ";")
		back, err := ParseUser(quoted)
		if err != nil || back != name {
			t.Fatalf("name %q quoted as %s reads back as %q, %v", name, quoted, back, err)
		}
	})
}
