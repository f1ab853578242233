package codecs

import "time"

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
