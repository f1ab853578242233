package browse

import (
	"bufio"
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"time"

	json "github.com/goccy/go-json"
)

// ExportColumns are the columns of a CSV export, in order: the fields of an Item. The JSON
// columns (elements, sharpness, quality) hold their JSON text.
var ExportColumns = []string{"key", "version", "weapon_type", "page_kind", "page", "row_id", "hidden", "name", "level",
	"rarity", "g_rank", "attack", "affinity", "element", "element_value", "status", "status_value", "elements",
	"defense", "slots", "rank_system", "rank_level", "price", "sharpness", "quality", "scraped_at"}

func (it *Item) csvRecord() []string {
	num := func(p *int32) string {
		if p == nil {
			return ""
		}
		return strconv.Itoa(int(*p))
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return []string{it.Key, strconv.FormatInt(it.Version, 10), it.WeaponType, it.PageKind, it.Page, it.RowID,
		strconv.FormatBool(it.Hidden), it.Name, num(it.Level), num(it.Rarity), num(it.GRank), num(it.Attack),
		num(it.Affinity), str(it.Element), num(it.ElementValue), str(it.Status), num(it.StatusValue),
		string(it.Elements), num(it.Defense), num(it.Slots), str(it.RankSystem), num(it.RankLevel), num(it.Price),
		string(it.Sharpness), string(it.Quality), it.ScrapedAt.UTC().Format(time.RFC3339Nano)}
}

func (s *Server) apiExportCSV(w http.ResponseWriter, r *http.Request) error {
	return s.export(w, r, "text/csv; charset=utf-8", "csv", func(out *bufio.Writer) (func(*Item) error, func() error) {
		cw := csv.NewWriter(out)
		_ = cw.Write(ExportColumns)
		return func(it *Item) error { return cw.Write(it.csvRecord()) },
			func() error { cw.Flush(); return cw.Error() }
	})
}

func (s *Server) apiExportJSONL(w http.ResponseWriter, r *http.Request) error {
	return s.export(w, r, "application/jsonl; charset=utf-8", "jsonl", func(out *bufio.Writer) (func(*Item) error, func() error) {
		enc := json.NewEncoder(out)
		return func(it *Item) error { return enc.Encode(it) }, func() error { return nil }
	})
}

// export streams the results of a search, in its order: the rows are written as PostgreSQL
// sends them, flushed every few hundred, so that neither side holds the whole export. An error
// after the first row has been sent cannot change the status any more: the connection is cut,
// so that the client sees a broken transfer rather than a complete-looking partial file.
func (s *Server) export(w http.ResponseWriter, r *http.Request, contentType, ext string,
	writer func(*bufio.Writer) (write func(*Item) error, flush func() error)) error {
	f := newForm(r)
	q := parseSearch(f, false)
	if f.err != nil {
		return f.err
	}
	stmt, args, err := q.rowsSQL(q.limit)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ExportTimeout)
	defer cancel()
	rows, err := s.db.Query(ctx, stmt, args...)
	if err != nil {
		return s.dbError(ctx, "the export", err)
	}
	defer rows.Close()
	started := false
	out := bufio.NewWriterSize(w, 64<<10)
	write, flush := writer(out)
	var it Item
	n := 0
	streamed := s.obs.exportRows.WithLabelValues(ext)
	for rows.Next() {
		if err := rows.Scan(it.fields()...); err != nil {
			return s.abortExport(ctx, r, started, err)
		}
		if !started {
			started = true
			w.Header().Set("Content-Type", contentType)
			w.Header().Set("Content-Disposition", `attachment; filename="weapons.`+ext+`"`)
			w.WriteHeader(http.StatusOK)
		}
		if err := write(&it); err != nil {
			return s.abortExport(ctx, r, started, err)
		}
		streamed.Inc()
		if n++; n%500 == 0 {
			if err := flush(); err != nil {
				return s.abortExport(ctx, r, started, err)
			}
			if err := out.Flush(); err != nil {
				return s.abortExport(ctx, r, started, err)
			}
			if fl, ok := w.(http.Flusher); ok {
				fl.Flush()
			}
		}
	}
	if err := rows.Err(); err != nil {
		return s.abortExport(ctx, r, started, err)
	}
	if !started { // no row: the header (CSV) alone
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Disposition", `attachment; filename="weapons.`+ext+`"`)
	}
	if err := flush(); err != nil {
		return s.abortExport(ctx, r, true, err)
	}
	if err := out.Flush(); err != nil {
		return s.abortExport(ctx, r, true, err)
	}
	s.log.Debug("export", "request", requestID(r), "rows", n)
	return nil
}

func (s *Server) abortExport(ctx context.Context, r *http.Request, started bool, err error) error {
	if !started {
		return s.dbError(ctx, "the export", err)
	}
	if r.Context().Err() == nil {
		s.log.Error("export failed after it started: connection cut", "request", requestID(r), "err", err)
	}
	panic(http.ErrAbortHandler)
}
