package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/IBM/sarama"
)

// Ends are the next offsets of the partitions of some topics (their high-water marks, or the
// offsets a group has committed), by partition.
type Ends map[Partition]int64

// Of returns the offsets of topic's partitions, by partition id.
func (ends Ends) Of(topic string) map[int32]int64 {
	out := map[int32]int64{}
	for p, n := range ends {
		if p.Topic == topic {
			out[p.ID] = n
		}
	}
	return out
}

// TopicEnds returns the high-water mark of every partition of the topics.
func TopicEnds(client sarama.Client, topics ...string) (Ends, error) {
	return offsetsAt(client, sarama.OffsetNewest, topics)
}

// TopicStarts returns the low watermark (oldest offset still held) of every partition.
func TopicStarts(client sarama.Client, topics ...string) (Ends, error) {
	return offsetsAt(client, sarama.OffsetOldest, topics)
}

// offsetsAt asks the offset at time (sarama.OffsetNewest or OffsetOldest) of every partition. A
// lookup that meets a leader election (a topic just created, a broker restarting) is asked again
// for up to ElectionWait, as goka's lookups are (RetryingTopicManager).
func offsetsAt(client sarama.Client, time int64, topics []string) (Ends, error) {
	out := Ends{}
	for _, topic := range topics {
		var parts []int32
		err := retryLookup("partitions of "+topic, func() (err error) {
			parts, err = client.Partitions(topic)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("partitions of %s: %w", topic, err)
		}
		for _, p := range parts {
			var n int64
			err := retryLookup(fmt.Sprintf("offset of %s/%d", topic, p), func() (err error) {
				n, err = client.GetOffset(topic, p, time)
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("offset of %s/%d: %w", topic, p, err)
			}
			out[Partition{topic, p}] = n
		}
	}
	return out, nil
}

// Behind is how many records of ends lie at or beyond the positions in next (a partition missing
// from next counts from its start, which is the low watermark for a fresh reader: starts).
func (ends Ends) Behind(next, starts Ends) int64 {
	var lag int64
	for p, end := range ends {
		pos, ok := next[p]
		if !ok {
			pos = starts[p]
		}
		lag += max(0, end-pos)
	}
	return lag
}

// GroupOffsets returns the offsets a consumer group has committed on the topics' partitions
// (partitions without a commit are absent).
func GroupOffsets(admin sarama.ClusterAdmin, group string, ends Ends) (Ends, error) {
	want := map[string][]int32{}
	for p := range ends {
		want[p.Topic] = append(want[p.Topic], p.ID)
	}
	resp, err := admin.ListConsumerGroupOffsets(group, want)
	if err != nil {
		return nil, fmt.Errorf("offsets of group %s: %w", group, err)
	}
	if !errors.Is(resp.Err, sarama.ErrNoError) {
		return nil, fmt.Errorf("offsets of group %s: %w", group, resp.Err)
	}
	got := Ends{}
	for topic, blocks := range resp.Blocks {
		for p, b := range blocks {
			if b.Offset >= 0 && errors.Is(b.Err, sarama.ErrNoError) {
				got[Partition{topic, p}] = b.Offset
			}
		}
	}
	return got, nil
}

// GroupMembers returns how many members a consumer group has now (0: nobody consumes).
func GroupMembers(admin sarama.ClusterAdmin, group string) (int, error) {
	groups, err := admin.DescribeConsumerGroups([]string{group})
	if err != nil {
		return 0, fmt.Errorf("describe group %s: %w", group, err)
	}
	for _, g := range groups {
		if g.GroupId == group {
			if !errors.Is(g.Err, sarama.ErrNoError) && !errors.Is(g.Err, sarama.ErrGroupIDNotFound) {
				return 0, fmt.Errorf("describe group %s: %w", group, g.Err)
			}
			return len(g.Members), nil
		}
	}
	return 0, nil
}

// Truncate deletes every record of the topics (DeleteRecords up to each partition's end): their
// offsets keep counting from there. Readers starting afresh begin at the new low watermark.
func Truncate(ctx context.Context, client sarama.Client, admin sarama.ClusterAdmin, topics ...string) error {
	ends, err := TopicEnds(client, topics...)
	if err != nil {
		return fmt.Errorf("truncate: %w", err)
	}
	for _, topic := range topics {
		del := map[int32]int64{}
		for p, end := range ends.Of(topic) {
			if end > 0 {
				del[p] = end
			}
		}
		if len(del) == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("truncate %s: %w", topic, err)
		}
		if err := admin.DeleteRecords(topic, del); err != nil {
			return fmt.Errorf("truncate %s: %w", topic, err)
		}
	}
	return nil
}

// Connect returns a client and an admin on the same connections, waiting for the broker up to
// ctx's deadline.
func Connect(ctx context.Context, brokers []string, cfg *sarama.Config) (sarama.Client, sarama.ClusterAdmin, error) {
	admin, err := connectAdmin(ctx, brokers, cfg)
	if err != nil {
		return nil, nil, err
	}
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		admin.Close()
		return nil, nil, fmt.Errorf("connect to Kafka at %v: %w", brokers, err)
	}
	return client, admin, nil
}

// Watermarks returns the high-water mark and the low watermark of every partition of the topics,
// with one ListOffsets request per broker and watermark (not one per partition): the lag
// monitors ask every few seconds, and so ask little of the broker. cfg is the client's config
// (its Version picks the request's version).
func Watermarks(client sarama.Client, cfg *sarama.Config, topics ...string) (ends, starts Ends, err error) {
	byLeader := map[*sarama.Broker][]Partition{}
	for _, topic := range topics {
		parts, err := client.Partitions(topic)
		if err != nil {
			return nil, nil, fmt.Errorf("partitions of %s: %w", topic, err)
		}
		for _, p := range parts {
			leader, err := client.Leader(topic, p)
			if err != nil {
				return nil, nil, fmt.Errorf("leader of %s/%d: %w", topic, p, err)
			}
			byLeader[leader] = append(byLeader[leader], Partition{topic, p})
		}
	}
	ends, starts = Ends{}, Ends{}
	for leader, parts := range byLeader {
		for _, at := range []struct {
			time int64
			into Ends
		}{{sarama.OffsetNewest, ends}, {sarama.OffsetOldest, starts}} {
			if err := listOffsets(leader, cfg, parts, at.time, at.into); err != nil {
				return nil, nil, err
			}
		}
	}
	return ends, starts, nil
}

func listOffsets(leader *sarama.Broker, cfg *sarama.Config, parts []Partition, time int64, into Ends) error {
	req := sarama.NewOffsetRequest(cfg.Version)
	for _, p := range parts {
		req.AddBlock(p.Topic, p.ID, time, 1)
	}
	resp, err := leader.GetAvailableOffsets(req)
	if err != nil {
		return fmt.Errorf("list offsets at broker %s: %w", leader.Addr(), err)
	}
	for _, p := range parts {
		b := resp.GetBlock(p.Topic, p.ID)
		switch {
		case b == nil:
			return fmt.Errorf("list offsets of %s/%d: %w", p.Topic, p.ID, sarama.ErrIncompleteResponse)
		case !errors.Is(b.Err, sarama.ErrNoError):
			return fmt.Errorf("list offsets of %s/%d: %w", p.Topic, p.ID, b.Err)
		case len(b.Offsets) != 1 && b.Offset < 0:
			return fmt.Errorf("list offsets of %s/%d: no offset in the answer", p.Topic, p.ID)
		}
		n := b.Offset
		if len(b.Offsets) == 1 {
			n = b.Offsets[0]
		}
		into[p] = n
	}
	return nil
}
