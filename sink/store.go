package sink

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mhfz/mhfz-pipeline/migrations"
)

// partition names one Kafka partition.
type partition struct {
	topic string
	id    int32
}

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

// batchResult counts what one committed batch did.
type batchResult struct {
	stored       int // new rows
	duplicates   int // (key, version) already stored with the same content: an upstream duplicate
	conflicts    int // (key, version) already stored with other content: kept in sink_conflict
	skipped      int // below the partition's next_offset: already handled by an earlier batch
	deadLettered int
	savepoints   int                 // taken by the transaction
	next         map[partition]int64 // the offsets written
	partitions   []partition         // the batch's, in lock order
	locked       time.Time           // when the transaction held the locks of the partitions' offsets
	written      time.Time           // when it had written everything and still held them (before COMMIT)
	committed    time.Time           // when it had committed
	firstDead    string              // the first dead letter's reason, for the logs
	firstClash   string              // the first conflict, for the logs
}

// deadLetter is a record that can never be stored, and why.
type deadLetter struct {
	rec    *record
	reason string
}

// conflict is a record whose (key, version) is stored already with another content hash.
type conflict struct {
	rec    *record
	stored string // the stored row's content hash
}

func (c conflict) String() string {
	return fmt.Sprintf("%s version %d in %s: stored content %s, incoming %s (%s/%d@%d)", c.rec.weapon.Key,
		c.rec.weapon.Version, c.rec.table, c.stored, c.rec.weapon.ContentHash, c.rec.topic, c.rec.partition, c.rec.offset)
}

// store writes batches and offsets to PostgreSQL. Its methods run one transaction each and
// return the database's errors unchanged, so that the caller can tell retryable ones (see
// retryable) from the others.
type store struct {
	pool     *pgxpool.Pool
	consumer string
	trace    func(event string)

	peakSavepoints atomic.Int64 // the most savepoints one transaction took
}

// checkSchema fails (SQLSTATE 42P01) if a table the sink writes is missing.
func (s *store) checkSchema(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `SELECT 'kafka_offsets'::regclass, 'sink_dead_letter'::regclass, 'sink_conflict'::regclass`)
	return err
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

// write stores one batch and the new offsets in one transaction. The offsets of the batch's
// partitions are read again FOR UPDATE first: records below them were stored by an earlier
// batch (this one is a replay after a crash or a rebalance) and are skipped, so no record is
// ever handled twice. errSavepointCap: nothing was written, write the batch in parts.
func (s *store) write(ctx context.Context, recs []*record) (batchResult, error) {
	parts, firsts := partitionsOf(recs)
	var res batchResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		t := &txn{s: s, tx: tx, res: batchResult{next: map[partition]int64{}}}
		defer func() { s.notePeak(t.savepoints) }()
		stored, err := t.lockOffsets(ctx, parts, firsts)
		if err != nil {
			return err
		}
		res.locked = time.Now()
		s.trace("begin")
		byTable := t.route(recs, stored)
		tables := make([]string, 0, len(byTable))
		for table := range byTable {
			tables = append(tables, table)
		}
		sort.Strings(tables) // a fixed lock order
		for _, table := range tables {
			if err := t.insert(ctx, table, byTable[table], false); err != nil {
				return err
			}
		}
		if err := t.finish(ctx, parts); err != nil {
			return err
		}
		t.res.locked, t.res.written = res.locked, time.Now()
		res = t.res
		return nil
	})
	if err != nil {
		return batchResult{}, err
	}
	res.committed = time.Now()
	res.partitions = parts
	s.trace("commit")
	return res, nil
}

func (s *store) notePeak(n int) {
	for {
		peak := s.peakSavepoints.Load()
		if int64(n) <= peak || s.peakSavepoints.CompareAndSwap(peak, int64(n)) {
			return
		}
	}
}

// partitionsOf returns the partitions of recs, sorted (the order their offsets are locked in),
// and the first offset of each in recs.
func partitionsOf(recs []*record) ([]partition, []int64) {
	first := map[partition]int64{}
	var parts []partition
	for _, r := range recs {
		p := partition{r.topic, r.partition}
		if _, seen := first[p]; !seen {
			first[p] = r.offset
			parts = append(parts, p)
		}
	}
	sort.Slice(parts, func(i, j int) bool {
		if parts[i].topic != parts[j].topic {
			return parts[i].topic < parts[j].topic
		}
		return parts[i].id < parts[j].id
	})
	firsts := make([]int64, len(parts))
	for i, p := range parts {
		firsts[i] = first[p]
	}
	return parts, firsts
}

func partitionArrays(parts []partition) ([]string, []int32) {
	topics, ids := make([]string, len(parts)), make([]int32, len(parts))
	for i, p := range parts {
		topics[i], ids[i] = p.topic, p.id
	}
	return topics, ids
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

// lockOffsets locks the offsets of parts, in their order (two transactions on the same
// partitions cannot deadlock), and returns them. Only the batch's partitions are locked: the
// batches of other partitions (another instance's) are written meanwhile, in parallel.
//
// A partition that has no offset yet gets its row first, at the batch's first offset of it
// (firsts), so that the row lock serializes even the first transactions of a partition: two
// instances racing on it (a rebalance while a transaction is open) wait for each other on the
// row's key, and the later one reads the offset the earlier one committed and skips what it
// stored. Rows are created, then locked, each in the same order.
func (t *txn) lockOffsets(ctx context.Context, parts []partition, firsts []int64) (map[partition]int64, error) {
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

// route sorts the records to store by table, skips those below the stored offsets, sets aside
// those that cannot be stored, and computes the partitions' next offsets.
func (t *txn) route(recs []*record, stored map[partition]int64) map[string][]*record {
	byTable := map[string][]*record{}
	for _, r := range recs {
		p := partition{r.topic, r.partition}
		if r.offset < max(stored[p], t.res.next[p]) {
			t.res.skipped++
			continue
		}
		t.res.next[p] = r.offset + 1
		if r.row == nil {
			t.dead = append(t.dead, deadLetter{r, r.reason})
			continue
		}
		byTable[r.table] = append(byTable[r.table], r)
	}
	return byTable
}

// finish writes the dead letters, the conflicts and the offsets.
func (t *txn) finish(ctx context.Context, parts []partition) error {
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

func rowsOf(recs []*record) pgx.CopyFromSource {
	return pgx.CopyFromSlice(len(recs), func(i int) ([]any, error) { return recs[i].row, nil })
}

func (t *txn) copy(ctx context.Context, table string, recs []*record) error {
	var n int64
	err := t.savepoint(ctx, func(sp pgx.Tx) error {
		var err error
		n, err = sp.CopyFrom(ctx, pgx.Identifier{table}, columnNames(tableColumns(table)), rowsOf(recs))
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
		if _, err := sp.CopyFrom(ctx, pgx.Identifier{"stage_" + table}, cols, rowsOf(recs)); err != nil {
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
	type pos struct {
		topic     string
		partition int32
		offset    int64
	}
	byPos := make(map[pos]*record, len(recs))
	for _, r := range recs {
		byPos[pos{r.topic, r.partition, r.offset}] = r
	}
	rows, err := sp.Query(ctx, fmt.Sprintf(`SELECT s.kafka_topic, s.kafka_partition, s.kafka_offset, t.content_hash
		FROM %s s JOIN %s t ON t.key = s.key AND t.version = s.version
		WHERE t.content_hash <> s.content_hash`, stage, target))
	if err != nil {
		return nil, fmt.Errorf("find conflicts: %w", err)
	}
	var found []conflict
	var p pos
	var hash string
	_, err = pgx.ForEachRow(rows, []any{&p.topic, &p.partition, &p.offset, &hash}, func() error {
		r := byPos[p]
		if r == nil {
			return fmt.Errorf("conflict at %s/%d@%d: no such record in the batch", p.topic, p.partition, p.offset)
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
		tag, err := sp.Exec(ctx, insertQuery(table), r.row...)
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
	case neverStorable(err) || (err == execErr && t.unencodable(ctx, err)):
		t.dead = append(t.dead, deadLetter{r, fmt.Sprintf("%s/%d@%d: store %s version %d in %s: %s",
			r.topic, r.partition, r.offset, r.weapon.Key, r.weapon.Version, table, nameArg(err, table))})
	default:
		return fmt.Errorf("store %s version %d in %s: %w", r.weapon.Key, r.weapon.Version, table, err)
	}
	return nil
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

// unencodable reports whether err, from an INSERT, says pgx could not encode a value: an
// error of the client (no SQLSTATE) while the connection is alive. Network failures close the
// connection; a cancelled context is the sink stopping.
func (t *txn) unencodable(ctx context.Context, err error) bool {
	var pgErr *pgconn.PgError
	return !errors.As(err, &pgErr) && !errors.Is(err, errSavepointCap) && ctx.Err() == nil && !t.tx.Conn().IsClosed()
}

// argIndex finds pgx's "failed to encode args[N]".
var argIndex = regexp.MustCompile(`args\[(\d+)\]`)

// nameArg is err's text, with the column named if PostgreSQL names it or if err is pgx's
// about one of the arguments.
func nameArg(err error, table string) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.ColumnName != "" {
		return fmt.Sprintf("column %s: %v", pgErr.ColumnName, err)
	}
	cols := tableColumns(table)
	if m := argIndex.FindStringSubmatch(err.Error()); m != nil {
		if i, convErr := strconv.Atoi(m[1]); convErr == nil && i < len(cols) {
			return fmt.Sprintf("column %s: %v", cols[i].name, err)
		}
	}
	return err.Error()
}

func (t *txn) deadLetters(ctx context.Context) error {
	for _, d := range t.dead {
		_, err := t.tx.Exec(ctx, `INSERT INTO sink_dead_letter
			(consumer, kafka_topic, kafka_partition, kafka_offset, key, value, reason)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
			t.s.consumer, d.rec.topic, d.rec.partition, d.rec.offset, d.rec.key, d.rec.value, cleanText(d.reason))
		if err != nil {
			return fmt.Errorf("dead-letter %s/%d@%d: %w", d.rec.topic, d.rec.partition, d.rec.offset, err)
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
		topics[i], partitions[i], offsets[i], values[i] = r.topic, r.partition, r.offset, r.value
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

// saveOffsets writes the batch's next offsets (parts: in lock order). An offset only moves
// forward: lockOffsets serializes the transactions of a partition already, and this makes sure
// no batch could ever take an offset back.
func (t *txn) saveOffsets(ctx context.Context, parts []partition) error {
	var topics []string
	var ids []int32
	var offsets []int64
	for _, p := range parts {
		if n, ok := t.res.next[p]; ok {
			topics, ids, offsets = append(topics, p.topic), append(ids, p.id), append(offsets, n)
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
func (s *store) skipLost(ctx context.Context, p partition, oldest int64) (int64, error) {
	var lost int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var next int64
		err := tx.QueryRow(ctx, `SELECT next_offset FROM kafka_offsets
			WHERE consumer = $1 AND topic = $2 AND partition = $3 FOR UPDATE`, s.consumer, p.topic, p.id).Scan(&next)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && next >= oldest) {
			return nil
		}
		if err != nil {
			return err
		}
		lost = oldest - next
		_, err = tx.Exec(ctx, `INSERT INTO sink_dead_letter (consumer, kafka_topic, kafka_partition, kafka_offset, reason)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, s.consumer, p.topic, p.id, next,
			fmt.Sprintf("%s/%d: offsets %d to %d (%d records) were deleted from Kafka before the sink stored them",
				p.topic, p.id, next, oldest-1, lost))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE kafka_offsets SET next_offset = $4
			WHERE consumer = $1 AND topic = $2 AND partition = $3`, s.consumer, p.topic, p.id, oldest)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("record the records lost from %s/%d: %w", p.topic, p.id, err)
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

func identifiers(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = pgx.Identifier{n}.Sanitize()
	}
	return strings.Join(quoted, ", ")
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == pgerrcode.UniqueViolation
}

// neverStorable reports whether err says a row can never be stored, whatever the retries: a
// data exception (a NUL byte, an out-of-range number), an integrity constraint violation or a
// program limit (an index row too large). The row is dead-lettered.
func neverStorable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	c := pgErr.Code
	return pgerrcode.IsDataException(c) || pgerrcode.IsIntegrityConstraintViolation(c) || pgerrcode.IsProgramLimitExceeded(c)
}

// copyRejected reports whether a COPY failed because of one of its rows: neverStorable, or
// cancelled (query_canceled), which is what PostgreSQL answers when pgx aborts the COPY
// because it cannot encode a value. A cancel by an operator or a statement timeout looks the
// same; the halves are then tried again, and a single row's INSERT tells them apart.
func copyRejected(err error) bool {
	var pgErr *pgconn.PgError
	return neverStorable(err) || (errors.As(err, &pgErr) && pgErr.Code == pgerrcode.QueryCanceled)
}

// retryable reports whether err may go away by itself: the connection failed (pgx's network
// errors carry no SQLSTATE), the server is shutting down or the statement was cancelled
// (operator intervention), a lack of resources, a serialization failure or deadlock, a system
// error. Errors PostgreSQL returns for the statement itself (a missing table: the schema is not
// migrated) are not, nor a stop (context), nor errSavepointCap (the batch must be cut).
func retryable(err error) bool {
	if errors.Is(err, errSavepointCap) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return true
	}
	c := pgErr.Code
	return pgerrcode.IsConnectionException(c) || pgerrcode.IsOperatorIntervention(c) ||
		pgerrcode.IsInsufficientResources(c) || pgerrcode.IsTransactionRollback(c) || pgerrcode.IsSystemError(c)
}

// explain adds a hint to an error that a missing migration causes.
func explain(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == pgerrcode.UndefinedTable || pgErr.Code == pgerrcode.UndefinedColumn) {
		return fmt.Errorf("%w (the database schema is missing or old: run `mhfz migrate up`)", err)
	}
	return err
}
