package reprocess

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"golang.org/x/sync/errgroup"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
)

// copyRaw copies every raw record of cfg.CopyFrom (another deployment's weapon_data) into this
// deployment's weapon_data, created with this deployment's partition count: how a deployment
// gets another partition count (docs/scaling.md). The records are placed as the scraper
// places them (goka's emitter: a key's partition is a hash of the key modulo the partition
// count), so that the router's table, partitioned the same way, holds each key's state beside
// its records. A key's records all come from one partition of the source, placed the same way,
// and are sent in that partition's order: every key keeps the order of its records. The target
// is emptied first (a copy interrupted before starts over). What the scraper sends to the source
// meanwhile is not copied: it must be stopped.
func (s *session) copyRaw(ctx context.Context) (int64, error) {
	cfg := s.cfg
	from, to := cfg.CopyFrom, string(cfg.Names.WeaponData())
	starts, err := kafka.TopicStarts(s.client, from)
	if err != nil {
		return 0, fmt.Errorf("copy the raw records of %s: %w", from, err)
	}
	ends, err := kafka.TopicEnds(s.client, from)
	if err != nil {
		return 0, fmt.Errorf("copy the raw records of %s: %w", from, err)
	}
	if err := kafka.Truncate(ctx, s.client, s.admin, to); err != nil {
		return 0, fmt.Errorf("copy the raw records: empty %s: %w", to, err)
	}
	parts, err := s.client.Partitions(to)
	if err != nil {
		return 0, fmt.Errorf("copy the raw records: partitions of %s: %w", to, err)
	}
	producerCfg := *cfg.Setup.Config // goka's builder sets its partitioner on the config it gets
	emitter, err := goka.NewEmitter(cfg.Setup.Brokers, goka.Stream(to), new(codec.Bytes),
		goka.WithEmitterProducerBuilder(goka.ProducerBuilderWithConfig(&producerCfg)))
	if err != nil {
		return 0, fmt.Errorf("copy the raw records to %s: %w", to, err)
	}
	c := &rawCopy{emitter: emitter, log: cfg.Logger}
	err = c.partitions(ctx, s.client, starts, ends)
	// Finish waits for every send; a failed one was recorded by its promise.
	if err = errors.Join(err, emitter.Finish(), c.failed()); err != nil {
		return 0, fmt.Errorf("copy the raw records of %s to %s: %w", from, to, err)
	}
	cfg.Logger.Info("raw records copied", "from", from, "to", to, "records", c.sent.Load(),
		"partitions", len(parts))
	return c.sent.Load(), nil
}

// rawCopy is one copy in progress: its emitter, how many records it sent, its first failure.
type rawCopy struct {
	emitter *goka.Emitter
	log     *slog.Logger
	sent    atomic.Int64
	mu      sync.Mutex
	err     error
}

// partitions sends the records of every partition in ends from its start to its end offset, the
// partitions at once, each in order.
func (c *rawCopy) partitions(ctx context.Context, client sarama.Client, starts, ends kafka.Ends) error {
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return fmt.Errorf("read the source: %w", err)
	}
	defer consumer.Close()
	g, gctx := errgroup.WithContext(ctx)
	for p, end := range ends {
		if start := starts[p]; end > start {
			g.Go(func() error { return c.partition(gctx, consumer, p, start, end) })
		}
	}
	return g.Wait()
}

// partition sends the records of p from offset start to end, in order.
func (c *rawCopy) partition(ctx context.Context, consumer sarama.Consumer, p kafka.Partition, start, end int64) error {
	pc, err := consumer.ConsumePartition(p.Topic, p.ID, start)
	if err != nil {
		return fmt.Errorf("read %s from %d: %w", p, start, err)
	}
	defer pc.AsyncClose()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-pc.Errors():
			// sarama's partition consumer goes on by itself (a leader moving, say): said, not fatal.
			c.log.Warn("copy the raw records: read error, going on", "topic", p.Topic, "partition", p.ID, "err", err)
		case msg := <-pc.Messages():
			headers := goka.Headers{}
			for _, h := range msg.Headers {
				headers[string(h.Key)] = h.Value
			}
			promise, err := c.emitter.EmitWithHeaders(string(msg.Key), msg.Value, headers)
			if err != nil {
				return fmt.Errorf("send %s: %w", p.At(msg.Offset), err)
			}
			promise.Then(c.done)
			if msg.Offset >= end-1 {
				return nil
			}
		}
	}
}

func (c *rawCopy) done(err error) {
	if err == nil {
		c.sent.Add(1)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
}

func (c *rawCopy) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}
