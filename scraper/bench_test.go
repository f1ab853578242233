package scraper

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// snapshotPages reads every weapon page of the newest snapshot into memory.
func snapshotPages(b *testing.B) (names []string, bodies [][]byte, total int64) {
	b.Helper()
	dir := testenv.Snapshot(b, testenv.Newest)
	names, err := WeaponPagesIn(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range names {
		body, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, body)
		total += int64(len(body))
	}
	return names, bodies, total
}

// BenchmarkParseSnapshot parses the whole snapshot (in memory) into raw records on one
// goroutine: run with -cpu 1 for the one-core figure. MB/s is the speed over the HTML.
func BenchmarkParseSnapshot(b *testing.B) {
	names, bodies, total := snapshotPages(b)
	b.SetBytes(total)
	b.ReportAllocs()
	rows := 0
	now := time.Now()
	for b.Loop() {
		rows = 0
		for i, body := range bodies {
			_, err := ParsePage(PageInfo{Name: names[i], ScrapedAt: now}, body, func(*codecs.RawRecord) error {
				rows++
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	if rows != corpusRows {
		b.Fatalf("%d rows, want %d", rows, corpusRows)
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// memFetcher serves pages from memory, as a local folder would (it lists its pages).
type memFetcher map[string][]byte

func (m memFetcher) Fetch(_ context.Context, name string) (Page, error) {
	body, ok := m[name]
	if !ok {
		return Page{Name: name, Status: Absent}, nil
	}
	return Page{Name: name, URL: "mem:" + name, Body: body}, nil
}

func (m memFetcher) WeaponPages(context.Context) ([]string, error) {
	var names []string
	for n := range m {
		if _, _, err := codecs.ParsePageName(n); err == nil {
			names = append(names, n)
		}
	}
	return names, nil
}

// BenchmarkParseSnapshotParallel runs the scraper itself (discovery, workers, the callback
// under its lock) over the snapshot held in memory, with the pages spread over GOMAXPROCS
// workers: run with -cpu 2 for the two-core figure.
func BenchmarkParseSnapshotParallel(b *testing.B) {
	names, bodies, total := snapshotPages(b)
	pages := memFetcher{}
	for i, n := range names {
		pages[n] = bodies[i]
	}
	s, err := newTestScraper(pages, runtime.GOMAXPROCS(0))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(total)
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		rows = 0
		if _, err := s.Scrape(context.Background(), func(*codecs.RawRecord) error { rows++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	if rows != corpusRows {
		b.Fatalf("%d rows, want %d", rows, corpusRows)
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkSnapshotToKafka scrapes the whole snapshot from a local HTTP mirror into the real
// broker (4 workers, in flight 10,000), acknowledgements included. Run with -benchtime 1x.
func BenchmarkSnapshotToKafka(b *testing.B) {
	brokers := testenv.KafkaBrokers(b)
	dir := testenv.Snapshot(b, testenv.Newest)
	topic, cfg := kafkaTopic(b, brokers, 4)
	_, srv := newMirror(b, dir, nil)
	var total int64
	for b.Loop() {
		f, err := NewHTTPFetcher(srv.URL+"/buki/", unlimitedHTTP())
		if err != nil {
			b.Fatal(err)
		}
		s, err := newTestScraper(f, 4)
		if err != nil {
			b.Fatal(err)
		}
		em, err := NewEmitter(brokers, topic, cfg, quietEmitter())
		if err != nil {
			b.Fatal(err)
		}
		res, err := s.Scrape(context.Background(), em.Emit)
		if err != nil {
			b.Fatal(err)
		}
		if err := em.Close(); err != nil {
			b.Fatal(err)
		}
		if em.Acked() != corpusRows {
			b.Fatalf("%d acknowledged, want %d", em.Acked(), corpusRows)
		}
		total = res.Bytes
	}
	b.SetBytes(total)
	b.ReportMetric(float64(corpusRows)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
