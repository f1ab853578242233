package browse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestItemCSVRecord: an export's record is every column of Item in its order, written as it
// was before the columns were read by name: NULL empty, JSON as its text, times in UTC.
func TestItemCSVRecord(t *testing.T) {
	n, s := int32(7), "fire"
	it := Item{Key: "long_sword/g/l219C", Version: 2, WeaponType: "long_sword", PageKind: "g", Page: "tachi_g.htm",
		RowID: "l219C", Hidden: true, Name: "Katana", Level: &n, Rarity: &n, Element: &s, Elements: []byte(`[{"kind":"fire"}]`),
		ScrapedAt: time.Date(2025, 10, 22, 10, 0, 0, 123000, time.FixedZone("x", 7200))}
	want := []string{"long_sword/g/l219C", "2", "long_sword", "g", "tachi_g.htm", "l219C", "true", "Katana", "7", "7", "",
		"", "", "fire", "", "", "", `[{"kind":"fire"}]`, "", "", "", "", "", "", "", "", "2025-10-22T08:00:00.000123Z"}
	if got := it.csvRecord(); !slices.Equal(got, want) {
		t.Errorf("csvRecord:\n got %q\nwant %q", got, want)
	}
	if len(ExportColumns) != len(want) || ExportColumns[0] != "key" || ExportColumns[len(want)-1] != "scraped_at" {
		t.Errorf("ExportColumns %v", ExportColumns)
	}
	// Every column's Go type has a CSV form (csvCell panics on one it does not know).
	v := reflect.ValueOf(Item{})
	for i := range v.NumField() {
		_ = csvCell(v.Field(i).Interface())
	}
	if got, ok := it.sortValue("-level").(*int32); !ok || *got != 7 {
		t.Errorf("sortValue(-level): %v", got)
	}
	if got := it.sortValue("type"); got != "long_sword" {
		t.Errorf("sortValue(type): %v", got)
	}
}

// TestDBErrorClasses lists every class of database error and what the client is told of it,
// by the error's type (never its text).
func TestDBErrorClasses(t *testing.T) {
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	const tooLong, down, internal = "took too long", "not available", ""
	for _, tc := range []struct {
		name string
		err  error
		want string // the 503's message; "" for an internal error
	}{
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), tooLong},
		{"statement timeout", &pgconn.PgError{Code: pgerrcode.QueryCanceled}, tooLong},
		{"refused", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, down},
		{"connection cut", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), down},
		{"connection closed", io.EOF, down},
		{"server shutting down", &pgconn.PgError{Code: pgerrcode.AdminShutdown}, down},
		{"too many connections", &pgconn.PgError{Code: pgerrcode.TooManyConnections}, down},
		{"connection exception", &pgconn.PgError{Code: pgerrcode.ConnectionFailure}, down},
		{"undefined table", &pgconn.PgError{Code: pgerrcode.UndefinedTable}, internal},
		{"syntax error", &pgconn.PgError{Code: pgerrcode.SyntaxError}, internal},
		{"unclassified", errors.New("something else"), internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.dbError(context.Background(), "the search", tc.err)
			var ae *apiError
			switch {
			case tc.want == internal && errors.As(err, &ae):
				t.Errorf("%v: told the client %d %q, want an internal error", tc.err, ae.status, ae.msg)
			case tc.want == internal && !errors.Is(err, tc.err):
				t.Errorf("%v: %v does not wrap it", tc.err, err)
			case tc.want != internal && (!errors.As(err, &ae) || ae.status != 503 || !strings.Contains(ae.msg, tc.want)):
				t.Errorf("%v: %v, want a 503 that says %q", tc.err, err, tc.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.dbError(ctx, "the search", context.Canceled); !errors.Is(err, errClientGone) {
		t.Errorf("cancelled by the client: %v, want errClientGone", err)
	}
}
