package main

import (
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// recorder is a Registerer that remembers what was registered on it (and passes it on to next,
// if set): the tests compare the names the stages register with their Defs and the README.
type recorder struct {
	next prometheus.Registerer

	mu         sync.Mutex
	collectors []prometheus.Collector
}

// Register registers c on next and remembers it.
func (r *recorder) Register(c prometheus.Collector) error {
	if r.next != nil {
		if err := r.next.Register(c); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collectors = append(r.collectors, c)
	return nil
}

// MustRegister registers each collector and panics on an error, as prometheus.Registerer's does.
func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// Unregister forgets c.
func (r *recorder) Unregister(c prometheus.Collector) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := slices.Index(r.collectors, c)
	if i < 0 {
		return false
	}
	r.collectors = slices.Delete(r.collectors, i, i+1)
	if r.next != nil {
		r.next.Unregister(c)
	}
	return true
}

// Names are the names of the metrics registered, sorted. A collector describes its metrics
// without samples (a vector with no child yet collects nothing), and prometheus.Desc does not
// export its name: so each description gets one sample of its own, with as many label values
// as it takes, and a registry of those samples gives the names of its metric families.
func (r *recorder) Names() []string {
	r.mu.Lock()
	descs := make(chan *prometheus.Desc)
	go func() {
		for _, c := range r.collectors {
			c.Describe(descs)
		}
		close(descs)
	}()
	var samples sampleCollector
	for d := range descs {
		if m := sampleOf(d); m != nil {
			samples = append(samples, m)
		}
	}
	r.mu.Unlock()
	reg := prometheus.NewRegistry()
	reg.MustRegister(samples)
	families, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// sampleOf is a sample of the metric d describes, or nil if d is invalid.
func sampleOf(d *prometheus.Desc) prometheus.Metric {
	var labels []string
	for range 32 {
		if m, err := prometheus.NewConstMetric(d, prometheus.UntypedValue, 0, labels...); err == nil {
			return m
		}
		labels = append(labels, "x")
	}
	return nil
}

// sampleCollector collects fixed samples and describes nothing (an unchecked collector).
type sampleCollector []prometheus.Metric

func (sampleCollector) Describe(chan<- *prometheus.Desc) {}

func (s sampleCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range s {
		ch <- m
	}
}
