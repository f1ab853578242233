package deadletter

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
)

// The sources of dead letters.
const (
	SourceTopic = "topic" // the processor's dead-letter topic
	SourceTable = "table" // the sink's sink_dead_letter table
)

// The kinds of what is not a processor's dead letter (whose kinds are processors.Kinds): the
// sink's table stores a reason, not a kind.
const (
	KindSink        = "sink"        // a typed weapon the sink could not store
	KindLost        = "lost"        // records deleted from Kafka before the sink stored them: no bytes
	KindUndecodable = "undecodable" // a record of the dead-letter topic that is not a dead letter
)

// Config is what `mhfz dlq` works on and which dead letters it selects.
type Config struct {
	Brokers     []string
	Kafka       *sarama.Config // the clients' configuration (kafka.Config); the producer's is derived
	Names       codecs.Names
	DatabaseURL string
	Filter      Filter
	// BatchSize is how many dead letters one claim, one acknowledged send and one mark hold.
	BatchSize int
	// DryRun: redrive says what it would send, and sends and marks nothing.
	DryRun bool
	Logger *slog.Logger
	// stopAt, in tests, makes redrive stop as if killed at a point of batch n (from 1):
	// "claimed" (claimed, nothing produced), "sent" (produced and acknowledged, not marked).
	stopAt func(point string, batch int) bool
}

// DefaultConfig is the configuration of the production topics and database on localhost.
func DefaultConfig() Config {
	return Config{Brokers: []string{kafka.DefaultBroker}, Kafka: kafka.Config("mhfz-dlq"),
		DatabaseURL: "postgres://mhfz:mhfz@localhost:5432/mhfz?sslmode=disable", BatchSize: 500,
		Logger: slog.Default()}
}

// Filter selects dead letters; its zero value selects every one.
type Filter struct {
	Source string   // SourceTopic, SourceTable, or "" for both
	Kinds  []string // any of these kinds (empty: any)
	Key    string   // this key exactly (empty: any)
	Since  time.Time
	Until  time.Time // failed before Until (zero: no bound)
	// Pending selects only those not re-driven yet (redrive always does).
	Pending bool
}

// Match says whether the filter selects l.
func (f Filter) Match(l *Letter) bool {
	switch {
	case f.Source != "" && l.Source != f.Source,
		len(f.Kinds) > 0 && !slices.Contains(f.Kinds, l.Kind),
		f.Key != "" && l.Key != f.Key,
		!f.Since.IsZero() && l.Time.Before(f.Since),
		!f.Until.IsZero() && !l.Time.Before(f.Until),
		f.Pending && l.RedrivenAt != nil:
		return false
	}
	return true
}

// Tool is `mhfz dlq` on one deployment.
type Tool struct {
	cfg Config
	log *slog.Logger
	// abandoned is the producer of a redrive the test hook stopped, for the test to close.
	abandoned sarama.SyncProducer
}

// New checks cfg; it does no I/O.
func New(cfg Config) (*Tool, error) {
	var errs []error
	if len(cfg.Brokers) == 0 {
		errs = append(errs, errors.New("dlq: no Kafka broker given"))
	}
	if cfg.Kafka == nil {
		errs = append(errs, errors.New("dlq: no Kafka configuration"))
	}
	if cfg.DatabaseURL == "" {
		errs = append(errs, errors.New("dlq: no database URL given"))
	}
	if cfg.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("dlq: batch size %d: want at least 1", cfg.BatchSize))
	}
	if s := cfg.Filter.Source; s != "" && s != SourceTopic && s != SourceTable {
		errs = append(errs, fmt.Errorf("dlq: source %q: want %s, %s or nothing (both)", s, SourceTopic, SourceTable))
	}
	if !cfg.Filter.Since.IsZero() && !cfg.Filter.Until.IsZero() && !cfg.Filter.Since.Before(cfg.Filter.Until) {
		errs = append(errs, errors.New("dlq: the time range is empty: since must be before until"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// Reading a topic that does not exist (no dead letter yet) must not create it with the
	// broker's defaults: the processor creates it with the deployment's partition count.
	k := *cfg.Kafka
	k.Metadata.AllowAutoTopicCreation = false
	cfg.Kafka = &k
	return &Tool{cfg: cfg, log: cfg.Logger}, nil
}

// position identifies a dead letter: where it lies on the dead-letter topic (source topic), or
// the primary key of its sink_dead_letter row (source table: the consumer and the position of
// the record the sink could not store).
type position struct {
	source   string
	consumer string // source table only
	kafka.Position
}

// ID is the dead letter's identifier: TOPIC/PARTITION/OFFSET for the topic's, and
// CONSUMER/TOPIC/PARTITION/OFFSET for the table's (Kafka's names hold no slash).
func (p position) ID() string {
	id := fmt.Sprintf("%s/%d/%d", p.Topic, p.Partition.ID, p.Offset)
	if p.source == SourceTable {
		return p.consumer + "/" + id
	}
	return id
}

// ParseID reads an identifier of ID.
func parseID(id string) (position, error) {
	parts := strings.Split(id, "/")
	var p position
	switch len(parts) {
	case 3:
		p.source = SourceTopic
	case 4:
		p.source, p.consumer, parts = SourceTable, parts[0], parts[1:]
	default:
		return p, fmt.Errorf("dead letter %q: want TOPIC/PARTITION/OFFSET or CONSUMER/TOPIC/PARTITION/OFFSET", id)
	}
	part, err1 := strconv.ParseInt(parts[1], 10, 32)
	off, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || parts[0] == "" || part < 0 || off < 0 {
		return p, fmt.Errorf("dead letter %q: the topic, partition or offset is not one", id)
	}
	p.Position = kafka.Partition{Topic: parts[0], ID: int32(part)}.At(off)
	return p, nil
}
