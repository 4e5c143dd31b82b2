package tsql

import (
	"context"
	"testing"
)

// TestErrorLine: an error reports the line within the batch (from 1) that
// SQL Server reports: for a syntax error the line of the offending token,
// for an error at execution the line its statement starts on.
func TestErrorLine(t *testing.T) {
	tests := []struct {
		name     string
		sql      string
		wantNum  int32
		wantLine int32
	}{
		{"syntax error on line 3", "SELECT 1\nSELECT 2\nSELECT FROM WHERE", 156, 3},
		{"syntax error at the end names the last line", "SELECT 1\n\nSELECT 2 +", 102, 3},
		{"unclosed string starts on line 2", "SELECT 1\nSELECT 'abc\n\n", 105, 2},
		{"unclosed comment starts on line 2", "SELECT 1\n/* x\n\n", 113, 2},
		{"bad character", "SELECT 1\n\nSELECT 1 ? 2", 102, 3},
		{"refused construct", "SELECT 1\nWITH c AS (SELECT 1 AS x) SELECT x FROM c", 40517, 2},
		{"duplicate key in the second statement", "INSERT INTO sessions VALUES (REPLICATE('a', 43), 0x01, '2030-01-01')\n\n\nINSERT INTO sessions VALUES (REPLICATE('a', 43), 0x02, '2030-01-01')", 2627, 4},
		{"divide by zero in a statement spanning lines", "DECLARE @x INT = 1\nSELECT 1\nSELECT\n  1 / 0", 8134, 3},
		{"statement inside IF ... BEGIN ... END", "IF 1 = 1\nBEGIN\n  SELECT 1\n  SELECT 1 / 0\nEND", 8134, 4},
		{"IF condition", "SELECT 1\nIF 1 / 0 = 1\n  SELECT 2", 8134, 2},
		{"first token after a string spanning lines", "SELECT 'a\nb'\nSELECT 1 / 0", 8134, 3},
		{"quoted identifier spanning lines", "SELECT 1 AS \"a\nb\"\nSELECT 1 / 0", 8134, 3},
		{"bracketed identifier spanning lines", "SELECT 1 AS [a\nb]\nSELECT 1 / 0", 8134, 3},
		{"comment spanning lines", "/* a\nb */ SELECT 1\nSELECT 1 / 0", 8134, 3},
		{"unknown table", "SELECT 1;\r\nSELECT * FROM nope", 208, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := owner(newTestDB(t))
			res, err := s.Exec(context.Background(), tt.sql, nil)
			if err != nil {
				t.Fatal(err)
			}
			e := firstErr(res)
			if e == nil {
				t.Fatalf("no error, want %d", tt.wantNum)
			}
			if e.Number != tt.wantNum || e.Line != tt.wantLine {
				t.Errorf("error %d on line %d (%s), want %d on line %d", e.Number, e.Line, e.Message, tt.wantNum, tt.wantLine)
			}
		})
	}
}

// TestMessageLine: PRINT's message reports the line of the PRINT.
func TestMessageLine(t *testing.T) {
	s := owner(newTestDB(t))
	res := mustExec(t, s, "SELECT 1\n\nPRINT 'x'")
	if m := res[1].Messages; len(m) != 1 || m[0].Line != 3 {
		t.Fatalf("messages %+v, want one on line 3", m)
	}
}

// TestHookErrorLine: an error a hook returns gets the statement's line on
// a copy, so one *Error shared by many statements is not changed.
func TestHookErrorLine(t *testing.T) {
	shared := &Error{Number: 50000, Class: 16, State: 1, Message: "injected"}
	db := newTestDB(t)
	db.hooks = &failSecond{err: shared}
	res, err := owner(db).Exec(context.Background(), "SELECT 1\nSELECT 2", nil)
	if err != nil {
		t.Fatal(err)
	}
	e := firstErr(res)
	if e == nil || e.Number != 50000 || e.Line != 2 {
		t.Fatalf("error %+v, want 50000 on line 2", e)
	}
	if shared.Line != 0 {
		t.Errorf("the hook's error was changed: line %d", shared.Line)
	}
}

// failSecond fails every statement but the first with err.
type failSecond struct {
	n   int
	err *Error
}

func (f *failSecond) BeforeStatement(context.Context, *Session, StatementInfo) error {
	if f.n++; f.n > 1 {
		return f.err
	}
	return nil
}

func (*failSecond) AfterStatement(context.Context, *Session, StatementInfo) {}
