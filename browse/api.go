package browse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	json "github.com/goccy/go-json"
)

// apiError is what a client is told: a status and a message that says what is wrong. cause, if
// any, is logged and never sent.
type apiError struct {
	status int
	msg    string
	cause  error
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &apiError{status: http.StatusNotFound, msg: fmt.Sprintf(format, args...)}
}

// errClientGone: the client went away; there is no one to answer.
var errClientGone = errors.New("the client closed the connection")

// Route is one route of the JSON API: its method and path pattern (as in openapi.yaml), and the
// query parameters it accepts (any other is refused with 400).
type Route struct {
	Method, Path string
	Params       []string
}

// apiRoute is a Route with its handler.
type apiRoute struct {
	Route
	handle func(w http.ResponseWriter, r *http.Request) error
}

// APIRoutes lists the routes of the JSON API, for the test that keeps openapi.yaml in step.
func (s *Server) APIRoutes() []Route {
	var out []Route
	for _, r := range s.apiRoutes() {
		out = append(out, r.Route)
	}
	return out
}

func (s *Server) apiRoutes() []apiRoute {
	return []apiRoute{
		{Route{"GET", "/api/weapons", searchParams}, s.apiSearch},
		{Route{"GET", "/api/weapons/{type}/{kind}/{row}", weaponParams}, s.apiWeapon},
		{Route{"GET", "/api/weapons/by-game-id/{id}", gameIDParams}, s.apiGameID},
		{Route{"GET", "/api/suggest", suggestParams}, s.apiSuggest},
		{Route{"GET", "/api/export.csv", exportParams}, s.apiExportCSV},
		{Route{"GET", "/api/export.jsonl", exportParams}, s.apiExportJSONL},
		{Route{"GET", "/api/items", itemParams}, s.apiItems},
		{Route{"GET", "/api/materials", materialParams}, s.apiMaterials},
		{Route{"GET", "/api/changes", nil}, s.apiScrapes},
		{Route{"GET", "/api/changes/{scraped_at}", changeParams}, s.apiChanges},
		{Route{"GET", "/api/health", nil}, s.apiHealth},
		{Route{"GET", "/api/downloads", nil}, s.apiDownloads},
		{Route{"GET", "/api/openapi.yaml", nil}, s.apiOpenAPIYAML},
		{Route{"GET", "/api/openapi.json", nil}, s.apiOpenAPIJSON},
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, r := range s.apiRoutes() {
		mux.Handle(r.Method+" "+r.Path, s.api(r))
	}
	mux.Handle("/api/", s.api(apiRoute{handle: func(w http.ResponseWriter, r *http.Request) error {
		return notFound("no API route %s %s: /api/openapi.yaml lists them", r.Method, r.URL.Path)
	}}))
	s.downloadRoutes(mux)
	s.pageRoutes(mux)
	return s.middleware(s.protect(mux))
}

// api runs an API handler: its query parameters checked first, its error answered as JSON.
func (s *Server) api(route apiRoute) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := checkParams(r, route.Params)
		if err == nil {
			err = route.handle(w, r)
		}
		if err != nil {
			s.answerError(w, r, err, func(status int, msg string) {
				writeJSON(w, status, map[string]string{"error": msg})
			})
		}
	})
}

// answerError tells the client what went wrong: the message of an apiError, or only that
// something failed (with the request's id, which the log has with the real error).
func (s *Server) answerError(w http.ResponseWriter, r *http.Request, err error, write func(status int, msg string)) {
	var ae *apiError
	switch {
	case errors.Is(err, errClientGone):
		return
	case errors.As(err, &ae):
		if ae.cause != nil || ae.status >= 500 {
			s.log.Warn("request failed", "request", requestID(r), "path", r.URL.Path, "status", ae.status, "err", ae.msg, "cause", ae.cause)
		}
		if ae.status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "5")
		}
		write(ae.status, ae.msg)
	default:
		s.log.Error("request failed", "request", requestID(r), "path", r.URL.Path, "err", err)
		write(http.StatusInternalServerError, "internal error (request "+requestID(r)+"; the server's log has the details)")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal error: the answer could not be encoded"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

type ctxKey int

const requestIDKey ctxKey = 0

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey).(string)
	return id
}

// middleware gives each request an id, watches, counts and logs it, and turns a panic into a
// 500 without a stack trace for the client (the log has it). An export cut after it started
// (http.ErrAbortHandler) is counted with the status it had sent.
func (s *Server) middleware(next http.Handler) http.Handler {
	var seq atomic.Uint64
	prefix := strconv.FormatInt(time.Now().Unix()%100000, 36)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := prefix + "-" + strconv.FormatUint(seq.Add(1), 36)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		start := time.Now()
		done := s.obs.watch.Start("request " + id + " " + r.Method + " " + clip(r.URL.Path))
		defer func() {
			p := recover()
			if p != nil && p != http.ErrAbortHandler {
				s.log.Error("panic while answering", "request", id, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				if !rec.wrote {
					writeJSON(rec, http.StatusInternalServerError, map[string]string{"error": "internal error (request " + id + ")"})
				}
			}
			done()
			took := time.Since(start)
			s.answered(r, rec.status, took)
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.LogAttrs(r.Context(), slog.LevelDebug, "request", slog.String("request", id), slog.String("method", r.Method),
				slog.String("path", r.URL.Path), slog.Int("status", rec.status), slog.Duration("took", took))
		}()
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(rec, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Flush lets the exports stream through the recorder.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) apiHealth(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		s.log.Warn("health: the database does not answer", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "the database does not answer"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}
