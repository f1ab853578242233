package sink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
)

// maxSavepoints bounds the savepoints one transaction takes. PostgreSQL keeps up to 64
// subtransaction ids per session in shared memory; beyond that, every snapshot of every session
// must look them up in pg_subtrans until the transaction ends (a "subxid overflow"), slowing the
// whole database. Only savepoints that wrote and were kept count there; counting them all is
// simpler and errs on the safe side. A batch that needs more (many bad rows) is written as
// smaller batches instead.
const maxSavepoints = 64

// errSavepointCap says a transaction would have needed more than maxSavepoints savepoints: it
// was rolled back, and its batch must be written in smaller parts.
var errSavepointCap = fmt.Errorf("more than %d savepoints in one transaction", maxSavepoints)

// store writes batches and offsets to PostgreSQL. Its methods run one transaction each and
// return the database's errors unchanged, so that the caller can tell retryable ones (see
// retryable) from the others.
type store struct {
	pool     *pgxpool.Pool
	consumer string
	trace    func(event string) // the tests' hook: "begin" once a batch holds its offsets, "commit"
	copies   copyBuffers

	peakSavepoints atomic.Int64 // the most savepoints one transaction took
}

// write stores one batch and the new offsets in one transaction. The offsets of the batch's
// partitions are read again FOR UPDATE first: records below them were stored by an earlier
// batch (this one is a replay after a crash or a rebalance) and are skipped, so no record is
// ever handled twice. errSavepointCap: nothing was written, write the batch in parts.
func (s *store) write(ctx context.Context, recs []*record) (batchResult, error) {
	parts, firsts := partitionsOf(recs)
	var res batchResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		t := &txn{s: s, tx: tx, res: batchResult{next: map[kafka.Partition]int64{}}}
		defer func() { s.notePeak(t.savepoints) }()
		var err error
		res, err = t.writeBatch(ctx, recs, parts, firsts)
		return err
	})
	if err != nil {
		return batchResult{}, err
	}
	res.committed = time.Now()
	res.partitions = parts
	s.traceEvent("commit")
	return res, nil
}

func (s *store) traceEvent(event string) {
	if s.trace != nil {
		s.trace(event)
	}
}

func (s *store) notePeak(n int) {
	for {
		peak := s.peakSavepoints.Load()
		if int64(n) <= peak || s.peakSavepoints.CompareAndSwap(peak, int64(n)) {
			return
		}
	}
}

// txn is one batch's transaction: what it has done so far, and the savepoints it took.
type txn struct {
	s          *store
	tx         pgx.Tx
	savepoints int
	res        batchResult
	dead       []deadLetter
	conflicts  []conflict
}

// writeBatch locks the offsets of parts, writes the rows of recs table by table, then the dead
// letters, the conflicts and the offsets.
func (t *txn) writeBatch(ctx context.Context, recs []*record, parts []kafka.Partition, firsts []int64) (batchResult, error) {
	stored, err := t.lockOffsets(ctx, parts, firsts)
	if err != nil {
		return batchResult{}, err
	}
	locked := time.Now()
	t.s.traceEvent("begin")
	byTable := t.route(recs, stored)
	tables := make([]string, 0, len(byTable))
	for table := range byTable {
		tables = append(tables, table)
	}
	slices.Sort(tables) // a fixed lock order
	for _, table := range tables {
		if err := t.insert(ctx, table, byTable[table], false); err != nil {
			return batchResult{}, err
		}
	}
	if err := t.finish(ctx, parts); err != nil {
		return batchResult{}, err
	}
	t.res.locked, t.res.written = locked, time.Now()
	return t.res, nil
}

// route sorts the records to store by table, skips those below the stored offsets, sets aside
// those that cannot be stored, and computes the partitions' next offsets.
func (t *txn) route(recs []*record, stored map[kafka.Partition]int64) map[string][]*record {
	byTable := map[string][]*record{}
	for _, r := range recs {
		p := r.pos.Partition
		if r.pos.Offset < max(stored[p], t.res.next[p]) {
			t.res.skipped++
			continue
		}
		t.res.next[p] = r.pos.Offset + 1
		if !r.storable() {
			t.dead = append(t.dead, deadLetter{r, r.reason})
			continue
		}
		byTable[r.table] = append(byTable[r.table], r)
	}
	return byTable
}

// finish writes the dead letters, the conflicts and the offsets.
func (t *txn) finish(ctx context.Context, parts []kafka.Partition) error {
	if err := t.deadLetters(ctx); err != nil {
		return err
	}
	if err := t.recordConflicts(ctx); err != nil {
		return err
	}
	t.res.deadLettered, t.res.conflicts, t.res.savepoints = len(t.dead), len(t.conflicts), t.savepoints
	if len(t.dead) > 0 {
		t.res.firstDead = t.dead[0].reason
	}
	if len(t.conflicts) > 0 {
		t.res.firstClash = t.conflicts[0].String()
	}
	return t.saveOffsets(ctx, parts)
}

// savepoint runs f under a savepoint of the transaction: if f fails, what it did is undone and
// the transaction goes on. At most maxSavepoints per transaction, then errSavepointCap.
func (t *txn) savepoint(ctx context.Context, f func(sp pgx.Tx) error) error {
	if t.savepoints >= maxSavepoints {
		return errSavepointCap
	}
	t.savepoints++
	return pgx.BeginFunc(ctx, t.tx, f)
}

// insert stores the rows of one table, the fastest way that works. Most batches are copied
// (COPY) straight into the table. One that holds a (key, version) stored already goes through
// a staging table, which tells duplicates from conflicts (and so do its parts: staged). One that
// holds a row PostgreSQL rejects is cut in halves, each tried again, down to the bad rows,
// which are dead-lettered: k bad rows among n take about 2k·log2(n/k) savepoints.
func (t *txn) insert(ctx context.Context, table string, recs []*record, staged bool) error {
	if len(recs) == 1 {
		return t.insertOne(ctx, table, recs[0])
	}
	var err error
	if !staged {
		if err = t.copy(ctx, table, recs); err == nil {
			return nil
		}
		staged = isUniqueViolation(err)
	}
	if staged {
		if err = t.insertStaged(ctx, table, recs); err == nil {
			return nil
		}
	}
	if !copyRejected(err) {
		return fmt.Errorf("store %d rows in %s: %w", len(recs), table, err)
	}
	half := len(recs) / 2
	if err := t.insert(ctx, table, recs[:half], staged); err != nil {
		return err
	}
	return t.insert(ctx, table, recs[half:], staged)
}

func (t *txn) copy(ctx context.Context, table string, recs []*record) error {
	var n int64
	err := t.savepoint(ctx, func(sp pgx.Tx) error {
		var err error
		n, err = copyInto(ctx, sp, &t.s.copies, pgx.Identifier{table}, table, recs)
		return err
	})
	if err == nil {
		t.res.stored += int(n)
	}
	return err
}

// insertStaged copies the rows into a staging table, inserts those not stored yet, and finds
// the conflicts: rows whose (key, version) is now stored with another hash (stored before, or
// earlier in this batch: of two contents of one version, the one of the lower offset is kept).
func (t *txn) insertStaged(ctx context.Context, table string, recs []*record) error {
	cols := columnNames(tableColumns(table))
	stage, target, list := pgx.Identifier{"stage_" + table}.Sanitize(), pgx.Identifier{table}.Sanitize(), identifiers(cols)
	var stored int64
	var found []conflict
	err := t.savepoint(ctx, func(sp pgx.Tx) error {
		if _, err := sp.Exec(ctx, fmt.Sprintf(`CREATE TEMP TABLE IF NOT EXISTS %s (LIKE %s) ON COMMIT DELETE ROWS`,
			stage, target)); err != nil {
			return fmt.Errorf("create staging table for %s: %w", table, err)
		}
		if _, err := sp.Exec(ctx, "TRUNCATE "+stage); err != nil { // an earlier part of the batch used it
			return fmt.Errorf("empty staging table for %s: %w", table, err)
		}
		if _, err := copyInto(ctx, sp, &t.s.copies, pgx.Identifier{"stage_" + table}, table, recs); err != nil {
			return err
		}
		tag, err := sp.Exec(ctx, fmt.Sprintf(`INSERT INTO %s (%s) SELECT %s FROM %s
			ORDER BY kafka_topic, kafka_partition, kafka_offset ON CONFLICT DO NOTHING`, target, list, list, stage))
		if err != nil {
			return err
		}
		stored = tag.RowsAffected()
		found, err = stagedConflicts(ctx, sp, stage, target, recs)
		return err
	})
	if err != nil {
		return err
	}
	t.res.stored += int(stored)
	t.res.duplicates += len(recs) - int(stored) - len(found)
	t.conflicts = append(t.conflicts, found...)
	return nil
}

func stagedConflicts(ctx context.Context, sp pgx.Tx, stage, target string, recs []*record) ([]conflict, error) {
	byPos := make(map[kafka.Position]*record, len(recs))
	for _, r := range recs {
		byPos[r.pos] = r
	}
	rows, err := sp.Query(ctx, fmt.Sprintf(`SELECT s.kafka_topic, s.kafka_partition, s.kafka_offset, t.content_hash
		FROM %s s JOIN %s t ON t.key = s.key AND t.version = s.version
		WHERE t.content_hash <> s.content_hash`, stage, target))
	if err != nil {
		return nil, fmt.Errorf("find conflicts: %w", err)
	}
	var found []conflict
	var p kafka.Position
	var hash string
	_, err = pgx.ForEachRow(rows, []any{&p.Topic, &p.ID, &p.Offset, &hash}, func() error {
		r := byPos[p]
		if r == nil {
			return fmt.Errorf("conflict at %s: no such record in the batch", p)
		}
		found = append(found, conflict{r, hash})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find conflicts: %w", err)
	}
	return found, nil
}

// insertOne stores one row, or tells why it cannot be: a duplicate, a conflict, or a row
// PostgreSQL rejects or pgx cannot encode (dead-lettered).
func (t *txn) insertOne(ctx context.Context, table string, r *record) error {
	var inserted bool
	var storedHash string
	var execErr error
	err := t.savepoint(ctx, func(sp pgx.Tx) error {
		tag, err := sp.Exec(ctx, insertQuery(table), rowOf(r, tableColumns(table), nil)...)
		if execErr = err; err != nil || tag.RowsAffected() == 1 {
			inserted = err == nil
			return err
		}
		return sp.QueryRow(ctx, fmt.Sprintf(`SELECT content_hash FROM %s WHERE key = $1 AND version = $2`,
			pgx.Identifier{table}.Sanitize()), r.weapon.Key, r.weapon.Version).Scan(&storedHash)
	})
	switch {
	case err == nil && inserted:
		t.res.stored++
	case err == nil && storedHash == r.weapon.ContentHash:
		t.res.duplicates++
	case err == nil:
		t.conflicts = append(t.conflicts, conflict{r, storedHash})
	default:
		return t.reject(ctx, table, r, err, err == execErr)
	}
	return nil
}

// reject dead-letters r if err says that it can never be stored: PostgreSQL rejected its row
// (neverStorable), or pgx could not encode one of its values (fromExec: err is the INSERT's, and
// a value of the row fails to encode for its column). Any other error is returned.
func (t *txn) reject(ctx context.Context, table string, r *record, err error, fromExec bool) error {
	failed := fmt.Errorf("store %s version %d in %s: %w", r.weapon.Key, r.weapon.Version, table, err)
	var reason string
	var pgErr *pgconn.PgError
	switch {
	case neverStorable(err):
		reason = rejection(err)
	case fromExec && !errors.As(err, &pgErr) && !retryable(err) && !errors.Is(err, errSavepointCap):
		col, encErr, checkErr := t.unencodable(ctx, table, rowOf(r, tableColumns(table), nil))
		if checkErr != nil {
			return fmt.Errorf("%w (then, looking for the value pgx could not encode: %w)", failed, checkErr)
		}
		if col == "" {
			return failed
		}
		reason = fmt.Sprintf("column %s: %v", col, encErr)
	default:
		return failed
	}
	t.dead = append(t.dead, deadLetter{r, fmt.Sprintf("%s: store %s version %d in %s: %s",
		r.pos, r.weapon.Key, r.weapon.Version, table, reason)})
	return nil
}

// unencodable finds the value of row that pgx cannot encode for the type of its column of
// table: the reason an INSERT failed before PostgreSQL saw it. It returns the column and pgx's
// error, or no column if every value encodes (the INSERT failed for another reason).
func (t *txn) unencodable(ctx context.Context, table string, row []any) (string, error, error) {
	conn := t.tx.Conn()
	desc, err := conn.PgConn().Prepare(ctx, "", insertQuery(table), nil)
	if err != nil {
		return "", nil, err
	}
	cols, types := tableColumns(table), conn.TypeMap()
	for i, oid := range desc.ParamOIDs {
		if i >= len(row) || i >= len(cols) {
			break
		}
		if _, encErr := types.Encode(oid, types.FormatCodeForOID(oid), row[i], nil); encErr != nil {
			return cols[i].name, encErr, nil
		}
	}
	return "", nil, nil
}

func insertQuery(table string) string {
	cols := columnNames(tableColumns(table))
	params := make([]string, len(cols))
	for i := range params {
		params[i] = fmt.Sprintf("$%d", i+1)
	}
	return fmt.Sprintf(`INSERT INTO %s (%s) VALUES (%s) ON CONFLICT DO NOTHING`,
		pgx.Identifier{table}.Sanitize(), identifiers(cols), strings.Join(params, ", "))
}

func (t *txn) deadLetters(ctx context.Context) error {
	for _, d := range t.dead {
		_, err := t.tx.Exec(ctx, `INSERT INTO sink_dead_letter
			(consumer, kafka_topic, kafka_partition, kafka_offset, key, value, reason)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
			t.s.consumer, d.rec.pos.Topic, d.rec.pos.ID, d.rec.pos.Offset, d.rec.key, d.rec.value, cleanText(d.reason))
		if err != nil {
			return fmt.Errorf("dead-letter %s: %w", d.rec.pos, err)
		}
	}
	return nil
}

// cleanText makes s storable as text: no NUL byte, valid UTF-8.
func cleanText(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", `\x00`), "?")
}

func (t *txn) recordConflicts(ctx context.Context) error {
	if len(t.conflicts) == 0 {
		return nil
	}
	n := len(t.conflicts)
	tables, keys, hashes, topics := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	stored, versions, offsets := make([]string, n), make([]int64, n), make([]int64, n)
	partitions, values := make([]int32, n), make([][]byte, n)
	for i, c := range t.conflicts {
		r := c.rec
		tables[i], keys[i], versions[i], stored[i], hashes[i] = r.table, r.weapon.Key, r.weapon.Version, c.stored, r.weapon.ContentHash
		topics[i], partitions[i], offsets[i], values[i] = r.pos.Topic, r.pos.ID, r.pos.Offset, r.value
	}
	_, err := t.tx.Exec(ctx, `INSERT INTO sink_conflict (consumer, weapon_table, key, version, stored_hash,
			incoming_hash, kafka_topic, kafka_partition, kafka_offset, value)
		SELECT $1, u.* FROM unnest($2::text[], $3::text[], $4::int8[], $5::text[], $6::text[], $7::text[],
			$8::int4[], $9::int8[], $10::bytea[]) AS u
		ON CONFLICT DO NOTHING`,
		t.s.consumer, tables, keys, versions, stored, hashes, topics, partitions, offsets, values)
	if err != nil {
		return fmt.Errorf("record %d version conflicts: %w", n, err)
	}
	return nil
}

func identifiers(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = pgx.Identifier{n}.Sanitize()
	}
	return strings.Join(quoted, ", ")
}
