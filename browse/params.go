package browse

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of the input.
const (
	maxText     = 100 // characters of a name or a query
	maxPageSize = 200 // results of one page, unless Config.MaxPageSize says otherwise
	defPageSize = 50
	maxValues   = 20 // values of one repeated parameter
)

// checkParams refuses a parameter the route does not know (a misspelt filter would otherwise
// be silently ignored), a repeated one that is not a list, and text that is not UTF-8.
func checkParams(r *http.Request, known []string) error {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return badRequest("the query string does not parse: %v", err)
	}
	for name, vals := range q {
		if !slices.Contains(known, name) {
			if len(known) == 0 {
				return badRequest("unknown parameter %q: this route takes none", clip(name))
			}
			return badRequest("unknown parameter %q: known are %s", clip(name), strings.Join(known, ", "))
		}
		if len(vals) > maxValues {
			return badRequest("%s: %d values, at most %d", name, len(vals), maxValues)
		}
		for _, v := range vals {
			if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
				return badRequest("%s: not valid UTF-8 text", name)
			}
		}
	}
	return nil
}

// clip shortens what is quoted back to the client.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= 40 {
		return s
	}
	return string([]rune(s)[:40]) + "…"
}

// form reads the parameters of a request, recording the first problem.
type form struct {
	v       url.Values
	err     error
	maxPage int // the largest page size (Config.MaxPageSize)
}

func newForm(r *http.Request) *form { return &form{v: r.URL.Query(), maxPage: maxPage(r)} }

func (f *form) fail(format string, args ...any) {
	if f.err == nil {
		f.err = badRequest(format, args...)
	}
}

// text reads a text of at most maxText characters ("" when absent).
func (f *form) text(name string) string {
	v := strings.TrimSpace(f.v.Get(name))
	if n := utf8.RuneCountInString(v); n > maxText {
		f.fail("%s: %d characters, at most %d", name, n, maxText)
		return ""
	}
	return v
}

// list reads a parameter given as repeated values or comma-separated ("type=bow,long_sword").
func (f *form) list(name string) []string {
	var out []string
	for _, v := range f.v[name] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	if len(out) > maxValues {
		f.fail("%s: %d values, at most %d", name, len(out), maxValues)
	}
	return out
}

// intRange reads a whole number between lo and hi; nil when absent.
func (f *form) intRange(name string, lo, hi int) *int {
	v := strings.TrimSpace(f.v.Get(name))
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		f.fail("%s: %q is not a whole number", name, clip(v))
		return nil
	}
	if n < lo || n > hi {
		f.fail("%s: %d is outside %d..%d", name, n, lo, hi)
		return nil
	}
	return &n
}

func (f *form) boolean(name string, def bool) bool {
	v := strings.TrimSpace(f.v.Get(name))
	switch strings.ToLower(v) {
	case "":
		return def
	case "true", "1", "yes", "on":
		return true
	case "false", "0", "no", "off":
		return false
	}
	f.fail("%s: %q is not true or false", name, clip(v))
	return def
}

// limit reads the page size: 1..the largest page size, default def (at most the largest).
func (f *form) limit(def int) int {
	def = min(def, f.maxPage)
	n := f.v.Get("limit")
	if n == "" {
		return def
	}
	v, err := strconv.Atoi(strings.TrimSpace(n))
	switch {
	case err != nil:
		f.fail("limit: %q is not a whole number", clip(n))
	case v < 1:
		f.fail("limit: %d, at least 1", v)
	case v > f.maxPage:
		f.fail("limit: %d is more than %d a page (the maximum page size): follow the next cursor for more, or use /api/export.csv", v, f.maxPage)
	default:
		return v
	}
	return def
}

var (
	elementPattern = regexp.MustCompile(`^[a-z][a-z_]{0,29}$`)
	itemIDPattern  = regexp.MustCompile(`^[0-9A-Fa-f]{1,8}$`)
	idPattern      = regexp.MustCompile(`^[lL]?[0-9A-Fa-f]{1,8}[0-9]{0,3}(~[0-9]{1,3})?$`)
)

// rowIDs returns the row ids an id typed by a user may mean: "219C", "l219C", "L219c5" all
// name the site's row "l219C…" (matched in upper case).
func rowIDs(id string) []string {
	u := strings.ToUpper(id)
	if strings.HasPrefix(u, "L") {
		return []string{u, strings.TrimPrefix(u, "L")}
	}
	return []string{u, "L" + u}
}

// likeEscape escapes the wildcards of LIKE in s.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// likePattern is the LIKE pattern of s as a substring.
func likePattern(s string) string { return "%" + likeEscape(s) + "%" }

func kindNames() string {
	return "base, g, ravi, rngcat, sp, tower, partner"
}
