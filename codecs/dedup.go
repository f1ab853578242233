package codecs

import "time"

// DedupState is the processor's group-table value of one key: what it last forwarded.
// Source is where the input that produced that version was read, so that the same input read
// again after a crash re-emits the same version instead of being dropped as unchanged.
type DedupState struct {
	ContentHash string    `json:"content_hash"`
	Version     int64     `json:"version"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
	Source      Source    `json:"source"`
}
