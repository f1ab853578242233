package browse

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The downloads: the versions of the dataset that `mhfz publish` writes into Config.DownloadsDir
// (one folder per version, each with its manifest.json, and a file latest naming the newest).
// browse only reads them; the manifest's fields it needs are declared here, so that browse
// depends on the files, not on the package that writes them.

// downloadManifest is what browse reads of a version's manifest.json.
type downloadManifest struct {
	Version       string         `json:"version"`
	CreatedAt     time.Time      `json:"created_at"`
	SchemaVersion int64          `json:"schema_version"`
	Files         []downloadFile `json:"files"`
}

type downloadFile struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Format string `json:"format"`
	Table  string `json:"table,omitempty"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Rows   int64  `json:"rows"`
}

// downloadVersion is what a version's name looks like (the first 16 hex digits of a SHA-256):
// any other path segment is refused before a file is opened.
var downloadVersion = regexp.MustCompile(`^[0-9a-f]{16}$`)

const downloadManifestName = "manifest.json"

// immutable is how long a version's files may be cached: they never change (their names carry
// the data version), so a year, and without revalidation.
const immutable = "public, max-age=31536000, immutable"

// downloadRoutes adds the downloads' page, redirects and files to mux.
func (s *Server) downloadRoutes(mux *http.ServeMux) {
	s.pages.byName["downloads"] = template.Must(template.New("layout.html").Funcs(pageFuncs).
		ParseFS(webFiles, "web/layout.html", "web/parts.html", "web/downloads.html"))
	mux.Handle("GET /downloads/{$}", s.page(s.downloadsPage))
	mux.Handle("GET /downloads/latest", s.page(s.downloadLatest))
	mux.Handle("GET /downloads/latest/{kind}", s.page(s.downloadLatest))
	mux.Handle("GET /downloads/{version}/{$}", s.page(s.downloadsPage))
	mux.Handle("GET /downloads/{version}/{file}", s.page(s.downloadFile))
}

var errNoDownloads = &apiError{status: http.StatusNotFound,
	msg: "no version of the dataset has been published here yet (mhfz publish writes them; mhfz serve --downloads-dir serves them)"}

// latestDownload reads the latest version's manifest.
func (s *Server) latestDownload() (*downloadManifest, error) {
	if s.cfg.DownloadsDir == "" {
		return nil, errNoDownloads
	}
	b, err := os.ReadFile(filepath.Join(s.cfg.DownloadsDir, "latest"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoDownloads
	}
	if err != nil {
		return nil, fmt.Errorf("read the latest version: %w", err)
	}
	return s.download(strings.TrimSpace(string(b)))
}

// download reads a version's manifest; an unknown version is a 404 that says so.
func (s *Server) download(version string) (*downloadManifest, error) {
	if s.cfg.DownloadsDir == "" {
		return nil, errNoDownloads
	}
	if !downloadVersion.MatchString(version) {
		return nil, notFound("%q is not a version of the dataset: /downloads/ lists them", clip(version))
	}
	b, err := os.ReadFile(filepath.Join(s.cfg.DownloadsDir, version, downloadManifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound("version %s of the dataset is not here (only the newest are kept): /downloads/ lists them", version)
	}
	if err != nil {
		return nil, fmt.Errorf("read the manifest of version %s: %w", version, err)
	}
	var m downloadManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read the manifest of version %s: %w", version, err)
	}
	return &m, nil
}

func (s *Server) apiDownloads(w http.ResponseWriter, r *http.Request) error {
	m, err := s.latestDownload()
	if err != nil {
		return err
	}
	// Its own validator: the manifest is the folder's, and a new version is published some time
	// after the data's version changed, so the data's ETag would keep an old manifest cached.
	etag := `"` + m.Version + `"`
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, etag) {
		w.Header().Set("ETag", etag)
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.Header().Set("ETag", etag)
	writeJSON(w, http.StatusOK, m)
	return nil
}

// downloadLatest redirects to the newest version's page, or to its file of a kind ("sqlite",
// "long_sword.csv", "manifest.json").
func (s *Server) downloadLatest(w http.ResponseWriter, r *http.Request) error {
	m, err := s.latestDownload()
	if err != nil {
		return err
	}
	target := "/downloads/" + m.Version + "/"
	if kind := r.PathValue("kind"); kind != "" {
		name := ""
		if kind == downloadManifestName {
			name = kind
		}
		for _, f := range m.Files {
			if f.Kind == kind {
				name = f.Name
			}
		}
		if name == "" {
			return notFound("no file of kind %q in the newest version: the kinds are sqlite, manifest.json and TABLE.jsonl, TABLE.csv (/api/downloads lists them)",
				clip(kind))
		}
		target += name
	}
	w.Header().Set("Cache-Control", "no-store") // the newest version changes
	http.Redirect(w, r, target, http.StatusFound)
	return nil
}

// downloadFile serves one file of a version: cacheable for a year, its ETag the SHA-256 of the
// manifest (the manifest's own: its version), with Range requests (http.ServeContent).
func (s *Server) downloadFile(w http.ResponseWriter, r *http.Request) error {
	m, err := s.download(r.PathValue("version"))
	if err != nil {
		return err
	}
	name := r.PathValue("file")
	etag, ctype := `"manifest-`+m.Version+`"`, "application/json"
	if name != downloadManifestName {
		i := slices.IndexFunc(m.Files, func(f downloadFile) bool { return f.Name == name })
		if i < 0 {
			return notFound("version %s has no file %q: /downloads/%s/ lists its files", m.Version, clip(name), m.Version)
		}
		etag, ctype = `"`+m.Files[i].SHA256+`"`, contentType(m.Files[i].Format)
	}
	f, err := os.Open(filepath.Join(s.cfg.DownloadsDir, m.Version, name))
	if errors.Is(err, fs.ErrNotExist) {
		return notFound("version %s was removed meanwhile: /downloads/ lists the versions kept", m.Version)
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", immutable)
	h.Set("ETag", etag)
	if name != downloadManifestName {
		h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	}
	http.ServeContent(w, r, name, st.ModTime(), f)
	return nil
}

func contentType(format string) string {
	switch format {
	case "sqlite":
		return "application/vnd.sqlite3"
	case "jsonl":
		return "application/jsonl; charset=utf-8"
	case "csv":
		return "text/csv; charset=utf-8"
	}
	return "application/octet-stream"
}

// downloadsView is what the downloads page shows of a version.
type downloadsView struct {
	*downloadManifest
	Latest bool
	Sizes  map[string]string // file name -> its size for a person
}

// downloadsPage lists every version kept, newest first, with their files (or one version's).
func (s *Server) downloadsPage(w http.ResponseWriter, r *http.Request) error {
	var versions []downloadsView
	latest, err := s.latestDownload()
	if err != nil && !errors.Is(err, errNoDownloads) {
		return err
	}
	if one := r.PathValue("version"); one != "" {
		m, err := s.download(one)
		if err != nil {
			return err
		}
		versions = append(versions, view(m, latest))
	} else if latest != nil {
		all, err := s.downloadVersions()
		if err != nil {
			return err
		}
		for _, m := range all {
			versions = append(versions, view(m, latest))
		}
	}
	s.render(w, r, http.StatusOK, "downloads", map[string]any{"Title": "Downloads", "Versions": versions,
		"One": r.PathValue("version") != ""})
	return nil
}

func view(m, latest *downloadManifest) downloadsView {
	v := downloadsView{downloadManifest: m, Latest: latest != nil && latest.Version == m.Version, Sizes: map[string]string{}}
	for _, f := range m.Files {
		v.Sizes[f.Name] = humanSize(f.Size)
	}
	return v
}

// downloadVersions reads the manifest of every version kept, newest first.
func (s *Server) downloadVersions() ([]*downloadManifest, error) {
	entries, err := os.ReadDir(s.cfg.DownloadsDir)
	if err != nil {
		return nil, fmt.Errorf("list the versions: %w", err)
	}
	var out []*downloadManifest
	for _, e := range entries {
		if !e.IsDir() || !downloadVersion.MatchString(e.Name()) {
			continue
		}
		if m, err := s.download(e.Name()); err == nil {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b *downloadManifest) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}

func humanSize(n int64) string {
	switch {
	case n >= 10<<20:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d kB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
