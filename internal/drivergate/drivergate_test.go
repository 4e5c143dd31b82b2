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
	got := []Outcome{{Test: "TestA", Result: "pass"}, {Test: "TestB", Result: "refused: WAITFOR"},
		{Test: "TestC", Result: "wrong: x"}, {Test: "TestE", Result: "skip"}}
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

// A refused subtest and a wrong one in the same test: the refusal does
// not hide the wrong answer, each subtest is classified by its own
// lines, and the test itself is wrong.
func TestSubtests(t *testing.T) {
	out := `=== RUN   TestT
    q_test.go:5: 2026-01-01 00:00:00 log line of the parent
=== RUN   TestT/cast(1_as_bit)
=== RUN   TestT/cast(1_as_xml)
    q_test.go:9: Query failed with unexpected error mssql: Keyword or statement option 'data type xml' is not supported in this version of SQL Server (mssqltest test double).
=== RUN   TestT/cast(1_as_money)
    q_test.go:12: Expected type MONEY but returned DECIMAL
=== NAME  TestT
    q_test.go:5: 2026-01-01 00:00:01 another log line of the parent
=== RUN   TestT/windows
    q_test.go:20: only on windows
=== RUN   TestT/outer
=== RUN   TestT/outer/inner
=== RUN   TestT/outer/refused
    q_test.go:30: mssql: Keyword or statement option 'data type text' is not supported in this version of SQL Server (mssqltest test double).
--- FAIL: TestT (0.05s)
    --- PASS: TestT/cast(1_as_bit) (0.00s)
    --- FAIL: TestT/cast(1_as_xml) (0.00s)
    --- FAIL: TestT/cast(1_as_money) (0.00s)
    --- SKIP: TestT/windows (0.00s)
    --- FAIL: TestT/outer (0.00s)
        --- PASS: TestT/outer/inner (0.00s)
        --- FAIL: TestT/outer/refused (0.00s)
FAIL
`
	o := ClassifyAll("TestT", []byte(out), errors.New("exit status 1"))
	want := []Outcome{
		{Test: "TestT/cast(1_as_bit)", Result: "pass"},
		{Test: "TestT/cast(1_as_xml)", Result: "refused: data type xml"},
		{Test: "TestT/cast(1_as_money)", Result: "wrong: q_test.go:12: Expected type MONEY but returned DECIMAL"},
		{Test: "TestT/windows", Result: "skip"},
		// outer failed only through its children: their refusal.
		{Test: "TestT/outer", Result: "refused: data type text"},
		{Test: "TestT/outer/inner", Result: "pass"},
		{Test: "TestT/outer/refused", Result: "refused: data type text"},
	}
	if len(o.Subtests) != len(want) {
		t.Fatalf("subtests = %v, want %v", o.Subtests, want)
	}
	for i := range want {
		if o.Subtests[i].Test != want[i].Test || o.Subtests[i].Result != want[i].Result {
			t.Errorf("subtest %d = %+v, want %+v", i, o.Subtests[i], want[i])
		}
	}
	if o.Result != "wrong: subtest cast(1_as_money) is wrong" {
		t.Errorf("test outcome %q, want wrong because of cast(1_as_money)", o.Result)
	}
	// Without the wrong subtest the test is refused, as before.
	fixed := strings.Replace(out, "    q_test.go:12: Expected type MONEY but returned DECIMAL\n", "", 1)
	fixed = strings.Replace(fixed, "--- FAIL: TestT/cast(1_as_money)", "--- PASS: TestT/cast(1_as_money)", 1)
	if o := ClassifyAll("TestT", []byte(fixed), errors.New("exit status 1")); o.Result != "refused: data type xml" {
		t.Errorf("without the wrong subtest: %q, want refused: data type xml", o.Result)
	}
	// A subtest that fails with nothing of its own logged is wrong.
	bare := "=== RUN   TestT\n=== RUN   TestT/a\n--- FAIL: TestT (0.00s)\n    --- FAIL: TestT/a (0.00s)\n"
	if o := ClassifyAll("TestT", []byte(bare), errors.New("exit status 1")); len(o.Subtests) != 1 || !strings.HasPrefix(o.Subtests[0].Result, "wrong") {
		t.Errorf("bare failure: %+v, want a wrong subtest", o.Subtests)
	}

	// The list holds each subtest after its test; a changed or missing
	// subtest is a difference, and a wrong one is never written.
	got := []Outcome{o}
	var b strings.Builder
	if err := FormatExpected(&b, got); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 6 || lines[0] != "TestT/cast(1_as_bit)\tpass" || strings.Contains(b.String(), "wrong") {
		t.Fatalf("FormatExpected wrote\n%s\nwant the six subtests that are not wrong, and not the wrong test", b.String())
	}
	wantList, err := ParseExpected(strings.NewReader(b.String() + "TestT/cast(1_as_money)\tpass\nTestT\trefused: data type xml\n"))
	if err != nil {
		t.Fatal(err)
	}
	diffs := Compare(wantList, got)
	wantDiffs := []string{
		"TestT/cast(1_as_money): wrong: q_test.go:12: Expected type MONEY but returned DECIMAL, want pass",
		"TestT: wrong: subtest cast(1_as_money) is wrong, want refused: data type xml",
	}
	if strings.Join(diffs, "\n") != strings.Join(wantDiffs, "\n") {
		t.Fatalf("Compare =\n%s\nwant\n%s", strings.Join(diffs, "\n"), strings.Join(wantDiffs, "\n"))
	}
	if c := CountSubtests(got); c.Ran != 7 || c.Passed != 2 || c.Skipped != 1 || c.Refused != 3 || c.Wrong != 1 {
		t.Errorf("CountSubtests = %+v", c)
	}
}
