// Package processors owns the goka processor of the pipeline (the "router"): it reads the raw
// weapon rows of the scraper from weapon_data, decodes each, has package weaponrow turn it into a
// typed codecs.Weapon, deduplicates it against its group table (one codecs.DedupState per record
// key: the hash of the last content forwarded, its version, first and last seen, where its input
// was read, and the recent versions), and routes new or changed versions to the topic of their
// weapon type, or the records it could not decode or parse to the dead-letter topic with their
// reason. It also owns the router's lifecycle (New, Run: waiting for Kafka, creating the topics,
// restarting after a Kafka failure that passes, the lag monitor, metrics, health and progress),
// its counters (Stats) and its Kafka setup (topics, goka options, reset).
//
// The interpretation of the site's cells is package weaponrow's, from each cell's HTML: the raw
// records stay as the page said them, so that a better parser can re-process them (mhfz
// reprocess) without a re-scrape. That holds for the records of every schema this build reads:
// schema-1 records also carry the scraper's text, links, marks and sharpness bars of each cell,
// which Decode skips; their HTML is read as a schema-2 record's is, to the same weapon.
package processors
