// Package processors owns the goka processor of the pipeline (the "router"): it reads the raw
// weapon rows of the scraper from weapon_data, parses each into a typed codecs.Weapon, validates
// it, deduplicates it against its group table (one codecs.DedupState per record key: the hash of
// the last content forwarded, its version, first and last seen, and where its input was read), and
// routes new or changed versions to the topic of their weapon type, or the records it could not
// decode, parse or validate to the dead-letter topic with their reason.
//
// It owns the interpretation of the site's cells (Parse): the raw records stay as the page said
// them, so that a better parser can re-process them (mhfz reprocess) without a re-scrape.
package processors
