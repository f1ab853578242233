package browse

import (
	"context"
	"encoding/xml"
	"fmt"
	"html"
	"net/http"
	"net/url"
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

// The Atom feed of the changes (/changes.atom): one entry per scrape that created versions,
// newest first, at most feedScrapes of them, each listing at most feedWeapons of the weapons it
// added or changed (weapons before their level rows), with a link to the scrape's page for the
// rest. Its ids are tag URIs, so that they stay the same whatever host serves the feed.
const (
	feedScrapes = 50
	feedWeapons = 50
	feedID      = "tag:mhfz-pipeline,2025:changes"
)

type atomFeed struct {
	XMLName   xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID        string      `xml:"id"`
	Title     string      `xml:"title"`
	Subtitle  string      `xml:"subtitle"`
	Updated   string      `xml:"updated"`
	Links     []atomLink  `xml:"link"`
	Author    atomPerson  `xml:"author"`
	Generator string      `xml:"generator"`
	Entries   []atomEntry `xml:"entry"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

type atomEntry struct {
	ID      string   `xml:"id"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Link    atomLink `xml:"link"`
	Summary string   `xml:"summary"`
	Content atomText `xml:"content"`
}

// feedItem is a weapon a scrape added (version 1) or changed.
type feedItem struct {
	Key, Name, WeaponType, PageKind string
	Hidden                          bool
	Version                         int64
}

func (s *Server) changesFeed(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r, nil); err != nil {
		return err
	}
	scrapes, err := s.scrapes(r.Context())
	if err != nil {
		return err
	}
	scrapes = scrapes[:min(len(scrapes), feedScrapes)]
	base := baseURL(r)
	feed := atomFeed{ID: feedID, Title: "MHFZ weapons: what changed", Updated: time.Unix(0, 0).UTC().Format(time.RFC3339),
		Subtitle: fmt.Sprintf("The weapons each scrape of the Ferias site added or changed, the last %d scrapes.", feedScrapes),
		Links: []atomLink{{Rel: "self", Type: "application/atom+xml", Href: base + "/changes.atom"},
			{Rel: "alternate", Type: "text/html", Href: base + "/changes"}},
		Author: atomPerson{Name: "mhfz serve"}, Generator: "mhfz serve"}
	if len(scrapes) > 0 {
		feed.Updated = scrapes[0].ScrapedAt.UTC().Format(time.RFC3339Nano)
	}
	for _, sc := range scrapes {
		items, err := s.scrapeWeapons(r.Context(), sc.ScrapedAt)
		if err != nil {
			return err
		}
		feed.Entries = append(feed.Entries, feedEntry(base, sc, items))
	}
	out, err := xml.MarshalIndent(feed, "", " ")
	if err != nil {
		return fmt.Errorf("the changes feed: %w", err)
	}
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append([]byte(xml.Header), out...))
	return nil
}

// feedEntry is the entry of one scrape: its counts, and its weapons as an HTML list of links.
func feedEntry(base string, sc Scrape, items []feedItem) atomEntry {
	at := sc.ScrapedAt.UTC().Format(time.RFC3339Nano)
	e := atomEntry{ID: feedID + ":" + at, Updated: at,
		Title:   fmt.Sprintf("Scrape of %s: %d new, %d changed", sc.ScrapedAt.UTC().Format("2006-01-02 15:04 UTC"), sc.New, sc.Changed),
		Link:    atomLink{Rel: "alternate", Type: "text/html", Href: base + "/changes/" + url.PathEscape(at)},
		Summary: fmt.Sprintf("%d weapon rows (level rows included) new, %d changed.", sc.New, sc.Changed)}
	var b strings.Builder
	b.WriteString("<ul>")
	for i, it := range items {
		if i == feedWeapons {
			break
		}
		what := "changed"
		if it.Version == 1 {
			what = "new"
		}
		fmt.Fprintf(&b, `<li><a href="%s">%s</a> (%s, %s) %s, version %d</li>`, html.EscapeString(base+"/weapons/"+it.Key),
			html.EscapeString(it.Name), html.EscapeString(humanLabel(it.WeaponType)), html.EscapeString(pageKindNames[it.PageKind]), what, it.Version)
	}
	b.WriteString("</ul>")
	if rest := sc.Versions - int64(min(len(items), feedWeapons)); rest > 0 {
		fmt.Fprintf(&b, `<p>and %d more: <a href="%s">every change of this scrape</a></p>`, rest, html.EscapeString(e.Link.Href))
	}
	e.Content = atomText{Type: "html", Body: b.String()}
	return e
}

// scrapeWeapons lists at most feedWeapons+1 of the versions a scrape created, the weapons
// before their level rows, each by key.
func (s *Server) scrapeWeapons(ctx context.Context, at time.Time) ([]feedItem, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	var branches []string
	for _, t := range allTables() {
		branches = append(branches, `(SELECT key, name, weapon_type, page_kind, hidden, version FROM `+pgx.Identifier{t}.Sanitize()+
			` WHERE scraped_at = $1 ORDER BY hidden, key LIMIT $2)`)
	}
	rows, err := s.db.Query(ctx, "SELECT * FROM ("+strings.Join(branches, " UNION ALL ")+") x ORDER BY hidden, key LIMIT $2",
		at, feedWeapons+1)
	if err != nil {
		return nil, s.dbError(ctx, "the changes feed", err)
	}
	var out []feedItem
	var it feedItem
	_, err = pgx.ForEachRow(rows, []any{&it.Key, &it.Name, &it.WeaponType, &it.PageKind, &it.Hidden, &it.Version}, func() error {
		out = append(out, it)
		return nil
	})
	if err != nil {
		return nil, s.dbError(ctx, "the changes feed", err)
	}
	return out, nil
}

// baseURL is the scheme and host the request was made to, for the feed's absolute links.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
