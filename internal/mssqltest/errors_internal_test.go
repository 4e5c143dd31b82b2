package mssqltest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestErrServerRefusesUnsupportedConstructs(t *testing.T) {
	tests := []struct {
		err    error
		number int32
		text   string
	}{
		{&unsupportedError{"parameters of type TIME"}, 40517, "'parameters of type TIME' is not supported"},
		{fmt.Errorf("decoding: %w", &unsupportedError{"OUTPUT parameters"}), 40517, "'OUTPUT parameters'"},
		{errors.New("mssqltest: engine: boom"), 50000, "boom"},
	}
	for _, tt := range tests {
		e := errServer(tt.err)
		if e.Number != tt.number || !strings.Contains(e.Message, tt.text) {
			t.Errorf("errServer(%v) = %d %q, want %d containing %q", tt.err, e.Number, e.Message, tt.number, tt.text)
		}
	}
	if e := errNoProcedure("sp_databases"); e.Number != 40517 {
		t.Errorf("sp_databases: %d, want 40517", e.Number)
	}
	if e := errNoProcedure("dbo.my_proc"); e.Number != 2812 {
		t.Errorf("dbo.my_proc: %d, want 2812", e.Number)
	}
}
