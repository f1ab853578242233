package kafka

import (
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
)

// Config builds the sarama configuration of the pipeline's clients. It is passed to goka through
// its builders (goka.ProducerBuilderWithConfig and the like), never installed as goka's global
// configuration: each component says which configuration it uses.
//
// Version: goka v1.1.14's DefaultConfig pins sarama to V2_0_0_0, and Kafka 4 removed the
// protocol versions older than Kafka 2.1 (KIP-896), so goka's default cannot talk to the broker.
// sarama 1.46+ negotiates each request's version with the broker (ApiVersions), and Version only
// caps it: V4_0_0_0, the line of the broker this pipeline is tested with (docker-compose.yml and
// scripts/testenv run Kafka 4.1).
//
// Producer: acks from all in-sync replicas and idempotence, so a retried send is not written
// twice; compression, since the records are JSON. Its retries, of a send and of its start, outlast
// a leader election: a broker that dies is fenced by the controller only after
// broker.session.timeout.ms (9 s by default), and until then every send to the partitions it led
// fails at once; the backoff (100 ms doubling to 1 s, 40 attempts: about 37 s) lets the send
// through once a new leader is elected, instead of failing the stage. Its batches wait up to 100
// ms (or 1 MB): the router wrote to 192 partitions when this was measured (15 weapon topics and
// its table's, 12 each, the default then; 32 with today's 2), and at 20 ms its 15,000 records a
// second made, by arithmetic, one or two records a batch, each batch work for the broker
// (validated, decompressed, appended). Against 20 ms, 13 runs of each alternating, whole
// snapshot: the broker's CPU 4.99 → 4.09 s, the services' 10.85 → 10.13 s (processor 6.32 →
// 5.79), the wall time 12.25 → 11.92 s, within its noise (docs/benchmarks.md, "The broker's
// share"). A record waits at most 100 ms more at each producer, and so does a send
// that waits for its acknowledgement.
//
// Consumer: sarama's fetch sizes (1 MB a partition, an answer as soon as one byte is there) and
// channel buffers (256 messages). Against fetches of 8 MB waiting for 64 kB, and buffers of 1,024,
// on every client: no saving measured. The sink, whose fetches carry every weapon topic's
// partitions, waits for more bytes per fetch (sink.fetchMin): that saved CPU there; the same in
// the router (one topic's partitions) saved nothing measurable.
func Config(clientID string) *sarama.Config {
	cfg := goka.DefaultConfig()
	cfg.ClientID = clientID
	cfg.Version = sarama.V4_0_0_0

	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1 // required by sarama for an idempotent producer
	cfg.Producer.Retry.Max, cfg.Producer.Retry.BackoffFunc = producerRetries, producerBackoff
	// A producer's start asks for its producer ID (InitProducerId), which a broker answers "still
	// loading" while it takes over the coordination of a broker that died; sarama's default
	// waits 5 s for it, and an emitter built then failed.
	cfg.Producer.Transaction.Retry.Max, cfg.Producer.Transaction.Retry.BackoffFunc = producerRetries, producerBackoff
	cfg.Producer.Compression = sarama.CompressionLZ4
	cfg.Producer.Flush.Bytes = 1 << 20
	cfg.Producer.Flush.Frequency = 100 * time.Millisecond
	cfg.Producer.MaxMessageBytes = 8 << 20
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true

	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Return.Errors = true
	cfg.Metadata.Retry.Max = 10
	cfg.Metadata.Retry.Backoff = 500 * time.Millisecond
	return cfg
}

// producerRetries and producerBackoff are the producers' retries of a send and of their start:
// 100 ms doubling to 1 s, 40 attempts, about 37 s: as long as a leader election (ElectionWait).
const producerRetries = 40

func producerBackoff(retries, _ int) time.Duration {
	return min(100*time.Millisecond<<min(retries, 4), time.Second)
}
