package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/scs-contrib/mssqlstore/internal/mssqltest"
	"github.com/scs-contrib/mssqlstore/internal/schemacheck"
)

func TestCheckJSON(t *testing.T) {
	tests := []struct {
		name       string
		bare       bool
		wantCode   int
		wantFailed bool
		wantLevel  map[string]string // message prefix to level
	}{
		{
			name:      "SCS table without the type",
			wantCode:  exitOK,
			wantLevel: map[string]string{"table [dbo].[sessions] exists": "ok", "table type [dbo].[sessions_batch] not found": "warning"},
		},
		{
			name:       "no table",
			bare:       true,
			wantCode:   exitFailed,
			wantFailed: true,
			wantLevel:  map[string]string{"table [dbo].[sessions] not found": "error"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mssqltest.Start(t, mssqltest.Options{Bare: tt.bare})
			code, stdout, stderr := invoke(t, testContext(t), nil, "check", "-json", "-dsn", srv.DSN())
			if code != tt.wantCode || stderr != "" {
				t.Errorf("exit status %d, stderr %q; want %d and nothing", code, stderr, tt.wantCode)
			}
			if strings.Count(stdout, "\n") != 1 {
				t.Errorf("stdout is not one line: %q", stdout)
			}
			var got checkJSON
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("%v: %q", err, stdout)
			}
			if got.Table != "[dbo].[sessions]" || got.TableType != "[dbo].[sessions_batch]" || got.Failed != tt.wantFailed {
				t.Errorf("table %q, type %q, failed %v", got.Table, got.TableType, got.Failed)
			}
			for prefix, level := range tt.wantLevel {
				found := false
				for _, f := range got.Findings {
					if strings.HasPrefix(f.Message, prefix) {
						found = true
						if f.Level != level || (level != "ok") != (f.Fix != "") {
							t.Errorf("finding %+v: want level %s, and a fix unless ok", f, level)
						}
					}
				}
				if !found {
					t.Errorf("no finding begins %q: %+v", prefix, got.Findings)
				}
			}
		})
	}
}

func TestStatsJSON(t *testing.T) {
	tests := []struct {
		name  string
		seed  bool
		fault *mssqltest.Fault
		check func(t *testing.T, got map[string]any)
	}{
		{
			name: "empty",
			check: func(t *testing.T, got map[string]any) {
				if got["live"] != 0.0 || got["expired"] != 0.0 || got["oldest_expiry"] != nil || got["newest_expiry"] != nil {
					t.Errorf("got %v", got)
				}
				size, _ := got["size"].(map[string]any)
				if size == nil || size["rows"] != 0.0 || size["reserved_kb"] == nil {
					t.Errorf("size %v", got["size"])
				}
			},
		},
		{
			name: "rows",
			seed: true,
			check: func(t *testing.T, got map[string]any) {
				if got["live"] != 1.0 || got["expired"] != 2.0 {
					t.Errorf("live %v, expired %v; want 1 and 2", got["live"], got["expired"])
				}
				if got["oldest_expiry"] != "2000-01-01T00:00:00Z" || got["newest_expiry"] != "9000-06-01T12:30:00.5Z" {
					t.Errorf("expiries %v, %v", got["oldest_expiry"], got["newest_expiry"])
				}
				if size, _ := got["size"].(map[string]any); size == nil || size["rows"] != 3.0 {
					t.Errorf("size %v, want 3 rows", got["size"])
				}
			},
		},
		{
			name:  "sp_spaceused denied",
			fault: &mssqltest.Fault{Kind: "EXECUTE", Error: 229},
			check: func(t *testing.T, got map[string]any) {
				msg, _ := got["size_error"].(string)
				if got["size"] != nil || !strings.Contains(msg, "permission was denied") || strings.Contains(msg, "mssql: ") {
					t.Errorf("size %v, size_error %q", got["size"], msg)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mssqltest.Start(t, mssqltest.Options{})
			if tt.seed {
				db := openDB(t, srv)
				seed(t, db, 0, 2, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
				seed(t, db, 200, 1, time.Date(9000, 6, 1, 12, 30, 0, 500_000_000, time.UTC))
			}
			if tt.fault != nil {
				srv.InjectFault(*tt.fault)
			}
			code, stdout, stderr := invoke(t, testContext(t), nil, "stats", "-json", "-dsn", srv.DSN())
			if code != exitOK || stderr != "" {
				t.Fatalf("exit status %d, stderr %q", code, stderr)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("%v: %q", err, stdout)
			}
			if got["table"] != "[dbo].[sessions]" {
				t.Errorf("table %v", got["table"])
			}
			tt.check(t, got)
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in     schemacheck.Size
		want   sizeJSON
		wantOK bool
	}{
		{schemacheck.Size{Rows: "5 ", Reserved: "72 KB", Data: "8 KB", IndexSize: "16 KB", Unused: "48 KB"}, sizeJSON{5, 72, 8, 16, 48}, true},
		{schemacheck.Size{Rows: "x", Reserved: "72 KB", Data: "8 KB", IndexSize: "16 KB", Unused: "48 KB"}, sizeJSON{}, false},
		{schemacheck.Size{Rows: "5", Reserved: "72 MB", Data: "8 KB", IndexSize: "16 KB", Unused: "48 KB"}, sizeJSON{Rows: 5}, false},
	}
	for _, tt := range tests {
		got, ok := parseSize(tt.in)
		if ok != tt.wantOK || ok && got != tt.want {
			t.Errorf("parseSize(%+v) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}
