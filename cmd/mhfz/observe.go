package main

import (
	"context"
	"time"

	"github.com/mhfz/mhfz-pipeline/internal/observe"
)

// observeFlags are the flags of every long-running service (scrape --every, process, sink,
// reprocess, serve): where it serves its metrics and health, and when its loop counts as stuck.
type observeFlags struct {
	addr  string
	stall time.Duration
	pprof bool
}

func (o *observeFlags) register(fs *flagSet) {
	fs.stringVar(&o.addr, "http-addr", "MHFZ_HTTP_ADDR", "",
		"serve /metrics (Prometheus), /healthz and /readyz on this address, such as :9100 (empty: none)")
	fs.durationVar(&o.stall, "stall-timeout", "MHFZ_STALL_TIMEOUT", observe.DefaultStallTimeout,
		"/healthz fails once a piece of work (a batch, a database call, a page, records waiting, a request of serve) has made no progress for this long")
	fs.boolVar(&o.pprof, "pprof", "MHFZ_PPROF", false,
		"also serve Go's profiles under /debug/pprof/ on --http-addr (for operators: `go tool pprof http://ADDR/debug/pprof/profile`)")
}

func (o *observeFlags) check(command string) error {
	if o.stall <= 0 {
		return usageError{command + ": --stall-timeout must be positive"}
	}
	if o.pprof && o.addr == "" {
		return usageError{command + ": --pprof needs --http-addr"}
	}
	return nil
}

// start serves the service's metrics and health on --http-addr until stop is called; without
// --http-addr it returns a nil service (nothing is measured) and a stop that does nothing.
func (o *observeFlags) start(env runEnv) (svc *observe.Service, stop func(), err error) {
	if o.addr == "" {
		return nil, func() {}, nil
	}
	svc, err = observe.NewService(versionLabel(), commit)
	if err != nil {
		return nil, nil, err
	}
	svc.Pprof = o.pprof
	// The server outlives the signal: it answers until the service has stopped.
	stop, err = svc.Listen(context.Background(), o.addr, env.log)
	if err != nil {
		return nil, nil, usageError{err.Error()}
	}
	return svc, stop, nil
}

func versionLabel() string {
	if version == "" {
		return "unknown"
	}
	return version
}
