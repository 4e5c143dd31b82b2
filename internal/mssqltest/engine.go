package mssqltest

import (
	"context"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/tsql"
)

// engine is what the server needs of internal/tsql's Database. The
// indirection lets the protocol tests run against a scripted engine.
type engine interface {
	NewSession(p tsql.Principal) session
	ExecAdmin(ctx context.Context, sql string) error
	SetNow(now func() time.Time)
	Stats() tsql.Stats
}

// session is what the server needs of a tsql.Session.
type session interface {
	Exec(ctx context.Context, sql string, params []tsql.Param) ([]tsql.Result, error)
	Reset()
	Close()
	TransactionDepth() int
}

type tsqlEngine struct{ db *tsql.Database }

func (e tsqlEngine) NewSession(p tsql.Principal) session { return e.db.NewSession(p) }
func (e tsqlEngine) ExecAdmin(ctx context.Context, sql string) error {
	return e.db.ExecAdmin(ctx, sql)
}
func (e tsqlEngine) SetNow(now func() time.Time) { e.db.SetNow(now) }
func (e tsqlEngine) Stats() tsql.Stats           { return e.db.Stats() }
