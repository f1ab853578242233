package processors

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
)

// KafkaSetup is how the router talks to a real broker.
type KafkaSetup struct {
	Brokers     []string
	Config      *sarama.Config // kafka.Config: idempotent producer, OffsetOldest for new groups
	Partitions  int32          // of the topics created here; 0: kafka.DefaultPartitions, and existing ones keep theirs
	Replication int16          // of every topic created here and by goka (1 on one broker)
	StoragePath string         // the group table's local copy; kept between runs
}

func (k KafkaSetup) validate() error {
	switch {
	case len(k.Brokers) == 0:
		return errors.New("no Kafka brokers")
	case k.Config == nil:
		return errors.New("no sarama config")
	case k.Partitions < 0:
		return fmt.Errorf("partitions %d, want >= 0 (0: the default)", k.Partitions)
	case k.Replication < 1:
		return fmt.Errorf("replication %d, want >= 1", k.Replication)
	case k.StoragePath == "":
		return errors.New("no storage path for the group table")
	}
	if err := k.Config.Validate(); err != nil {
		return fmt.Errorf("sarama config: %w", err)
	}
	return nil
}

// options are the goka options of a router on a real broker. Each answers one of goka's traps:
// the pipeline's sarama config for the consumer group, so that a new group starts at the oldest
// offset of weapon_data (goka's default config starts at the newest and would skip every record
// emitted before the first start) and so that the producer is idempotent; topic replication as
// a setting (goka's topic manager defaults to 2, which fails on one broker); the group table's
// local storage in a configured folder (goka's default is under /tmp, re-read from Kafka after
// every restart of a container), its writes batched (tableStorage). The config reaches goka only through these builders (goka's
// global configuration is never replaced); each builder gets its own copy, since goka's builders
// set the client id and the partitioner on the config they are given. The topic manager retries
// its lookups through a leader election (kafka.RetryingTopicManager): goka would stop the
// processor at the first "not the leader"; tms keeps, typed, why one could not be built. The consumer group commits each partition's inputs in
// order (InOrderCommits): goka alone can commit past an input whose send is still in flight.
func (k KafkaSetup) options() ([]goka.ProcessorOption, *kafka.ProbingTopicManagers, error) {
	if err := k.validate(); err != nil {
		return nil, nil, fmt.Errorf("router options: %w", err)
	}
	if k.Config.Consumer.Offsets.Initial != sarama.OffsetOldest {
		return nil, nil, errors.New("router options: the consumer must start new groups at the oldest offset")
	}
	if err := os.MkdirAll(k.StoragePath, 0o755); err != nil {
		return nil, nil, fmt.Errorf("router options: storage folder: %w", err)
	}
	tm := goka.NewTopicManagerConfig()
	tm.Table.Replication = int(k.Replication)
	tm.Stream.Replication = int(k.Replication)
	tm.Stream.Retention = 0 // the topics are created by EnsureTopics, with the broker's retention
	cfg := func() *sarama.Config { c := *k.Config; return &c }
	tms := kafka.NewProbingTopicManagers(goka.TopicManagerBuilderWithConfig(cfg(), tm), cfg())
	return []goka.ProcessorOption{
		goka.WithConsumerGroupBuilder(InOrderCommits(goka.ConsumerGroupBuilderWithConfig(cfg()))),
		goka.WithConsumerSaramaBuilder(goka.SaramaConsumerBuilderWithConfig(cfg())),
		goka.WithProducerBuilder(goka.ProducerBuilderWithConfig(cfg())),
		goka.WithTopicManagerBuilder(tms.Build),
		goka.WithStorageBuilder(tableStorageBuilder(k.StoragePath)),
	}, tms, nil
}

// TableTopic is the topic of the router's group table.
func TableTopic(names codecs.Names) string {
	return string(goka.GroupTable(goka.Group(names.RouterGroup())))
}

// EnsureTopics creates the router's topics that do not exist yet: weapon_data, the weapon topics
// and the dead-letter topic with k.Partitions, kept forever (kafka.Retained), the group table compacted and with as many
// partitions as weapon_data (goka requires it to be co-partitioned with its input).
func EnsureTopics(ctx context.Context, names codecs.Names, k KafkaSetup) error {
	if err := k.validate(); err != nil {
		return fmt.Errorf("ensure router topics: %w", err)
	}
	input := string(names.WeaponData())
	if err := kafka.EnsureTopics(ctx, k.Brokers, k.Config, []kafka.TopicSpec{
		{Name: input, Partitions: k.Partitions, Replication: k.Replication, Configs: kafka.Retained()},
	}); err != nil {
		return fmt.Errorf("ensure router topics: %w", err)
	}
	parts, err := partitionCount(k.Brokers, k.Config, input)
	if err != nil {
		return fmt.Errorf("ensure router topics: %w", err)
	}
	specs := []kafka.TopicSpec{
		{Name: string(names.DeadLetter()), Partitions: k.Partitions, Replication: k.Replication, Configs: kafka.Retained()},
		{Name: TableTopic(names), Partitions: parts, Replication: k.Replication, Configs: kafka.Compacted()},
	}
	for _, t := range names.WeaponTopics() {
		specs = append(specs, kafka.TopicSpec{Name: string(t), Partitions: k.Partitions, Replication: k.Replication,
			Configs: kafka.Retained()})
	}
	if err := kafka.EnsureTopics(ctx, k.Brokers, k.Config, specs); err != nil {
		return fmt.Errorf("ensure router topics: %w", err)
	}
	return nil
}

func partitionCount(brokers []string, cfg *sarama.Config, topic string) (int32, error) {
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		return 0, fmt.Errorf("connect to Kafka at %v: %w", brokers, err)
	}
	defer client.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		return 0, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	return int32(len(parts)), nil
}

// Reset makes the next run of the router start over: it deletes the group's committed offsets
// (so that it starts again at the oldest offset of weapon_data), its group table topic (recreated
// empty by EnsureTopics) and the table's local storage. The router must not be running. The
// outputs are kept: the re-run emits the same (key, version, content) again, which the sink
// stores once.
func Reset(ctx context.Context, names codecs.Names, k KafkaSetup) error {
	if err := k.validate(); err != nil {
		return fmt.Errorf("reset router: %w", err)
	}
	admin, err := sarama.NewClusterAdmin(k.Brokers, k.Config)
	if err != nil {
		return fmt.Errorf("reset router: connect to Kafka at %v: %w", k.Brokers, err)
	}
	defer admin.Close()
	group := string(names.RouterGroup())
	if err := admin.DeleteConsumerGroup(group); err != nil && !errors.Is(err, sarama.ErrGroupIDNotFound) {
		return fmt.Errorf("reset router: delete consumer group %s (is a router still running?): %w", group, err)
	}
	table := TableTopic(names)
	if err := admin.DeleteTopic(table); err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		return fmt.Errorf("reset router: delete table topic %s: %w", table, err)
	}
	if err := waitTopicGone(ctx, admin, table); err != nil {
		return fmt.Errorf("reset router: %w", err)
	}
	if err := os.RemoveAll(k.StoragePath); err != nil {
		return fmt.Errorf("reset router: remove table storage %s: %w", k.StoragePath, err)
	}
	return nil
}

// waitTopicGone waits until the broker has finished deleting a topic, so that it can be created
// again.
func waitTopicGone(ctx context.Context, admin sarama.ClusterAdmin, topic string) error {
	for {
		topics, err := admin.ListTopics()
		if err != nil {
			return fmt.Errorf("list topics: %w", err)
		}
		if _, ok := topics[topic]; !ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %s still being deleted: %w", topic, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
