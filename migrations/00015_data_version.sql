-- The data's version, for the HTTP caching of mhfz serve (its ETag, Last-Modified and
-- X-Data-Version): a value that changes with every commit that changes the weapon tables, and
-- that no reader sees before the rows it stands for.
--
-- It is read from kafka_offsets, which every such commit writes already:
--   * a batch of the sink stores its rows and moves its partitions' offsets in one transaction
--     (sink/transaction.go), so a reader sees the new offsets exactly when it sees the rows;
--   * the switch of mhfz reprocess moves the rebuilt tables into public and, in the same
--     transaction, deletes the live sink's offsets and gives it the re-processing sink's
--     (UPDATE ... SET consumer), then removes the marker pipeline_rebuild;
--   * `mhfz sink --replay` empties the weapon tables and deletes the consumer's offsets in one
--     transaction.
-- Every row of kafka_offsets gets the time it was last written (stored_at, set by a trigger at
-- the statement that writes it, the last of a sink's transaction), and a statement that deletes
-- offsets records when it did in offsets_deleted. mhfz_data_version() hashes every row of the
-- live consumers (those of a re-processing in progress excluded: its rows are not in public yet)
-- with the time of the last deletion: a commit that wrote an offset or deleted one changes it. A
-- row's time is part of the hash, so a replay that stores the same offsets again still yields a
-- new version. The offsets' rows are the sink's own, locked by its transactions already
-- (partition by partition, so that writers of other partitions never wait): nothing here adds a
-- row that every writer updates. offsets_deleted is written only by deletions (a replay, a
-- switch), which are rare.
--
-- It may change without a change of the weapon tables (a batch that stored only dead letters or
-- rows already stored still moves its offsets): a client then downloads the same answer again,
-- which costs a transfer but never serves an old answer.

-- +goose Up
ALTER TABLE kafka_offsets ADD COLUMN stored_at timestamptz NOT NULL DEFAULT clock_timestamp();

CREATE TABLE offsets_deleted (
    singleton  boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    deleted_at timestamptz NOT NULL
);
INSERT INTO offsets_deleted (deleted_at) VALUES (clock_timestamp());

-- +goose StatementBegin
CREATE FUNCTION mhfz_offsets_stored() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    NEW.stored_at := clock_timestamp();
    RETURN NEW;
END
$fn$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION mhfz_offsets_deleted() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    UPDATE offsets_deleted SET deleted_at = clock_timestamp();
    RETURN NULL;
END
$fn$;
-- +goose StatementEnd

CREATE TRIGGER kafka_offsets_stored BEFORE INSERT OR UPDATE ON kafka_offsets
    FOR EACH ROW EXECUTE FUNCTION mhfz_offsets_stored();
CREATE TRIGGER kafka_offsets_deleted AFTER DELETE OR TRUNCATE ON kafka_offsets
    FOR EACH STATEMENT EXECUTE FUNCTION mhfz_offsets_deleted();

-- version: 16 hex digits of the hash; changed_at: the last write or deletion; age: how long ago
-- that was, by the database's clock (mhfz serve decides with it whether Last-Modified has
-- settled, without trusting its own clock to agree).
-- +goose StatementBegin
CREATE FUNCTION mhfz_data_version(OUT version text, OUT changed_at timestamptz, OUT age interval)
LANGUAGE sql VOLATILE AS $fn$
    SELECT left(md5(d.deleted_at_us::text || ';' || coalesce(o.rows, '')), 16),
           greatest(o.last, d.deleted_at),
           clock_timestamp() - greatest(o.last, d.deleted_at)
    FROM (SELECT (extract(epoch FROM deleted_at) * 1000000)::bigint AS deleted_at_us, deleted_at
          FROM public.offsets_deleted) d,
         (SELECT string_agg(consumer || '/' || topic || '/' || partition || '/' || next_offset || '/' ||
                            (extract(epoch FROM stored_at) * 1000000)::bigint,
                            ';' ORDER BY consumer, topic, partition) AS rows,
                 max(stored_at) AS last
          FROM public.kafka_offsets
          WHERE consumer NOT IN (SELECT consumer FROM public.pipeline_rebuild)) o
$fn$;
-- +goose StatementEnd

GRANT SELECT, UPDATE ON offsets_deleted TO mhfz_writer, mhfz_rebuilder;
GRANT SELECT ON offsets_deleted TO mhfz_reader;
GRANT EXECUTE ON FUNCTION mhfz_data_version() TO mhfz_reader;

-- +goose Down
DROP FUNCTION mhfz_data_version();
DROP TRIGGER kafka_offsets_deleted ON kafka_offsets;
DROP TRIGGER kafka_offsets_stored ON kafka_offsets;
DROP FUNCTION mhfz_offsets_deleted();
DROP FUNCTION mhfz_offsets_stored();
DROP TABLE offsets_deleted;
ALTER TABLE kafka_offsets DROP COLUMN stored_at;
