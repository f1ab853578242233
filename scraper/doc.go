// Package scraper owns the first stage of the pipeline: finding the weapon pages of the MHFZ
// Ferias English Project site (over HTTP(S) or in a local copy of its buki/ folder), reading
// every weapon row of their tables into a codecs.RawRecord, and emitting those records to the
// weapon_data topic.
//
// The page parser is a single streaming pass over the tokens of golang.org/x/net/html's Tokenizer
// (no DOM): it is the only approach measured fast enough for the 85 MB site (the tokenizer reads
// about 188 MB/s, html.Parse 47 MB/s, an htmlquery walk 36 MB/s, against a target of 30 MB/s for
// the whole parse). Text and plain tags, nearly all of a page, are read in place with the
// tokenizer's rules, and the tokenizer itself reads the rest (tokens). The small index pages,
// where speed does not matter, are read with htmlquery.
//
// The scraper does not interpret the cells of weapon rows: a raw record carries each cell's inner
// HTML, for the processor to read (and re-read with a better build). It reads the text of the
// header cells only, the column names the cells are filed under.
//
// Bad input never stops a scrape: every problem is an Issue naming the page and row, counted
// in the Summary, and the other rows and pages still go through.
package scraper
