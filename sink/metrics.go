package sink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/observe"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// The sink's metrics. The counters are read from Stats at each scrape: the progress lines and
// the metrics are the same numbers.
var (
	metricReceived = observe.Def{Name: "mhfz_sink_records_received_total", Type: observe.Counter,
		Help: "Messages the sink read from the weapon topics."}
	metricRecords = observe.Def{Name: "mhfz_sink_records_total", Type: observe.Counter, Labels: []string{"outcome"},
		Help: "Messages the sink handled, by outcome: stored (a new row), duplicate (same key, version and content " +
			"stored already), conflict (same key and version, other content: in sink_conflict), skipped (below " +
			"PostgreSQL's next_offset: handled before), dead_lettered (in sink_dead_letter), lost (deleted from " +
			"Kafka before the sink stored them)."}
	metricBatches = observe.Def{Name: "mhfz_sink_batches_total", Type: observe.Counter,
		Help: "Transactions committed (rows and offsets together)."}
	metricRetries = observe.Def{Name: "mhfz_sink_retries_total", Type: observe.Counter,
		Help: "Database operations retried after a retryable failure (connection lost, server restarting, deadlock)."}
	metricBatchRecords = observe.Def{Name: "mhfz_sink_batch_records", Type: observe.Histogram,
		Help: "Records per committed batch.", Buckets: []float64{1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000}}
	metricTxSeconds = observe.Def{Name: "mhfz_sink_transaction_duration_seconds", Type: observe.Histogram,
		Help:    "Duration of a batch's transaction, from BEGIN to COMMIT (retries not included).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}
	metricLag = observe.Def{Name: "mhfz_sink_lag_records", Type: observe.Gauge, Labels: []string{"topic", "partition"},
		Help: "Records on a weapon topic's partition not stored yet: its high-water mark minus PostgreSQL's next_offset " +
			"(the sink's offsets live in PostgreSQL, where Kafka's lag exporters cannot see them)."}
	metricDatabaseUp = observe.Def{Name: "mhfz_sink_database_up", Type: observe.Gauge,
		Help: "1 while PostgreSQL answers the sink (checked every few seconds), else 0."}
	metricKafkaUp = observe.Def{Name: "mhfz_sink_kafka_up", Type: observe.Gauge,
		Help: "1 while Kafka answers the sink (checked every few seconds), else 0."}
	metricPartitions = observe.Def{Name: "mhfz_sink_partitions_assigned", Type: observe.Gauge,
		Help: "Weapon-topic partitions assigned to this sink by the consumer group."}
	metricLastCommit = observe.Def{Name: "mhfz_sink_last_commit_timestamp_seconds", Type: observe.Gauge,
		Help: "When the sink last committed a batch (Unix time; 0: not since it started)."}
	metricNewest = observe.Def{Name: "mhfz_sink_newest_row_scraped_timestamp_seconds", Type: observe.Gauge,
		Help: "The scrape time of the newest row stored (Unix time): time() minus it is the data's freshness."}
	metricLatency = observe.Def{Name: "mhfz_end_to_end_latency_seconds", Type: observe.Histogram,
		Help: "Commit time in PostgreSQL minus the row's scrape time, per record committed by the live sink " +
			"(a replay counts the old rows again).",
		Buckets: []float64{.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 900, 3600, 6 * 3600, 24 * 3600}}
)

// Metrics are the metrics a sink registers.
func Metrics() []observe.Def {
	return []observe.Def{metricReceived, metricRecords, metricBatches, metricRetries, metricBatchRecords,
		metricTxSeconds, metricLag, metricDatabaseUp, metricKafkaUp, metricPartitions, metricLastCommit,
		metricNewest, metricLatency}
}

// RebuildMetrics are the metrics the sink of a re-processing registers: those of Metrics but the
// end-to-end latency (the rows it stores are old).
func RebuildMetrics() []observe.Def {
	return slices.DeleteFunc(Metrics(), func(d observe.Def) bool { return d.Name == metricLatency.Name })
}

// observation is what the sink shows of itself: nil histograms when nothing is registered.
type observation struct {
	batchRecords, txSeconds, latency prometheus.Histogram
	lag                              *prometheus.GaugeVec

	watch           *observe.Watchdog
	kafka, database *observe.Probe
	partitions      atomic.Int64
	lastCommit      atomic.Int64 // Unix nanoseconds
	newest          atomic.Int64 // Unix nanoseconds
}

// observe registers the sink's metrics and health checks (either may be nil).
func (s *Sink) observe() error {
	o := &s.obs
	stale := 3 * s.cfg.LagEvery
	o.kafka = observe.NewProbe("Kafka", stale)
	o.database = observe.NewProbe("PostgreSQL", stale)
	if s.cfg.Health != nil {
		w, err := observe.NewWatchdog(s.cfg.StallTimeout)
		if err != nil {
			return fmt.Errorf("sink: %w", err)
		}
		o.watch = w
		s.cfg.Health.Live("sink loop", w.Check)
		s.cfg.Health.Ready("sink kafka", o.kafka.Check)
		s.cfg.Health.Ready("sink database", o.database.Check)
		s.cfg.Health.Ready("sink partitions", s.checkAssigned)
	}
	if s.cfg.Registry == nil {
		return nil
	}
	o.batchRecords, o.txSeconds = metricBatchRecords.NewHistogram(), metricTxSeconds.NewHistogram()
	o.lag = metricLag.NewGaugeVec()
	regs := []prometheus.Collector{o.batchRecords, o.txSeconds, o.lag, observe.Collector{
		Defs: []observe.Def{metricReceived, metricRecords, metricBatches, metricRetries, metricDatabaseUp,
			metricKafkaUp, metricPartitions, metricLastCommit, metricNewest},
		Read: s.readMetrics,
	}}
	if !s.cfg.Rebuild { // a re-processing stores old rows: their age says nothing of the pipeline
		o.latency = metricLatency.NewHistogram()
		regs = append(regs, o.latency)
	}
	for _, c := range regs {
		if err := s.cfg.Registry.Register(c); err != nil {
			return fmt.Errorf("sink: register metrics: %w", err)
		}
	}
	return nil
}

func (s *Sink) readMetrics(emit func(d observe.Def, v float64, labels ...string)) {
	st, o := s.Stats(), &s.obs
	emit(metricReceived, float64(st.Received))
	for _, c := range []struct {
		outcome string
		n       int64
	}{{"stored", st.Stored}, {"duplicate", st.Duplicates}, {"conflict", st.Conflicts}, {"skipped", st.Skipped},
		{"dead_lettered", st.DeadLettered}, {"lost", st.Lost}} {
		emit(metricRecords, float64(c.n), c.outcome)
	}
	emit(metricBatches, float64(st.Batches))
	emit(metricRetries, float64(st.Retries))
	emit(metricDatabaseUp, o.database.Up())
	emit(metricKafkaUp, o.kafka.Up())
	emit(metricPartitions, float64(o.partitions.Load()))
	emit(metricLastCommit, unixSeconds(o.lastCommit.Load()))
	emit(metricNewest, unixSeconds(o.newest.Load()))
}

func unixSeconds(nanos int64) float64 {
	if nanos == 0 {
		return 0
	}
	return float64(nanos) / 1e9
}

func (s *Sink) checkAssigned() error {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	if s.sess == nil {
		return errors.New("no partitions assigned: joining the consumer group")
	}
	return nil
}

// committed notes a committed batch: its size, its transaction's duration, and the age of its
// records.
func (s *Sink) committed(batch []*record, took time.Duration) {
	o := &s.obs
	now := time.Now()
	o.lastCommit.Store(now.UnixNano())
	var newest int64
	for _, r := range batch {
		if r.weapon != nil && !r.weapon.ScrapedAt.IsZero() {
			t := r.weapon.ScrapedAt.UnixNano()
			newest = max(newest, t)
			if o.latency != nil {
				o.latency.Observe(now.Sub(r.weapon.ScrapedAt).Seconds())
			}
		}
	}
	storeMax(&o.newest, newest)
	if o.batchRecords != nil {
		o.batchRecords.Observe(float64(len(batch)))
		o.txSeconds.Observe(took.Seconds())
	}
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// monitor measures the lag every LagEvery until ctx ends: the high-water marks of the weapon
// topics against PostgreSQL's next offsets. Its answers are the Kafka and database probes of the
// readiness checks.
func (s *Sink) monitor(ctx context.Context) {
	if s.cfg.Registry == nil && s.cfg.Health == nil {
		return
	}
	if !s.cfg.Rebuild {
		s.loadNewest(ctx)
	}
	t := time.NewTicker(s.cfg.LagEvery)
	defer t.Stop()
	for {
		s.measureLag(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Sink) measureLag(ctx context.Context) {
	topics := make([]string, 0, len(s.tables))
	for t := range s.tables {
		topics = append(topics, t)
	}
	ends, starts, kafkaErr := kafka.Watermarks(s.client, s.kafkaCfg, topics...)
	s.obs.kafka.Report(kafkaErr)
	qctx, cancel := context.WithTimeout(ctx, s.cfg.LagEvery)
	defer cancel()
	next, dbErr := s.store.loadOffsets(qctx)
	if ctx.Err() != nil {
		return
	}
	s.obs.database.Report(dbErr)
	if kafkaErr != nil || dbErr != nil || s.obs.lag == nil {
		return
	}
	for p, end := range ends {
		// A partition never stored, or stored below its oldest record, is read from there.
		pos := max(next[p], starts[p])
		s.obs.lag.WithLabelValues(p.Topic, strconv.Itoa(int(p.ID))).Set(float64(max(0, end-pos)))
	}
}

// loadNewest reads the scrape time of the newest row already stored, so that the freshness is
// known from the start and not only after the next commit.
func (s *Sink) loadNewest(ctx context.Context) {
	parts := make([]string, 0, len(s.tables))
	for _, t := range migrations.WeaponTables() {
		parts = append(parts, "SELECT max(scraped_at) AS m FROM "+pgx.Identifier{t}.Sanitize())
	}
	qctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var newest *time.Time
	err := s.pool.QueryRow(qctx, "SELECT max(m) FROM ("+strings.Join(parts, " UNION ALL ")+") AS t").Scan(&newest)
	if err != nil {
		s.log.Warn("could not read the newest row's scrape time: the freshness is known after the next commit", "err", err)
		return
	}
	if newest != nil {
		storeMax(&s.obs.newest, newest.UnixNano())
	}
}
