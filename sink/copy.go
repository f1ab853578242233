package sink

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"github.com/jackc/pgx/v5"
)

// The sink writes its COPY itself, in PostgreSQL's binary format, from the values its columns
// give: pgx's CopyFrom looked up an encoding plan for each value of each row and passed the rows
// through a pipe, about a fifth of the sink's CPU (docs/benchmarks.md). The bytes are those pgx
// writes for the same values (TestBinaryCopyAsPgx, on the real schema). A single row's INSERT
// (insertOne) still goes through pgx.

// copyInto copies the rows of recs, records of table, into the table into (table itself, or its
// staging table) in one COPY written into a buffer of bufs, and returns the rows PostgreSQL
// stored. A value that cannot be encoded for its column fails the whole COPY before anything is
// sent, with a *copyValueError.
func copyInto(ctx context.Context, tx pgx.Tx, bufs *copyBuffers, into pgx.Identifier, table string, recs []*record) (int64, error) {
	cols := tableColumns(table)
	data, err := appendCopy(bufs.get(), recs, cols)
	defer bufs.put(data)
	if err != nil {
		return 0, err
	}
	sql := fmt.Sprintf("COPY %s (%s) FROM STDIN BINARY", into.Sanitize(), identifiers(columnNames(cols)))
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(data), sql)
	return tag.RowsAffected(), err
}

// copyBuffers keeps the buffers of a store's COPYs from one to the next (a table's part of a
// batch of 5,000 rows is up to about 7 MB). Not a sync.Pool: the collector empties a pool every
// other cycle, several times a batch in the sink, and each COPY then grew its buffer again
// from nothing, copying it at each doubling (docs/benchmarks.md). The zero value is empty.
type copyBuffers struct {
	mu   sync.Mutex
	free [][]byte
}

// maxCopyBuffers is how many buffers a store keeps: one per COPY at once (a writer runs one at a
// time), for more writers than a sink runs. maxCopyBuffer is the largest it keeps: an unusual
// batch's buffer is left to the collector.
const (
	maxCopyBuffers = 8
	maxCopyBuffer  = 64 << 20
)

// get is an empty buffer, kept from an earlier COPY when there is one.
func (c *copyBuffers) get() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.free)
	if n == 0 {
		return nil
	}
	buf := c.free[n-1]
	c.free = c.free[:n-1]
	return buf[:0]
}

// put keeps buf for a later COPY.
func (c *copyBuffers) put(buf []byte) {
	if cap(buf) == 0 || cap(buf) > maxCopyBuffer {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.free) < maxCopyBuffers {
		c.free = append(c.free, buf)
	}
}

// copySignature starts a binary COPY, before its flags and the length of its header extension.
const copySignature = "PGCOPY\n\xff\r\n\x00"

// appendCopy appends the binary COPY of the rows of recs to buf: the header, each row's field
// count and fields (a length, -1 for NULL, and the value's bytes), and the trailer.
func appendCopy(buf []byte, recs []*record, cols []column) ([]byte, error) {
	buf = append(buf, copySignature...)
	buf = binary.BigEndian.AppendUint32(buf, 0) // flags: no OIDs
	buf = binary.BigEndian.AppendUint32(buf, 0) // no header extension
	for _, r := range recs {
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(cols)))
		for _, c := range cols {
			var err error
			if buf, err = appendCopyValue(buf, c.value(r)); err != nil {
				return buf, &copyValueError{pos: r.pos.String(), column: c.name, err: err}
			}
		}
	}
	return binary.BigEndian.AppendUint16(buf, math.MaxUint16), nil // -1: no more rows
}

// copyValueError is a value the binary COPY cannot encode for its column: the whole COPY is
// refused, as PostgreSQL refuses one with a bad row (copyRejected), and its rows are tried again
// in halves down to the row, whose INSERT says why.
type copyValueError struct {
	pos    string
	column string
	err    error
}

func (e *copyValueError) Error() string {
	return fmt.Sprintf("copy %s: column %s: %v", e.pos, e.column, e.err)
}

func (e *copyValueError) Unwrap() error { return e.err }

// y2k is where PostgreSQL's timestamps count their microseconds from: 2000-01-01 UTC, in
// microseconds since 1970 (TestCopyValuesAsPgx checks it against pgx).
const y2k = 946_684_800 * 1_000_000

// appendCopyValue appends one field: by the type of the value a column gives, which names its
// PostgreSQL type (the columns in columns.go; a type not listed here is an error, not a guess).
func appendCopyValue(buf []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return appendNull(buf), nil
	case textRef:
		return appendField(buf, *v.s), nil
	case intRef: // integer
		if v.n == nil {
			return appendNull(buf), nil
		}
		return appendInt4(buf, int64(*v.n))
	case int32: // integer (the Kafka partition)
		return appendInt4(buf, int64(v))
	case int64Ref: // bigint
		return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(buf, 8), uint64(*v.n)), nil
	case bool:
		b := byte(0)
		if v {
			b = 1
		}
		return append(binary.BigEndian.AppendUint32(buf, 1), b), nil
	case timeRef: // timestamptz: microseconds since 2000-01-01 UTC
		t := *v.t
		micros := t.Unix()*1_000_000 + int64(t.Nanosecond())/1000 - y2k
		return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(buf, 8), uint64(micros)), nil
	case jsonbText:
		return appendJSONB(buf, *v.raw), nil
	case []byte: // jsonb: the materials column (storedMaterials)
		return appendJSONB(buf, v), nil
	case []string: // text[]
		if v == nil {
			return appendNull(buf), nil
		}
		return appendTextArray(buf, v), nil
	}
	return buf, fmt.Errorf("no binary COPY encoding for a value of type %T", v)
}

func appendNull(buf []byte) []byte { return binary.BigEndian.AppendUint32(buf, math.MaxUint32) }

func appendField[T string | []byte](buf []byte, b T) []byte {
	return append(binary.BigEndian.AppendUint32(buf, uint32(len(b))), b...)
}

// appendInt4 appends an integer, refusing one beyond its 32 bits as pgx does.
func appendInt4(buf []byte, n int64) ([]byte, error) {
	if n < math.MinInt32 || n > math.MaxInt32 {
		return buf, fmt.Errorf("%d is out of range for type integer", n)
	}
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(buf, 4), uint32(int32(n))), nil
}

// appendJSONB appends a jsonb value: its format's version (1) and the JSON text.
func appendJSONB(buf, doc []byte) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(1+len(doc)))
	return append(append(buf, 1), doc...)
}

// textOID is the type of text[]'s elements.
const textOID = 25

// appendTextArray appends a text[] of one dimension counted from 1, with no NULL in it; an
// empty one too has its dimension, of length 0, as pgx writes it.
func appendTextArray(buf []byte, elems []string) []byte {
	size := 20 // dimensions, NULL flag, element type; the dimension's length and lower bound
	for _, e := range elems {
		size += 4 + len(e)
	}
	buf = binary.BigEndian.AppendUint32(buf, uint32(size))
	buf = binary.BigEndian.AppendUint32(buf, 1) // one dimension
	buf = binary.BigEndian.AppendUint32(buf, 0) // no NULL element
	buf = binary.BigEndian.AppendUint32(buf, textOID)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(elems)))
	buf = binary.BigEndian.AppendUint32(buf, 1) // the lower bound
	for _, e := range elems {
		buf = appendField(buf, e)
	}
	return buf
}
