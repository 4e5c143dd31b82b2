package mssqltest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/tsql"
)

// StartFake starts a server on a scripted engine, so the protocol can be
// tested on its own. The fake understands a handful of statements,
// separated by semicolons, and calls the hooks around each as the real
// engine does:
//
//	ECHO PARAMS               one row: every parameter as a column of its wire type;
//	                     then one result set per table-valued parameter
//	SELECT 1             one INT column
//	INSERT               one row "written" (counted by FakeRows)
//	BEGIN TRAN, COMMIT, ROLLBACK
//	RAISE n              error n, class 16
//	PANIC                a panic, as a bug in an engine would
//
// Anything else is error 102.
func StartFake(t testing.TB, opts Options) (*Server, *FakeEngine) {
	t.Helper()
	fe := &FakeEngine{}
	opts.Bare = true
	s, err := newServer(opts, func(o tsql.Options) engine { fe.hooks = o.Hooks; return fe })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, fe
}

// FakeEngine is the scripted engine of StartFake.
type FakeEngine struct {
	hooks tsql.Hooks
	mu    sync.Mutex
	rows  int
	// Resets and Closes count Session.Reset and Session.Close calls.
	resets, closes int
}

// Rows returns how many INSERTs completed.
func (f *FakeEngine) Rows() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rows
}

// Resets returns how many times a session was reset.
func (f *FakeEngine) Resets() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.resets
}

func (f *FakeEngine) NewSession(p tsql.Principal) session { return &fakeSession{f: f} }
func (f *FakeEngine) ExecAdmin(ctx context.Context, sql string) error {
	return fmt.Errorf("fake engine: ExecAdmin(%q)", sql)
}
func (f *FakeEngine) SetNow(func() time.Time) {}
func (f *FakeEngine) Stats() tsql.Stats       { return tsql.Stats{} }

type fakeSession struct {
	f     *FakeEngine
	depth int
	undo  int
}

func (s *fakeSession) TransactionDepth() int { return s.depth }
func (s *fakeSession) Reset()                { s.rollback(); s.f.mu.Lock(); s.f.resets++; s.f.mu.Unlock() }
func (s *fakeSession) Close()                { s.rollback(); s.f.mu.Lock(); s.f.closes++; s.f.mu.Unlock() }

func (s *fakeSession) rollback() {
	s.f.mu.Lock()
	s.f.rows -= s.undo
	s.f.mu.Unlock()
	s.undo, s.depth = 0, 0
}

func (s *fakeSession) Exec(ctx context.Context, sql string, params []tsql.Param) ([]tsql.Result, error) {
	var out []tsql.Result
	for _, stmt := range strings.Split(sql, ";") {
		stmt = strings.TrimSpace(stmt)
		if stmt == "" {
			continue
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
		up := strings.ToUpper(stmt)
		info := tsql.StatementInfo{Kind: strings.Fields(up)[0]}
		switch {
		case strings.HasPrefix(up, "BEGIN TRAN"):
			info.Kind = "BEGIN TRAN"
		case up == "ECHO PARAMS":
			info.Kind = "SELECT"
		case strings.HasPrefix(up, "SET "):
			info.Kind = "SET"
		}
		if strings.Contains(up, "SESSIONS") {
			info.Table = "dbo.sessions"
		}
		if err := s.f.hooks.BeforeStatement(ctx, nil, info); err != nil {
			if e, ok := err.(*tsql.Error); ok {
				out = append(out, tsql.Result{Kind: info.Kind, Err: e})
				continue
			}
			return out, err
		}
		var res []tsql.Result
		switch {
		case up == "ECHO PARAMS":
			r := tsql.Result{Kind: "SELECT", Columns: []tsql.Column{}, HasCount: true, RowCount: 1}
			row := []any{}
			var tvps []tsql.Result
			for _, p := range params {
				if tv, ok := p.Value.(*tsql.TableValue); ok {
					tvps = append(tvps, tsql.Result{Kind: "SELECT", Columns: tv.Columns, Rows: tv.Rows, RowCount: int64(len(tv.Rows)), HasCount: true})
					continue
				}
				typ := p.Type
				if typ.ID == tsql.TypeNull {
					typ = tsql.Type{ID: tsql.TypeInt, Nullable: true}
				}
				r.Columns = append(r.Columns, tsql.Column{Name: strings.TrimPrefix(p.Name, "@"), Type: typ})
				row = append(row, p.Value)
			}
			r.Rows = [][]any{row}
			if len(r.Columns) > 0 {
				res = append(res, r)
			}
			res = append(res, tvps...)
		case up == "SELECT 1":
			res = []tsql.Result{{Kind: "SELECT", Columns: []tsql.Column{{Name: "", Type: tsql.Type{ID: tsql.TypeInt}}}, Rows: [][]any{{int64(1)}}, RowCount: 1, HasCount: true}}
		case strings.HasPrefix(up, "INSERT"):
			s.f.mu.Lock()
			s.f.rows++
			s.f.mu.Unlock()
			if s.depth > 0 {
				s.undo++
			}
			info.RowsWritten = 1
			res = []tsql.Result{{Kind: "INSERT", RowCount: 1, HasCount: true}}
		case strings.HasPrefix(up, "BEGIN TRAN"):
			s.depth++
			res = []tsql.Result{{Kind: "BEGIN TRAN"}}
		case strings.HasPrefix(up, "COMMIT"):
			if s.depth == 0 {
				res = []tsql.Result{{Kind: "COMMIT", Err: &tsql.Error{Number: 3902, Class: 16, State: 1, Message: "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION."}}}
			} else {
				s.depth--
				if s.depth == 0 {
					s.undo = 0
				}
				res = []tsql.Result{{Kind: "COMMIT"}}
			}
		case strings.HasPrefix(up, "ROLLBACK"):
			s.rollback()
			res = []tsql.Result{{Kind: "ROLLBACK"}}
		case strings.HasPrefix(up, "SET "):
			res = []tsql.Result{{Kind: "SET"}}
		case up == "ENGINE ERROR":
			// An engine failure that is not a statement's error: the
			// batch stops and Exec returns it.
			return out, errors.New("the fake engine fails, as asked")
		case up == "PANIC":
			panic("the fake engine panics, as asked")
		case strings.HasPrefix(up, "RAISE "):
			var n int32
			fmt.Sscan(up[6:], &n)
			res = []tsql.Result{{Kind: "RAISE", Err: &tsql.Error{Number: n, Class: 16, State: 1, Message: fmt.Sprintf("raised %d", n)}}}
		default:
			res = []tsql.Result{{Kind: info.Kind, Err: &tsql.Error{Number: 102, Class: 15, State: 1, Message: fmt.Sprintf("Incorrect syntax near '%s'.", stmt)}}}
			return append(out, res...), nil
		}
		s.f.hooks.AfterStatement(ctx, nil, info)
		out = append(out, res...)
	}
	return out, nil
}

// openConns returns the connections the server holds, logged in or not.
func (s *Server) openConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
