package schemacheck

import (
	"fmt"
	"strings"
	"testing"

	"github.com/scs-contrib/mssqlstore/internal/testdb"
)

func TestValidCollationName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"Latin1_General_BIN2", true},
		{"SQL_Latin1_General_CP1_CI_AS", true},
		{"", true}, // NULL: the database default
		{"Latin1_General_BIN2; DROP TABLE x", false},
		{"Latin1 General", false},
		{"Latin1_General_BIN2'", false},
	} {
		if got := validCollationName(tc.in); got != tc.want {
			t.Errorf("validCollationName(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// PlanCreate on an existing table (testdb's, with the database's default
// collation, as SCS's DDL makes it) plans only the type, with the table's
// collation; Create makes it; Check then finds nothing to fix in the type,
// and a second PlanCreate plans nothing.
func TestCreateOnExistingTable(t *testing.T) {
	d := testdb.Open(t, testdb.Options{})
	ctx := testContext(t)
	opts := Options{Table: d.Table, TableType: d.TableType}
	var collation string
	if err := d.QueryRowContext(ctx, "SELECT collation_name FROM sys.columns WHERE object_id = OBJECT_ID(@p1) AND name = N'token'", d.Table).Scan(&collation); err != nil {
		t.Fatal(err)
	}
	p, err := PlanCreate(ctx, d.DB, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Table.Exists || !p.Index.Exists || p.Type.Exists {
		t.Errorf("plan: table %v, index %v, type %v exist; want true, true, false", p.Table.Exists, p.Index.Exists, p.Type.Exists)
	}
	if p.TableCollation != collation || p.TypeCollation != collation {
		t.Errorf("plan: table collation %q, type collation %q; want both %q", p.TableCollation, p.TypeCollation, collation)
	}
	stmts := p.Statements()
	if len(stmts) != 1 || !strings.Contains(stmts[0], "CREATE TYPE") || !strings.Contains(stmts[0], "COLLATE "+collation+" ") {
		t.Fatalf("plan statements %q, want one CREATE TYPE with COLLATE %s", stmts, collation)
	}
	if _, err := Create(ctx, d.DB, opts); err != nil {
		t.Fatal(err)
	}
	findings, err := Check(ctx, d.DB, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		if strings.Contains(f.Message, "table type") && f.Level != OK {
			t.Errorf("after Create: %s", f)
		}
	}
	if p, err = PlanCreate(ctx, d.DB, opts); err != nil || len(p.Statements()) != 0 {
		t.Errorf("second plan: %q, %v; want nothing to run", p.Statements(), err)
	}
}

// PlanCreate finds the expiry index by its table and first key column,
// whatever its name: Babelfish stores index names with a hash of their
// table appended, and an index made by hand may have any name. Create
// then leaves an existing one alone instead of failing with 2714 or
// adding a second one.
func TestCreateFindsExpiryIndexByColumn(t *testing.T) {
	for _, tc := range []struct {
		name   string
		index  string // DDL with %s for the table, after the default index is dropped
		exists bool
	}{
		{"default name", "", true},
		{"other name", "CREATE INDEX by_expiry ON %s (expiry, token)", true},
		{"expiry not first", "CREATE INDEX by_token ON %s (token, expiry)", false},
		{"none", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := testdb.Open(t, testdb.Options{})
			ctx := testContext(t)
			if tc.index != "" || !tc.exists {
				indexName := strings.TrimPrefix(d.Table, "dbo.") + "_expiry_idx"
				if _, err := d.ExecContext(ctx, "DROP INDEX "+indexName+" ON "+d.Table); err != nil {
					t.Fatal(err)
				}
			}
			if tc.index != "" {
				if _, err := d.ExecContext(ctx, fmt.Sprintf(tc.index, d.Table)); err != nil {
					t.Fatal(err)
				}
			}
			opts := Options{Table: d.Table, TableType: d.TableType}
			p, err := Create(ctx, d.DB, opts)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if p.Index.Exists != tc.exists {
				t.Errorf("plan: index exists %v, want %v", p.Index.Exists, tc.exists)
			}
			var n int
			if err := d.QueryRowContext(ctx, expiryIndexQuery("COUNT(*)", "@p1"), d.Table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Errorf("after Create: %d indexes lead with expiry, want 1", n)
			}
		})
	}
}
