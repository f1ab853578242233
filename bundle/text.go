package bundle

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// CSVColumns are the columns of the CSV files, in order: those of mhfz serve's CSV export
// (browse.ExportColumns), so that a file of either reads the same. The JSON columns hold their
// JSON text; NULL is empty.
var CSVColumns = []string{"key", "version", "weapon_type", "page_kind", "page", "row_id", "hidden", "name", "level",
	"rarity", "g_rank", "attack", "affinity", "element", "element_value", "status", "status_value", "elements", "defense",
	"slots", "rank_system", "rank_level", "price", "sharpness", "quality", "zenith_skill", "scraped_at"}

// textWriter writes the current rows of each weapon table to TABLE.jsonl (every column, the
// JSON ones as JSON) and TABLE.csv (CSVColumns), whichever its formats name.
type textWriter struct {
	dir        string
	jsonl, csv bool
	cols       []column
	csvIdx     []int // index in the row of each of CSVColumns (-1: the table has not that column)
	names      [][]byte
	files      []*os.File
	jw, cw     *bufio.Writer
	csvw       *csv.Writer
	line       []byte
	record     []string
	written    []string // the files written, in order
}

func (w *textWriter) begin(table string, cols []column) error {
	w.cols = cols
	w.names = make([][]byte, len(cols))
	for i, c := range cols {
		w.names[i], _ = json.Marshal(c.name)
	}
	if w.jsonl {
		f, err := w.create(table + ".jsonl")
		if err != nil {
			return err
		}
		w.jw = bufio.NewWriterSize(f, 256<<10)
	}
	if w.csv {
		f, err := w.create(table + ".csv")
		if err != nil {
			return err
		}
		w.cw = bufio.NewWriterSize(f, 256<<10)
		w.csvw = csv.NewWriter(w.cw)
		w.csvIdx = make([]int, len(CSVColumns))
		for i, name := range CSVColumns {
			w.csvIdx[i] = -1
			for j, c := range cols {
				if c.name == name {
					w.csvIdx[i] = j
				}
			}
		}
		w.record = make([]string, len(CSVColumns))
		return w.csvw.Write(CSVColumns)
	}
	return nil
}

func (w *textWriter) create(name string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(w.dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	w.files = append(w.files, f)
	w.written = append(w.written, name)
	return f, nil
}

func (w *textWriter) write(r row, current bool) error {
	if !current {
		return nil
	}
	if w.jw != nil {
		if err := w.writeJSON(r); err != nil {
			return err
		}
	}
	if w.csvw != nil {
		for i, j := range w.csvIdx {
			w.record[i] = ""
			if j >= 0 {
				w.record[i] = csvText(w.cols[j], r[j])
			}
		}
		return w.csvw.Write(w.record)
	}
	return nil
}

// writeJSON writes a row as one JSON object, its columns in the table's order.
func (w *textWriter) writeJSON(r row) error {
	b := append(w.line[:0], '{')
	for i, v := range r {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, w.names[i]...)
		b = append(b, ':')
		b = appendJSON(b, w.cols[i], v)
	}
	b = append(b, '}', '\n')
	w.line = b
	_, err := w.jw.Write(b)
	return err
}

func appendJSON(b []byte, c column, v []byte) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	switch c.kind() {
	case kindInt, kindJSON:
		return append(b, v...)
	case kindBool:
		return strconv.AppendBool(b, string(v) == "t")
	case kindTime:
		s, _ := json.Marshal(csvText(c, v))
		return append(b, s...)
	}
	s, _ := json.Marshal(string(v))
	return append(b, s...)
}

// csvText is a value as the CSV files write it (as mhfz serve's export does): NULL is empty,
// a boolean true or false, a time RFC 3339 in UTC.
func csvText(c column, v []byte) string {
	if v == nil {
		return ""
	}
	switch c.kind() {
	case kindBool:
		return strconv.FormatBool(string(v) == "t")
	case kindTime:
		if t, err := time.Parse(pgTimeLayout, string(v)); err == nil {
			return t.UTC().Format(time.RFC3339Nano)
		}
	}
	return string(v)
}

func (w *textWriter) end() error {
	var err error
	if w.csvw != nil {
		w.csvw.Flush()
		err = w.csvw.Error()
	}
	for _, bw := range []*bufio.Writer{w.jw, w.cw} {
		if bw != nil && err == nil {
			err = bw.Flush()
		}
	}
	w.jw, w.cw, w.csvw = nil, nil, nil
	err = w.closeFiles(err)
	if err != nil {
		return fmt.Errorf("write the text files: %w", err)
	}
	return nil
}

func (w *textWriter) closeFiles(err error) error {
	for _, f := range w.files {
		if e := f.Close(); err == nil {
			err = e
		}
	}
	w.files = nil
	return err
}
