// Package deadletter is `mhfz dlq`: it lists, shows and re-drives the pipeline's dead letters,
// those of the processor's dead-letter topic (codecs.DeadLetter records: a raw record the
// processor could not turn into a weapon) and the rows of the sink's sink_dead_letter table (a
// typed weapon the sink could not store). Re-driving sends a dead letter back where it failed,
// once the fault is fixed: a raw record to weapon_data, with its original key and value; a
// sink's row to its weapon topic. Each sent record carries headers naming the dead letter it
// came from (mhfz.dlq.*, like Kafka Connect's __connect.errors.* context headers).
//
// # Exactly once
//
// A dead letter is sent once, and a redrive killed at any moment and run again sends what is
// left, once. The marks live in PostgreSQL (migrations.RedriveTable, one row per dead letter
// sent; for the sink's rows also their redriven_at column), and every batch goes through three
// steps:
//
//  1. claim: one transaction inserts the batch's rows in state 'sending', each with the
//     partition its record goes to (chosen here, by the pipeline's key hash, so that a raw record
//     lands where its key's records are) and that partition's end offset read just before, and
//     commits before anything is produced;
//  2. send: the idempotent producer sends the records (a retried send is not written twice)
//     and waits for every in-sync replica's acknowledgement;
//  3. mark: one transaction turns the rows to 'sent', with the offsets the broker gave, and sets
//     the sink rows' redriven_at.
//
// A redrive holds a PostgreSQL session advisory lock from start to end, so two never run at
// once, and a 'sending' row seen by the lock's holder belongs to a redrive that died (the lock
// ends with its session). The holder starts by settling those rows: it reads each of their
// partitions from the end offset recorded at the claim to the current end, and a row whose
// record is there (its mhfz.dlq.id and mhfz.dlq.redrive headers) is marked sent at that offset; a
// row whose record is not is released and sent again. A kill between the claim and the send, in
// the middle of a send, or between the send and the mark, leaves each record of the batch either
// on its partition (found, marked) or nowhere (sent again).
//
// What this does not cover: a send of the dead process still travelling in the network when the
// next redrive settles (its kernel flushes the socket after the process died; on one host, or a
// sound network, within milliseconds) can be appended after the settling read it, and its record
// be sent twice. That copy changes no table: the processor keeps no new version of a key whose
// content did not change, and the sink stores a (key, version) with the same content hash once.
// Kafka transactions would fence the dead producer, but a transaction's commit marker at the end
// of a partition of weapon_data or of a weapon topic is a record that the pipeline's sarama
// consumers never hand out, so they never commit past it: their lag would stay at one, and
// mhfz reprocess, which waits for the lag to reach zero, would never switch.
//
// What cannot be re-driven says why (list and show): a dead letter of the topic that kept only a
// prefix of a large input (codecs.MaxDeadLetterValue), a record of the topic that is not a dead
// letter, and the sink's rows without bytes (records deleted from Kafka before the sink stored
// them).
//
// Files: config.go (Config, New, the filter), letters.go (reading both sources), redrive.go
// (the lock, claim, send, mark), settle.go (what a killed redrive left), output.go (list and
// show).
package deadletter
