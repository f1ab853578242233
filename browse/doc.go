// Package browse is the JSON API and the web page over the stored weapons: search (names in
// English and Japanese, the site's ids, filters, sorts, keyset pages), one weapon with its
// levels, sharpness, materials, upgrade tree and history, the weapons that use an item, the
// versions each scrape created, and exports of any search as CSV or JSON Lines.
//
// It only reads PostgreSQL, as the read-only role mhfz_reader (migrations/00008_reader.sql), on
// connections that are read-only too, and every query has a timeout. Everything the page needs
// is embedded in the binary: it works offline. The API is described by openapi.yaml, served at
// /api/openapi.yaml and /api/openapi.json.
package browse
