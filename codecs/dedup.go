package codecs

import "time"

// DedupState is the processor's group-table value of one key: what it last forwarded, and the
// versions before it. Source is where the input that produced the last version was read.
type DedupState struct {
	ContentHash string    `json:"content_hash"`
	Version     int64     `json:"version"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
	Source      Source    `json:"source"`
	// Recent are the key's last versions (the last one included), oldest first, each with the
	// input that produced it; the processor keeps a few. An input read again after a crash
	// re-emits exactly the version it produced, even when the table already holds a later one.
	// Empty in states written before it existed: the last version alone is known.
	Recent []VersionSource `json:"recent,omitempty"`
}

// VersionSource is one version of a key and the input that produced it.
type VersionSource struct {
	Version     int64  `json:"version"`
	ContentHash string `json:"content_hash"`
	Source      Source `json:"source"`
}
