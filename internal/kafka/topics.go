package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
)

// TopicSpec describes a topic the pipeline needs.
type TopicSpec struct {
	Name string
	// Partitions is the count of the topic if it is created, and the one an existing topic must
	// have. 0: DefaultPartitions if it is created; an existing topic keeps its own count.
	Partitions  int32
	Replication int16
	Configs     map[string]string
}

// Compacted returns the configs of a compacted topic (goka group tables).
func Compacted() map[string]string {
	return map[string]string{"cleanup.policy": "compact"}
}

// MinInSync is the min.insync.replicas EnsureTopics gives a topic of replication 3 or more: with
// the producers' acks=all, a record is acknowledged once two replicas hold it, so that one
// broker may fail (or be restarted) at any time without losing an acknowledged record or stopping
// the writes. Replication 1 or 2 keeps the broker's default (1): requiring 2 of 2 would stop
// every write while either broker is down.
const MinInSync = "2"

// withReplicaConfigs returns configs, with min.insync.replicas added for a topic of replication 3
// or more.
func withReplicaConfigs(configs map[string]string, replication int16) map[string]string {
	if replication < 3 {
		return configs
	}
	out := map[string]string{"min.insync.replicas": MinInSync}
	for k, v := range configs {
		out[k] = v
	}
	return out
}

// Retained returns the configs of a topic whose records are kept forever. weapon_data is the
// pipeline's source of truth: the scraper's conditional GET never sends an unchanged page again,
// so a raw record that expired could not be re-processed. The derived topics are kept too, so that
// the sink can rebuild its tables from offset zero (mhfz sink --replay); mhfz reprocess deletes
// their old records itself.
func Retained() map[string]string {
	return map[string]string{"retention.ms": "-1", "retention.bytes": "-1"}
}

// PartitionMismatchError says that an existing topic has another partition count than the one
// asked for. Changing the count moves keys between partitions, so it is never done silently.
type PartitionMismatchError struct {
	Topic     string
	Existing  int32
	Requested int32
}

func (e *PartitionMismatchError) Error() string {
	return fmt.Sprintf("topic %s exists with %d partitions, but %d were asked for (--partitions, MHFZ_KAFKA_PARTITIONS): "+
		"set it to %d or 0, or follow docs/scaling.md to change the partition count", e.Topic, e.Existing,
		e.Requested, e.Existing)
}

// EnsureTopics creates the topics that do not exist yet. An existing topic must have the
// partition count asked for (else a *PartitionMismatchError), and gets the configs of its spec
// if it lacks them (a topic created by an older version, with the broker's retention). A topic
// of replication 3 or more also gets min.insync.replicas=2 (MinInSync). It waits until the
// broker answers, and until every broker knows every topic, up to ctx's deadline; a connection
// failure is retryable.
func EnsureTopics(ctx context.Context, brokers []string, cfg *sarama.Config, topics []TopicSpec) error {
	client, err := connectClient(ctx, brokers, cfg)
	if err != nil {
		return err
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		client.Close()
		return fmt.Errorf("connect to Kafka at %v: %w", brokers, err)
	}
	defer admin.Close() // and the client
	existing, err := admin.ListTopics()
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	names := make([]string, 0, len(topics))
	for _, t := range topics {
		names = append(names, t.Name)
		if detail, ok := existing[t.Name]; ok {
			if t.Partitions > 0 && detail.NumPartitions != t.Partitions {
				return &PartitionMismatchError{Topic: t.Name, Existing: detail.NumPartitions, Requested: t.Partitions}
			}
			continue
		}
		t.Partitions = cmp.Or(t.Partitions, DefaultPartitions)
		detail := &sarama.TopicDetail{NumPartitions: t.Partitions, ReplicationFactor: t.Replication,
			ConfigEntries: map[string]*string{}}
		for k, v := range withReplicaConfigs(t.Configs, t.Replication) {
			detail.ConfigEntries[k] = &v
		}
		err := admin.CreateTopic(t.Name, detail, false)
		if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			return fmt.Errorf("create topic %s (%d partitions, replication %d): %w",
				t.Name, t.Partitions, t.Replication, err)
		}
	}
	if err := waitVisible(ctx, client, names); err != nil {
		return err
	}
	for _, t := range topics {
		if detail, ok := existing[t.Name]; ok {
			if err := reconcile(admin, t, detail); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitVisible waits until every broker has every topic in its metadata, with a leader for each
// partition. CreateTopic returns before that, and a client that looks the topic up in between
// (goka's topic manager does) sees no topic, tries to create it and fails with "already exists";
// on a cluster, a broker that has not caught up yet answers "unknown topic" (to a service that
// started beside the one that created the topics, and found them listed by another broker).
func waitVisible(ctx context.Context, client sarama.Client, topics []string) error {
	for {
		err := visibleEverywhere(client, topics)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topics %v created but not visible in the metadata of every broker: %w (%w)", topics,
				ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func visibleEverywhere(client sarama.Client, topics []string) error {
	if err := client.RefreshMetadata(); err != nil {
		return err
	}
	for _, b := range client.Brokers() {
		if err := b.Open(client.Config()); err != nil && !errors.Is(err, sarama.ErrAlreadyConnected) {
			return err
		}
		resp, err := b.GetMetadata(sarama.NewMetadataRequest(client.Config().Version, topics))
		if err != nil {
			return fmt.Errorf("metadata of broker %d: %w", b.ID(), err)
		}
		if !allLed(resp.Topics) {
			return fmt.Errorf("broker %d does not know every topic and its leaders yet", b.ID())
		}
	}
	return nil
}

func allLed(metas []*sarama.TopicMetadata) bool {
	for _, m := range metas {
		if !errors.Is(m.Err, sarama.ErrNoError) || len(m.Partitions) == 0 {
			return false
		}
		for _, p := range m.Partitions {
			if p.Leader < 0 {
				return false
			}
		}
	}
	return true
}

// reconcile gives an existing topic the spec's configs where it differs. min.insync.replicas
// follows the replicas the topic has, not those asked for: 2 of a single replica would refuse
// every write.
func reconcile(admin sarama.ClusterAdmin, t TopicSpec, detail sarama.TopicDetail) error {
	t.Configs = withReplicaConfigs(t.Configs, min(t.Replication, detail.ReplicationFactor))
	if len(t.Configs) == 0 {
		return nil
	}
	current, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: t.Name})
	if err != nil {
		return fmt.Errorf("describe configs of topic %s: %w", t.Name, err)
	}
	have := make(map[string]string, len(current))
	for _, c := range current {
		have[c.Name] = c.Value
	}
	changes := map[string]sarama.IncrementalAlterConfigsEntry{}
	for k, v := range t.Configs {
		if have[k] != v {
			changes[k] = sarama.IncrementalAlterConfigsEntry{Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &v}
		}
	}
	if len(changes) == 0 {
		return nil
	}
	if err := admin.IncrementalAlterConfig(sarama.TopicResource, t.Name, changes, false); err != nil {
		return fmt.Errorf("set configs %v of topic %s: %w", t.Configs, t.Name, err)
	}
	return nil
}

// DeleteTopics deletes the named topics; those that do not exist are ignored.
func DeleteTopics(ctx context.Context, brokers []string, cfg *sarama.Config, names ...string) error {
	admin, err := connectAdmin(ctx, brokers, cfg)
	if err != nil {
		return err
	}
	defer admin.Close()
	for _, name := range names {
		err := admin.DeleteTopic(name)
		if err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			return fmt.Errorf("delete topic %s: %w", name, err)
		}
	}
	return nil
}

func connectClient(ctx context.Context, brokers []string, cfg *sarama.Config) (sarama.Client, error) {
	for {
		client, err := sarama.NewClient(brokers, cfg)
		if err == nil {
			return client, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to Kafka at %v: %w", brokers, err)
		case <-time.After(time.Second):
		}
	}
}

func connectAdmin(ctx context.Context, brokers []string, cfg *sarama.Config) (sarama.ClusterAdmin, error) {
	for {
		admin, err := sarama.NewClusterAdmin(brokers, cfg)
		if err == nil {
			return admin, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to Kafka at %v: %w", brokers, err)
		case <-time.After(time.Second):
		}
	}
}
