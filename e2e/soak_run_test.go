package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
)

// soakRun is the state of one soak: the stack, its services, what happened to them.
type soakRun struct {
	t      *testing.T
	cfg    soakConfig
	stack  *stack
	mirror *soakMirror
	start  time.Time
	ended  time.Duration // when the pipeline had caught up at the end

	services                  []*soakService
	scraper, processor, sink  *soakService
	storage                   string // the processor's goka table storage (--storage)
	kills                     []soakKill
	crashes                   []string
	successes                 []time.Time // completed scrapes, by the time of their summary line
	failedScrapes             int
	catchUps                  []soakCatchUp
	watching                  int // index+1 in catchUps of the period whose catch-up is being timed (0: none)
	samples                   []soakSample
	nextSample                time.Duration
	monitor                   *pgx.Conn // the sampler's own connection (not counted)
	client                    sarama.Client
	admin                     sarama.ClusterAdmin
	scrapeBegun, scrapeSeen   int // scraper lives whose logs were read to the end; summaries read of the current one
	currentLog, currentLogPID int
}

type soakKill struct {
	at      time.Duration
	service string
}

// soakCatchUp is how long the processor and the sink took, after a completed scrape, until
// every record of it was stored in PostgreSQL.
type soakCatchUp struct {
	scrape int           // 1-based index of the completed scrape
	at     time.Duration // its end
	took   time.Duration // until caught up (0: not yet; -1: not before the next scrape ended)
}

// soakService is one service of the stack, restarted after each kill with the same flags and
// address, so that its series continue; each lifetime is a process.
type soakService struct {
	name  string
	args  []string
	env   []string
	addr  string // --http-addr: /metrics
	cur   *service
	lives []soakLife
	done  bool // stopped for good at the end of the run: not restarted
}

type soakLife struct {
	pid   int
	start time.Duration
	log   string
}

func (s *soakService) start(r *soakRun) {
	s.cur = startService(r.t, s.env, s.args...)
	s.lives = append(s.lives, soakLife{pid: s.cur.cmd.Process.Pid, start: time.Since(r.start), log: s.cur.log})
}

// life is the index of the service's current lifetime.
func (s *soakService) life() int { return len(s.lives) - 1 }

func newSoakRun(t *testing.T, ctx context.Context, cfg soakConfig, m *soakMirror) *soakRun {
	s := newStack(t)
	r := &soakRun{t: t, cfg: cfg, stack: s, mirror: m}
	for _, e := range s.env {
		if v, ok := strings.CutPrefix(e, "MHFZ_PROCESS_STORAGE="); ok {
			r.storage = v
		}
	}
	runService(t, ctx, s.env, "migrate", "up")
	var err error
	if r.monitor, err = pgx.Connect(ctx, s.dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.monitor.Close(context.Background()) })
	if r.client, err = sarama.NewClient(s.brokers, kafka.Config("e2e-soak")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.client.Close() })
	if r.admin, err = sarama.NewClusterAdminFromClient(r.client); err != nil {
		t.Fatal(err)
	}
	svc := func(name string, extra []string, args ...string) *soakService {
		addr := freeAddr(t)
		env := append(append(append([]string(nil), s.env...), "MHFZ_HTTP_ADDR="+addr, "MHFZ_LOG_FORMAT=json"), extra...)
		return &soakService{name: name, args: args, env: env, addr: addr}
	}
	r.processor = svc("processor", nil, "process")
	// The sink names itself, so that pg_stat_activity tells its connections from the others'.
	r.sink = svc("sink", []string{"MHFZ_DATABASE_URL=" + s.dbURL + "&application_name=mhfz-soak-sink"}, "sink")
	r.scraper = svc("scraper", nil, "scrape", "--base-url", m.url, "--rate", "0", "--every", cfg.every.String())
	r.services = []*soakService{r.scraper, r.processor, r.sink}
	r.start = time.Now()
	for _, svc := range r.services {
		svc.start(r)
	}
	return r
}

// followScrapes reads the scraper's log for scrapes finished since the last call and switches
// the mirror after each completed one. A scrape is completed when its summary line is not
// followed by "scrape failed" (logged right after it, by the same goroutine): decided once a
// later line is there, the process is gone, or 2 s have passed.
func (r *soakRun) followScrapes() {
	for i := r.scrapeBegun; i < len(r.scraper.lives); i++ {
		life := r.scraper.lives[i]
		final := i < len(r.scraper.lives)-1 || exited(r.scraper.cur)
		if i != r.currentLog {
			r.currentLog, r.scrapeSeen = i, 0
		}
		data, _ := os.ReadFile(life.log)
		results := scrapeResults(data, final, time.Now())
		for _, res := range results[r.scrapeSeen:] {
			r.scrapeSeen++
			if !res.ok {
				r.failedScrapes++
				continue
			}
			r.successes = append(r.successes, res.at)
			r.mirror.serve(len(r.successes) % 2)
			if r.watching > 0 {
				r.catchUps[r.watching-1].took = -1 // not caught up when the next scrape ended
			}
			r.catchUps = append(r.catchUps, soakCatchUp{scrape: len(r.successes), at: res.at.Sub(r.start)})
			r.watching = len(r.catchUps)
		}
		if final {
			// A scrape cut by the kill logged no summary: it is a failed one.
			if cut := scrapesPlanned(data) - len(results); cut > 0 {
				r.failedScrapes += cut
			}
			r.scrapeBegun = i + 1
		}
	}
}

func (r *soakRun) lastSuccess() time.Time {
	if len(r.successes) == 0 {
		return time.Time{}
	}
	return r.successes[len(r.successes)-1]
}

type scrapeResult struct {
	at time.Time
	ok bool
}

type logLine struct {
	Time     time.Time `json:"time"`
	Msg      string    `json:"msg"`
	Failures int       `json:"failures"`
}

// scrapeResults are the decided scrapes of one scraper log (JSON lines), in order.
func scrapeResults(data []byte, final bool, now time.Time) []scrapeResult {
	var out []scrapeResult
	var open *scrapeResult
	for line := range bytes.Lines(data) {
		var l logLine
		if json.Unmarshal(line, &l) != nil {
			continue
		}
		switch {
		case l.Msg == "scrape summary":
			if open != nil {
				out = append(out, *open)
			}
			open = &scrapeResult{at: l.Time, ok: l.Failures == 0}
		case open != nil && strings.HasPrefix(l.Msg, "scrape failed"):
			open.ok = false
			out = append(out, *open)
			open = nil
		case open != nil:
			out = append(out, *open)
			open = nil
		}
	}
	if open != nil && (final || now.Sub(open.at) > 2*time.Second) {
		out = append(out, *open)
	}
	return out
}

// scrapesPlanned counts the scrapes a scraper began.
func scrapesPlanned(data []byte) int { return bytes.Count(data, []byte(`"msg":"scrape planned"`)) }

// watchCatchUp times the catch-up of the last completed scrape: until the processor has
// committed all of weapon_data and PostgreSQL's offsets reach the weapon topics' ends.
func (r *soakRun) watchCatchUp(ctx context.Context) {
	if r.watching == 0 {
		return
	}
	_ = r.client.RefreshMetadata()
	if ok, err := r.stack.caughtUp(ctx, r.client, r.admin); err == nil && ok {
		c := &r.catchUps[r.watching-1]
		c.took = time.Since(r.start) - c.at
		r.watching = 0
	}
}

// soakMirror serves the buki/ folder of one of two snapshots, the one that serve chose, with
// an ETag per content (a page alike in both snapshots answers 304 to the scraper's validator,
// as the live site's would) and no Last-Modified (the snapshots' file times would make a
// switch back to the older one look unmodified). Once frozen it answers 503 to everything.
type soakMirror struct {
	url     string
	dirs    [2]string
	etags   [2]map[string]string
	mu      sync.Mutex
	current int
	frozen  bool
	last    time.Time // the last request served
}

func newSoakMirror(t *testing.T, first, second string) *soakMirror {
	m := &soakMirror{dirs: [2]string{first, second}}
	for i, dir := range m.dirs {
		m.etags[i] = map[string]string{}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			m.etags[i][e.Name()] = `"` + hex.EncodeToString(sum[:16]) + `"`
		}
	}
	srv := httptest.NewServer(http.StripPrefix("/buki/", m))
	t.Cleanup(srv.Close)
	m.url = srv.URL + "/buki/"
	return m
}

func (m *soakMirror) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	m.mu.Lock()
	i, frozen := m.current, m.frozen
	if !frozen {
		m.last = time.Now()
	}
	m.mu.Unlock()
	name := req.URL.Path
	etag, ok := m.etags[i][name]
	switch {
	case frozen:
		http.Error(w, "the soak is over", http.StatusServiceUnavailable)
		return
	case !ok || strings.Contains(name, "/"):
		http.NotFound(w, req)
		return
	}
	f, err := os.Open(filepath.Join(m.dirs[i], name))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	w.Header().Set("ETag", etag)
	http.ServeContent(w, req, name, time.Time{}, f)
}

// serve switches the mirror to snapshot i (0: the first, 1: the second).
func (m *soakMirror) serve(i int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.current = i
}

// freezeIfIdleSince freezes the mirror if it served nothing after t (the end of the last
// completed scrape): no scrape is under way, and none can start.
func (m *soakMirror) freezeIfIdleSince(t time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last.After(t) {
		return false
	}
	m.frozen = true
	return true
}
