package processors

import (
	"errors"
	"fmt"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/processors/weaponrow"
)

// The kinds of dead letters: a short class of what is wrong with an input, for counting and for
// codecs.DeadLetter.Kind. None of them is retryable: the same bytes fail the same way; a fixed
// parser re-reads them with `mhfz dlq redrive` (those records alone) or `mhfz reprocess` (everything).
const (
	KindEmpty    = "empty"     // a message without bytes
	KindTooLarge = "too_large" // larger than Config.MaxMessageBytes
	KindUTF8     = "utf8"      // bytes that are not valid UTF-8
	KindShape    = "shape"     // JSON, but not of a record's shape: an array, a number, a field of the wrong type
	KindJSON     = "json"      // malformed JSON
	KindSchema   = "schema"    // a schema version this build cannot read
	KindEnvelope = "envelope"  // missing key or row id, or a key that is not the message's key
	KindType     = "type"      // missing or unknown weapon type
	KindLayout   = weaponrow.KindLayout
	KindParse    = weaponrow.KindParse
	KindInvalid  = weaponrow.KindInvalid
	// KindUnstorable: a value the weapon tables cannot hold (weaponrow.Validate).
	KindUnstorable = weaponrow.KindUnstorable
	// KindPanic: the parser panicked on the record (a bug: the record waits for a fixed parser).
	KindPanic = "panic"
)

// Kinds lists every dead-letter kind, in a stable order.
var Kinds = []string{KindEmpty, KindTooLarge, KindUTF8, KindShape, KindJSON, KindSchema, KindEnvelope,
	KindType, KindLayout, KindParse, KindInvalid, KindUnstorable, KindPanic}

// RecordError is why one input could not be turned into a weapon: its kind and what is wrong.
type RecordError struct {
	Kind string
	Err  error
}

func (e *RecordError) Error() string { return e.Err.Error() }
func (e *RecordError) Unwrap() error { return e.Err }

func recordErr(kind string, format string, args ...any) *RecordError {
	return &RecordError{Kind: kind, Err: fmt.Errorf(format, args...)}
}

// KindOf returns the dead-letter kind of err (KindParse when err does not say).
func KindOf(err error) string {
	var re *RecordError
	if errors.As(err, &re) {
		return re.Kind
	}
	var we *weaponrow.Error
	if errors.As(err, &we) {
		return we.Kind
	}
	return KindParse
}

// classifyDecode gives the kind of a codecs.DecodeRaw or codecs.CheckEnvelope error, by its
// sentinel; an envelope error of no known sentinel is KindEnvelope.
func classifyDecode(err error) string {
	switch {
	case errors.Is(err, codecs.ErrUnknownSchema):
		return KindSchema
	case errors.Is(err, codecs.ErrEmptyMessage):
		return KindEmpty
	case errors.Is(err, codecs.ErrMalformedJSON):
		return KindJSON
	case errors.Is(err, codecs.ErrMissingWeaponType), errors.Is(err, codecs.ErrUnknownWeaponType):
		return KindType
	case errors.Is(err, codecs.ErrMissingKey), errors.Is(err, codecs.ErrMissingRowID):
		return KindEnvelope
	default: // an envelope this build cannot read, whatever it lacks
		return KindEnvelope
	}
}
