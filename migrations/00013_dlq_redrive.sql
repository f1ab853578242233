-- mhfz dlq redrive: what was sent back, so that nothing is sent twice.
--
-- dlq_redrive holds one row per re-driven dead letter, of either source: a record of the
-- processor's dead-letter topic (source 'topic', consumer '', its topic/partition/offset: Kafka
-- records cannot be updated, so the mark lives here) or a row of sink_dead_letter (source
-- 'table', that row's primary key). A row is written in state 'sending', with the partition it
-- goes to and that partition's end before the send, and committed before anything is produced;
-- it becomes 'sent', with the offset it landed at, once the broker acknowledged it. A 'sending'
-- row found by the next redrive (the last one was killed) is settled by reading that partition
-- from scan_from for the record's headers (package deadletter).
--
-- sink_dead_letter.redriven_at is set in the transaction that marks its row 'sent': the rows of
-- the sink are never deleted by a redrive.

-- +goose Up
CREATE TABLE dlq_redrive (
    source           text        NOT NULL CHECK (source IN ('topic', 'table')),
    consumer         text        NOT NULL,
    kafka_topic      text        NOT NULL,
    kafka_partition  integer     NOT NULL,
    kafka_offset     bigint      NOT NULL,
    state            text        NOT NULL CHECK (state IN ('sending', 'sent')),
    redrive_id       text        NOT NULL,
    target_topic     text        NOT NULL,
    target_partition integer     NOT NULL,
    scan_from        bigint      NOT NULL CHECK (scan_from >= 0),
    target_offset    bigint,
    claimed_at       timestamptz NOT NULL DEFAULT now(),
    redriven_at      timestamptz,
    PRIMARY KEY (source, consumer, kafka_topic, kafka_partition, kafka_offset),
    CHECK ((state = 'sent') = (target_offset IS NOT NULL AND redriven_at IS NOT NULL))
);

ALTER TABLE sink_dead_letter ADD COLUMN redriven_at timestamptz;

-- +goose Down
ALTER TABLE sink_dead_letter DROP COLUMN redriven_at;
DROP TABLE dlq_redrive;
