package scraper

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mhfz/mhfz-pipeline/internal/observe"
)

// The scraper's metrics, read at each scrape from Stats and the Emitter's counters.
var (
	metricPages = observe.Def{Name: "mhfz_scraper_pages_total", Type: observe.Counter, Labels: []string{"outcome"},
		Help: "Weapon pages by outcome: fetched (downloaded and parsed), not_modified (unchanged since the last scrape: " +
			"304), absent (a guessed page the site does not have), failed (after the retries, or unparsable), " +
			"disallowed (by robots.txt)."}
	metricResponses = observe.Def{Name: "mhfz_scraper_http_responses_total", Type: observe.Counter, Labels: []string{"code"},
		Help: "HTTP responses of the site (robots.txt, the index and the weapon pages), by status code."}
	metricRetries = observe.Def{Name: "mhfz_scraper_http_retries_total", Type: observe.Counter,
		Help: "HTTP requests tried again after a network error, a 429 or a 5xx."}
	metricBytes = observe.Def{Name: "mhfz_scraper_page_bytes_total", Type: observe.Counter,
		Help: "Bytes of the weapon pages downloaded and parsed."}
	metricRows = observe.Def{Name: "mhfz_scraper_rows_total", Type: observe.Counter,
		Help: "Weapon rows read from the pages (one raw record each)."}
	metricIssues = observe.Def{Name: "mhfz_scraper_row_issues_total", Type: observe.Counter, Labels: []string{"kind"},
		Help: "Problems found in the pages, by kind (short_row, duplicate_id, invalid_utf8, fetch, …)."}
	metricScrapes = observe.Def{Name: "mhfz_scraper_scrapes_total", Type: observe.Counter, Labels: []string{"result"},
		Help: "Scrapes finished, by result: success, or failure (a page failed, the site or Kafka did not answer)."}
	metricLastSuccess = observe.Def{Name: "mhfz_scraper_last_success_timestamp_seconds", Type: observe.Gauge,
		Help: "When the last successful scrape finished (Unix time; 0: none since the scraper started)."}
	metricLastOK = observe.Def{Name: "mhfz_scraper_last_scrape_success", Type: observe.Gauge,
		Help: "1 if the last scrape succeeded, 0 if it failed (none yet: 1)."}
	metricDuration = observe.Def{Name: "mhfz_scraper_last_scrape_duration_seconds", Type: observe.Gauge,
		Help: "How long the last scrape took."}
	metricPeriod = observe.Def{Name: "mhfz_scraper_period_seconds", Type: observe.Gauge,
		Help: "The time between two scrapes (--every; 0: one scrape): the alert on a late scrape compares with it."}
	metricEmitted = observe.Def{Name: "mhfz_scraper_records_emitted_total", Type: observe.Counter,
		Help: "Raw records sent to Kafka (weapon_data)."}
	metricAcked = observe.Def{Name: "mhfz_scraper_records_acknowledged_total", Type: observe.Counter,
		Help: "Raw records Kafka acknowledged."}
	metricFailed = observe.Def{Name: "mhfz_scraper_records_failed_total", Type: observe.Counter,
		Help: "Raw records Kafka did not take after the producer's retries (the scrape fails; the pages are read again next time)."}
	metricWaiting = observe.Def{Name: "mhfz_scraper_records_waiting", Type: observe.Gauge,
		Help: "Raw records sent and not yet acknowledged (many for long: Kafka is slow or down)."}
)

// Metrics are the metrics a scraper registers (New, on Config.Registry).
func Metrics() []observe.Def {
	return []observe.Def{metricPages, metricResponses, metricRetries, metricBytes, metricRows, metricIssues,
		metricScrapes, metricLastSuccess, metricLastOK, metricDuration, metricPeriod, metricEmitted, metricAcked,
		metricFailed, metricWaiting}
}

// The outcomes of a weapon page.
const (
	outcomeFetched = iota
	outcomeNotModified
	outcomeAbsent
	outcomeFailed
	outcomeDisallowed
	outcomes
)

var outcomeNames = [outcomes]string{"fetched", "not_modified", "absent", "failed", "disallowed"}

// Stats counts what a scraper did since it started, over every scrape (a Summary is one
// scrape's). Safe for concurrent use; a nil *Stats counts nothing.
type Stats struct {
	// Period is the time between two scrapes (--every), for the late-scrape alert.
	Period time.Duration

	pages       [outcomes]atomic.Int64
	bytes, rows atomic.Int64
	retries     atomic.Int64
	success     atomic.Int64
	failure     atomic.Int64
	lastSuccess atomic.Int64 // Unix nanoseconds
	lastFailed  atomic.Bool
	lastTook    atomic.Int64 // nanoseconds

	mu        sync.Mutex
	issues    map[IssueKind]int64
	responses map[int]int64
}

// NewStats returns zeroed counters.
func NewStats() *Stats {
	return &Stats{issues: map[IssueKind]int64{}, responses: map[int]int64{}}
}

func (s *Stats) page(outcome int) {
	if s != nil {
		s.pages[outcome].Add(1)
	}
}

// pageRead counts a page read: its outcome, bytes, rows and issues.
func (s *Stats) pageRead(r PageResult) {
	if s == nil {
		return
	}
	if r.Failed() {
		s.pages[outcomeFailed].Add(1)
	} else {
		s.pages[outcomeFetched].Add(1)
	}
	s.bytes.Add(int64(r.Bytes))
	s.rows.Add(int64(r.Rows))
	if len(r.Issues) == 0 {
		return
	}
	s.mu.Lock()
	for _, i := range r.Issues {
		s.issues[i.Kind]++
	}
	s.mu.Unlock()
}

func (s *Stats) response(code int) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.responses[code]++
	s.mu.Unlock()
}

func (s *Stats) retried() {
	if s != nil {
		s.retries.Add(1)
	}
}

// finished counts the end of one scrape: a success (err is nil) or a failure.
func (s *Stats) finished(res Result, err error, at time.Time) {
	if s == nil {
		return
	}
	s.lastTook.Store(int64(res.Duration))
	s.lastFailed.Store(err != nil)
	if err != nil {
		s.failure.Add(1)
		return
	}
	s.success.Add(1)
	s.lastSuccess.Store(at.UnixNano())
}

// collector reads these counters and, once emitter gives one (not in a dry run), the emitter's.
func (s *Stats) collector(emitter func() *Emitter) prometheus.Collector {
	return observe.Collector{Defs: Metrics(), Read: func(emit func(observe.Def, float64, ...string)) {
		s.read(emit)
		if em := emitter(); em != nil {
			settled, waiting := em.settled.Load(), em.waiting.Load()
			emit(metricEmitted, float64(settled+waiting))
			emit(metricAcked, float64(em.acked.Load()))
			emit(metricFailed, float64(settled-em.acked.Load()))
			emit(metricWaiting, float64(waiting))
		}
	}}
}

func (s *Stats) read(emit func(observe.Def, float64, ...string)) {
	for i, name := range outcomeNames {
		emit(metricPages, float64(s.pages[i].Load()), name)
	}
	emit(metricRetries, float64(s.retries.Load()))
	emit(metricBytes, float64(s.bytes.Load()))
	emit(metricRows, float64(s.rows.Load()))
	emit(metricScrapes, float64(s.success.Load()), "success")
	emit(metricScrapes, float64(s.failure.Load()), "failure")
	last := float64(0)
	if n := s.lastSuccess.Load(); n != 0 {
		last = float64(n) / 1e9
	}
	emit(metricLastSuccess, last)
	lastOK := 1.0
	if s.lastFailed.Load() {
		lastOK = 0
	}
	emit(metricLastOK, lastOK)
	emit(metricDuration, time.Duration(s.lastTook.Load()).Seconds())
	emit(metricPeriod, s.Period.Seconds())
	s.mu.Lock()
	defer s.mu.Unlock()
	for kind, n := range s.issues {
		emit(metricIssues, float64(n), string(kind))
	}
	for code, n := range s.responses {
		emit(metricResponses, float64(n), strconv.Itoa(code))
	}
}
