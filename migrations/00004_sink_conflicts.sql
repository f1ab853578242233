-- Version conflicts: a (key, version) that reached the sink again with another content hash than
-- the row already stored. The stored row is left as it is (it was there first); the incoming
-- record is kept here, whole, so that nothing is dropped without a trace. A (key, version) seen
-- again with the same hash is an upstream duplicate and is only counted.
--
-- The primary key is the incoming record's position: a batch written again (after a crash
-- before its commit, or by two instances racing on a fresh partition) records it once.

-- +goose Up
CREATE TABLE sink_conflict (
    consumer        text        NOT NULL,
    weapon_table    text        NOT NULL,
    key             text        NOT NULL,
    version         bigint      NOT NULL,
    stored_hash     text        NOT NULL,
    incoming_hash   text        NOT NULL,
    kafka_topic     text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    value           bytea       NOT NULL,
    detected_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, kafka_topic, kafka_partition, kafka_offset)
);

-- Every conflict of one weapon version: WHERE weapon_table = 'long_sword' AND key = '...'.
CREATE INDEX sink_conflict_key_idx ON sink_conflict (weapon_table, key, version);

-- +goose Down
DROP TABLE sink_conflict;
