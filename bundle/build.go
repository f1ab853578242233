package bundle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Format is a kind of file of the dataset.
type Format string

// The formats.
const (
	FormatSQLite Format = "sqlite" // one database of every table
	FormatJSONL  Format = "jsonl"  // one JSON Lines file per weapon table
	FormatCSV    Format = "csv"    // one CSV file per weapon table
)

// Formats are every format, in the order of a manifest's files.
func Formats() []Format { return []Format{FormatSQLite, FormatJSONL, FormatCSV} }

// ParseFormats reads a list of format names ("sqlite", "jsonl", "csv"); none is an error.
func ParseFormats(names []string) ([]Format, error) {
	var out []Format
	for _, n := range names {
		f := Format(strings.ToLower(strings.TrimSpace(n)))
		if !slices.Contains(Formats(), f) {
			return nil, fmt.Errorf("format %q: want sqlite, jsonl or csv", n)
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no format: give sqlite, jsonl or csv (comma-separated)")
	}
	return out, nil
}

const sqliteBuildName = "weapons.sqlite" // the SQLite file's name until its version is known

// build writes the files of formats into dir (an empty folder) from one snapshot of the
// database, gives them their versioned names and returns their manifest (the files synced; the
// manifest not written). progress, if not nil, hears of each table read.
func build(ctx context.Context, db *pgxpool.Pool, dir string, formats []Format, created time.Time,
	progress func(string, int64, int64)) (*Manifest, error) {
	var m *Manifest
	err := pgx.BeginTxFunc(ctx, db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			var err error
			m, err = buildFrom(ctx, tx, dir, formats, created, progress)
			return err
		})
	if err != nil {
		return nil, err
	}
	return m, nil
}

func buildFrom(ctx context.Context, tx pgx.Tx, dir string, formats []Format, created time.Time,
	progress func(string, int64, int64)) (*Manifest, error) {
	text := &textWriter{dir: dir, jsonl: slices.Contains(formats, FormatJSONL), csv: slices.Contains(formats, FormatCSV)}
	writers := []tableWriter{text}
	var sq *sqliteWriter
	if slices.Contains(formats, FormatSQLite) {
		var err error
		if sq, err = newSQLiteWriter(ctx, filepath.Join(dir, sqliteBuildName)); err != nil {
			return nil, fmt.Errorf("create the SQLite file: %w", err)
		}
		writers = append(writers, sq)
	}
	rd := newReader(tx, progress, writers...)
	err := rd.readAll(ctx)
	if err == nil && sq != nil {
		if err = sq.finish(&rd.counts, created); err != nil {
			err = fmt.Errorf("finish the SQLite file: %w", err)
		}
	} else if sq != nil {
		sq.abort()
	}
	if err != nil {
		_ = text.closeFiles(nil)
		return nil, err
	}
	return name(ctx, dir, &rd.counts, text.written, sq != nil, created)
}

// name gives the files written in dir their versioned names and describes them. Each file is
// synced as it is hashed, which on a busy disk can take seconds per file: a stop is heard between
// files.
func name(ctx context.Context, dir string, c *counts, written []string, sqlite bool, created time.Time) (*Manifest, error) {
	m := &Manifest{Version: c.version, CreatedAt: created.UTC().Truncate(time.Second), SchemaVersion: c.schema,
		Fingerprint: c.fingerprint}
	var total int64
	for _, n := range c.rows {
		total += n
	}
	if sqlite {
		m.Files = append(m.Files, File{Name: filePrefix + c.version + ".sqlite", Kind: "sqlite", Format: string(FormatSQLite),
			Rows: total})
	}
	for _, w := range written {
		table, ext, _ := strings.Cut(w, ".")
		m.Files = append(m.Files, File{Name: filePrefix + c.version + "-" + w, Kind: w, Format: ext, Table: table,
			Rows: c.current[table]})
	}
	slices.SortStableFunc(m.Files, func(a, b File) int { return formatRank(a.Format) - formatRank(b.Format) })
	for i := range m.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f := &m.Files[i]
		from := f.Kind
		if f.Format == string(FormatSQLite) {
			from = sqliteBuildName
		}
		if err := os.Rename(filepath.Join(dir, from), filepath.Join(dir, f.Name)); err != nil {
			return nil, fmt.Errorf("name the file %s: %w", f.Name, err)
		}
		var err error
		if f.Size, f.SHA256, err = describe(filepath.Join(dir, f.Name)); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func formatRank(f string) int { return slices.Index(Formats(), Format(f)) }
