package deadletter

import (
	"context"
	"errors"
	"fmt"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// settle decides the claims a killed redrive left in state 'sending' (this one holds the lock:
// their redrive is dead). A claim whose record is on its target partition (from the end
// recorded before the send) is marked sent at that offset; the others are released, to be sent
// again. It returns how many of each.
func (t *Tool) settle(ctx context.Context, c *conns) (settled, released int, err error) {
	claims, err := t.openClaims(ctx, c)
	if err != nil || len(claims) == 0 {
		return 0, 0, err
	}
	found := map[string]int64{} // claim (dead letter and redrive) -> offset
	want := map[string]bool{}
	from := map[kafka.Partition]int64{}
	for _, cl := range claims {
		want[claimKey(cl.pos.ID(), cl.redrive)] = true
		if f, ok := from[cl.target]; !ok || cl.scanFrom < f {
			from[cl.target] = cl.scanFrom
		}
	}
	for p, start := range from {
		err := t.scan(ctx, c.client, p, start, func(offset int64, headers []*sarama.RecordHeader) {
			k := claimKey(header(headers, HeaderID), header(headers, HeaderRedrive))
			if _, seen := found[k]; want[k] && !seen {
				found[k] = offset
			}
		})
		if err != nil {
			return 0, 0, err
		}
	}
	err = pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		settled, released = 0, 0
		for _, cl := range claims {
			if off, ok := found[claimKey(cl.pos.ID(), cl.redrive)]; ok {
				settled++
				if err := markSent(ctx, tx, cl, off); err != nil {
					return err
				}
				continue
			}
			released++
			if err := release(ctx, tx, cl); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("dlq: settle the claims of a stopped redrive: %w", err)
	}
	t.log.Info("dlq: settled what a stopped redrive left", "found_sent", settled, "released", released)
	return settled, released, nil
}

func claimKey(id, redrive string) string { return id + "\x00" + redrive }

func header(headers []*sarama.RecordHeader, key string) string {
	for _, h := range headers {
		if h != nil && string(h.Key) == key {
			return string(h.Value)
		}
	}
	return ""
}

// openClaims are the claims in state 'sending' whose records go to this deployment's topics.
func (t *Tool) openClaims(ctx context.Context, c *conns) ([]*claim, error) {
	topics := []string{string(t.cfg.Names.WeaponData())}
	for _, tp := range t.cfg.Names.WeaponTopics() {
		topics = append(topics, string(tp))
	}
	rows, err := c.pool.Query(ctx, `SELECT source, consumer, kafka_topic, kafka_partition, kafka_offset, redrive_id,
			target_topic, target_partition, scan_from
		FROM `+redriveTable+` WHERE state = 'sending' AND target_topic = ANY($1)`, topics)
	if err != nil {
		return nil, fmt.Errorf("dlq: read the open claims of %s: %w", migrations.RedriveTable, err)
	}
	var out []*claim
	for rows.Next() {
		cl := &claim{}
		if err := rows.Scan(&cl.pos.source, &cl.pos.consumer, &cl.pos.Topic, &cl.pos.Partition.ID, &cl.pos.Offset,
			&cl.redrive, &cl.target.Topic, &cl.target.ID, &cl.scanFrom); err != nil {
			return nil, fmt.Errorf("dlq: read the open claims of %s: %w", migrations.RedriveTable, err)
		}
		out = append(out, cl)
	}
	return out, rows.Err()
}

// release deletes a claim whose record was never appended: the dead letter is as if never
// re-driven (the claim is the redrive's bookkeeping; the dead letter itself is untouched).
func release(ctx context.Context, tx pgx.Tx, cl *claim) error {
	p := cl.pos
	_, err := tx.Exec(ctx, `DELETE FROM `+redriveTable+`
		WHERE source = $1 AND consumer = $2 AND kafka_topic = $3 AND kafka_partition = $4 AND kafka_offset = $5
			AND redrive_id = $6 AND state = 'sending'`,
		p.source, p.consumer, p.Topic, p.Partition.ID, p.Offset, cl.redrive)
	return err
}

// scan passes every record of p from offset from to the partition's current end to visit, with
// raw fetches, which step over the control records of other producers' transactions, if any
// (a consumer hides them, and one may end a partition: reading up to the end by the offsets a
// consumer hands out would never end).
// Records deleted since the claim (mhfz reprocess empties the derived topics; retention) are
// not read, from the partition's oldest offset on: a claim whose record is gone is released and
// sent again, which changes no table (the same content makes no new version).
func (t *Tool) scan(ctx context.Context, client sarama.Client, p kafka.Partition, from int64,
	visit func(int64, []*sarama.RecordHeader)) error {
	end, err := client.GetOffset(p.Topic, p.ID, sarama.OffsetNewest)
	if err != nil {
		return fmt.Errorf("dlq: the end of %s: %w", p, err)
	}
	oldest, err := client.GetOffset(p.Topic, p.ID, sarama.OffsetOldest)
	if err != nil {
		return fmt.Errorf("dlq: the start of %s: %w", p, err)
	}
	from = max(from, oldest)
	for from < end {
		if err := ctx.Err(); err != nil {
			return err
		}
		next, err := fetchFrom(client, p, from, end, visit)
		if err != nil {
			return err
		}
		if next <= from {
			return fmt.Errorf("dlq: read %s from %d: the broker returned nothing below its end %d", p, from, end)
		}
		from = next
	}
	return nil
}

// fetchFrom fetches p from offset from, visits the records below end and returns the next offset.
func fetchFrom(client sarama.Client, p kafka.Partition, from, end int64, visit func(int64, []*sarama.RecordHeader)) (int64, error) {
	leader, err := client.Leader(p.Topic, p.ID)
	if err != nil {
		return 0, fmt.Errorf("dlq: the leader of %s: %w", p, err)
	}
	const maxBytes = 4 << 20
	req := &sarama.FetchRequest{Version: 4, MaxWaitTime: 500, MinBytes: 1, MaxBytes: maxBytes, Isolation: sarama.ReadUncommitted}
	req.AddBlock(p.Topic, p.ID, from, maxBytes, -1)
	resp, err := leader.Fetch(req)
	if err != nil {
		return 0, fmt.Errorf("dlq: fetch %s at %d: %w", p, from, err)
	}
	b := resp.GetBlock(p.Topic, p.ID)
	switch {
	case b == nil:
		return 0, fmt.Errorf("dlq: fetch %s at %d: %w", p, from, sarama.ErrIncompleteResponse)
	case !errors.Is(b.Err, sarama.ErrNoError):
		return 0, fmt.Errorf("dlq: fetch %s at %d: %w", p, from, b.Err)
	}
	next := from
	for _, rs := range b.RecordsSet {
		rb := rs.RecordBatch
		if rb == nil { // a legacy message set: no broker of Kafka 4 writes one, nor has headers
			continue
		}
		for _, r := range rb.Records {
			if off := rb.FirstOffset + r.OffsetDelta; !rb.Control && off >= from && off < end {
				visit(off, r.Headers)
			}
		}
		next = max(next, rb.LastOffset()+1)
	}
	return next, nil
}
