package codecs

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
	"unicode/utf8"
)

// The bounds of a dead letter, so that the dead letter of any input, however large, can always be
// written (the producer's limit is a few MiB): the first MaxDeadLetterValue bytes of the input are
// kept (the largest weapon rows of the site are a few tens of KB, so a bad row is kept whole),
// with the size and SHA-256 of the whole input; the key and the reason are cut at their bounds.
const (
	MaxDeadLetterValue  = 64 << 10
	MaxDeadLetterKey    = 1 << 10
	MaxDeadLetterReason = 4 << 10
)

// DeadLetter is a record the processor could not turn into a weapon, kept with its reason and
// (a bounded prefix of) the original bytes, on DeadLetterTopic. Nothing is dropped silently.
type DeadLetter struct {
	Reason string `json:"reason"` // what is wrong, naming the input
	Kind   string `json:"kind"`   // a short class of the reason: "json", "utf8", "panic", ...
	Key    string `json:"key"`    // the input's Kafka key (its first MaxDeadLetterKey bytes)
	Source Source `json:"source"` // where the input was read
	// Value is the input's first MaxDeadLetterValue bytes, as read (base64 in JSON).
	Value []byte `json:"value"`
	// Size is the input's size in bytes, and SHA256 the hex SHA-256 of the whole input, so that
	// a truncated input can still be identified on weapon_data.
	Size      int       `json:"size"`
	SHA256    string    `json:"sha256"`
	Truncated bool      `json:"truncated,omitempty"` // Value is a prefix of the input
	FailedAt  time.Time `json:"failed_at"`
}

// NewDeadLetter builds the dead letter of one input, within the bounds above.
func NewDeadLetter(kind, reason, key string, src Source, value []byte, at time.Time) *DeadLetter {
	sum := sha256.Sum256(value)
	d := &DeadLetter{Reason: clip(reason, MaxDeadLetterReason), Kind: kind, Key: clip(key, MaxDeadLetterKey),
		Source: src, Value: value, Size: len(value), SHA256: hex.EncodeToString(sum[:]), FailedAt: at}
	if len(value) > MaxDeadLetterValue {
		d.Value, d.Truncated = value[:MaxDeadLetterValue], true
	}
	return d
}

// clip cuts s to at most n bytes, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…(cut)"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
