package codecs

import (
	"encoding/json"
	"fmt"
	"time"
)

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

// DedupStateCodec is the goka codec of DedupState.
type DedupStateCodec struct{}

// Encode implements goka.Codec.
func (DedupStateCodec) Encode(value any) ([]byte, error) {
	s, ok := value.(*DedupState)
	if !ok {
		return nil, fmt.Errorf("dedup codec: cannot encode %T, want *DedupState", value)
	}
	return json.Marshal(s)
}

// Decode implements goka.Codec.
func (DedupStateCodec) Decode(data []byte) (any, error) {
	var s DedupState
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decode dedup state: %w", err)
	}
	return &s, nil
}
