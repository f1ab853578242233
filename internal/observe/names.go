package observe

import (
	"regexp"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Recorder is a Registerer that remembers what was registered on it (and passes it on to Next,
// if set): the tests compare the names the stages register with their Defs and the README.
type Recorder struct {
	Next prometheus.Registerer

	mu         sync.Mutex
	collectors []prometheus.Collector
}

// Register registers c on Next and remembers it.
func (r *Recorder) Register(c prometheus.Collector) error {
	if r.Next != nil {
		if err := r.Next.Register(c); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.collectors = append(r.collectors, c)
	return nil
}

// MustRegister registers each collector and panics on an error, as prometheus.Registerer's does.
func (r *Recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// Unregister forgets c.
func (r *Recorder) Unregister(c prometheus.Collector) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := slices.Index(r.collectors, c)
	if i < 0 {
		return false
	}
	r.collectors = slices.Delete(r.collectors, i, i+1)
	if r.Next != nil {
		r.Next.Unregister(c)
	}
	return true
}

// fqName finds a metric's name in its descriptor's text (prometheus.Desc does not export it).
var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// Names are the names of the metrics registered, sorted.
func (r *Recorder) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := make(chan *prometheus.Desc)
	go func() {
		for _, c := range r.collectors {
			c.Describe(ch)
		}
		close(ch)
	}()
	var names []string
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			names = append(names, m[1])
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}
