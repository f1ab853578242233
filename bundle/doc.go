// Package bundle owns the downloadable dataset: its files (one SQLite database with every weapon
// table's rows, current and full history, the materials and the upgrade links; one JSON Lines
// and one CSV file per weapon table), their version (a content hash of the rows, which the
// files' names carry), how they are published (built in a temporary folder, moved into place
// whole, a durable `latest` pointer) and kept (the last Keep versions).
//
// It only reads PostgreSQL, as the read-only role mhfz_reader, in one read-only snapshot
// transaction, so that every file of a version shows the same data. `mhfz publish` runs
// Publisher.Run (once, or every Config.Every); `mhfz export` writes the files by hand
// (Publisher.Export). mhfz serve serves what it publishes (browse reads its manifest.json).
package bundle
