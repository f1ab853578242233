package observe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Service is what one long-running service shows: its own registry and its health checks.
type Service struct {
	Registry *prometheus.Registry
	Health   *Health
	// Pprof adds Go's profiles under /debug/pprof/ (net/http/pprof): off by default, since a
	// profile costs CPU while it is taken and shows the program's internals to whoever can
	// reach the address.
	Pprof bool
}

// NewService returns a service's registry, with the Go runtime's and the process's metrics and
// mhfz_build_info, mhfz_healthy and mhfz_ready, and an empty Health.
func NewService(version, commit string) (*Service, error) {
	s := &Service{Registry: prometheus.NewRegistry(), Health: NewHealth()}
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: BuildInfo.Name, Help: BuildInfo.Help,
		ConstLabels: prometheus.Labels{"version": version, "commit": commit}})
	build.Set(1)
	err := errors.Join(
		s.Registry.Register(collectors.NewGoCollector()),
		s.Registry.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
		s.Registry.Register(build),
		s.Registry.Register(prometheus.NewGaugeFunc(Healthy.GaugeOpts(), func() float64 { return ok(s.Health.Alive()) })),
		s.Registry.Register(prometheus.NewGaugeFunc(Ready.GaugeOpts(), func() float64 { return ok(s.Health.IsReady()) })),
	)
	if err != nil {
		return nil, fmt.Errorf("observe: register the service's metrics: %w", err)
	}
	return s, nil
}

func ok(err error) float64 {
	if err == nil {
		return 1
	}
	return 0
}

// The metrics every service registers.
var (
	BuildInfo = Def{Name: "mhfz_build_info", Type: Gauge, Labels: []string{"version", "commit"},
		Help: "Always 1: the version and commit of the running binary."}
	Healthy = Def{Name: "mhfz_healthy", Type: Gauge,
		Help: "1 while /healthz passes: the service's loop makes progress or is idle by design."}
	Ready = Def{Name: "mhfz_ready", Type: Gauge,
		Help: "1 while /readyz passes: connected, partitions assigned, table recovered."}
)

// ServiceMetrics are the metrics NewService registers, beside the go_* and process_* ones.
func ServiceMetrics() []Def { return []Def{BuildInfo, Healthy, Ready} }

// Handler serves /metrics, /healthz and /readyz.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError, Registry: s.Registry}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { answer(w, s.Health.Alive()) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { answer(w, s.Health.IsReady()) })
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "mhfz: /metrics (Prometheus), /healthz (alive), /readyz (ready)")
	})
	if s.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func answer(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, describe(err))
		return
	}
	fmt.Fprintln(w, "ok")
}

// Listen opens addr (host:port; ":9100" for every interface) at once, so that a port taken is an
// error of the start, and serves the Handler on it until ctx ends.
func (s *Service) Listen(ctx context.Context, addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on --http-addr %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics and health server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	log.Info("serving /metrics, /healthz and /readyz", "addr", ln.Addr().String())
	stopped := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-stopped:
		}
		shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutCtx)
	}()
	return func() {
		select {
		case <-stopped:
		default:
			close(stopped)
		}
		<-done
	}, nil
}
