// Package sink owns the last stage of the pipeline: it consumes the typed weapons of every
// per-type topic (codecs.Weapon) and stores each version as one row of its type's PostgreSQL
// table, exactly once.
//
// Exactly once: each batch of rows is written together with the next Kafka offset of every
// partition it covers, in one transaction, and the sink starts each partition at the offset
// PostgreSQL holds, never at the one committed in Kafka (which it keeps only as an advisory
// copy). A crash at any moment leaves the whole batch and its offsets, or neither. Inside the
// transaction the offsets are read again FOR UPDATE and every message below them is skipped, so
// a stale batch (a rebalance, a second instance) cannot write anything twice. Rows are copied
// (COPY) straight into their table; a batch that holds an upstream duplicate of a stored
// (key, version) goes through a staging table with INSERT ... ON CONFLICT DO NOTHING instead,
// so that the duplicate is counted, not stored.
//
// Errors: a PostgreSQL that is down or restarting is retried with backoff, without advancing any
// offset; a record that can never be stored (undecodable, violating a constraint) goes to the
// sink_dead_letter table with its offset and reason, and the sink goes on; anything else (the
// schema is missing, Kafka refuses the group) stops the sink with an error.
package sink
