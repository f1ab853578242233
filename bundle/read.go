package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mhfz/mhfz-pipeline/migrations"
)

// leftOut are the columns of the weapon tables the files do not carry: where the row travelled
// through Kafka says nothing about the weapon, and differs between two deployments (or a
// re-processing) that hold the same data, whose versions must be the same.
var leftOut = []string{"kafka_topic", "kafka_partition", "kafka_offset"}

// column is one column of a weapon table as the files carry it.
type column struct {
	name string
	oid  uint32 // its PostgreSQL type
}

// The kinds of values, by how the files write them.
const (
	kindText = iota
	kindInt
	kindBool
	kindTime
	kindJSON
)

func (c column) kind() int {
	switch c.oid {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
		return kindInt
	case pgtype.BoolOID:
		return kindBool
	case pgtype.TimestamptzOID:
		return kindTime
	case pgtype.JSONBOID, pgtype.JSONOID:
		return kindJSON
	}
	return kindText
}

// row is one row of a weapon table: its values in PostgreSQL's text form (nil: NULL), in the
// order of the table's columns.
type row [][]byte

// tableWriter is what a format does with the rows of the weapon tables, read in order of key
// and version.
type tableWriter interface {
	begin(table string, cols []column) error
	// write takes one row; current says it is the latest version of its key. The row's bytes are
	// the writer's only until it returns.
	write(r row, current bool) error
	end() error
}

// pgTimeLayout is how PostgreSQL writes a timestamptz in the UTC session the reader opens.
const pgTimeLayout = "2006-01-02 15:04:05.999999999Z07"

// counts are what the reader learnt of the data besides the rows.
type counts struct {
	rows, current map[string]int64 // by table
	first, last   time.Time        // the oldest and the newest scraped_at
	schema        int64            // the goose version
	version       string           // the data version
	fingerprint   string           // see fingerprint
}

// reader reads every weapon table in one snapshot and hands the rows to the writers.
type reader struct {
	tx       pgx.Tx
	writers  []tableWriter
	progress func(table string, rows, current int64)
	sum      hash.Hash
	counts   counts
}

func newReader(tx pgx.Tx, progress func(string, int64, int64), writers ...tableWriter) *reader {
	return &reader{tx: tx, writers: writers, progress: progress, sum: sha256.New(),
		counts: counts{rows: map[string]int64{}, current: map[string]int64{}}}
}

// readAll reads every weapon table, then the schema's version; the data version is the
// SHA-256 of every row's values, table by table, in order of key and version.
func (rd *reader) readAll(ctx context.Context) error {
	for _, t := range migrations.WeaponTables() {
		if err := rd.readTable(ctx, t); err != nil {
			return fmt.Errorf("read table %s: %w", t, err)
		}
	}
	if err := rd.tx.QueryRow(ctx, "SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied").
		Scan(&rd.counts.schema); err != nil {
		return fmt.Errorf("read the schema's version: %w", err)
	}
	rd.counts.version = hex.EncodeToString(rd.sum.Sum(nil))[:16]
	var err error
	rd.counts.fingerprint, err = fingerprint(ctx, rd.tx)
	return err
}

// querier is a connection, a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// fingerprint is a cheap stand-in for the data version, which a publication compares with the
// latest version's before it reads the rows: the keys, versions and content hashes of every
// table (a new version of a weapon, a re-processing that parses a row differently and a
// rebuilt table change it) and the schema's version, read in one statement from the narrow
// columns. The rows are never updated in place (a change is a new version, with its content
// hash), so the same fingerprint means the same rows.
func fingerprint(ctx context.Context, db querier) (string, error) {
	var branches []string
	for _, t := range migrations.WeaponTables() {
		branches = append(branches, fmt.Sprintf(`SELECT '%s' AS t, md5(coalesce(string_agg(key || ' ' || version || ' ' || content_hash,
			E'\n' ORDER BY key, version), '')) AS h FROM %s`, t, pgx.Identifier{t}.Sanitize())) // t: one of our table names
	}
	// The schema's version too: a migration may move a value from one column to another.
	var sums string
	err := db.QueryRow(ctx, `SELECT string_agg(t || ' ' || h, E'\n' ORDER BY t) || (SELECT coalesce(max(version_id), 0)`+
		` FROM goose_db_version WHERE is_applied) FROM (`+strings.Join(branches, " UNION ALL ")+") x").Scan(&sums)
	if err != nil {
		return "", fmt.Errorf("fingerprint the tables: %w", err)
	}
	sum := sha256.Sum256([]byte(sums))
	return hex.EncodeToString(sum[:]), nil
}

func (rd *reader) readTable(ctx context.Context, table string) error {
	rows, err := rd.tx.Query(ctx, "SELECT * FROM "+pgx.Identifier{table}.Sanitize()+" ORDER BY key, version",
		pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, keep := columnsOf(rows.FieldDescriptions())
	if cols[0].name != "key" {
		return fmt.Errorf("its first column is %s, not key", cols[0].name)
	}
	for _, w := range rd.writers {
		if err := w.begin(table, cols); err != nil {
			return err
		}
	}
	rd.hashString(table)
	if err := rd.stream(rows, cols, keep, table); err != nil {
		return err
	}
	for _, w := range rd.writers {
		if err := w.end(); err != nil {
			return err
		}
	}
	if rd.progress != nil {
		rd.progress(table, rd.counts.rows[table], rd.counts.current[table])
	}
	return nil
}

// columnsOf returns the columns the files carry and their indexes among the fields.
func columnsOf(fields []pgconn.FieldDescription) ([]column, []int) {
	var cols []column
	var keep []int
	for i, f := range fields {
		if slices.Contains(leftOut, f.Name) {
			continue
		}
		cols = append(cols, column{name: f.Name, oid: f.DataTypeOID})
		keep = append(keep, i)
	}
	return cols, keep
}

// stream hands each row to the writers once the next row tells whether it is its key's latest.
func (rd *reader) stream(rows pgx.Rows, cols []column, keep []int, table string) error {
	scraped := slices.IndexFunc(cols, func(c column) bool { return c.name == "scraped_at" })
	var prev row
	flush := func(current bool) error {
		rd.counts.rows[table]++
		if current {
			rd.counts.current[table]++
		}
		for _, w := range rd.writers {
			if err := w.write(prev, current); err != nil {
				return err
			}
		}
		return nil
	}
	for rows.Next() {
		raw := rows.RawValues()
		r := make(row, len(keep))
		for i, k := range keep {
			if raw[k] != nil {
				r[i] = slices.Clone(raw[k])
			}
		}
		rd.hashRow(r)
		if scraped >= 0 {
			rd.noteScrape(r[scraped])
		}
		if prev != nil {
			if err := flush(string(prev[0]) != string(r[0])); err != nil {
				return err
			}
		}
		prev = r
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if prev != nil {
		return flush(true)
	}
	return nil
}

func (rd *reader) noteScrape(v []byte) {
	t, err := time.Parse(pgTimeLayout, string(v))
	if err != nil {
		return // not null in the schema; a value it cannot read leaves the times as they are
	}
	if rd.counts.first.IsZero() || t.Before(rd.counts.first) {
		rd.counts.first = t
	}
	if t.After(rd.counts.last) {
		rd.counts.last = t
	}
}

// hashRow adds a row to the data version: each value with its length (NULL apart), so that
// no two different rows hash alike.
func (rd *reader) hashRow(r row) {
	var n [9]byte
	for _, v := range r {
		if v == nil {
			rd.sum.Write([]byte{0})
			continue
		}
		n[0] = 1
		binary.BigEndian.PutUint64(n[1:], uint64(len(v)))
		rd.sum.Write(n[:])
		rd.sum.Write(v)
	}
}

func (rd *reader) hashString(s string) { rd.hashRow(row{[]byte(s)}) }
