-- The sink's own state: the next Kafka offset to read per partition, written in the same
-- transaction as the rows (so PostgreSQL, not Kafka, says where the sink is), and the records
-- the sink could never store, with their bytes, reason and offset.

-- +goose Up
CREATE TABLE kafka_offsets (
    consumer    text    NOT NULL,
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint  NOT NULL CHECK (next_offset >= 0),
    PRIMARY KEY (consumer, topic, partition)
);

CREATE TABLE sink_dead_letter (
    consumer        text        NOT NULL,
    kafka_topic     text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    key             bytea,
    value           bytea,
    reason          text        NOT NULL,
    failed_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, kafka_topic, kafka_partition, kafka_offset)
);

-- +goose Down
DROP TABLE sink_dead_letter;
DROP TABLE kafka_offsets;
