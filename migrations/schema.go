package migrations

import "github.com/mhfz/mhfz-pipeline/codecs"

// The schema's names that the Go code reads and writes: each is created by the migration named
// beside it, and declared here once for the sink, mhfz serve, mhfz reprocess and mhfz migrate.
const (
	// PartnerTable is the table of the partner weapons, whatever their class (00001).
	PartnerTable = "partner_weapon"
	// LatestTable holds the latest version of every key of the weapon tables, narrow, for
	// searches; the weapon tables' triggers keep it current, and emptying the weapon tables
	// empties it too (00010).
	LatestTable = "weapon_latest"
	// OffsetsTable holds each sink's Kafka offsets, written in the transaction of its rows (00002).
	OffsetsTable = "kafka_offsets"
	// DeadLetterTable holds the records a sink could not store, with the reason (00002).
	DeadLetterTable = "sink_dead_letter"
	// ConflictTable holds the records whose version was already stored with other content (00004).
	ConflictTable = "sink_conflict"
	// RebuildTable is the marker of a re-processing in progress (00005).
	RebuildTable = "pipeline_rebuild"
	// RebuildSchema holds the weapon tables of a re-processing until they replace those of
	// public: created empty by 00014, owned by RebuilderRole, filled by mhfz reprocess, empty again
	// after its switch. A sink that rebuilds writes there:
	// its connections' search_path puts this schema before public, so the same statements reach
	// the rebuilt tables and the shared state tables.
	RebuildSchema = "mhfz_rebuild"
	// RedriveTable holds the marks of mhfz dlq redrive: one row per dead letter sent back, of the
	// processor's dead-letter topic or of DeadLetterTable (00013, which also adds the
	// redriven_at column of DeadLetterTable).
	RedriveTable = "dlq_redrive"
	// ReaderRole is the read-only role mhfz serve is meant to connect as (00008).
	ReaderRole = "mhfz_reader"
	// WriterRole is the role mhfz sink connects as: rows into the weapon tables and its
	// bookkeeping, no DDL (00014).
	WriterRole = "mhfz_writer"
	// RebuilderRole is the role mhfz reprocess connects as: it owns the weapon tables and the
	// schema RebuildSchema, so that its switch may drop the live tables and move the rebuilt ones
	// into public; it owns none of the sink's bookkeeping tables (00014).
	RebuilderRole = "mhfz_rebuilder"
)

// WeaponTables lists every weapon table: one per weapon type, named as the type, then the
// partners'. The SQL function mhfz_weapon_tables() (00011) returns the same names in the same
// order, for migrations to loop over (a test checks they agree).
func WeaponTables() []string {
	tables := make([]string, 0, len(codecs.WeaponTypes)+1)
	for _, t := range codecs.WeaponTypes {
		tables = append(tables, string(t))
	}
	return append(tables, PartnerTable)
}

// ConsumerTables are the tables that hold a sink's bookkeeping, one row set per consumer name.
func ConsumerTables() []string { return []string{OffsetsTable, DeadLetterTable, ConflictTable} }
