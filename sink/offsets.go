package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// The upkeep of the consumer's offsets in PostgreSQL (kafka_offsets): the next offset of every
// partition, which the sink starts from and which moves only forward, with the rows it covers.

// checkSchema fails (SQLSTATE 42P01) if a table the sink writes is missing.
func (s *store) checkSchema(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `SELECT 'kafka_offsets'::regclass, 'sink_dead_letter'::regclass, 'sink_conflict'::regclass`)
	return err
}

// loadOffsets returns the next offset of every partition the consumer has stored.
func (s *store) loadOffsets(ctx context.Context) (map[kafka.Partition]int64, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT topic, partition, next_offset FROM kafka_offsets WHERE consumer = $1`, s.consumer)
	if err != nil {
		return nil, err
	}
	return scanOffsets(rows)
}

func scanOffsets(rows pgx.Rows) (map[kafka.Partition]int64, error) {
	next := map[kafka.Partition]int64{}
	var p kafka.Position
	_, err := pgx.ForEachRow(rows, []any{&p.Topic, &p.ID, &p.Offset}, func() error {
		next[p.Partition] = p.Offset
		return nil
	})
	return next, err
}

// lockOffsets locks the offsets of parts, in their order (two transactions on the same
// partitions cannot deadlock), and returns them. Only the batch's partitions are locked: the
// batches of other partitions (another instance's) are written meanwhile, in parallel.
//
// A partition that has no offset yet gets its row first, at the batch's first offset of it
// (firsts), so that the row lock serializes even the first transactions of a partition: two
// instances racing on it (a rebalance while a transaction is open) wait for each other on the
// row's key, and the later one reads the offset the earlier one committed and skips what it
// stored. Rows are created, then locked, each in the same order.
func (t *txn) lockOffsets(ctx context.Context, parts []kafka.Partition, firsts []int64) (map[kafka.Partition]int64, error) {
	topics, ids := partitionArrays(parts)
	_, err := t.tx.Exec(ctx, `INSERT INTO kafka_offsets (consumer, topic, partition, next_offset)
		SELECT $1, u.topic, u.partition, u.next_offset FROM unnest($2::text[], $3::int4[], $4::int8[])
			AS u(topic, partition, next_offset)
		ORDER BY u.topic, u.partition ON CONFLICT DO NOTHING`, t.s.consumer, topics, ids, firsts)
	if err != nil {
		return nil, fmt.Errorf("create offsets: %w", err)
	}
	rows, err := t.tx.Query(ctx, `SELECT o.topic, o.partition, o.next_offset FROM kafka_offsets o
		JOIN unnest($2::text[], $3::int4[]) AS u(topic, partition) USING (topic, partition)
		WHERE o.consumer = $1 ORDER BY o.topic, o.partition FOR UPDATE OF o`, t.s.consumer, topics, ids)
	if err != nil {
		return nil, fmt.Errorf("lock offsets: %w", err)
	}
	stored, err := scanOffsets(rows)
	if err != nil {
		return nil, fmt.Errorf("lock offsets: %w", err)
	}
	return stored, nil
}

// saveOffsets writes the batch's next offsets (parts: in lock order). An offset only moves
// forward: lockOffsets serializes the transactions of a partition already, and this makes sure
// no batch could ever take an offset back.
func (t *txn) saveOffsets(ctx context.Context, parts []kafka.Partition) error {
	var topics []string
	var ids []int32
	var offsets []int64
	for _, p := range parts {
		if n, ok := t.res.next[p]; ok {
			topics, ids, offsets = append(topics, p.Topic), append(ids, p.ID), append(offsets, n)
		}
	}
	if len(topics) == 0 {
		return nil
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO kafka_offsets (consumer, topic, partition, next_offset)
		SELECT $1, t, p, n FROM unnest($2::text[], $3::int4[], $4::int8[]) AS u(t, p, n)
		ON CONFLICT (consumer, topic, partition)
		DO UPDATE SET next_offset = GREATEST(kafka_offsets.next_offset, EXCLUDED.next_offset)`,
		t.s.consumer, topics, ids, offsets)
	if err != nil {
		return fmt.Errorf("save offsets: %w", err)
	}
	return nil
}

// skipLost moves p's next offset up to oldest, Kafka's oldest record of p, if it is below: the
// records in between were deleted before the sink stored them. A dead letter at the first lost
// offset says so for good; the count of lost records is returned (0: nothing was lost).
func (s *store) skipLost(ctx context.Context, p kafka.Partition, oldest int64) (int64, error) {
	var lost int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var next int64
		err := tx.QueryRow(ctx, `SELECT next_offset FROM kafka_offsets
			WHERE consumer = $1 AND topic = $2 AND partition = $3 FOR UPDATE`, s.consumer, p.Topic, p.ID).Scan(&next)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && next >= oldest) {
			return nil
		}
		if err != nil {
			return err
		}
		lost = oldest - next
		_, err = tx.Exec(ctx, `INSERT INTO sink_dead_letter (consumer, kafka_topic, kafka_partition, kafka_offset, reason)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, s.consumer, p.Topic, p.ID, next,
			fmt.Sprintf("%s: offsets %d to %d (%d records) were deleted from Kafka before the sink stored them",
				p, next, oldest-1, lost))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE kafka_offsets SET next_offset = $4
			WHERE consumer = $1 AND topic = $2 AND partition = $3`, s.consumer, p.Topic, p.ID, oldest)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("record the records lost from %s: %w", p, err)
	}
	return lost, nil
}

// reset empties the weapon tables and the consumer's dead letters, conflicts and offsets, in
// one transaction, so that the sink rebuilds everything from the start of the topics.
func (s *store) reset(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// weapon_latest with them: the tables' TRUNCATE triggers would otherwise delete its rows
		// one by one.
		tables := append(migrations.WeaponTables(), migrations.LatestTable)
		for i, t := range tables {
			tables[i] = pgx.Identifier{t}.Sanitize()
		}
		if _, err := tx.Exec(ctx, "TRUNCATE "+strings.Join(tables, ", ")); err != nil {
			return fmt.Errorf("replay: empty the weapon tables: %w", err)
		}
		for _, q := range []struct{ what, sql string }{
			{"empty the dead letters", `DELETE FROM sink_dead_letter WHERE consumer = $1`},
			{"empty the conflicts", `DELETE FROM sink_conflict WHERE consumer = $1`},
			{"reset the offsets", `DELETE FROM kafka_offsets WHERE consumer = $1`},
		} {
			if _, err := tx.Exec(ctx, q.sql, s.consumer); err != nil {
				return fmt.Errorf("replay: %s: %w", q.what, err)
			}
		}
		return nil
	})
}
