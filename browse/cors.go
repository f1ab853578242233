package browse

import (
	"net/http"
	"slices"
	"strings"
)

// corsExposed are the headers of an answer a script of another origin may read, besides the
// CORS-safelisted ones (Content-Type, Last-Modified, Cache-Control, ...).
const corsExposed = "ETag, Link, X-Data-Version, Retry-After"

// corsAllowedHeaders are the request headers a script may send: the conditions of a request
// that revalidates what it holds.
const corsAllowedHeaders = "If-None-Match, If-Modified-Since, Cache-Control"

// cors lets scripts of the configured origins read the API (GET and HEAD only: it writes
// nothing, and it takes no credentials). A preflight (OPTIONS with Access-Control-Request-Method)
// is answered here: 204 for GET and HEAD from an allowed origin, 403 otherwise. The pages are
// not the API's and get no CORS headers. With any origin allowed, every answer of the API says
// so, whether the request named an origin or not, so that a shared cache may give it to anyone;
// with a list, the answer depends on the Origin (Vary).
func (s *Server) cors(next http.Handler) http.Handler {
	if len(s.cfg.CORSOrigins) == 0 {
		return next
	}
	anyOrigin := slices.Contains(s.cfg.CORSOrigins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		h, origin := w.Header(), r.Header.Get("Origin")
		if !anyOrigin {
			h.Add("Vary", "Origin")
		}
		allowed := origin != "" && (anyOrigin || slices.Contains(s.cfg.CORSOrigins, origin))
		if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			preflight(w, r, allowed, anyOrigin)
			return
		}
		if allowed || anyOrigin {
			corsAllow(h, anyOrigin, origin)
			h.Set("Access-Control-Expose-Headers", corsExposed)
		}
		next.ServeHTTP(w, r)
	})
}

// preflight answers a browser that asks whether it may send a request.
func preflight(w http.ResponseWriter, r *http.Request, allowed, anyOrigin bool) {
	h, origin, method := w.Header(), r.Header.Get("Origin"), r.Header.Get("Access-Control-Request-Method")
	if !allowed || (method != http.MethodGet && method != http.MethodHead) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "CORS: the API answers GET and HEAD, " +
			"from the origins of --cors-origins; not " + clip(method) + " from " + clip(origin)})
		return
	}
	corsAllow(h, anyOrigin, origin)
	h.Set("Access-Control-Allow-Methods", "GET, HEAD")
	h.Set("Access-Control-Allow-Headers", corsAllowedHeaders)
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

func corsAllow(h http.Header, anyOrigin bool, origin string) {
	if anyOrigin {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
	}
}
