package observe

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Type is a Prometheus metric type.
type Type string

// The metric types the services use.
const (
	Counter   Type = "counter"
	Gauge     Type = "gauge"
	Histogram Type = "histogram"
)

// Def defines one metric: the collectors of a stage are built from their Defs, and the metrics
// table of docs/observability.md is generated from the same Defs (cmd/mhfz's test keeps them in
// step), so that what is documented is what is registered.
type Def struct {
	Name    string
	Type    Type
	Help    string
	Labels  []string  // variable labels
	Buckets []float64 // histograms
}

// Desc is the Def's descriptor, for a collector that reports the values of counters it reads.
func (d Def) Desc() *prometheus.Desc {
	return prometheus.NewDesc(d.Name, d.Help, d.Labels, nil)
}

// GaugeOpts are the options of a gauge of this Def.
func (d Def) GaugeOpts() prometheus.GaugeOpts {
	return prometheus.GaugeOpts{Name: d.Name, Help: d.Help}
}

// NewHistogram builds the histogram of this Def (it must have no labels).
func (d Def) NewHistogram() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{Name: d.Name, Help: d.Help, Buckets: d.Buckets})
}

// NewHistogramVec builds the histogram vector of this Def (its labels).
func (d Def) NewHistogramVec() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: d.Name, Help: d.Help, Buckets: d.Buckets}, d.Labels)
}

// NewCounterVec builds the counter vector of this Def, for counts kept nowhere else.
func (d Def) NewCounterVec() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: d.Name, Help: d.Help}, d.Labels)
}

// NewGaugeVec builds the gauge vector of this Def.
func (d Def) NewGaugeVec() *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(d.GaugeOpts(), d.Labels)
}

// Value is one sample of a Def read from a counter: its value and its label values.
func (d Def) Value(v float64, labels ...string) prometheus.Metric {
	t := prometheus.GaugeValue
	if d.Type == Counter {
		t = prometheus.CounterValue
	}
	return prometheus.MustNewConstMetric(d.Desc(), t, v, labels...)
}

// Collector reports the values a function reads at each scrape from the counters a stage keeps
// anyway: nothing is counted twice, and the progress log lines and the metrics agree.
type Collector struct {
	Defs []Def
	Read func(emit func(d Def, v float64, labels ...string))
}

// Describe sends the Defs' descriptors.
func (c Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.Defs {
		ch <- d.Desc()
	}
}

// Collect sends the values.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	c.Read(func(d Def, v float64, labels ...string) { ch <- d.Value(v, labels...) })
}

// The defaults every long-running service shares; each stage's DefaultConfig uses them.
const (
	// DefaultStallTimeout is how long a piece of work may make no progress before /healthz fails.
	DefaultStallTimeout = 5 * time.Minute
	// DefaultLagEvery is how often the services measure their lag and probe Kafka and PostgreSQL.
	DefaultLagEvery = 5 * time.Second
	// DefaultProgress is the interval of a service's progress log lines.
	DefaultProgress = 10 * time.Second
)
