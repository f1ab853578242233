package browse

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

var changeParams = []string{"type", "levels", "limit", "after"}

// Scrape is one scrape that created versions: when it ran (every record of a scrape has the
// scrape's start as scraped_at), and how many versions it created.
type Scrape struct {
	ScrapedAt time.Time `json:"scraped_at"`
	Versions  int64     `json:"versions"`
	New       int64     `json:"new"`     // first versions: weapons not seen before
	Changed   int64     `json:"changed"` // later versions: weapons whose content changed
}

func (s *Server) apiScrapes(w http.ResponseWriter, r *http.Request) error {
	scrapes, err := s.scrapes(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"scrapes": scrapes})
	return nil
}

// scrapes lists the scrapes that created versions, newest first.
func (s *Server) scrapes(ctx context.Context) ([]Scrape, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	var branches []string
	for _, t := range allTables() {
		branches = append(branches, `(SELECT scraped_at, count(*) AS n, count(*) FILTER (WHERE version = 1) AS first FROM `+
			pgx.Identifier{t}.Sanitize()+` GROUP BY scraped_at)`)
	}
	rows, err := s.db.Query(ctx, `SELECT scraped_at, sum(n)::bigint, sum(first)::bigint FROM (`+
		strings.Join(branches, " UNION ALL ")+`) x GROUP BY scraped_at ORDER BY scraped_at DESC`)
	if err != nil {
		return nil, s.dbError(ctx, "listing the scrapes", err)
	}
	out := []Scrape{}
	var sc Scrape
	_, err = pgx.ForEachRow(rows, []any{&sc.ScrapedAt, &sc.Versions, &sc.New}, func() error {
		sc.Changed = sc.Versions - sc.New
		out = append(out, sc)
		return nil
	})
	if err != nil {
		return nil, s.dbError(ctx, "listing the scrapes", err)
	}
	return out, nil
}

// ChangedVersion is one version a scrape created, with what changed since the one before.
type ChangedVersion struct {
	Key        string   `json:"key"`
	Name       string   `json:"name"`
	WeaponType string   `json:"weapon_type"`
	PageKind   string   `json:"page_kind"`
	Hidden     bool     `json:"hidden"`
	Level      *int32   `json:"level"`
	Version    int64    `json:"version"`
	Changes    []Change `json:"changes"` // empty for a first version
}

// ChangesPage is one page of the versions of a scrape, by key.
type ChangesPage struct {
	ScrapedAt time.Time        `json:"scraped_at"`
	Versions  []ChangedVersion `json:"versions"`
	Next      *string          `json:"next"`
}

func (s *Server) apiChanges(w http.ResponseWriter, r *http.Request) error {
	f := newForm(r)
	q := &materialQuery{}
	sq := &searchQuery{}
	sq.parseTypes(f)
	q.tables, q.levels, q.limit, q.after = sq.tables, f.boolean("levels", true), f.limit(100), f.text("after")
	if q.after != "" && tableOfKey(q.after) == "" {
		f.fail("after: not a cursor: give the next value of the previous page")
	}
	if f.err != nil {
		return f.err
	}
	page, err := s.changes(r.Context(), r.PathValue("scraped_at"), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// changes returns a page of the versions created by the scrape at (RFC 3339, or "latest").
func (s *Server) changes(ctx context.Context, at string, q *materialQuery) (*ChangesPage, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	when, err := s.scrapeTime(ctx, at)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, q.changesSQL(), when, q.after, q.limit+1)
	if err != nil {
		return nil, s.dbError(ctx, "the changes", err)
	}
	records, err := pgx.CollectRows(rows, pgx.RowToAddrOfStructByNameLax[weaponRecord])
	if err != nil {
		return nil, s.dbError(ctx, "the changes", err)
	}
	page := &ChangesPage{ScrapedAt: when, Versions: []ChangedVersion{}}
	for _, r := range records {
		changes, err := diffRecords(r.Previous, r.Record)
		if err != nil {
			return nil, fmt.Errorf("the changes: %s version %d: %w", r.Key, r.Version, err)
		}
		page.Versions = append(page.Versions, ChangedVersion{Key: r.Key, Name: r.Name, WeaponType: r.WeaponType,
			PageKind: r.PageKind, Hidden: r.Hidden, Level: r.Level, Version: r.Version, Changes: changes})
	}
	if len(page.Versions) > q.limit {
		page.Versions = page.Versions[:q.limit]
		next := page.Versions[q.limit-1].Key
		page.Next = &next
	}
	return page, nil
}

// changesSQL builds the statement of a page of the versions created by a scrape ($1), after a
// key ($2), at most $3: each row with its record and that of the version before.
func (q *materialQuery) changesSQL() string {
	var branches []string
	for _, t := range q.tables {
		id := pgx.Identifier{t}.Sanitize()
		cond := ""
		if !q.levels {
			cond = " AND NOT c.hidden"
		}
		branches = append(branches, fmt.Sprintf(`(SELECT %[3]s FROM %[1]s c LEFT JOIN %[1]s p ON p.key = c.key AND p.version = c.version - 1
			WHERE c.scraped_at = $1 AND c.key > $2%[2]s ORDER BY c.key LIMIT $3)`, id, cond,
			columnsOf("c", "to_jsonb(c)::text AS record", "CASE WHEN p.key IS NULL THEN NULL ELSE to_jsonb(p)::text END AS previous")))
	}
	return "SELECT * FROM (" + strings.Join(branches, " UNION ALL ") + ") x ORDER BY key LIMIT $3"
}

// scrapeTime reads the time of a scrape: RFC 3339 as the API gives it, or "latest".
func (s *Server) scrapeTime(ctx context.Context, at string) (time.Time, error) {
	if at != "latest" {
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return time.Time{}, badRequest("scraped_at: %q is not a time like 2025-10-22T08:00:00.123456Z (as /api/changes lists them) or latest", clip(at))
		}
		return t, nil
	}
	var branches []string
	for _, t := range allTables() {
		branches = append(branches, "(SELECT max(scraped_at) AS m FROM "+pgx.Identifier{t}.Sanitize()+")")
	}
	var t *time.Time
	if err := s.db.QueryRow(ctx, "SELECT max(m) FROM ("+strings.Join(branches, " UNION ALL ")+") x").Scan(&t); err != nil {
		return time.Time{}, s.dbError(ctx, "finding the latest scrape", err)
	}
	if t == nil {
		return time.Time{}, notFound("no scrape yet: the tables are empty")
	}
	return *t, nil
}
