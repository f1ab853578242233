package deadletter

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// Letter is one dead letter, of either source.
type Letter struct {
	ID         string     `json:"id"`
	Source     string     `json:"source"`
	Kind       string     `json:"kind"`
	Key        string     `json:"key"`
	Time       time.Time  `json:"time"` // when it failed
	Reason     string     `json:"reason"`
	RedrivenAt *time.Time `json:"redriven_at,omitempty"`
	// Target is the topic a redrive sends it to; Blocked, when set, why it cannot be re-driven.
	Target  string `json:"target"`
	Blocked string `json:"not_redrivable,omitempty"`
	Size    int    `json:"size"` // of the input, in bytes
	Value   []byte `json:"-"`    // the bytes a redrive sends (show prints them)
	pos     position
}

// conns are the connections of one command.
type conns struct {
	client sarama.Client
	pool   *pgxpool.Pool
}

func (t *Tool) connect(ctx context.Context) (*conns, error) {
	pool, err := pgxpool.New(ctx, t.cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("dlq: connect to PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("dlq: connect to PostgreSQL: %w", err)
	}
	client, err := sarama.NewClient(t.cfg.Brokers, t.cfg.Kafka)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("dlq: connect to Kafka at %v: %w", t.cfg.Brokers, err)
	}
	return &conns{client: client, pool: pool}, nil
}

func (c *conns) close() {
	c.client.Close()
	c.pool.Close()
}

// letters reads every dead letter of both sources the filter selects, oldest first.
func (t *Tool) letters(ctx context.Context, c *conns, f Filter) ([]*Letter, error) {
	var all []*Letter
	if f.Source != SourceTable {
		ls, err := t.topicLetters(ctx, c)
		if err != nil {
			return nil, err
		}
		all = append(all, ls...)
	}
	if f.Source != SourceTopic {
		ls, err := t.tableLetters(ctx, c.pool)
		if err != nil {
			return nil, err
		}
		all = append(all, ls...)
	}
	var out []*Letter
	for _, l := range all {
		if f.Match(l) {
			out = append(out, l)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// topicLetters reads the whole dead-letter topic (written by the processor alone, without
// transactions: its offsets have no gaps) and the marks of those already re-driven.
func (t *Tool) topicLetters(ctx context.Context, c *conns) ([]*Letter, error) {
	topic := string(t.cfg.Names.DeadLetter())
	ends, starts, err := kafka.Watermarks(c.client, t.cfg.Kafka, topic)
	if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		return nil, nil // no dead letter was ever written
	}
	if err != nil {
		return nil, fmt.Errorf("dlq: the ends of %s: %w", topic, err)
	}
	marks, err := t.marks(ctx, c.pool)
	if err != nil {
		return nil, err
	}
	consumer, err := sarama.NewConsumerFromClient(c.client)
	if err != nil {
		return nil, fmt.Errorf("dlq: read %s: %w", topic, err)
	}
	defer consumer.Close()
	var out []*Letter
	for p, end := range ends {
		if starts[p] >= end {
			continue
		}
		err := readPartition(ctx, consumer, p.At(starts[p]), end, func(m *sarama.ConsumerMessage) {
			l := t.topicLetter(m)
			l.RedrivenAt = marks[l.ID]
			out = append(out, l)
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readPartition passes every record of from's partition, from from.Offset up to end, to visit.
func readPartition(ctx context.Context, consumer sarama.Consumer, from kafka.Position, end int64, visit func(*sarama.ConsumerMessage)) error {
	pc, err := consumer.ConsumePartition(from.Topic, from.ID, from.Offset)
	if err != nil {
		return fmt.Errorf("dlq: read %s: %w", from, err)
	}
	defer pc.Close()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err, ok := <-pc.Errors():
			if !ok {
				return fmt.Errorf("dlq: read %s: the consumer stopped", from.Partition)
			}
			return fmt.Errorf("dlq: read %s: %w", from.Partition, err)
		case m, ok := <-pc.Messages():
			if !ok { // sarama closes both channels after some errors (an offset out of range)
				return fmt.Errorf("dlq: read %s: the consumer stopped", from.Partition)
			}
			visit(m)
			if m.Offset >= end-1 {
				return nil
			}
		}
	}
}

// topicLetter is the dead letter of one record of the dead-letter topic.
func (t *Tool) topicLetter(m *sarama.ConsumerMessage) *Letter {
	pos := position{source: SourceTopic, Position: kafka.Partition{Topic: m.Topic, ID: m.Partition}.At(m.Offset)}
	l := &Letter{ID: pos.ID(), Source: SourceTopic, Key: string(m.Key), Time: m.Timestamp.UTC(),
		Target: string(t.cfg.Names.WeaponData()), pos: pos}
	v, err := codecs.DeadLetterCodec{}.Decode(m.Value)
	if err != nil {
		l.Kind, l.Reason, l.Value, l.Size = KindUndecodable, err.Error(), m.Value, len(m.Value)
		l.Target, l.Blocked = "", "not a dead letter of the processor"
		return l
	}
	d := v.(*codecs.DeadLetter)
	l.Kind, l.Key, l.Reason, l.Value, l.Size = d.Kind, d.Key, d.Reason, d.Value, d.Size
	if !d.FailedAt.IsZero() {
		l.Time = d.FailedAt.UTC()
	}
	if d.Truncated {
		l.Blocked = fmt.Sprintf("only the first %d of its %d bytes were kept (sha256 %s: find it on %s at %s/%d@%d)",
			len(d.Value), d.Size, d.SHA256, d.Source.Topic, d.Source.Topic, d.Source.Partition, d.Source.Offset)
	}
	return l
}

// marks are the re-driven dead letters of the topic, by ID.
func (t *Tool) marks(ctx context.Context, pool *pgxpool.Pool) (map[string]*time.Time, error) {
	rows, err := pool.Query(ctx, `SELECT kafka_topic, kafka_partition, kafka_offset, redriven_at FROM `+
		pgx.Identifier{migrations.RedriveTable}.Sanitize()+` WHERE source = $1 AND state = 'sent'`, SourceTopic)
	if err != nil {
		return nil, fmt.Errorf("dlq: read %s: %w", migrations.RedriveTable, err)
	}
	out := map[string]*time.Time{}
	for rows.Next() {
		p := position{source: SourceTopic}
		var at time.Time
		if err := rows.Scan(&p.Topic, &p.Partition.ID, &p.Offset, &at); err != nil {
			return nil, fmt.Errorf("dlq: read %s: %w", migrations.RedriveTable, err)
		}
		at = at.UTC()
		out[p.ID()] = &at
	}
	return out, rows.Err()
}

// tableLetters reads the sink's dead letters of this deployment's consumers and topics.
func (t *Tool) tableLetters(ctx context.Context, pool *pgxpool.Pool) ([]*Letter, error) {
	n := t.cfg.Names
	consumers := []string{string(n.SinkConsumer()), string(n.SinkRebuildConsumer())}
	var topics []string
	for _, tp := range n.WeaponTopics() {
		topics = append(topics, string(tp))
	}
	rows, err := pool.Query(ctx, `SELECT consumer, kafka_topic, kafka_partition, kafka_offset, key, value,
			reason, failed_at, redriven_at
		FROM `+pgx.Identifier{migrations.DeadLetterTable}.Sanitize()+`
		WHERE consumer = ANY($1) AND kafka_topic = ANY($2)`, consumers, topics)
	if err != nil {
		return nil, fmt.Errorf("dlq: read %s: %w", migrations.DeadLetterTable, err)
	}
	var out []*Letter
	for rows.Next() {
		l := &Letter{Source: SourceTable, Kind: KindSink}
		p := position{source: SourceTable}
		var key []byte
		if err := rows.Scan(&p.consumer, &p.Topic, &p.Partition.ID, &p.Offset, &key, &l.Value,
			&l.Reason, &l.Time, &l.RedrivenAt); err != nil {
			return nil, fmt.Errorf("dlq: read %s: %w", migrations.DeadLetterTable, err)
		}
		l.pos, l.ID, l.Key, l.Time, l.Target, l.Size = p, p.ID(), string(key), l.Time.UTC(), p.Topic, len(l.Value)
		if l.RedrivenAt != nil {
			at := l.RedrivenAt.UTC()
			l.RedrivenAt = &at
		}
		if l.Value == nil {
			l.Kind, l.Target, l.Blocked = KindLost, "", "no bytes: the records were deleted from Kafka before the sink stored them"
		}
		out = append(out, l)
	}
	return out, rows.Err()
}
