package processors

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/observe"
)

// The router's metrics. The counters are read from Stats at each scrape: the progress lines and
// the metrics are the same numbers.
var (
	metricRead = observe.Def{Name: "mhfz_processor_records_read_total", Type: observe.Counter,
		Help: "Raw records the router read from weapon_data."}
	metricRecords = observe.Def{Name: "mhfz_processor_records_total", Type: observe.Counter, Labels: []string{"outcome"},
		Help: "Raw records the router decided, by outcome: forwarded (a new version), reemitted (sent again after " +
			"a crash), unchanged (same content as the last version: dropped), stale (older than the last version: " +
			"dropped), dead_letter (to weapon_data.dlq)."}
	metricDeadLetters = observe.Def{Name: "mhfz_processor_dead_letters_total", Type: observe.Counter, Labels: []string{"kind"},
		Help: "Raw records sent to weapon_data.dlq, by kind (json, parse, unstorable, panic, …)."}
	metricFindings = observe.Def{Name: "mhfz_processor_quality_findings_total", Type: observe.Counter, Labels: []string{"rule"},
		Help: "Quality findings of the versions forwarded (stored as the site shows them and flagged), by rule."}
	metricRouted = observe.Def{Name: "mhfz_processor_routed_total", Type: observe.Counter, Labels: []string{"topic"},
		Help: "Weapons sent to a weapon topic (forwarded and re-emitted), by topic."}
	metricLag = observe.Def{Name: "mhfz_processor_lag_records", Type: observe.Gauge, Labels: []string{"topic", "partition"},
		Help: "Raw records on a weapon_data partition the router has not committed yet: the high-water mark minus " +
			"its consumer group's committed offset."}
	metricRecovered = observe.Def{Name: "mhfz_processor_table_recovered", Type: observe.Gauge,
		Help: "1 while the router runs with its group table recovered and its partitions assigned; 0 while it " +
			"starts, joins the group or recovers the table."}
	metricKafkaUp = observe.Def{Name: "mhfz_processor_kafka_up", Type: observe.Gauge,
		Help: "1 while Kafka answers the router's lag monitor (checked every few seconds), else 0."}
)

// Metrics are the metrics a router registers (Config.Registry).
func Metrics() []observe.Def {
	return []observe.Def{metricRead, metricRecords, metricDeadLetters, metricFindings, metricRouted, metricLag,
		metricRecovered, metricKafkaUp}
}

func (s *Stats) readMetrics(emit func(d observe.Def, v float64, labels ...string)) {
	snap := s.Snapshot()
	emit(metricRead, float64(snap.Read))
	for _, c := range []struct {
		outcome string
		n       int64
	}{{"forwarded", snap.Forwarded}, {"reemitted", snap.Reemitted}, {"unchanged", snap.Unchanged},
		{"stale", snap.Stale}, {"dead_letter", snap.DeadLetters}} {
		emit(metricRecords, float64(c.n), c.outcome)
	}
	for _, kind := range Kinds { // every kind from zero: increase() sees the first dead letter
		emit(metricDeadLetters, float64(snap.DeadLettersByKind[kind]), kind)
	}
	for rule, n := range snap.FindingsByRule {
		emit(metricFindings, float64(n), rule)
	}
	for topic, n := range snap.ByTopic {
		emit(metricRouted, float64(n), topic)
	}
}

// monitor is what a router shows of itself: its metrics and health checks, and the lag monitor
// that feeds them.
type monitor struct {
	router  *Router
	lag     *prometheus.GaugeVec
	kafka   *observe.Probe
	stalled stallState
}

// newMonitor registers the router's metrics on Config.Registry and its checks on Config.Health
// (either may be nil): alive unless records wait on weapon_data and none was read for
// Config.StallTimeout; ready while the group table is recovered and Kafka answers. Run measures
// the lag every Config.LagEvery.
func newMonitor(r *Router) (*monitor, error) {
	m := &monitor{router: r, kafka: observe.NewProbe("Kafka", 3*r.cfg.LagEvery), lag: metricLag.NewGaugeVec()}
	m.stalled.since = time.Now()
	health := r.cfg.Health
	health.Ready("processor table", m.checkRecovered)
	health.Ready("processor kafka", m.kafka.Check)
	health.Live("processor loop", m.stalled.check)
	reg := r.cfg.Registry
	if reg == nil {
		return m, nil
	}
	err := errors.Join(reg.Register(m.lag), reg.Register(observe.Collector{
		Defs: []observe.Def{metricRead, metricRecords, metricDeadLetters, metricFindings, metricRouted,
			metricRecovered, metricKafkaUp},
		Read: func(emit func(d observe.Def, v float64, labels ...string)) {
			r.stats.readMetrics(emit)
			emit(metricRecovered, boolValue(m.recovered()))
			emit(metricKafkaUp, m.kafka.Up())
		},
	}))
	if err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	return m, nil
}

// recovered reports whether the processor running now has recovered its table.
func (m *monitor) recovered() bool {
	p := m.router.current.Load()
	return p != nil && p.Recovered()
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (m *monitor) checkRecovered() error {
	p := m.router.current.Load()
	if p == nil {
		return errors.New("not running yet (no processor started)")
	}
	if st := p.StateReader().State(); st != goka.ProcStateRunning {
		return fmt.Errorf("not running yet (goka state %d: starting, joining the group or recovering the group table)", st)
	}
	return nil
}

// Run measures the lag every Config.LagEvery until ctx ends.
func (m *monitor) Run(ctx context.Context) {
	k, every := m.router.cfg.Kafka, m.router.cfg.LagEvery
	client, err := sarama.NewClient(k.Brokers, k.Config)
	for err != nil {
		m.kafka.Report(err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
		client, err = sarama.NewClient(k.Brokers, k.Config)
	}
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		m.kafka.Report(err)
		return
	}
	defer admin.Close()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		lag, err := m.measure(client, admin)
		m.kafka.Report(err)
		m.stalled.update(err == nil, lag, m.router.stats.Read.Load(), m.recovered(), m.router.cfg.StallTimeout)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// measure sets the lag of every partition of weapon_data and returns their sum.
func (m *monitor) measure(client sarama.Client, admin sarama.ClusterAdmin) (int64, error) {
	names := m.router.cfg.Names
	input := string(names.WeaponData())
	ends, starts, err := kafka.Watermarks(client, m.router.cfg.Kafka.Config, input)
	if err != nil {
		return 0, err
	}
	committed, err := kafka.GroupOffsets(admin, string(names.RouterGroup()), ends)
	if err != nil {
		return 0, err
	}
	var total int64
	for p, end := range ends {
		pos, ok := committed[p]
		if !ok || pos < starts[p] {
			pos = starts[p]
		}
		lag := max(0, end-pos)
		total += lag
		m.lag.WithLabelValues(p.Topic, strconv.Itoa(int(p.ID))).Set(float64(lag))
	}
	return total, nil
}

// stallState tells a stuck router from an idle one: records wait on weapon_data (lag) and none
// was read for longer than the stall timeout, while the router was running. Idle (no lag) or
// busy recovering its table, it is alive.
type stallState struct {
	mu       sync.Mutex
	since    time.Time // the last progress, or the start
	lastRead int64
	lag      int64
	stall    time.Duration
}

func (s *stallState) update(measured bool, lag, read int64, running bool, stall time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stall = stall
	if !measured {
		return // Kafka did not answer: the readiness check says so
	}
	if lag == 0 || read != s.lastRead || !running {
		s.since = time.Now()
	}
	s.lastRead, s.lag = read, lag
}

func (s *stallState) check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lag > 0 && s.stall > 0 && time.Since(s.since) > s.stall {
		return fmt.Errorf("stuck: %d records wait on weapon_data and none was read for %s (more than %s)",
			s.lag, time.Since(s.since).Round(time.Second), s.stall)
	}
	return nil
}
