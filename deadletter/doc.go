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
// A dead letter is sent at most once, and a redrive killed at any moment and run again sends
// what is left, once. The marks live in PostgreSQL (migrations.RedriveTable, one row per dead
// letter sent; for the sink's rows also their redriven_at column), and every batch goes
// through three steps:
//
//  1. claim: one transaction inserts the batch's rows in state 'sending', each with the
//     partition its record goes to (chosen here, by the pipeline's key hash, so that a raw record
//     lands where its key's records are) and that partition's end offset read just before, and
//     commits before anything is produced;
//  2. send: the records are produced in one Kafka transaction (acks from every in-sync replica)
//     and committed;
//  3. mark: one transaction turns the rows to 'sent', with the offsets the broker gave, and sets
//     the sink rows' redriven_at.
//
// A redrive starts by settling the 'sending' rows a killed one left: it reads each of their
// partitions from the end offset recorded at the claim to the current end, and a row whose
// record is there (its mhfz.dlq.id and mhfz.dlq.redrive headers) is marked sent at that offset;
// a row whose record is not is released and sent again. That reading is final only if the dead
// redrive can append nothing more: its requests may still be on their way to the broker when the
// next one starts. The Kafka transaction is what stops them: every redrive of a deployment has
// the same transactional id, and the producer of the next one fences the last (InitProducerId
// bumps the epoch, aborts its open transaction, and the broker refuses its later requests)
// before the settling reads anything.
//
// A record of a transaction that was aborted (the redrive died between the send and the Kafka
// commit) stays in the log, and the pipeline's consumers read uncommitted records (sarama's
// default, which the processor and the sink keep): it was delivered, so the settling counts it
// as sent. The settling reads the partitions with raw fetches, which see the transactions'
// control records as well, so that it knows where a partition ends.
//
// What cannot be re-driven says why (list and show): a dead letter of the topic that kept only a
// prefix of a large input (codecs.MaxDeadLetterValue), a record of the topic that is not a dead
// letter, and the sink's rows without bytes (records deleted from Kafka before the sink stored
// them).
//
// Files: config.go (Config, New, the filter), letters.go (reading both sources), redrive.go
// (claim, send, mark), settle.go (what a killed redrive left), output.go (list and show).
package deadletter
