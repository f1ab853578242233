package sink

import (
	"database/sql/driver"

	json "github.com/goccy/go-json"
	"github.com/jackc/pgx/v5/pgtype"
)

// jsonbText is a jsonb column's value given as its JSON text, by pointer: a value of one
// pointer goes into a row's []any without an allocation, where a []byte was boxed (four a row).
// The sink's connections encode it with jsonbCodec, to the bytes pgx writes for a []byte of JSON;
// a connection without it asks Value, to the same bytes.
type jsonbText struct{ raw *json.RawMessage }

func (v jsonbText) Value() (driver.Value, error) { return []byte(*v.raw), nil }

// jsonbCodec is pgx's jsonb codec, which also encodes jsonbText.
type jsonbCodec struct{ pgtype.Codec }

func (c jsonbCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.(jsonbText); ok && (format == pgtype.BinaryFormatCode || format == pgtype.TextFormatCode) {
		return jsonbTextPlan{binary: format == pgtype.BinaryFormatCode}
	}
	return c.Codec.PlanEncode(m, oid, format, value)
}

// jsonbTextPlan writes a jsonbText as pgx writes a []byte of JSON: the text, after jsonb's
// version byte (1) in the binary format.
type jsonbTextPlan struct{ binary bool }

func (p jsonbTextPlan) Encode(value any, buf []byte) ([]byte, error) {
	if p.binary {
		buf = append(buf, 1)
	}
	return append(buf, *value.(jsonbText).raw...), nil
}

// registerJSONB makes m encode jsonbText with jsonbCodec (the sink's connections, once each).
func registerJSONB(m *pgtype.Map) {
	if t, ok := m.TypeForOID(pgtype.JSONBOID); ok {
		m.RegisterType(&pgtype.Type{Name: t.Name, OID: t.OID, Codec: jsonbCodec{t.Codec}})
	}
}
