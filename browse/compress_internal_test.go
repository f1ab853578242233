package browse

import (
	"bufio"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// TestCompressedStreamFlushes: what a handler flushes reaches the client, compressed, while the
// handler is still writing, as an export's rows do: the first line decodes before the handler
// may go on.
func TestCompressedStreamFlushes(t *testing.T) {
	wrap, err := compressor()
	if err != nil {
		t.Fatal(err)
	}
	goOn := make(chan struct{})
	line := strings.Repeat(`{"key":"long_sword/base/l0001","name":"Iron Katana"}`, 40) + "\n" // over compressMinSize
	srv := httptest.NewServer(wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jsonl; charset=utf-8")
		_, _ = io.WriteString(w, line)
		w.(http.Flusher).Flush()
		<-goOn
		_, _ = io.WriteString(w, line)
	})))
	defer srv.Close()
	decoders := map[string]func(io.Reader) (io.Reader, error){
		"gzip": func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) },
		"zstd": func(r io.Reader) (io.Reader, error) { return zstd.NewReader(r, zstd.WithDecoderConcurrency(1)) },
	}
	for enc, decoder := range decoders {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("Accept-Encoding", enc)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("Content-Encoding") != enc {
			t.Fatalf("Content-Encoding %q, want %s", resp.Header.Get("Content-Encoding"), enc)
		}
		first := make(chan string, 1)
		go func() {
			dec, err := decoder(resp.Body)
			if err != nil {
				first <- err.Error()
				return
			}
			if z, ok := dec.(*zstd.Decoder); ok {
				defer z.Close()
			}
			s, _ := bufio.NewReader(dec).ReadString('\n')
			first <- s
		}()
		select {
		case got := <-first:
			if got != line {
				t.Errorf("%s: the first line decoded as %q", enc, got)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s: the flushed line did not reach the client while the handler waited", enc)
		}
		goOn <- struct{}{}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
