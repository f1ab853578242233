package bundle

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite": pure Go, so the static binary keeps working

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// sqliteWriter writes the SQLite file: per weapon table T, the table T (the current version of
// every key, primary key key, with an FTS5 index T_fts on name), the table T_older (the versions
// that are not current, primary key key and version) and the view T_history (every version:
// both, with is_current), so that no row is stored twice; the materials and the upgrade links of
// the current rows; and meta.
type sqliteWriter struct {
	ctx    context.Context
	db     *sql.DB
	tx     *sql.Tx
	tables []string
	cols   []column
	idx    map[string]int // column name -> index
	hist   *sql.Stmt
	cur    *sql.Stmt
	mats   *sql.Stmt
	ups    *sql.Stmt
	table  string
}

func newSQLiteWriter(ctx context.Context, path string) (*sqliteWriter, error) {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	w := &sqliteWriter{ctx: ctx, db: db}
	// A file being built needs no journal: a failed build is thrown away whole.
	for _, p := range []string{"PRAGMA journal_mode = OFF", "PRAGMA synchronous = OFF", "PRAGMA page_size = 8192"} {
		if _, err := db.ExecContext(ctx, p); err != nil {
			db.Close()
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	if w.tx, err = db.BeginTx(ctx, nil); err != nil {
		db.Close()
		return nil, err
	}
	if err := w.exec(`CREATE TABLE materials (key TEXT NOT NULL, weapon_table TEXT NOT NULL, recipe TEXT NOT NULL,
		option INTEGER NOT NULL, position INTEGER NOT NULL, item_id TEXT, name TEXT, quantity INTEGER, key_item INTEGER NOT NULL)`,
		`CREATE TABLE upgrades (key TEXT NOT NULL, weapon_table TEXT NOT NULL, direction TEXT NOT NULL,
		position INTEGER NOT NULL, page TEXT NOT NULL, row_id TEXT, name TEXT, target_key TEXT)`); err != nil {
		w.abort()
		return nil, err
	}
	if w.mats, err = w.tx.PrepareContext(ctx, "INSERT INTO materials VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"); err == nil {
		w.ups, err = w.tx.PrepareContext(ctx, "INSERT INTO upgrades VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
	}
	if err != nil {
		w.abort()
		return nil, err
	}
	return w, nil
}

func (w *sqliteWriter) exec(stmts ...string) error {
	for _, s := range stmts {
		if _, err := w.tx.ExecContext(w.ctx, s); err != nil {
			return fmt.Errorf("sqlite: %s: %w", strings.SplitN(s, "(", 2)[0], err)
		}
	}
	return nil
}

// abort closes the file without finishing it (the caller removes it).
func (w *sqliteWriter) abort() {
	if w.tx != nil {
		_ = w.tx.Rollback()
	}
	w.db.Close()
}

func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

func (w *sqliteWriter) begin(table string, cols []column) error {
	w.table, w.cols, w.tables = table, cols, append(w.tables, table)
	w.idx = map[string]int{}
	defs := make([]string, len(cols))
	for i, c := range cols {
		w.idx[c.name] = i
		typ := "TEXT"
		if k := c.kind(); k == kindInt || k == kindBool {
			typ = "INTEGER"
		}
		defs[i] = quote(c.name) + " " + typ
	}
	t, o := quote(table), quote(table+"_older")
	if err := w.exec("CREATE TABLE "+t+" ("+strings.Join(defs, ", ")+", PRIMARY KEY (key))",
		"CREATE TABLE "+o+" ("+strings.Join(defs, ", ")+", PRIMARY KEY (key, version))",
		"CREATE VIEW "+quote(table+"_history")+" AS SELECT *, 1 AS is_current FROM "+t+" UNION ALL SELECT *, 0 FROM "+o); err != nil {
		return err
	}
	marks := strings.Repeat("?, ", len(cols))
	var err error
	if w.cur, err = w.tx.PrepareContext(w.ctx, "INSERT INTO "+t+" VALUES ("+strings.TrimSuffix(marks, ", ")+")"); err != nil {
		return err
	}
	w.hist, err = w.tx.PrepareContext(w.ctx, "INSERT INTO "+o+" VALUES ("+strings.TrimSuffix(marks, ", ")+")")
	return err
}

// value is a column's value as SQLite stores it: integers and booleans as INTEGER, times as
// RFC 3339 text in UTC, JSON as its text.
func value(c column, v []byte) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.kind() {
	case kindInt:
		return strconv.ParseInt(string(v), 10, 64)
	case kindBool:
		if string(v) == "t" {
			return int64(1), nil
		}
		return int64(0), nil
	case kindTime:
		t, err := time.Parse(pgTimeLayout, string(v))
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c.name, err)
		}
		return t.UTC().Format(time.RFC3339Nano), nil
	}
	return string(v), nil
}

func (w *sqliteWriter) write(r row, current bool) error {
	vals := make([]any, len(r))
	for i, v := range r {
		var err error
		if vals[i], err = value(w.cols[i], v); err != nil {
			return fmt.Errorf("key %s: %w", r[0], err)
		}
	}
	if !current {
		if _, err := w.hist.ExecContext(w.ctx, vals...); err != nil {
			return fmt.Errorf("sqlite: insert %s into %s_older: %w", r[0], w.table, err)
		}
		return nil
	}
	if _, err := w.cur.ExecContext(w.ctx, vals...); err != nil {
		return fmt.Errorf("sqlite: insert %s into %s: %w", r[0], w.table, err)
	}
	if err := w.materials(r); err != nil {
		return fmt.Errorf("key %s: %w", r[0], err)
	}
	if err := w.upgrades(r); err != nil {
		return fmt.Errorf("key %s: %w", r[0], err)
	}
	return nil
}

func (w *sqliteWriter) get(r row, col string) []byte {
	if i, ok := w.idx[col]; ok {
		return r[i]
	}
	return nil
}

// materials writes the items of a row's recipes (by recipe name, option and position) and of
// its tower upgrades (recipe "tower STAT"), as /api/materials shows them.
func (w *sqliteWriter) materials(r row) error {
	key := string(r[0])
	if b := w.get(r, "materials"); b != nil {
		var recipes map[string][][]codecs.Material
		if err := json.Unmarshal(b, &recipes); err != nil {
			return fmt.Errorf("decode materials: %w", err)
		}
		for _, name := range slices.Sorted(maps.Keys(recipes)) {
			for opt, alt := range recipes[name] {
				if err := w.material(key, name, opt+1, alt); err != nil {
					return err
				}
			}
		}
	}
	if b := w.get(r, "tower"); b != nil {
		var t codecs.Tower
		if err := json.Unmarshal(b, &t); err != nil {
			return fmt.Errorf("decode tower: %w", err)
		}
		for _, u := range t.Upgrades {
			if err := w.material(key, "tower "+u.Stat, 1, u.Materials); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *sqliteWriter) material(key, recipe string, option int, ms []codecs.Material) error {
	for i, m := range ms {
		if _, err := w.mats.ExecContext(w.ctx, key, w.table, recipe, option, i+1, m.ItemID, m.Name, m.Quantity, m.Key); err != nil {
			return fmt.Errorf("sqlite: insert a material: %w", err)
		}
	}
	return nil
}

// upgrades writes a row's upgrade links, each as the site lists it (page, row id, name) and the
// key of the weapon it names (NULL when its page is not a weapon page).
func (w *sqliteWriter) upgrades(r row) error {
	page := string(w.get(r, "page"))
	for _, dir := range []string{"from", "to"} {
		b := w.get(r, "upgrade_"+dir)
		if b == nil {
			continue
		}
		var refs []codecs.WeaponRef
		if err := json.Unmarshal(b, &refs); err != nil {
			return fmt.Errorf("decode upgrade_%s: %w", dir, err)
		}
		for i, ref := range refs {
			p := ref.Page
			if p == "" {
				p = page
			}
			var target any
			if t, kind, err := codecs.ParsePageName(p); err == nil && ref.RowID != "" {
				target = codecs.RecordKey(t, kind, ref.RowID, 1)
			}
			if _, err := w.ups.ExecContext(w.ctx, string(r[0]), w.table, dir, i+1, p, ref.RowID, ref.Name, target); err != nil {
				return fmt.Errorf("sqlite: insert an upgrade link: %w", err)
			}
		}
	}
	return nil
}

func (w *sqliteWriter) end() error {
	err := w.cur.Close()
	if e := w.hist.Close(); err == nil {
		err = e
	}
	return err
}

// finish writes the indexes and meta, commits and closes the file.
func (w *sqliteWriter) finish(c *counts, created time.Time) error {
	defer w.db.Close()
	if err := w.mats.Close(); err != nil {
		return err
	}
	if err := w.ups.Close(); err != nil {
		return err
	}
	if err := w.exec(w.indexes()...); err != nil {
		return err
	}
	if err := w.meta(c, created); err != nil {
		return err
	}
	if err := w.tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	w.tx = nil
	if _, err := w.db.ExecContext(w.ctx, "ANALYZE"); err != nil {
		return fmt.Errorf("sqlite: analyze: %w", err)
	}
	return w.db.Close()
}

// indexes are the statements of the indexes: keys, names and row ids; the FTS5 index of the
// names of each table of current rows (content="T": Datasette finds it and offers _search).
func (w *sqliteWriter) indexes() []string {
	stmts := []string{
		"CREATE INDEX materials_item_id ON materials (item_id)",
		"CREATE INDEX materials_name ON materials (name)",
		"CREATE INDEX materials_key ON materials (key)",
		"CREATE INDEX upgrades_key ON upgrades (key)",
		"CREATE INDEX upgrades_target_key ON upgrades (target_key)",
	}
	for _, t := range w.tables {
		o := t + "_older"
		stmts = append(stmts,
			"CREATE INDEX "+quote(t+"_name")+" ON "+quote(t)+" (name)",
			"CREATE INDEX "+quote(t+"_row_id")+" ON "+quote(t)+" (row_id COLLATE NOCASE)",
			"CREATE INDEX "+quote(o+"_name")+" ON "+quote(o)+" (name)",
			"CREATE VIRTUAL TABLE "+quote(t+"_fts")+` USING fts5(name, content="`+t+`", content_rowid="rowid")`,
			"INSERT INTO "+quote(t+"_fts")+"("+quote(t+"_fts")+") VALUES ('rebuild')")
	}
	return stmts
}

// meta writes the table meta: one row per fact (name, value).
func (w *sqliteWriter) meta(c *counts, created time.Time) error {
	if err := w.exec("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"); err != nil {
		return err
	}
	facts := [][2]string{
		{"data_version", c.version},
		{"created_at", created.UTC().Format(time.RFC3339)},
		{"schema_version", strconv.FormatInt(c.schema, 10)},
		{"first_scraped_at", formatTime(c.first)},
		{"last_scraped_at", formatTime(c.last)},
	}
	for _, t := range w.tables {
		facts = append(facts, [2]string{"rows." + t, strconv.FormatInt(c.rows[t], 10)},
			[2]string{"current_rows." + t, strconv.FormatInt(c.current[t], 10)})
	}
	for _, f := range facts {
		if _, err := w.tx.ExecContext(w.ctx, "INSERT INTO meta VALUES (?, ?)", f[0], f[1]); err != nil {
			return fmt.Errorf("sqlite: insert meta %s: %w", f[0], err)
		}
	}
	return nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
