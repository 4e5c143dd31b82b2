package drivergate

import (
	"errors"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	fail := errors.New("exit status 1")
	tests := []struct {
		name string
		out  string
		err  error
		want string
	}{
		{"pass", "=== RUN   TestA\n--- PASS: TestA (0.01s)\nPASS\n", nil, "pass"},
		{"pass of another test is not a pass", "--- PASS: TestAB (0.01s)\n", nil, "wrong: no PASS line"},
		{"skip", "=== RUN   TestA\n    x_test.go:3: only on windows\n--- SKIP: TestA (0.00s)\n", nil, "skip"},
		{"refused", "    q_test.go:10: 2026-01-01 00:00:00 log line\n    q_test.go:12: mssql: Keyword or statement option 'data type time' is not supported in this version of SQL Server (mssqltest test double).\n--- FAIL: TestA (0.01s)\n", fail, "refused: data type time"},
		{"wrong answer, log lines skipped", "    tds_test.go:423: 2026-11-30 03:11:08.95 +0000 UTC [tds.go:1017]: Dialing\n    q_test.go:54: incorrect session settings 16488\n--- FAIL: TestA (0.01s)\n", fail, "wrong: q_test.go:54: incorrect session settings 16488"},
		{"hang", "panic: test timed out after 1m0s\n", fail, "wrong: hangs (test timed out)"},
		{"a timed-out test is wrong even if it met a refusal", "not supported in this version of SQL Server (mssqltest test double)\npanic: test timed out after 1m0s\n", fail, "wrong: hangs (test timed out)"},
		{"PASS line but the binary failed", "--- PASS: TestA (0.01s)\npanic: boom\n", fail, "wrong: panic: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify("TestA", []byte(tt.out), tt.err); got != tt.want {
				t.Errorf("Classify = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseExpected(t *testing.T) {
	tests := []struct {
		name, in string
		want     map[string]string
		err      string
	}{
		{"ok", "# comment\n\nTestA\tpass\nTestB\trefused: WAITFOR\nTestC\tskip\n",
			map[string]string{"TestA": "pass", "TestB": "refused: WAITFOR", "TestC": "skip"}, ""},
		{"a wrong outcome cannot be expected", "TestA\twrong: hangs\n", nil, "not pass, skip or refused"},
		{"duplicate", "TestA\tpass\nTestA\tskip\n", nil, "listed twice"},
		{"no tab", "TestA pass\n", nil, "NAME<tab>OUTCOME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseExpected(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestCompareAndFormat(t *testing.T) {
	got := []Outcome{{"TestA", "pass"}, {"TestB", "refused: WAITFOR"}, {"TestC", "wrong: x"}, {"TestE", "skip"}}
	want := map[string]string{"TestA": "pass", "TestB": "pass", "TestC": "pass", "TestD": "pass"}
	diffs := Compare(want, got)
	wantDiffs := []string{
		"TestB: refused: WAITFOR, want pass",
		"TestC: wrong: x, want pass",
		"TestD: not run, want pass",
		"TestE: skip, not in the expected list",
	}
	if strings.Join(diffs, "\n") != strings.Join(wantDiffs, "\n") {
		t.Fatalf("Compare =\n%s\nwant\n%s", strings.Join(diffs, "\n"), strings.Join(wantDiffs, "\n"))
	}
	var b strings.Builder
	if err := FormatExpected(&b, got); err != nil {
		t.Fatal(err)
	}
	back, err := ParseExpected(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := back["TestC"]; ok || len(back) != 3 {
		t.Fatalf("FormatExpected wrote %q: want the three outcomes that are not wrong", b.String())
	}
	if d := Compare(back, got); len(d) != 1 || !strings.HasPrefix(d[0], "TestC:") {
		t.Fatalf("round trip diffs = %v, want only the wrong TestC", d)
	}
	c := Count(got)
	if c.Ran != 4 || c.Passed != 1 || c.Refused != 1 || c.Skipped != 1 || c.Wrong != 1 || c.ByConstruct["WAITFOR"] != 1 {
		t.Fatalf("Count = %+v", c)
	}
}
