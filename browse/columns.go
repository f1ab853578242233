package browse

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// Item is one weapon row in the results of a search, and the one definition of the columns of
// a weapon table that browse reads by name (db, as pgx.RowToStructByName reads them): a column
// added here is selected by every query (itemColumns), shown in the results and exported
// (ExportColumns, in this order; csvCell must know its Go type); sortColumns may name it.
type Item struct {
	Key          string          `json:"key" db:"key"`
	Version      int64           `json:"version" db:"version"`
	WeaponType   string          `json:"weapon_type" db:"weapon_type"`
	PageKind     string          `json:"page_kind" db:"page_kind"`
	Page         string          `json:"page" db:"page"`
	RowID        string          `json:"row_id" db:"row_id"`
	Hidden       bool            `json:"hidden" db:"hidden"`
	Name         string          `json:"name" db:"name"`
	Level        *int32          `json:"level" db:"level"`
	Rarity       *int32          `json:"rarity" db:"rarity"`
	GRank        *int32          `json:"g_rank" db:"g_rank"`
	Attack       *int32          `json:"attack" db:"attack"`
	Affinity     *int32          `json:"affinity" db:"affinity"`
	Element      *string         `json:"element" db:"element"`
	ElementValue *int32          `json:"element_value" db:"element_value"`
	Status       *string         `json:"status" db:"status"`
	StatusValue  *int32          `json:"status_value" db:"status_value"`
	Elements     json.RawMessage `json:"elements" db:"elements"`
	Defense      *int32          `json:"defense" db:"defense"`
	Slots        *int32          `json:"slots" db:"slots"`
	RankSystem   *string         `json:"rank_system" db:"rank_system"`
	RankLevel    *int32          `json:"rank_level" db:"rank_level"`
	Price        *int32          `json:"price" db:"price"`
	Sharpness    json.RawMessage `json:"sharpness" db:"sharpness"`
	Quality      json.RawMessage `json:"quality" db:"quality"`
	ZenithSkill  *string         `json:"zenith_skill" db:"zenith_skill"`
	ScrapedAt    time.Time       `json:"scraped_at" db:"scraped_at"`
}

// weaponRecord is a weapon row with what the views of one weapon (its page, its levels, its
// upgrade tree, its recipes, its changes) read besides Item's columns. Each query selects
// Item's columns and the extras it needs (pgx.RowToStructByNameLax leaves the others zero).
type weaponRecord struct {
	Item
	Materials   json.RawMessage    `db:"materials"`
	Tower       json.RawMessage    `db:"tower"`
	UpgradeFrom []codecs.WeaponRef `db:"upgrade_from"`
	UpgradeTo   []codecs.WeaponRef `db:"upgrade_to"`
	Record      json.RawMessage    `db:"record"`   // the whole row as JSON (which columns: the query says)
	Previous    json.RawMessage    `db:"previous"` // the version before, the same way; null for a first version
}

// itemIndex maps each of Item's columns to its field.
var itemIndex = func() map[string]int {
	t := reflect.TypeFor[Item]()
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		m[t.Field(i).Tag.Get("db")] = i
	}
	return m
}()

// ExportColumns are the columns of a CSV export, in order: the fields of an Item. The JSON
// columns (elements, sharpness, quality) hold their JSON text.
var ExportColumns = func() []string {
	t := reflect.TypeFor[Item]()
	out := make([]string, t.NumField())
	for i := range out {
		out[i] = t.Field(i).Tag.Get("db")
	}
	return out
}()

// itemColumns are Item's columns of the weapon table aliased w, in its order.
var itemColumns = columnsOf("w")

// columnsOf lists Item's columns of the table aliased alias, then extras (written as given).
func columnsOf(alias string, extras ...string) string {
	cols := make([]string, 0, len(ExportColumns)+len(extras))
	for _, c := range ExportColumns {
		cols = append(cols, alias+"."+c)
	}
	return strings.Join(append(cols, extras...), ", ")
}

// column is the value of one of Item's columns (nil for a column it has not).
func (it *Item) column(name string) any {
	i, ok := itemIndex[name]
	if !ok {
		return nil
	}
	return reflect.ValueOf(it).Elem().Field(i).Interface()
}

func (it *Item) csvRecord() []string {
	v := reflect.ValueOf(it).Elem()
	out := make([]string, v.NumField())
	for i := range out {
		out[i] = csvCell(v.Field(i).Interface())
	}
	return out
}

// csvCell is a column's value as a CSV export writes it: NULL is empty, JSON is its text.
func csvCell(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		return strconv.FormatBool(v)
	case *int32:
		if v == nil {
			return ""
		}
		return strconv.Itoa(int(*v))
	case *string:
		if v == nil {
			return ""
		}
		return *v
	case json.RawMessage:
		return string(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	}
	panic(fmt.Sprintf("browse: an Item column of type %T has no CSV form: add it to csvCell", v))
}
