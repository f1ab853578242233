package browse

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"

	json "github.com/goccy/go-json"
)

// jsonFields lists the members of the JSON object of a struct type, in order, the members of its
// embedded structs included.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// The members that fields= may pick: of a weapon in a list, and of the weapon route's answer.
var (
	apiItemFields = jsonFields(reflect.TypeFor[APIItem]())
	weaponFields  = jsonFields(reflect.TypeFor[Weapon]())
)

// parseFields reads fields= (repeated or comma-separated): the members to answer, in the order
// given; nil when absent. An unknown name is refused, naming the known ones.
func parseFields(f *form, valid []string) []string {
	if _, ok := f.v["fields"]; !ok {
		return nil
	}
	names := f.list("fields")
	if len(names) == 0 {
		f.fail("fields: empty: name the members to answer (known: %s)", strings.Join(valid, ", "))
		return nil
	}
	var out []string
	for _, n := range names {
		if !slices.Contains(valid, n) {
			f.fail("fields: unknown field %q (known: %s)", clip(n), strings.Join(valid, ", "))
			return nil
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// pick is v's JSON object with only the members named, in the order named (a member v has not
// is left out).
func pick(v any, fields []string) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode the answer: %w", err)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		return nil, fmt.Errorf("pick fields: %w", err)
	}
	var out bytes.Buffer
	out.WriteByte('{')
	for _, name := range fields {
		m, ok := members[name]
		if !ok {
			continue
		}
		if out.Len() > 1 {
			out.WriteByte(',')
		}
		k, _ := json.Marshal(name)
		out.Write(k)
		out.WriteByte(':')
		out.Write(m)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// pickEach picks the fields of each of items.
func pickEach[T any](items []T, fields []string) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(items))
	for i := range items {
		var err error
		if out[i], err = pick(items[i], fields); err != nil {
			return nil, err
		}
	}
	return out, nil
}
