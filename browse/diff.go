package browse

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"

	json "github.com/goccy/go-json"
)

// Change is one field of a weapon that differs between a version and the one before: the
// field (a column of the weapon's table, as in Weapon.Weapon), the places inside it that changed
// (at most maxPaths: "extra.source", "sharpness[1][4].hits"), and both values.
type Change struct {
	Field  string          `json:"field"`
	Paths  []string        `json:"paths"`
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
	// Details are the values at each path, when the field is an object or a list that changed
	// inside (the whole field is in Before and After).
	Details []PathChange `json:"details,omitempty"`
}

// PathChange is the value before and after at one place inside a field.
type PathChange struct {
	Path   string `json:"path"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

// notContent are the columns of a row that say where and when it was read or how it was
// numbered, not what the site shows (processors.ContentHash leaves them out too), and those
// derived from another column (element, element_value, status and status_value from elements):
// a changed element is one change, of elements.
var notContent = map[string]bool{"key": true, "version": true, "content_hash": true,
	"scraped_at": true, "source": true, "url": true, "kafka_topic": true, "kafka_partition": true,
	"kafka_offset": true, "element": true, "element_value": true, "status": true, "status_value": true}

const maxPaths = 20

// diffRecords returns the fields whose content differs between two rows of one weapon, each as
// its to_jsonb (prev nil: the first version, no change), in alphabetical order.
func diffRecords(prev, cur []byte) ([]Change, error) {
	if prev == nil {
		return []Change{}, nil
	}
	var a, b map[string]json.RawMessage
	if err := json.Unmarshal(prev, &a); err != nil {
		return nil, fmt.Errorf("decode a stored record: %w", err)
	}
	if err := json.Unmarshal(cur, &b); err != nil {
		return nil, fmt.Errorf("decode a stored record: %w", err)
	}
	var fields []string
	for k := range a {
		fields = append(fields, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			fields = append(fields, k)
		}
	}
	slices.Sort(fields)
	changes := []Change{}
	for _, k := range fields {
		if notContent[k] {
			continue
		}
		va, vb := decodeAny(a[k]), decodeAny(b[k])
		if reflect.DeepEqual(va, vb) {
			continue
		}
		var details []PathChange
		diffPaths(k, va, vb, &details)
		c := Change{Field: k, Paths: make([]string, len(details)), Before: orNull(a[k]), After: orNull(b[k])}
		for i, d := range details {
			c.Paths[i] = d.Path
		}
		if len(details) > 1 || (len(details) == 1 && details[0].Path != k) {
			c.Details = details
		}
		changes = append(changes, c)
	}
	return changes, nil
}

func orNull(v json.RawMessage) json.RawMessage {
	if v == nil {
		return json.RawMessage("null")
	}
	return v
}

// decodeAny decodes a JSON value with its numbers as written (nil for an absent value).
func decodeAny(raw json.RawMessage) any {
	if raw == nil {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return string(raw)
	}
	return v
}

// diffPaths appends the places where a and b differ, with both values, descending into objects
// and into arrays of the same length.
func diffPaths(path string, a, b any, out *[]PathChange) {
	if len(*out) >= maxPaths || reflect.DeepEqual(a, b) {
		return
	}
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			keys := make([]string, 0, len(av)+len(bv))
			for k := range av {
				keys = append(keys, k)
			}
			for k := range bv {
				if _, ok := av[k]; !ok {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			for _, k := range keys {
				diffPaths(path+"."+k, av[k], bv[k], out)
			}
			return
		}
	case []any:
		if bv, ok := b.([]any); ok && len(av) == len(bv) {
			for i := range av {
				diffPaths(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i], out)
			}
			return
		}
	}
	*out = append(*out, PathChange{Path: path, Before: a, After: b})
}
