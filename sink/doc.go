// Package sink owns the last stage of the pipeline: it consumes the typed weapons of every
// per-type topic (codecs.Weapon) and stores each version as one row of its type's PostgreSQL
// table, exactly once.
//
// Exactly once: each batch of rows is written together with the next Kafka offset of every
// partition it covers, in one transaction, and the sink starts each partition at the offset
// PostgreSQL holds, never at the one committed in Kafka (which it keeps only as an advisory
// copy), and never below the partition's oldest record (records deleted before the sink stored
// them are reported as lost, with a dead letter saying which offsets). A crash at any moment
// leaves the whole batch and its offsets, or neither. Inside the transaction the offsets of the
// batch's partitions are locked (in a fixed order) and read again, and every message below them
// is skipped; an offset is only ever moved forward, so a stale batch (a rebalance, a second
// instance) cannot write anything twice nor take an offset back. Rows are copied (COPY) straight
// into their table; a batch that holds a (key, version) already stored goes through a staging
// table with INSERT ... ON CONFLICT DO NOTHING instead: the same content again is an upstream
// duplicate, counted; other content is a conflict, kept in sink_conflict, never dropped.
//
// Errors, classified by type and SQLSTATE (pgerrcode), never by their text (errors.go): a
// PostgreSQL that is down, restarting or short of resources, a deadlock or a serialization
// failure, a connection refused, reset or timed out is retried with backoff, without advancing
// any offset. A record that can never be stored (undecodable, a number beyond its column, a
// value PostgreSQL rejects: data exception, constraint violation, program limit; a value that
// cannot be encoded for its column) goes to the sink_dead_letter table with its offset and reason, and the sink goes
// on: a COPY that fails on a row is cut in halves until the bad rows are alone, with at most
// maxSavepoints savepoints per transaction (beyond that, the batch is written as smaller
// batches). What is retried is an allow-list: anything else (the schema is missing, Kafka refuses
// the group, an error nobody classified) stops the sink with an error.
//
// Files by job: sink.go (Config, New, Run), handler.go (the consumer group's claims), writer.go
// (batches in the making), batch.go (what a batch is and did), transaction.go (a batch's
// transaction and its halving), copy.go (the rows' binary COPY), offsets.go (the offsets' upkeep), errors.go (classification),
// rebuild.go (a re-processing's tables), metrics.go (metrics and health).
package sink
