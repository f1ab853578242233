package deadletter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lovoo/goka"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// The headers of a re-driven record: which dead letter it came from, and which redrive sent it.
const (
	HeaderID        = "mhfz.dlq.id"
	HeaderSource    = "mhfz.dlq.source"
	HeaderConsumer  = "mhfz.dlq.consumer" // the sink's rows only
	HeaderTopic     = "mhfz.dlq.topic"
	HeaderPartition = "mhfz.dlq.partition"
	HeaderOffset    = "mhfz.dlq.offset"
	HeaderKind      = "mhfz.dlq.kind"
	HeaderReason    = "mhfz.dlq.reason"
	HeaderRedrive   = "mhfz.dlq.redrive"
	// maxHeaderReason bounds the reason a header carries (the whole one stays in the dead letter).
	maxHeaderReason = 1 << 10
)

// Stats is what one redrive did.
type Stats struct {
	Selected int // dead letters the filter selected and not re-driven yet
	Blocked  int // of those, the ones that cannot be re-driven (list says why)
	Sent     int // records sent (with --dry-run: that would be sent)
	Settled  int // records a killed redrive had sent, found on their topic and marked
	Released int // claims of a killed redrive whose record was not sent: sent again
}

// errStopped is the test hook's stop, as if the process were killed.
var errStopped = errors.New("dlq: stopped by the test hook")

// Redrive sends the selected dead letters that were not re-driven back where they failed, and
// marks them, exactly once (the package doc says how).
func (t *Tool) Redrive(ctx context.Context) (Stats, error) {
	var st Stats
	c, err := t.connect(ctx)
	if err != nil {
		return st, err
	}
	defer c.close()
	if t.cfg.DryRun {
		todo, err := t.selectPending(ctx, c, &st)
		st.Sent = len(todo)
		return st, err
	}
	unlock, err := t.lock(ctx, c)
	if err != nil {
		return st, err
	}
	defer unlock()
	prod, err := t.newProducer()
	if err != nil {
		return st, err
	}
	stopped := false
	defer func() {
		if stopped { // left as a killed process leaves it
			t.abandoned = prod
			return
		}
		prod.Close()
	}()
	if st.Settled, st.Released, err = t.settle(ctx, c); err != nil {
		return st, err
	}
	todo, err := t.selectPending(ctx, c, &st)
	if err != nil {
		return st, err
	}
	for n := 1; len(todo) > 0; n++ {
		batch := todo[:min(len(todo), t.cfg.BatchSize)]
		todo = todo[len(batch):]
		sent, err := t.sendBatch(ctx, c, prod, batch, n)
		st.Sent += sent
		if err != nil {
			stopped = errors.Is(err, errStopped)
			return st, err
		}
	}
	return st, nil
}

// ErrRunning: another redrive of the deployment is running.
var ErrRunning = errors.New("another redrive of this deployment is running")

// lock takes the deployment's redrive lock, a PostgreSQL session advisory lock held by one
// connection until unlock: two redrives never run at once, and the settling never takes the
// claims of a live redrive for those of a dead one (a killed process's session ends, and its
// lock with it). That holds while the lock's session lives: a session lost mid-run (the
// connection cut, the server restarted) releases the lock while the redrive goes on, and a
// second redrive started then could settle its claims and send some of them twice (a duplicate
// that changes no table: the same content makes no new version).
func (t *Tool) lock(ctx context.Context, c *conns) (unlock func(), err error) {
	conn, err := c.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("dlq: the redrive lock: %w", err)
	}
	name := "mhfz dlq redrive " + t.cfg.Names.Prefix
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext($1))`, name).Scan(&ok); err != nil {
		conn.Release()
		return nil, fmt.Errorf("dlq: the redrive lock: %w", err)
	}
	if !ok {
		conn.Release()
		return nil, fmt.Errorf("dlq: %w (it holds the PostgreSQL advisory lock of %q)", ErrRunning, name)
	}
	return func() {
		// Ending the session would release it too; unlocking keeps the pooled connection clean.
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext($1))`, name)
		conn.Release()
	}, nil
}

// selectPending returns the dead letters to send, counting the selected and the blocked ones.
func (t *Tool) selectPending(ctx context.Context, c *conns, st *Stats) ([]*Letter, error) {
	f := t.cfg.Filter
	f.Pending = true
	ls, err := t.letters(ctx, c, f)
	if err != nil {
		return nil, err
	}
	st.Selected = len(ls)
	var todo []*Letter
	for _, l := range ls {
		if l.Blocked != "" {
			st.Blocked++
			t.log.Warn("dlq: cannot re-drive", "id", l.ID, "why", l.Blocked)
			continue
		}
		todo = append(todo, l)
	}
	return todo, nil
}

// newProducer is the redrive's producer: idempotent (a retried send is not written twice),
// acknowledged by every in-sync replica. The partition of every record is chosen by
// sendBatch, before the claim, with the hash of the pipeline's producers.
func (t *Tool) newProducer() (sarama.SyncProducer, error) {
	cfg := *t.cfg.Kafka
	cfg.ClientID += "-redrive"
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Return.Successes, cfg.Producer.Return.Errors = true, true
	p, err := sarama.NewSyncProducer(t.cfg.Brokers, &cfg)
	if err != nil {
		return nil, fmt.Errorf("dlq: the redrive's producer: %w", err)
	}
	return p, nil
}

// claim is one dead letter being sent: where it goes, and where its partition ended before.
type claim struct {
	pos      position
	redrive  string
	target   kafka.Partition
	scanFrom int64
	msg      *sarama.ProducerMessage
}

// sendBatch claims, sends and marks one batch (the n-th); it returns how many it sent.
func (t *Tool) sendBatch(ctx context.Context, c *conns, prod sarama.SyncProducer, batch []*Letter, n int) (int, error) {
	claims, err := t.prepare(c.client, batch)
	if err != nil {
		return 0, err
	}
	if claims, err = t.claim(ctx, c.pool, claims); err != nil || len(claims) == 0 {
		return 0, err
	}
	if t.stop("claimed", n) {
		return 0, errStopped
	}
	msgs := make([]*sarama.ProducerMessage, len(claims))
	for i, cl := range claims {
		msgs[i] = cl.msg
	}
	if err := prod.SendMessages(msgs); err != nil {
		// Some may have been appended: the next redrive's settling finds them.
		return 0, fmt.Errorf("dlq: send batch %d: %w", n, err)
	}
	if t.stop("sent", n) {
		return 0, errStopped
	}
	err = pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		for _, cl := range claims {
			if err := markSent(ctx, tx, cl, cl.msg.Offset); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("dlq: mark batch %d re-driven: %w", n, err)
	}
	t.log.Info("dlq: re-drove a batch", "batch", n, "records", len(claims))
	return len(claims), nil
}

func (t *Tool) stop(point string, n int) bool { return t.cfg.stopAt != nil && t.cfg.stopAt(point, n) }

// prepare builds the batch's records and claims: each record's partition (the pipeline's key
// hash) and that partition's end now, below which none of them can land.
func (t *Tool) prepare(client sarama.Client, batch []*Letter) ([]*claim, error) {
	id, err := redriveID()
	if err != nil {
		return nil, err
	}
	ends := map[kafka.Partition]int64{}
	claims := make([]*claim, 0, len(batch))
	for _, l := range batch {
		msg := message(l, id)
		part, err := partitionOf(client, msg)
		if err != nil {
			return nil, err
		}
		target := kafka.Partition{Topic: l.Target, ID: part}
		if _, ok := ends[target]; !ok {
			if ends[target], err = client.GetOffset(target.Topic, target.ID, sarama.OffsetNewest); err != nil {
				return nil, fmt.Errorf("dlq: the end of %s: %w", target, err)
			}
		}
		msg.Partition = part
		claims = append(claims, &claim{pos: l.pos, redrive: id, target: target, scanFrom: ends[target], msg: msg})
	}
	return claims, nil
}

// partitionOf is the partition the pipeline's producers (goka's hash) give msg's key.
func partitionOf(client sarama.Client, msg *sarama.ProducerMessage) (int32, error) {
	parts, err := client.Partitions(msg.Topic)
	if err != nil {
		return 0, fmt.Errorf("dlq: the partitions of %s: %w", msg.Topic, err)
	}
	p, err := sarama.NewCustomHashPartitioner(goka.DefaultHasher())(msg.Topic).Partition(msg, int32(len(parts)))
	if err != nil {
		return 0, fmt.Errorf("dlq: the partition of a record of %s: %w", msg.Topic, err)
	}
	return p, nil
}

// message is the record that re-drives l, with the headers naming it.
func message(l *Letter, redrive string) *sarama.ProducerMessage {
	h := func(k, v string) sarama.RecordHeader { return sarama.RecordHeader{Key: []byte(k), Value: []byte(v)} }
	reason := l.Reason
	if len(reason) > maxHeaderReason {
		reason = reason[:maxHeaderReason]
	}
	headers := []sarama.RecordHeader{h(HeaderID, l.ID), h(HeaderSource, l.Source),
		h(HeaderTopic, l.pos.Topic), h(HeaderPartition, strconv.Itoa(int(l.pos.Partition.ID))),
		h(HeaderOffset, strconv.FormatInt(l.pos.Offset, 10)), h(HeaderKind, l.Kind), h(HeaderReason, reason),
		h(HeaderRedrive, redrive)}
	if l.Source == SourceTable {
		headers = append(headers, h(HeaderConsumer, l.pos.consumer))
	}
	return &sarama.ProducerMessage{Topic: l.Target, Key: sarama.ByteEncoder(l.Key), Value: sarama.ByteEncoder(l.Value),
		Headers: headers}
}

// redriveID names one batch of one redrive, in its records' headers and its claims.
func redriveID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("dlq: a redrive id: %w", err)
	}
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b), nil
}

var redriveTable = pgx.Identifier{migrations.RedriveTable}.Sanitize()

// claim inserts the claims in state 'sending' and commits; it returns those it inserted (a
// dead letter another redrive claimed meanwhile is left to it, and logged). A row of
// sink_dead_letter selected as pending while its mark says sent was written again since: the
// sink's --replay empties its dead letters and stores the same failures again, at the same
// positions; its old mark is taken over rather than left to hide it.
func (t *Tool) claim(ctx context.Context, pool *pgxpool.Pool, claims []*claim) ([]*claim, error) {
	var out []*claim
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		out = out[:0]
		for _, cl := range claims {
			tag, err := tx.Exec(ctx, `INSERT INTO `+redriveTable+` AS r (source, consumer, kafka_topic, kafka_partition,
					kafka_offset, state, redrive_id, target_topic, target_partition, scan_from)
				VALUES ($1, $2, $3, $4, $5, 'sending', $6, $7, $8, $9)
				ON CONFLICT (source, consumer, kafka_topic, kafka_partition, kafka_offset) DO UPDATE
				SET state = 'sending', redrive_id = EXCLUDED.redrive_id, target_topic = EXCLUDED.target_topic,
					target_partition = EXCLUDED.target_partition, scan_from = EXCLUDED.scan_from,
					target_offset = NULL, redriven_at = NULL, claimed_at = now()
				WHERE r.source = 'table' AND r.state = 'sent'`,
				cl.pos.source, cl.pos.consumer, cl.pos.Topic, cl.pos.Partition.ID, cl.pos.Offset, cl.redrive,
				cl.target.Topic, cl.target.ID, cl.scanFrom)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 1 {
				out = append(out, cl)
			} else {
				t.log.Warn("dlq: claimed by another redrive meanwhile: left to it", "id", cl.pos.ID())
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dlq: claim %d dead letters in %s: %w", len(claims), migrations.RedriveTable, err)
	}
	return out, nil
}

// markSent marks cl's dead letter re-driven: its record is at offset of its target partition.
func markSent(ctx context.Context, tx pgx.Tx, cl *claim, offset int64) error {
	p := cl.pos
	tag, err := tx.Exec(ctx, `UPDATE `+redriveTable+` SET state = 'sent', target_offset = $7, redriven_at = now()
		WHERE source = $1 AND consumer = $2 AND kafka_topic = $3 AND kafka_partition = $4 AND kafka_offset = $5
			AND redrive_id = $6 AND state = 'sending'`,
		p.source, p.consumer, p.Topic, p.Partition.ID, p.Offset, cl.redrive, offset)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("the claim of %s by redrive %s is gone", p.ID(), cl.redrive)
	}
	if p.source != SourceTable {
		return nil
	}
	_, err = tx.Exec(ctx, `UPDATE `+pgx.Identifier{migrations.DeadLetterTable}.Sanitize()+` SET redriven_at = now()
		WHERE consumer = $1 AND kafka_topic = $2 AND kafka_partition = $3 AND kafka_offset = $4`,
		p.consumer, p.Topic, p.Partition.ID, p.Offset)
	return err
}
