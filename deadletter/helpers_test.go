package deadletter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// fixture is a deployment of its own: topics under a unique prefix, a fresh migrated database.
type fixture struct {
	names   codecs.Names
	brokers []string
	url     string
	db      *pgxpool.Pool
	cfg     *sarama.Config
}

// The topics' partition counts: several, so that the records' partitions matter.
const (
	dataPartitions = 4
	dlqPartitions  = 2
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{names: codecs.Names{Prefix: testenv.Name(t, "dlq") + "."}, brokers: testenv.KafkaBrokers(t),
		url: testenv.DatabaseURL(t), cfg: kafka.Config("dlq-test")}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	migrate(t, f.url)
	specs := []kafka.TopicSpec{{Name: string(f.names.WeaponData()), Partitions: dataPartitions, Replication: 1},
		{Name: string(f.names.DeadLetter()), Partitions: dlqPartitions, Replication: 1}}
	for _, topic := range f.names.WeaponTopics() {
		specs = append(specs, kafka.TopicSpec{Name: string(topic), Partitions: dataPartitions, Replication: 1})
	}
	if err := kafka.EnsureTopics(ctx, f.brokers, f.cfg, specs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		names := make([]string, len(specs))
		for i, s := range specs {
			names[i] = s.Name
		}
		_ = kafka.DeleteTopics(context.Background(), f.brokers, f.cfg, names...)
	})
	db, err := pgxpool.New(ctx, f.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	f.db = db
	return f
}

func migrate(t *testing.T, url string) {
	t.Helper()
	if err := migrations.Up(context.Background(), url); err != nil {
		t.Fatal(err)
	}
}

// tool is a Tool on the fixture's deployment with the filter given.
func (f *fixture) tool(t *testing.T, filter Filter, edit ...func(*Config)) *Tool {
	t.Helper()
	cfg := DefaultConfig()
	// As in the compose stack: mhfz dlq runs as mhfz_rebuilder.
	cfg.Brokers, cfg.Kafka, cfg.Names = f.brokers, kafka.Config("dlq-test"), f.names
	cfg.DatabaseURL = testenv.RoleURL(t, f.url, migrations.RebuilderRole)
	cfg.Filter, cfg.Logger = filter, slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, e := range edit {
		e(&cfg)
	}
	tool, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tool
}

// deadLetter is one dead letter the processor wrote, for the fixture's topic.
type deadLetter struct {
	kind, key string
	value     []byte
	at        time.Time
	truncated bool
}

// produceDeadLetters writes the processor's dead letters to the dead-letter topic, as it does
// (the key of the input as the record's key), and returns their identifiers, in order.
func (f *fixture) produceDeadLetters(t *testing.T, letters []deadLetter) []string {
	t.Helper()
	cfg := kafka.Config("dlq-test-producer")
	cfg.Producer.Partitioner = sarama.NewHashPartitioner
	prod, err := sarama.NewSyncProducer(f.brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	ids := make([]string, len(letters))
	for i, l := range letters {
		d := codecs.NewDeadLetter(l.kind, fmt.Sprintf("%s: what is wrong with %s", l.kind, l.key), l.key,
			codecs.Source{Topic: string(f.names.WeaponData()), Partition: 0, Offset: int64(i)}, l.value, l.at)
		if l.truncated {
			d.Truncated, d.Size = true, len(l.value)*10
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		p, off, err := prod.SendMessage(&sarama.ProducerMessage{Topic: string(f.names.DeadLetter()),
			Key: sarama.StringEncoder(l.key), Value: sarama.ByteEncoder(b)})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = string(f.names.DeadLetter()) + "/" + strconv.Itoa(int(p)) + "/" + strconv.FormatInt(off, 10)
	}
	return ids
}

// sinkRow is one row of sink_dead_letter.
type sinkRow struct {
	topic     codecs.Topic
	offset    int64
	key       string
	value     []byte // nil: a lost-records row
	at        time.Time
	consumer  codecs.Group
	partition int32
}

// insertSinkRows stores the sink's dead letters and returns their identifiers, in order.
func (f *fixture) insertSinkRows(t *testing.T, rows []sinkRow) []string {
	t.Helper()
	ids := make([]string, len(rows))
	for i, r := range rows {
		consumer := r.consumer
		if consumer == "" {
			consumer = f.names.SinkConsumer()
		}
		var key any
		if r.value != nil {
			key = []byte(r.key)
		}
		_, err := f.db.Exec(context.Background(), `INSERT INTO sink_dead_letter
			(consumer, kafka_topic, kafka_partition, kafka_offset, key, value, reason, failed_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, string(consumer), string(r.topic), r.partition, r.offset,
			key, r.value, "value out of range for column attack of "+r.key, r.at)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = fmt.Sprintf("%s/%s/%d/%d", consumer, r.topic, r.partition, r.offset)
	}
	return ids
}

// record is one record found on a topic, with its headers.
type record struct {
	topic     string
	partition int32
	offset    int64
	key       string
	value     string
	headers   map[string]string
}

// redriven reads every record of the topics with raw fetches (uncommitted ones too, as the
// pipeline's consumers read them), and returns those that carry a dead letter's id header.
func (f *fixture) redriven(t *testing.T, topics ...codecs.Topic) []record {
	t.Helper()
	client, err := sarama.NewClient(f.brokers, kafka.Config("dlq-test-reader"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var out []record
	for _, topic := range topics {
		parts, err := client.Partitions(string(topic))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			readAll(t, client, kafka.Partition{Topic: string(topic), ID: p}, &out)
		}
	}
	return out
}

// readAll appends the records of p that carry a dead letter's id to out.
func readAll(t *testing.T, client sarama.Client, p kafka.Partition, out *[]record) {
	t.Helper()
	end, err := client.GetOffset(p.Topic, p.ID, sarama.OffsetNewest)
	if err != nil {
		t.Fatal(err)
	}
	for from := int64(0); from < end; {
		leader, err := client.Leader(p.Topic, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		req := &sarama.FetchRequest{Version: 4, MaxWaitTime: 100, MinBytes: 1, MaxBytes: 4 << 20}
		req.AddBlock(p.Topic, p.ID, from, 4<<20, -1)
		resp, err := leader.Fetch(req)
		if err != nil {
			t.Fatal(err)
		}
		next := from
		for _, rs := range resp.GetBlock(p.Topic, p.ID).RecordsSet {
			b := rs.RecordBatch
			for _, r := range b.Records {
				h := map[string]string{}
				for _, kv := range r.Headers {
					h[string(kv.Key)] = string(kv.Value)
				}
				if off := b.FirstOffset + r.OffsetDelta; !b.Control && off >= from && h[HeaderID] != "" {
					*out = append(*out, record{p.Topic, p.ID, off, string(r.Key), string(r.Value), h})
				}
			}
			next = max(next, b.LastOffset()+1)
		}
		if next == from {
			t.Fatalf("reading %s stuck at %d (end %d)", p, from, end)
		}
		from = next
	}
}
