package mssqltest

import (
	"fmt"

	"github.com/scs-contrib/mssqlstore/internal/tsql"
)

// SQL_VARIANT on the wire (MS-TDS 2.2.5.5.4, SSVARIANTTYPE): the column
// is a LONGLEN type of maximum size 8016; a value is its total length (4
// bytes, 0 for NULL), the base type's token, the count of property bytes,
// the properties, then the base value without its own length prefix.
// The fixed-length base types go under their fixed tokens (INT4, not
// INTN), the others under their N or BIG token with these properties:
// the scale of TIME, DATETIME2 and DATETIMEOFFSET; the precision and
// scale of DECIMAL and NUMERIC; the maximum length (2 bytes) of BINARY
// and VARBINARY; the collation (5 bytes) and maximum length of the
// character types.

// variantMaxSize is SQL Server's maximum size of a sql_variant value.
const variantMaxSize = 8016

// variantValue appends one sql_variant value (not NULL).
func (t *tokbuf) variantValue(v any) error {
	vv, ok := v.(tsql.Variant)
	if !ok {
		return fmt.Errorf("mssqltest: sql_variant column holds %T", v)
	}
	base, err := wireColumn(tsql.Column{Name: "variant", Type: vv.Type}, [][]any{{vv.Value}}, 0)
	if err != nil {
		return err
	}
	if base.plp {
		return fmt.Errorf("mssqltest: sql_variant base type %v has no fixed maximum length", vv.Type)
	}
	var tmp tokbuf
	if err := tmp.value(vv.Value, base); err != nil {
		return err
	}
	data := tmp.b
	var token byte
	var props []byte
	switch base.tdsType {
	case tdsIntN:
		token = map[int]byte{1: tdsInt1, 2: tdsInt2, 4: tdsInt4, 8: tdsInt8}[base.size]
		data = data[1:]
	case tdsBitN:
		token, data = tdsBit, data[1:]
	case tdsFltN:
		token = map[int]byte{4: tdsFlt4, 8: tdsFlt8}[base.size]
		data = data[1:]
	case tdsMoneyN:
		token = map[int]byte{4: tdsMoney4, 8: tdsMoney}[base.size]
		data = data[1:]
	case tdsDateTimeN:
		token = map[int]byte{4: tdsDateTim4, 8: tdsDateTime}[base.size]
		data = data[1:]
	case tdsGUID, tdsDateN:
		token, data = base.tdsType, data[1:]
	case tdsTimeN, tdsDateTime2N, tdsDateTimeOffN:
		token, data = base.tdsType, data[1:]
		props = []byte{byte(base.scale)}
	case tdsDecimalN, tdsNumericN:
		token, data = base.tdsType, data[1:]
		props = []byte{byte(base.prec), byte(base.scale)}
	case tdsBigBinary, tdsBigVarBin:
		token, data = base.tdsType, data[2:]
		props = []byte{byte(base.size), byte(base.size >> 8)}
	case tdsBigChar, tdsBigVarChar, tdsNChar, tdsNVarChar:
		token, data = base.tdsType, data[2:]
		props = append(base.coll[:], byte(base.size), byte(base.size>>8))
	}
	if token == 0 {
		return fmt.Errorf("mssqltest: sql_variant base type %v cannot be sent", vv.Type)
	}
	total := 2 + len(props) + len(data)
	if total > variantMaxSize+2+len(props) {
		return fmt.Errorf("mssqltest: sql_variant value of %d bytes", total)
	}
	t.u32(uint32(total))
	t.byte1(token)
	t.byte1(byte(len(props)))
	t.bytes(props)
	t.bytes(data)
	return nil
}
