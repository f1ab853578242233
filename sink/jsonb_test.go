package sink

import (
	"bytes"
	"testing"

	json "github.com/goccy/go-json"
	"github.com/jackc/pgx/v5/pgtype"
)

// TestJSONBTextAsBytes: a jsonbText is encoded to the bytes pgx writes for a []byte of the same
// JSON, in both formats, with the sink's codec registered and without it (pgx asks its Value).
func TestJSONBTextAsBytes(t *testing.T) {
	raw := json.RawMessage(`[{"item_id":"a","name":"A <b>&","quantity":2}]`)
	for _, registered := range []bool{true, false} {
		m := pgtype.NewMap()
		if registered {
			registerJSONB(m)
		}
		for _, format := range []int16{pgtype.BinaryFormatCode, pgtype.TextFormatCode} {
			want, err := pgtype.NewMap().Encode(pgtype.JSONBOID, format, []byte(raw), []byte("head"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Encode(pgtype.JSONBOID, format, jsonbText{&raw}, []byte("head"))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("registered %v, format %d: %q (%v), a []byte gives %q", registered, format, got, err, want)
			}
		}
	}
}
