package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// freeAddr is a loopback address nobody listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// prometheus is a real Prometheus (Debian's package) scraping the test's services with the
// repository's configuration and alert rules, every second.
type prometheus struct {
	t   testing.TB
	url string
}

// startPrometheus runs Prometheus with deploy/prometheus, the targets of its jobs moved to the
// addresses given (job -> host:port) and its intervals to 1s.
func startPrometheus(t testing.TB, targets map[string]string) *prometheus {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("prometheus is missing (scripts/testenv installs Debian's package)")
		}
		t.Skip("prometheus is missing: apt-get install --no-install-recommends prometheus (scripts/testenv does)")
	}
	dir := t.TempDir()
	cfg, err := os.ReadFile("../deploy/prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("scrape_interval: 15s", "scrape_interval: 1s",
		"evaluation_interval: 15s", "evaluation_interval: 1s").Replace(string(cfg))
	for job, addr := range targets {
		// Each job's one line of DNS discovery (the compose services by name) becomes a static
		// target, as scripts/stack does.
		line := regexp.MustCompile(`dns_sd_configs: \[\{names: \["` + job + `"\].*`)
		if !line.MatchString(text) {
			t.Fatalf("deploy/prometheus/prometheus.yml has no discovery of %s", job)
		}
		text = line.ReplaceAllLiteralString(text, `static_configs: [{targets: ["`+addr+`"]}]`)
	}
	rules, err := os.ReadFile("../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"prometheus.yml": []byte(text), "alerts.yml": rules} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	addr := freeAddr(t)
	logPath := filepath.Join(dir, "prometheus.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		logFile.Close()
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			t.Logf("log of prometheus:\n%s", tail(string(data), 6000))
		}
	})
	p := &prometheus{t: t, url: "http://" + addr}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := waitHTTP(ctx, p.url+"/-/ready", http.StatusOK, ""); err != nil {
		t.Fatalf("prometheus: %v", err)
	}
	return p
}

// query evaluates expr now through the HTTP API: its one value, or ok false for no result.
func (p *prometheus) query(expr string) (v float64, ok bool, err error) {
	resp, err := http.Get(p.url + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	var r struct {
		Status, Error string
		Data          struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, false, fmt.Errorf("%s: %w", expr, err)
	}
	if r.Status != "success" {
		return 0, false, fmt.Errorf("%s: %s", expr, r.Error)
	}
	var sample []any
	switch r.Data.ResultType {
	case "scalar":
		err = json.Unmarshal(r.Data.Result, &sample)
	case "vector":
		var vec []struct{ Value []any }
		err = json.Unmarshal(r.Data.Result, &vec)
		if len(vec) > 1 {
			return 0, false, fmt.Errorf("%s: %d series, want one (sum them)", expr, len(vec))
		}
		if len(vec) == 1 {
			sample = vec[0].Value
		}
	default:
		return 0, false, fmt.Errorf("%s: a %s", expr, r.Data.ResultType)
	}
	if err != nil || len(sample) != 2 {
		return 0, false, err
	}
	s, _ := sample[1].(string)
	v, err = strconv.ParseFloat(s, 64)
	return v, err == nil, err
}

// waitValue waits until expr has a value that satisfies want, and fails the test with the last
// value otherwise.
func (p *prometheus) waitValue(ctx context.Context, expr, what string, want func(float64) bool) float64 {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var last string
	for {
		v, ok, err := p.query(expr)
		switch {
		case err != nil:
			last = err.Error()
		case !ok:
			last = "no result"
		case want(v):
			return v
		default:
			last = strconv.FormatFloat(v, 'f', -1, 64)
		}
		select {
		case <-ctx.Done():
			p.t.Fatalf("%s: %s never %s (last: %s)", expr, "the value", what, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func equals(want float64) func(float64) bool { return func(v float64) bool { return v == want } }

// waitHTTP waits until GET url answers status with a body containing substr.
func waitHTTP(ctx context.Context, url string, status int, substr string) error {
	var last string
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == status && strings.Contains(string(body), substr) {
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("GET %s: want %d with %q, last answer: %s", url, status, substr, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// mhfzPartitions is the partition count mhfz gives its topics by default (cmd/mhfz, --partitions).
const mhfzPartitions = kafka.DefaultPartitions

// TestStackMetricsInPrometheus runs the whole pipeline as the stack does (migrate, processor,
// sink, mhfz serve too, scrapes of the newest snapshot over HTTP) with every service serving its
// metrics and a real Prometheus scraping them with the repository's configuration and rules,
// while the whole newest snapshot flows; then Prometheus's HTTP API must say what the tables say: every row stored, no
// lag, no dead letter, every page fetched once, and at the second scrape every page not modified.
// And the tables must hold every weapon row of the site, or the dead-letter topic (checkStackTables:
// this run is TestStackEndToEnd's too).
func TestStackMetricsInPrometheus(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("the whole corpus through the whole stack: not in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	buki := testenv.Snapshot(t, testenv.Newest)
	perTable, sum := stackRowsPerTable(t, ctx, buki)
	s := newStack(t)
	addrs := map[string]string{"scraper": freeAddr(t), "processor": freeAddr(t), "sink": freeAddr(t), "serve": freeAddr(t)}
	prom := startPrometheus(t, addrs)
	runService(t, ctx, s.env, "migrate", "up")
	with := func(svc string) []string {
		return append(append([]string(nil), s.env...), "MHFZ_HTTP_ADDR="+addrs[svc])
	}
	reader, err := url.Parse(s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	reader.User = url.User(migrations.ReaderRole) // scripts/testenv's server trusts loopback connections
	serve := startService(t, append(with("serve"), "MHFZ_SERVE_ADDR="+freeAddr(t), "MHFZ_SERVE_DATABASE_URL="+reader.String()), "serve")
	processor := startService(t, with("processor"), "process")
	sink := startService(t, append(s.sinkEnv(), "MHFZ_HTTP_ADDR="+addrs["sink"]), "sink")
	scraper := startService(t, with("scraper"), "scrape", "--base-url", mirror(t, buki), "--rate", "0", "--every", "15s")
	s.waitCaughtUp(ctx, 5*time.Minute)

	pages := float64(sum.Pages)
	for _, c := range []struct {
		expr, what string
		want       func(float64) bool
	}{
		{`count(up{job=~"scraper|processor|sink|serve"} == 1)`, "is 4 (every service scraped)", equals(4)},
		{`sum(mhfz_sink_records_total{outcome="stored"})`, "is 145,955", equals(145955)},
		{`sum(mhfz_sink_lag_records)`, "is 0", equals(0)},
		{`count(mhfz_sink_lag_records)`, fmt.Sprintf("is %d (15 topics of mhfz's default %d partitions)", 15*mhfzPartitions, mhfzPartitions),
			equals(15 * mhfzPartitions)},
		{`sum(mhfz_processor_lag_records)`, "is 0", equals(0)},
		{`count(mhfz_processor_lag_records)`, fmt.Sprintf("is %d (weapon_data's partitions)", mhfzPartitions), equals(mhfzPartitions)},
		{`sum(mhfz_processor_dead_letters_total)`, "is 0", equals(0)},
		{`sum(mhfz_sink_records_total{outcome=~"dead_lettered|lost|conflict"})`, "is 0", equals(0)},
		{`sum(mhfz_processor_records_total{outcome="forwarded"})`, "is 145,955", equals(145955)},
		{`sum(mhfz_end_to_end_latency_seconds_count)`, "is 145,955", equals(145955)},
		{`time() - max(mhfz_sink_newest_row_scraped_timestamp_seconds)`, "is under 10 minutes", func(v float64) bool { return v >= 0 && v < 600 }},
		{`min(mhfz_sink_database_up) + min(mhfz_sink_kafka_up) + min(mhfz_processor_table_recovered) + min(mhfz_serve_database_up)`,
			"is 4", equals(4)},
		{`sum(mhfz_scraper_pages_total{outcome="fetched"})`, fmt.Sprintf("is %v, the pages of the snapshot", pages), equals(pages)},
		{`sum(mhfz_scraper_records_acknowledged_total)`, "is 145,955", equals(145955)},
		// The second scrape of the same mirror: every page answers 304 Not Modified (and every
		// scrape after it: not_modified counts pages once per scrape after the first).
		{`sum(mhfz_scraper_scrapes_total{result="success"}) >= 2`, "reaches 2 successful scrapes", func(float64) bool { return true }},
		{`sum(mhfz_scraper_pages_total{outcome="not_modified"}) / (sum(mhfz_scraper_scrapes_total{result="success"}) - 1)`,
			fmt.Sprintf("is %v: every page not modified", pages), equals(pages)},
		{`sum(mhfz_scraper_pages_total{outcome="fetched"})`, "is still the pages of the snapshot", equals(pages)},
		{`sum(mhfz_scraper_scrapes_total{result="failure"}) + sum(mhfz_scraper_pages_total{outcome="failed"})`, "is 0", equals(0)},
		{`min(mhfz_ready) + min(mhfz_healthy)`, "is 2 (every service ready and alive)", equals(2)},
	} {
		v := prom.waitValue(ctx, c.expr, c.what, c.want)
		t.Logf("%s = %v", c.expr, v)
	}
	if v, ok, err := prom.query(`count(ALERTS{alertstate="firing"})`); err != nil || ok {
		t.Errorf("alerts firing: %v (%v)", v, err)
	}
	checkStackTables(t, ctx, s, perTable)
	for _, svc := range []*service{scraper, processor, sink, serve} {
		if err := svc.stop(); err != nil {
			t.Errorf("mhfz %s did not stop cleanly: %v", svc.name, err)
		}
	}
}

// pagesFolder copies some pages of the newest snapshot into a folder of their own: a small site
// for `mhfz scrape --source`.
func pagesFolder(t testing.TB, pages ...string) string {
	t.Helper()
	buki, dir := testenv.Snapshot(t, testenv.Newest), t.TempDir()
	for _, p := range pages {
		data, err := os.ReadFile(filepath.Join(buki, p))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestSinkHealthzFailsWhileTheDatabaseIsBlocked: a transaction holds kafka_offsets locked, so the
// sink's next batch cannot take its offsets: /healthz fails once the batch has waited longer than
// --stall-timeout, naming it, and passes again once the lock is released and the batch is written.
func TestSinkHealthzFailsWhileTheDatabaseIsBlocked(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := newStack(t)
	runService(t, ctx, s.env, "migrate", "up")
	startService(t, s.env, "process")
	addr := freeAddr(t)
	startService(t, append(s.sinkEnv(), "MHFZ_HTTP_ADDR="+addr, "MHFZ_STALL_TIMEOUT=3s"), "sink")
	runService(t, ctx, s.env, "scrape", "--source", pagesFolder(t, "heavy_sp.htm"))
	s.waitCaughtUp(ctx, 2*time.Minute)
	healthz := "http://" + addr + "/healthz"
	if err := waitHTTP(ctx, healthz, http.StatusOK, "ok"); err != nil {
		t.Fatal(err)
	}

	conn, err := pgx.Connect(ctx, s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// EXCLUSIVE lets readers in (the lag monitor) but not the batch's SELECT … FOR UPDATE.
	if _, err := tx.Exec(ctx, "LOCK TABLE kafka_offsets IN EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	runService(t, ctx, s.env, "scrape", "--source", pagesFolder(t, "right_sp.htm"))
	if err := waitHTTP(ctx, healthz, http.StatusServiceUnavailable, "sink loop: stuck: write batch"); err != nil {
		t.Fatalf("with kafka_offsets locked: %v", err)
	}
	if err := waitHTTP(ctx, "http://"+addr+"/readyz", http.StatusServiceUnavailable, "stuck"); err != nil {
		t.Errorf("a stuck sink is ready: %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := waitHTTP(ctx, healthz, http.StatusOK, "ok"); err != nil {
		t.Fatalf("after the lock was released: %v", err)
	}
	s.waitCaughtUp(ctx, 2*time.Minute)
}

// broker is the Kafka broker of a private scripts/testenv, to be stopped and started again.
type broker struct {
	t       testing.TB
	dir     string // the testenv folder
	args    []string
	workdir string
}

// privateTestenv starts a Kafka and a PostgreSQL of the test's own (scripts/testenv up), which
// it may stop, and returns the stack's environment on them.
func privateTestenv(t *testing.T) (*broker, []string) {
	t.Helper()
	testenv.KafkaBrokers(t) // where a broker can run
	out, err := exec.Command("../scripts/testenv", "up").Output()
	if err != nil {
		t.Fatalf("scripts/testenv up: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command("../scripts/testenv", "down", dir).Run() })
	vars := map[string]string{}
	f, err := os.Open(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		k, v, _ := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		vars[k] = v
	}
	b := &broker{t: t, dir: dir}
	state := t.TempDir()
	env := []string{
		"MHFZ_KAFKA_BROKERS=" + vars["MHFZ_TEST_KAFKA_BROKERS"], "MHFZ_DATABASE_URL=" + vars["MHFZ_TEST_DATABASE_URL"],
		"MHFZ_KAFKA_REPLICATION=1", "MHFZ_PROCESS_STORAGE=" + state + "/tables", "MHFZ_PROGRESS_INTERVAL=2s",
	}
	return b, env
}

func (b *broker) pid() int {
	data, err := os.ReadFile(filepath.Join(b.dir, "kafka", "pid"))
	if err != nil {
		b.t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		b.t.Fatal(err)
	}
	return pid
}

// stop stops the broker (SIGTERM, as a `docker compose stop kafka`), remembering how it ran.
func (b *broker) stop() {
	pid := b.pid()
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		b.t.Fatal(err)
	}
	b.args = strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	if b.workdir, err = os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err != nil {
		b.t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		b.t.Fatal(err)
	}
	for i := 0; testenv.Running(pid); i++ {
		if i > 300 {
			b.t.Fatalf("the broker (pid %d) did not stop within 60s", pid)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// start starts the broker again, as it ran, on the same data.
func (b *broker) start() {
	logFile, err := os.OpenFile(filepath.Join(b.dir, "kafka", "kafka.log"), os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		b.t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(b.args[0], b.args[1:]...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = b.workdir, logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	// scripts/testenv down stops the broker by this file.
	if err := os.WriteFile(filepath.Join(b.dir, "kafka", "pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		b.t.Fatal(err)
	}
	go func() { _ = cmd.Wait() }()
}

// TestReadyzFailsWhileTheBrokerIsDown stops the broker under running services: each one's
// /readyz fails, saying Kafka does not answer, and passes again once the broker is back. The
// processor's goka consumer gives up on a broker that stays down (it exits with status 1, and
// compose's restart policy starts it again): the test restarts it the same way if it has exited.
func TestReadyzFailsWhileTheBrokerIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("a Kafka broker of its own, stopped and started: not in -short")
	}
	// Services of its own, and mostly waiting for them: beside TestRouterOnBothSnapshots.
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	b, env := privateTestenv(t)
	runService(t, ctx, env, "migrate", "up")
	addrs := map[string]string{}
	for _, svc := range []struct{ name string }{{"process"}, {"sink"}, {"scrape"}} {
		addrs[svc.name] = freeAddr(t)
	}
	with := func(svc string) []string { return append(append([]string(nil), env...), "MHFZ_HTTP_ADDR="+addrs[svc]) }
	proc := startService(t, with("process"), "process")
	startService(t, with("sink"), "sink")
	startService(t, with("scrape"), "scrape", "--every", "1h", "--source", pagesFolder(t, "heavy_sp.htm"))
	readyz := func(svc string) string { return "http://" + addrs[svc] + "/readyz" }
	for svc := range addrs {
		if err := waitHTTP(ctx, readyz(svc), http.StatusOK, "ok"); err != nil {
			t.Fatalf("mhfz %s, broker up: %v", svc, err)
		}
	}
	b.stop()
	for svc := range addrs {
		wait, cancel := context.WithTimeout(ctx, time.Minute)
		err := waitHTTP(wait, readyz(svc), http.StatusServiceUnavailable, "Kafka")
		cancel()
		if err != nil && !(svc == "process" && exited(proc)) {
			t.Errorf("mhfz %s, broker down: %v", svc, err)
		}
	}
	b.start()
	if err := readyAgain(ctx, readyz("process"), func() {
		if exited(proc) {
			t.Log("mhfz process exited when the broker went down: started again, as restart: unless-stopped does")
			proc = startService(t, with("process"), "process")
		}
	}); err != nil {
		t.Errorf("mhfz process, broker back: %v", err)
	}
	for _, svc := range []string{"sink", "scrape"} {
		wait, cancel := context.WithTimeout(ctx, 3*time.Minute)
		err := waitHTTP(wait, readyz(svc), http.StatusOK, "ok")
		cancel()
		if err != nil {
			t.Errorf("mhfz %s, broker back: %v", svc, err)
		}
	}
}

// readyAgain waits up to 3 minutes for url to answer 200, calling revive before each attempt
// (which restarts a service that has exited).
func readyAgain(ctx context.Context, url string, revive func()) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		revive()
		attempt, stop := context.WithTimeout(ctx, time.Second)
		err := waitHTTP(attempt, url, http.StatusOK, "ok")
		stop()
		if err == nil || ctx.Err() != nil {
			return err
		}
	}
}

// exited reports whether the service's process has ended (its exit status stays readable).
func exited(s *service) bool {
	select {
	case err := <-s.done:
		s.done <- err
		return true
	default:
		return false
	}
}
