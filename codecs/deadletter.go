package codecs

import (
	"encoding/json"
	"fmt"
	"time"
)

// DeadLetter is a record the processor could not parse or validate, kept with its reason and
// the original bytes, on DeadLetterTopic. Nothing is dropped silently.
type DeadLetter struct {
	Reason   string    `json:"reason"` // what is wrong, naming the input
	Kind     string    `json:"kind"`   // a short class of the reason: "json", "schema", "type", ...
	Key      string    `json:"key"`    // the input's Kafka key
	Source   Source    `json:"source"` // where the input was read
	Value    []byte    `json:"value"`  // the input's bytes, as read (base64 in JSON)
	FailedAt time.Time `json:"failed_at"`
}

// DeadLetterCodec is the goka codec of DeadLetter.
type DeadLetterCodec struct{}

// Encode implements goka.Codec.
func (DeadLetterCodec) Encode(value any) ([]byte, error) {
	d, ok := value.(*DeadLetter)
	if !ok {
		return nil, fmt.Errorf("dead-letter codec: cannot encode %T, want *DeadLetter", value)
	}
	return json.Marshal(d)
}

// Decode implements goka.Codec.
func (DeadLetterCodec) Decode(data []byte) (any, error) {
	var d DeadLetter
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("decode dead letter: %w", err)
	}
	return &d, nil
}
