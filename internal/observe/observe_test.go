package observe

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// clock is a settable time for the watchdog and the probe.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestWatchdog(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	w, err := NewWatchdog(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w.now = c.now
	if err := w.Check(); err != nil {
		t.Fatalf("idle: %v", err)
	}
	doneA := w.Start("batch A")
	c.t = c.t.Add(5 * time.Second)
	doneB := w.Start("batch B")
	c.t = c.t.Add(6 * time.Second) // A: 11s, B: 6s
	err = w.Check()
	if err == nil || !strings.Contains(err.Error(), "batch A has taken 11s") {
		t.Fatalf("A pending 11s with a bound of 10s: %v", err)
	}
	doneA()
	if err := w.Check(); err != nil {
		t.Fatalf("only B, pending 6s: %v", err)
	}
	c.t = c.t.Add(5 * time.Second)
	if err := w.Check(); err == nil || !strings.Contains(err.Error(), "batch B") {
		t.Fatalf("B pending 11s: %v", err)
	}
	doneB()
	if err := w.Check(); err != nil {
		t.Fatalf("nothing pending: %v", err)
	}
	var nilWatch *Watchdog
	nilWatch.Start("anything")() // a stage run without observation
	if _, err := NewWatchdog(0); err == nil {
		t.Error("a zero bound is accepted")
	}
}

func TestProbe(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	p := NewProbe("Kafka", 15*time.Second)
	p.now = c.now
	if err := p.Check(); err == nil || !strings.Contains(err.Error(), "never answered") {
		t.Fatalf("before any answer: %v", err)
	}
	p.Report(nil)
	if err := p.Check(); err != nil || p.Up() != 1 {
		t.Fatalf("just answered: %v", err)
	}
	c.t = c.t.Add(10 * time.Second)
	p.Report(errors.New("connection refused"))
	if err := p.Check(); err != nil {
		t.Fatalf("one failure within the staleness: %v", err)
	}
	c.t = c.t.Add(10 * time.Second)
	if err := p.Check(); err == nil || !strings.Contains(err.Error(), "no answer for 20s: connection refused") || p.Up() != 0 {
		t.Fatalf("20s without an answer: %v", err)
	}
	c.t = c.t.Add(time.Hour) // a probe that hangs reports nothing: it ages
	p.Report(nil)
	if err := p.Check(); err != nil {
		t.Fatalf("answered again: %v", err)
	}
}

func TestServiceServesMetricsAndHealth(t *testing.T) {
	svc, err := NewService("v1", "abc")
	if err != nil {
		t.Fatal(err)
	}
	var stuck, unready error
	svc.Health.Live("loop", func() error { return stuck })
	svc.Health.Ready("kafka", func() error { return unready })
	addr := listenedAddr(t, svc)
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	tests := []struct {
		stuck, unready     error
		healthz, readyz    int
		readyBody, metrics string
	}{
		{nil, nil, 200, 200, "ok", "mhfz_ready 1"},
		{nil, errors.New("Kafka: no answer for 20s"), 200, 503, "kafka: Kafka: no answer for 20s", "mhfz_ready 0"},
		{errors.New("stuck: write batch has taken 6s"), nil, 503, 503, "loop: stuck: write batch", "mhfz_healthy 0"},
	}
	for _, tc := range tests {
		stuck, unready = tc.stuck, tc.unready
		if code, _ := get("/healthz"); code != tc.healthz {
			t.Errorf("stuck %v: /healthz %d, want %d", tc.stuck, code, tc.healthz)
		}
		code, body := get("/readyz")
		if code != tc.readyz || !strings.Contains(body, tc.readyBody) {
			t.Errorf("stuck %v, unready %v: /readyz %d %q, want %d with %q", tc.stuck, tc.unready, code, body, tc.readyz, tc.readyBody)
		}
		if _, m := get("/metrics"); !strings.Contains(m, tc.metrics) || !strings.Contains(m, `mhfz_build_info{commit="abc",version="v1"} 1`) {
			t.Errorf("/metrics lacks %q:\n%s", tc.metrics, m)
		}
	}
}

// listenedAddr finds the address the test server listens on, from its log line.
func listenedAddr(t *testing.T, svc *Service) string {
	t.Helper()
	var b strings.Builder
	stop, err := svc.Listen(context.Background(), "127.0.0.1:0", slog.New(slog.NewTextHandler(&b, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	_, addr, _ := strings.Cut(b.String(), "addr=")
	return strings.TrimSpace(addr)
}

func TestListenOnATakenPortFails(t *testing.T) {
	svc, err := NewService("", "")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	addr := listenedAddr(t, svc)
	if _, err := svc.Listen(context.Background(), addr, log); err == nil || !strings.Contains(err.Error(), "--http-addr") {
		t.Fatalf("a second listener on %s: %v", addr, err)
	}
}

func TestCollectorReadsCounters(t *testing.T) {
	def := Def{Name: "mhfz_test_things_total", Type: Counter, Help: "Things.", Labels: []string{"kind"}}
	n := 0
	reg := prometheus.NewRegistry()
	reg.MustRegister(Collector{Defs: []Def{def}, Read: func(emit func(Def, float64, ...string)) {
		emit(def, float64(n), "a")
	}})
	n = 41
	n++
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(families) != 1 || families[0].GetMetric()[0].GetCounter().GetValue() != 42 {
		t.Fatalf("gathered %v, want the counter's 42", families)
	}
	if name := families[0].GetName(); name != def.Name {
		t.Errorf("gathered %s, want %s", name, def.Name)
	}
}

func TestPprofOnlyWhenAsked(t *testing.T) {
	for _, on := range []bool{false, true} {
		svc, err := NewService("v1", "abc")
		if err != nil {
			t.Fatal(err)
		}
		svc.Pprof = on
		resp, err := http.Get("http://" + listenedAddr(t, svc) + "/debug/pprof/goroutine?debug=1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		served := resp.StatusCode == http.StatusOK && strings.Contains(string(body), "goroutine profile:")
		if served != on {
			t.Errorf("Pprof %v: /debug/pprof/goroutine answered %d, served a profile: %v", on, resp.StatusCode, served)
		}
	}
}
