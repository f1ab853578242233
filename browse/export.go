package browse

import (
	"bufio"
	"context"
	"encoding/csv"
	"net/http"

	json "github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
)

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
	e := &exportStream{w: w, contentType: contentType, ext: ext, out: bufio.NewWriterSize(w, 64<<10),
		streamed: s.obs.exportRows.WithLabelValues(ext)}
	e.write, e.flush = writer(e.out)
	n, err := e.copy(rows)
	if err != nil {
		return s.abortExport(ctx, r, e.started, err)
	}
	s.log.Debug("export", "request", requestID(r), "rows", n)
	return nil
}

// exportStream writes the rows of an export to its client.
type exportStream struct {
	w                http.ResponseWriter
	contentType, ext string
	out              *bufio.Writer
	write            func(*Item) error
	flush            func() error // the format's own buffer, into out
	streamed         prometheus.Counter
	started          bool // the status has been sent
}

// copy writes every row, then the end; it returns how many rows it wrote.
func (e *exportStream) copy(rows pgx.Rows) (int, error) {
	n := 0
	for rows.Next() {
		it, err := pgx.RowToStructByName[Item](rows)
		if err != nil {
			return n, err
		}
		if !e.started {
			e.started = true
			e.header()
			e.w.WriteHeader(http.StatusOK)
		}
		if err := e.write(&it); err != nil {
			return n, err
		}
		e.streamed.Inc()
		if n++; n%500 == 0 {
			if err := e.push(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	if !e.started { // no row: the header (CSV) alone
		e.header()
	}
	e.started = true // what follows is written with a status of 200, whatever happens
	if err := e.flush(); err != nil {
		return n, err
	}
	return n, e.out.Flush()
}

func (e *exportStream) header() {
	e.w.Header().Set("Content-Type", e.contentType)
	e.w.Header().Set("Content-Disposition", `attachment; filename="weapons.`+e.ext+`"`)
}

// push sends what is written so far to the client.
func (e *exportStream) push() error {
	if err := e.flush(); err != nil {
		return err
	}
	if err := e.out.Flush(); err != nil {
		return err
	}
	if fl, ok := e.w.(http.Flusher); ok {
		fl.Flush()
	}
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
