package schemacheck

import "testing"

func TestLevelAndFinding(t *testing.T) {
	tests := []struct {
		f    Finding
		want string
	}{
		{Finding{Level: OK, Message: "table exists"}, "ok: table exists"},
		{Finding{Level: Warning, Message: "no type", Fix: "run init"}, "warning: no type; fix: run init"},
		{Finding{Level: Error, Message: "no table", Fix: "run init"}, "error: no table; fix: run init"},
		{Finding{Level: Level(7), Message: "odd"}, "Level(7): odd"},
	}
	for _, tt := range tests {
		if got := tt.f.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
	if Failed([]Finding{{Level: OK}, {Level: Warning}}) {
		t.Error("Failed with no error")
	}
	if !Failed([]Finding{{Level: OK}, {Level: Error}}) {
		t.Error("not Failed with an error")
	}
}
