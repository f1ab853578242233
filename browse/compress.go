package browse

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzhttp"
)

// compressMinSize is the smallest answer compressed: below it, the encoding's own bytes and
// time gain nothing worth having.
const compressMinSize = 1024

// compressedTypes are the media types compressed: every text the server writes.
var compressedTypes = []string{
	"application/json", "application/jsonl", "application/yaml", "text/csv", "text/html",
	"text/css", "text/javascript", "text/plain", "image/svg+xml",
}

// compressor encodes the answers with zstd or gzip when the client accepts it (Accept-Encoding;
// zstd preferred at equal weight), above compressMinSize, and leaves the downloads alone (their
// files are served as they are stored). A flush (an export's, every few hundred rows) flushes
// the encoder too, so the exports stream compressed.
func compressor() (func(http.Handler) http.Handler, error) {
	wrap, err := gzhttp.NewWrapper(gzhttp.MinSize(compressMinSize), gzhttp.ContentTypes(compressedTypes),
		gzhttp.EnableZstd(true), gzhttp.PreferZstd(true))
	if err != nil {
		return nil, fmt.Errorf("browse: compression: %w", err)
	}
	return func(next http.Handler) http.Handler {
		compressed := wrap(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/downloads/") {
				next.ServeHTTP(w, r)
				return
			}
			compressed.ServeHTTP(w, r)
		})
	}, nil
}
