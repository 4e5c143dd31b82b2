package tsql

import (
	"fmt"
	"testing"
)

// TestCatalogViews reads each catalog view the engine has over the
// store's schema (a table with a primary key and an index, and a table
// type).
func TestCatalogViews(t *testing.T) {
	tests := []struct {
		sql  string
		want string
	}{
		{"SELECT name FROM sys.schemas WHERE schema_id = 1", "dbo"},
		{"SELECT type FROM sys.objects WHERE name = 'sessions'", "U "},
		{"SELECT COUNT(*) FROM sys.objects WHERE type = 'PK' AND parent_object_id = OBJECT_ID('dbo.sessions')", "1"},
		{"SELECT type_desc FROM sys.all_objects WHERE type = 'TT'", "TYPE_TABLE"},
		{"SELECT COUNT(*) FROM sys.tables", "1"},
		{"SELECT max_column_id_used FROM sys.tables WHERE name = 'sessions'", "3"},
		{"SELECT max_length FROM sys.columns WHERE name = 'data' AND object_id = OBJECT_ID('dbo.sessions')", "-1"},
		{"SELECT COUNT(*) FROM sys.all_columns WHERE name = 'token'", "2"},
		{"SELECT is_table_type FROM sys.types WHERE name = 'sessions_batch'", "true"},
		{"SELECT COUNT(*) FROM sys.types WHERE is_user_defined = 0 AND name = 'int'", "1"},
		{"SELECT COUNT(*) FROM sys.table_types WHERE is_memory_optimized = 0", "1"},
		{"SELECT type_desc FROM sys.indexes WHERE name = 'sessions_expiry_idx'", "NONCLUSTERED"},
		{"SELECT COUNT(*) FROM sys.index_columns WHERE object_id = OBJECT_ID('dbo.sessions')", "2"},
		{"SELECT TABLE_TYPE FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_NAME = 'sessions'", "BASE TABLE"},
		{"SELECT CHARACTER_MAXIMUM_LENGTH FROM INFORMATION_SCHEMA.COLUMNS WHERE COLUMN_NAME = 'token'", "43"},
		{"SELECT CHARACTER_SET_NAME FROM INFORMATION_SCHEMA.COLUMNS WHERE COLUMN_NAME = 'token'", "iso_1"},
		{"SELECT DATETIME_PRECISION FROM INFORMATION_SCHEMA.COLUMNS WHERE COLUMN_NAME = 'expiry'", "6"},
		{"SELECT IS_NULLABLE FROM INFORMATION_SCHEMA.COLUMNS WHERE COLUMN_NAME = 'data'", "NO"},
	}
	s := owner(newTestDB(t))
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			if got := fmt.Sprint(scalar(t, s, tt.sql)); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
