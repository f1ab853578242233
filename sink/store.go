package sink

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// partition names one Kafka partition.
type partition struct {
	topic string
	id    int32
}

// batchResult counts what one committed batch did.
type batchResult struct {
	stored       int // new rows
	duplicates   int // (key, version) already stored: an upstream duplicate
	skipped      int // below the partition's next_offset: already handled by an earlier batch
	deadLettered int
	next         map[partition]int64 // the offsets written
}

// deadLetter is a record that can never be stored, and why.
type deadLetter struct {
	rec    *record
	reason string
}

// store writes batches and offsets to PostgreSQL. Its methods run one transaction each and
// return the database's errors unchanged, so that the caller can tell retryable ones (see
// retryable) from the others.
type store struct {
	pool     *pgxpool.Pool
	consumer string
	trace    func(event string)
}

// loadOffsets returns the next offset of every partition the consumer has stored.
func (s *store) loadOffsets(ctx context.Context) (map[partition]int64, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT topic, partition, next_offset FROM kafka_offsets WHERE consumer = $1`, s.consumer)
	if err != nil {
		return nil, err
	}
	return scanOffsets(rows)
}

func scanOffsets(rows pgx.Rows) (map[partition]int64, error) {
	next := map[partition]int64{}
	var p partition
	var n int64
	_, err := pgx.ForEachRow(rows, []any{&p.topic, &p.id, &n}, func() error {
		next[p] = n
		return nil
	})
	return next, err
}

// write stores one batch and the new offsets in one transaction. The offsets are read again
// FOR UPDATE first: records below them were stored by an earlier batch (this one is a replay
// after a crash or a rebalance) and are skipped, so no record is ever handled twice.
func (s *store) write(ctx context.Context, recs []*record) (batchResult, error) {
	var res batchResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		res = batchResult{next: map[partition]int64{}}
		rows, err := tx.Query(ctx, `SELECT topic, partition, next_offset FROM kafka_offsets
			WHERE consumer = $1 FOR UPDATE`, s.consumer)
		if err != nil {
			return fmt.Errorf("lock offsets: %w", err)
		}
		stored, err := scanOffsets(rows)
		if err != nil {
			return fmt.Errorf("lock offsets: %w", err)
		}
		s.trace("begin")

		byTable := map[string][]*record{}
		var dead []deadLetter
		for _, r := range recs {
			p := partition{r.topic, r.partition}
			if r.offset < max(stored[p], res.next[p]) {
				res.skipped++
				continue
			}
			res.next[p] = r.offset + 1
			if r.weapon == nil {
				dead = append(dead, deadLetter{r, r.reason})
				continue
			}
			byTable[r.table] = append(byTable[r.table], r)
		}
		tables := make([]string, 0, len(byTable))
		for t := range byTable {
			tables = append(tables, t)
		}
		sort.Strings(tables) // a fixed lock order
		for _, table := range tables {
			bad, err := s.insert(ctx, tx, table, byTable[table], &res)
			if err != nil {
				return err
			}
			dead = append(dead, bad...)
		}
		if err := s.deadLetters(ctx, tx, dead); err != nil {
			return err
		}
		res.deadLettered = len(dead)
		return s.saveOffsets(ctx, tx, res.next)
	})
	if err != nil {
		return batchResult{}, err
	}
	s.trace("commit")
	return res, nil
}

// insert stores the rows of one table. Most batches hold no (key, version) already stored, so
// they are copied straight into the table; if one is (an upstream duplicate: unique violation),
// the batch goes through a staging table and INSERT ... ON CONFLICT DO NOTHING instead; if a row
// can never be stored, the rows are inserted one by one, each under a savepoint, and the bad
// ones returned. Each attempt runs under a savepoint, so a failed one leaves nothing behind.
func (s *store) insert(ctx context.Context, tx pgx.Tx, table string, recs []*record, res *batchResult) ([]deadLetter, error) {
	cols := columnNames(tableColumns(table))
	rows := pgx.CopyFromSlice(len(recs), func(i int) ([]any, error) { return recs[i].row, nil })
	var n int64
	err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
		var err error
		n, err = sp.CopyFrom(ctx, pgx.Identifier{table}, cols, rows)
		return err
	})
	if err == nil {
		res.stored += int(n)
		return nil, nil
	}
	if isUniqueViolation(err) {
		err = s.insertStaged(ctx, tx, table, cols, recs, res)
		if err == nil {
			return nil, nil
		}
	}
	if !neverStorable(err) {
		return nil, fmt.Errorf("store %d rows in %s: %w", len(recs), table, err)
	}
	return s.insertOneByOne(ctx, tx, table, cols, recs, res)
}

// insertStaged copies the rows into a staging table, then inserts those not stored yet.
func (s *store) insertStaged(ctx context.Context, tx pgx.Tx, table string, cols []string, recs []*record, res *batchResult) error {
	stage := "stage_" + table
	if _, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TEMP TABLE IF NOT EXISTS %s (LIKE %s) ON COMMIT DELETE ROWS`,
		pgx.Identifier{stage}.Sanitize(), pgx.Identifier{table}.Sanitize())); err != nil {
		return fmt.Errorf("create staging table for %s: %w", table, err)
	}
	list := identifiers(cols)
	return pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
		_, err := sp.CopyFrom(ctx, pgx.Identifier{stage}, cols, pgx.CopyFromSlice(len(recs),
			func(i int) ([]any, error) { return recs[i].row, nil }))
		if err != nil {
			return err
		}
		tag, err := sp.Exec(ctx, fmt.Sprintf(`INSERT INTO %s (%s) SELECT %s FROM %s ON CONFLICT DO NOTHING`,
			pgx.Identifier{table}.Sanitize(), list, list, pgx.Identifier{stage}.Sanitize()))
		if err != nil {
			return err
		}
		res.stored += int(tag.RowsAffected())
		res.duplicates += len(recs) - int(tag.RowsAffected())
		return nil
	})
}

func (s *store) insertOneByOne(ctx context.Context, tx pgx.Tx, table string, cols []string, recs []*record,
	res *batchResult) ([]deadLetter, error) {
	params := make([]string, len(cols))
	for i := range params {
		params[i] = fmt.Sprintf("$%d", i+1)
	}
	query := fmt.Sprintf(`INSERT INTO %s (%s) VALUES (%s) ON CONFLICT DO NOTHING`,
		pgx.Identifier{table}.Sanitize(), identifiers(cols), strings.Join(params, ", "))
	var dead []deadLetter
	for _, r := range recs {
		var tag pgconn.CommandTag
		err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
			var err error
			tag, err = sp.Exec(ctx, query, r.row...)
			return err
		})
		switch {
		case err == nil && tag.RowsAffected() == 1:
			res.stored++
		case err == nil:
			res.duplicates++
		case neverStorable(err):
			dead = append(dead, deadLetter{r, fmt.Sprintf("store %s version %d in %s: %v",
				r.weapon.Key, r.weapon.Version, table, err)})
		default:
			return nil, fmt.Errorf("store %s version %d in %s: %w", r.weapon.Key, r.weapon.Version, table, err)
		}
	}
	return dead, nil
}

func (s *store) deadLetters(ctx context.Context, tx pgx.Tx, dead []deadLetter) error {
	for _, d := range dead {
		_, err := tx.Exec(ctx, `INSERT INTO sink_dead_letter
			(consumer, kafka_topic, kafka_partition, kafka_offset, key, value, reason)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
			s.consumer, d.rec.topic, d.rec.partition, d.rec.offset, d.rec.key, d.rec.value,
			strings.ToValidUTF8(strings.ReplaceAll(d.reason, "\x00", `\x00`), "?"))
		if err != nil {
			return fmt.Errorf("dead-letter %s/%d@%d: %w", d.rec.topic, d.rec.partition, d.rec.offset, err)
		}
	}
	return nil
}

func (s *store) saveOffsets(ctx context.Context, tx pgx.Tx, next map[partition]int64) error {
	if len(next) == 0 {
		return nil
	}
	topics, ids, offsets := make([]string, 0, len(next)), make([]int32, 0, len(next)), make([]int64, 0, len(next))
	for p, n := range next {
		topics, ids, offsets = append(topics, p.topic), append(ids, p.id), append(offsets, n)
	}
	_, err := tx.Exec(ctx, `INSERT INTO kafka_offsets (consumer, topic, partition, next_offset)
		SELECT $1, t, p, n FROM unnest($2::text[], $3::int4[], $4::int8[]) AS u(t, p, n)
		ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset`,
		s.consumer, topics, ids, offsets)
	if err != nil {
		return fmt.Errorf("save offsets: %w", err)
	}
	return nil
}

// reset empties the weapon tables and the consumer's dead letters and offsets, in one
// transaction, so that the sink rebuilds everything from offset zero.
func (s *store) reset(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tables := Tables()
		for i, t := range tables {
			tables[i] = pgx.Identifier{t}.Sanitize()
		}
		if _, err := tx.Exec(ctx, "TRUNCATE "+strings.Join(tables, ", ")); err != nil {
			return fmt.Errorf("replay: empty the weapon tables: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sink_dead_letter WHERE consumer = $1`, s.consumer); err != nil {
			return fmt.Errorf("replay: empty the dead letters: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM kafka_offsets WHERE consumer = $1`, s.consumer); err != nil {
			return fmt.Errorf("replay: reset the offsets: %w", err)
		}
		return nil
	})
}

func identifiers(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = pgx.Identifier{n}.Sanitize()
	}
	return strings.Join(quoted, ", ")
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// neverStorable reports whether err says a value can never be stored, whatever the retries: a
// data exception (22: a NUL byte, an out-of-range number), a constraint violation (23) or a
// program limit (54: an index row too large).
func neverStorable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code[:2] {
	case "22", "23", "54":
		return true
	}
	return false
}

// retryable reports whether err may go away by itself: the connection failed, the server is
// starting or shutting down, a serialization failure or deadlock, a lack of resources. Errors
// PostgreSQL returns for the statement itself (a missing table: the schema is not migrated) are
// not.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	switch pgErr.Code[:2] {
	case "08", "40", "53", "57", "58":
		return true
	}
	return false
}
