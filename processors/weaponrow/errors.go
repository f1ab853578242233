package weaponrow

import "fmt"

// The kinds of Error: what kept a row from becoming a weapon. None is retryable: the same row
// fails the same way until the parser changes.
const (
	KindLayout     = "layout"     // unknown page kind or table layout
	KindParse      = "parse"      // a cell that does not say what its column means
	KindInvalid    = "invalid"    // no name, an unknown weapon type, or a required column missing
	KindUnstorable = "unstorable" // a value the weapon tables cannot hold (see Validate)
)

// Error is why one raw row could not be turned into a storable weapon: its kind and what is wrong,
// naming the record and the column or field.
type Error struct {
	Kind string
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func rowErr(kind string, format string, args ...any) *Error {
	return &Error{Kind: kind, Err: fmt.Errorf(format, args...)}
}
