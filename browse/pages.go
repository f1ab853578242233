package browse

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	json "github.com/goccy/go-json"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

//go:embed web
var webFiles embed.FS

// pages holds the page templates, each the layout with its content.
type pages struct {
	byName map[string]*template.Template
	static http.Handler
}

func newPages() (*pages, error) {
	layout, err := template.New("layout.html").Funcs(pageFuncs).ParseFS(webFiles, "web/layout.html", "web/parts.html")
	if err != nil {
		return nil, fmt.Errorf("browse: page templates: %w", err)
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range []string{"search", "weapon", "materials", "changes", "scrape", "error"} {
		t, err := template.Must(layout.Clone()).ParseFS(webFiles, "web/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("browse: page template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	static, err := fs.Sub(webFiles, "web/static")
	if err != nil {
		return nil, fmt.Errorf("browse: static files: %w", err)
	}
	p.static = http.StripPrefix("/static/", http.FileServerFS(static))
	return p, nil
}

func (s *Server) pageRoutes(mux *http.ServeMux) {
	mux.Handle("GET /{$}", s.page(s.searchPage))
	mux.Handle("GET /fragments/results", s.page(s.resultsFragment))
	mux.Handle("GET /weapons/{type}/{kind}/{row}", s.page(s.weaponPage))
	mux.Handle("GET /materials", s.page(s.materialsPage))
	mux.Handle("GET /changes", s.page(s.changesPage))
	mux.Handle("GET /changes/{scraped_at}", s.page(s.scrapePage))
	mux.Handle("GET /changes.atom", s.page(s.changesFeed))
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		s.pages.static.ServeHTTP(w, r)
	}))
	mux.Handle("/", s.page(func(w http.ResponseWriter, r *http.Request) error {
		return notFound("no page %s", clip(r.URL.Path))
	}))
}

// page runs a page handler; its error becomes the error page, with the message an apiError
// carries and the same status as the API would give.
func (s *Server) page(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.answerError(w, r, err, func(status int, msg string) {
				s.render(w, r, status, "error", map[string]any{"Title": http.StatusText(status), "Status": status, "Message": msg})
			})
		}
	})
}

// render writes a page, whole or not at all.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := s.pages.byName[name].Execute(&buf, data); err != nil {
		s.log.Error("render page", "request", requestID(r), "page", name, "err", err)
		status, buf = http.StatusInternalServerError, *bytes.NewBufferString("internal error (request " + requestID(r) + ")")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// searchForm is what the search page shows in its form, and the choices of its selects.
type searchForm struct {
	V        url.Values
	Types    []codecs.WeaponType
	Kinds    []string
	Elements []string
	Sorts    []string
}

func newSearchForm(v url.Values) searchForm {
	return searchForm{V: v, Types: codecs.WeaponTypes, Kinds: []string{"base", "g", "ravi", "rngcat", "sp", "tower", "partner"},
		Elements: []string{"fire", "water", "thunder", "ice", "dragon", "poison", "para", "sleep", "blast", "light",
			"darkness", "black_flame", "crimson_demon", "music", "sound", "wind", "blaze", "emperors_roar", "thunder_pole",
			"burning_zero", "okiko", "tenshou"},
		Sorts: []string{"name", "-attack", "attack", "-affinity", "-rarity", "rarity", "-element", "-status", "-slots", "type", "-price", "price"}}
}

// results is what the results table shows.
type results struct {
	Page  *SearchPage
	Query template.URL // the query string of this search, without after (url.Values.Encode: safe)
	Error string
}

func (s *Server) searchResults(r *http.Request) (results, int, error) {
	f := newForm(r)
	res := results{Query: withoutAfter(r.URL.Query())}
	err := checkParams(r, searchParams)
	q := parseSearch(f, true)
	if err == nil {
		err = f.err
	}
	var ae *apiError
	if errors.As(err, &ae) && ae.status == http.StatusBadRequest {
		res.Error = ae.msg
		return res, ae.status, nil
	}
	if err != nil {
		return res, 0, err
	}
	res.Page, err = s.search(r.Context(), q)
	if errors.As(err, &ae) && ae.status < 500 {
		res.Error = ae.msg
		return res, ae.status, nil
	}
	return res, http.StatusOK, err
}

func withoutAfter(v url.Values) template.URL {
	c := url.Values{}
	for k, vals := range v {
		if k != "after" && k != "limit" {
			for _, x := range vals {
				if x != "" {
					c.Add(k, x)
				}
			}
		}
	}
	return template.URL(c.Encode()) //nolint:gosec // encoded by url.Values
}

func (s *Server) searchPage(w http.ResponseWriter, r *http.Request) error {
	res, status, err := s.searchResults(r)
	if err != nil {
		return err
	}
	s.render(w, r, status, "search", map[string]any{"Title": "Weapons", "Form": newSearchForm(r.URL.Query()), "Results": res})
	return nil
}

// resultsFragment is the results table alone, which the page fetches as the user types.
func (s *Server) resultsFragment(w http.ResponseWriter, r *http.Request) error {
	res, status, err := s.searchResults(r)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := s.pages.byName["search"].ExecuteTemplate(&buf, "results", res); err != nil {
		return fmt.Errorf("render results: %w", err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return nil
}

func (s *Server) materialsPage(w http.ResponseWriter, r *http.Request) error {
	data := map[string]any{"Title": "Materials", "V": r.URL.Query()}
	v := r.URL.Query()
	if v.Get("item_id") != "" || v.Get("name") != "" {
		if err := checkParams(r, materialParams); err != nil {
			return err
		}
		f := newForm(r)
		p, q := parseMaterials(f)
		if f.err != nil {
			return f.err
		}
		if err := s.materials(r.Context(), p, q); err != nil {
			return err
		}
		data["Item"], data["Query"] = p, withoutAfter(v)
		if p.ItemID != "" {
			data["ItemURL"] = s.feriasItem(p.ItemID)
		}
	} else if q := strings.TrimSpace(v.Get("q")); q != "" {
		if err := checkParams(r, itemParams); err != nil {
			return err
		}
		f := newForm(r)
		q, limit := f.text("q"), f.limit(defPageSize)
		if f.err != nil {
			return f.err
		}
		items, err := s.items(r.Context(), q, limit)
		if err != nil {
			return err
		}
		data["Items"] = items
	}
	s.render(w, r, http.StatusOK, "materials", data)
	return nil
}

func (s *Server) changesPage(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r, nil); err != nil {
		return err
	}
	scrapes, err := s.scrapes(r.Context())
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "changes", map[string]any{"Title": "What changed", "Scrapes": scrapes})
	return nil
}

func (s *Server) scrapePage(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r, changeParams); err != nil {
		return err
	}
	f := newForm(r)
	sq := &searchQuery{}
	sq.parseTypes(f)
	q := &materialQuery{tables: sq.tables, levels: f.boolean("levels", true), limit: f.limit(100), after: f.text("after")}
	if f.err != nil {
		return f.err
	}
	page, err := s.changes(r.Context(), r.PathValue("scraped_at"), q)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "scrape", map[string]any{"Title": "Changes of " + page.ScrapedAt.UTC().Format(time.DateTime),
		"Page": page, "At": r.PathValue("scraped_at"), "Query": withoutAfter(r.URL.Query()), "Form": newSearchForm(r.URL.Query())})
	return nil
}

// segment is one coloured part of a sharpness bar, in the site's colour (style.css: #ken .r …).
type segment struct {
	Colour string // the stored colour name
	CSS    string // the site's colour
	Hits   int
}

// siteColours are the colours the site draws its sharpness bars with.
var siteColours = map[string]string{"red": "red", "orange": "orange", "yellow": "yellow", "green": "lime",
	"blue": "blue", "white": "white", "purple": "violet", "sky": "cyan"}

func bars(v any) [][]segment {
	list, _ := v.([]any)
	var out [][]segment
	for _, bar := range list {
		segs, _ := bar.([]any)
		var b []segment
		for _, sg := range segs {
			m, _ := sg.(map[string]any)
			colour, _ := m["colour"].(string)
			hits, _ := m["hits"].(float64)
			css := siteColours[colour]
			if css == "" {
				css = "gray"
			}
			b = append(b, segment{Colour: colour, CSS: css, Hits: int(hits)})
		}
		out = append(out, b)
	}
	return out
}

// recipe is one list of materials of a weapon: each option ("or" on the page) a list of items.
type recipe struct {
	Name    string
	Options [][]codecs.Material
}

func recipes(v any) []recipe {
	if v == nil {
		return nil
	}
	b, _ := json.Marshal(v)
	var m map[string][][]codecs.Material
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	var out []recipe
	for _, name := range []string{"creation", "upgrade", "g_creation_100", "g_creation_60"} {
		if len(m[name]) > 0 {
			out = append(out, recipe{Name: name, Options: m[name]})
		}
	}
	return out
}

// pageKindNames name the page kinds as the site's index does.
var pageKindNames = map[string]string{"base": "base", "g": "G rank", "ravi": "Raviente", "rngcat": "RNGCat", "sp": "SP",
	"tower": "Tower", "partner": "Partner"}

var pageFuncs = template.FuncMap{
	"weaponPath": func(key string) string { return "/weapons/" + key },
	"time":       func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"rfc3339":    func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"json":       func(v any) string { b, _ := json.Marshal(v); return string(b) },
	"raw":        func(b []byte) string { return string(b) },
	"deref": func(p *int32) any {
		if p == nil {
			return ""
		}
		return *p
	},
	"sharp": func(raw []byte) [][]segment { var v any; _ = json.Unmarshal(raw, &v); return bars(v) },
	"mul":   func(a, b int) int { return a * b },
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
	"readable": func(v any) string { return clipText(readable(v)) },
	"human":    humanLabel,
	"elems":    elementsText,
	"recipe":   func(v any) []recipe { return recipes(v) },
	"rawAny":   func(b []byte) any { var v any; _ = json.Unmarshal(b, &v); return v },
	"kindName": func(k string) string { return pageKindNames[k] },
	"has":      func(v url.Values, k, want string) bool { return slices.Contains(v[k], want) },
}

// elementsText shows the elements and statuses of a weapon: "fire 150, poison 200".
func elementsText(raw []byte) string {
	var els []codecs.Element
	if json.Unmarshal(raw, &els) != nil {
		return ""
	}
	parts := make([]string, len(els))
	for i, e := range els {
		parts[i] = fmt.Sprintf("%s %d", e.Kind, e.Value)
	}
	return strings.Join(parts, ", ")
}
