package sqlerr

import (
	"errors"
	"fmt"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"
)

func TestNumber(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int32
		ok   bool
	}{
		{"value", mssql.Error{Number: 1205}, 1205, true},
		{"wrapped value", fmt.Errorf("flush: %w", mssql.Error{Number: 208}), 208, true},
		{"pointer", fmt.Errorf("x: %w", &mssql.Error{Number: 229}), 229, true},
		{"server error", mssql.ServerError{}, 0, true},
		{"other", errors.New("Error 1205: deadlock"), 0, false},
		{"nil", nil, 0, false},
	} {
		got, ok := Number(tc.err)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: Number = %d, %v; want %d, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
