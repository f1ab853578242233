// Package codecs owns the records that travel on Kafka between the stages of the pipeline
// (the raw weapon rows the scraper emits, the typed and versioned weapons the processor routes,
// the dead letters, the processor's deduplication state), their goka codecs, and the names of the
// topics and groups they travel on. It is the leaf of the module: every stage imports it, and it
// imports none of them.
package codecs
