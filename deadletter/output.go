package deadletter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// ErrNotFound: no dead letter has the identifier show was given.
var ErrNotFound = errors.New("no such dead letter")

// List returns the dead letters the filter selects, oldest first.
func (t *Tool) List(ctx context.Context) ([]*Letter, error) {
	c, err := t.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.close()
	return t.letters(ctx, c, t.cfg.Filter)
}

// Show returns the dead letter of identifier id (as List gives it).
func (t *Tool) Show(ctx context.Context, id string) (*Letter, error) {
	pos, err := parseID(id)
	if err != nil {
		return nil, err
	}
	c, err := t.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.close()
	ls, err := t.letters(ctx, c, Filter{Source: pos.source})
	if err != nil {
		return nil, err
	}
	for _, l := range ls {
		if l.ID == pos.ID() {
			return l, nil
		}
	}
	return nil, fmt.Errorf("dead letter %s: %w", id, ErrNotFound)
}

// maxListReason is how much of a reason a line of the table shows.
const maxListReason = 80

// WriteTable writes the letters as an aligned table, one per line.
func WriteTable(w io.Writer, letters []*Letter) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSOURCE\tKIND\tKEY\tTIME\tREDRIVEN\tREASON")
	for _, l := range letters {
		redriven := "no"
		switch {
		case l.RedrivenAt != nil:
			redriven = l.RedrivenAt.Format(time.RFC3339)
		case l.Blocked != "":
			redriven = "cannot"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.ID, l.Source, l.Kind, oneLine(l.Key, 48),
			l.Time.Format(time.RFC3339), redriven, oneLine(l.Reason, maxListReason))
	}
	return tw.Flush()
}

// oneLine makes s fit a cell: escaped control characters, at most n runes.
func oneLine(s string, n int) string {
	q := strconv.Quote(s)
	q = q[1 : len(q)-1]
	if utf8.RuneCountInString(q) <= n {
		return q
	}
	return string([]rune(q)[:n-1]) + "…"
}

// WriteJSONLines writes the letters as JSON, one per line, without their bytes.
func WriteJSONLines(w io.Writer, letters []*Letter) error {
	enc := json.NewEncoder(w)
	for _, l := range letters {
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	return nil
}

// WriteShow writes one dead letter: its fields, its whole reason and its bytes, indented JSON
// when they are JSON, else quoted with Go's escapes.
func WriteShow(w io.Writer, l *Letter) error {
	var b strings.Builder
	fields := []struct{ name, value string }{
		{"id", l.ID}, {"source", l.Source}, {"kind", l.Kind}, {"key", strconv.Quote(l.Key)},
		{"time", l.Time.Format(time.RFC3339Nano)}, {"target", l.Target}, {"size", strconv.Itoa(l.Size)},
	}
	for _, f := range fields {
		fmt.Fprintf(&b, "%-10s %s\n", f.name+":", f.value)
	}
	if l.RedrivenAt != nil {
		fmt.Fprintf(&b, "%-10s %s\n", "redriven:", l.RedrivenAt.Format(time.RFC3339Nano))
	}
	if l.Blocked != "" {
		fmt.Fprintf(&b, "%-10s %s\n", "cannot:", l.Blocked)
	}
	fmt.Fprintf(&b, "reason:\n  %s\nbytes (%d):\n%s\n", strings.ReplaceAll(l.Reason, "\n", "\n  "), len(l.Value), showBytes(l.Value))
	_, err := io.WriteString(w, b.String())
	return err
}

func showBytes(v []byte) string {
	var out bytes.Buffer
	if json.Valid(v) && json.Indent(&out, v, "  ", "  ") == nil {
		return "  " + out.String()
	}
	return "  " + strconv.Quote(string(v))
}
