// Package sqlerr reads SQL Server errors out of the errors go-mssqldb
// returns, by number, never by message text.
package sqlerr

import (
	"errors"

	mssql "github.com/microsoft/go-mssqldb"
)

// Number returns the number of the SQL Server error in err's chain, and
// whether there is one. go-mssqldb returns mssql.Error by value; a
// pointer is accepted too.
func Number(err error) (int32, bool) {
	var e mssql.Error
	if errors.As(err, &e) {
		return e.Number, true
	}
	var pe *mssql.Error
	if errors.As(err, &pe) && pe != nil {
		return pe.Number, true
	}
	return 0, false
}
