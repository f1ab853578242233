package browse_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/browse"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// readerDB migrates a fresh database and returns its URL as mhfz_reader.
func readerDB(t *testing.T) string {
	t.Helper()
	_, reader := migratedDB(t)
	return reader
}

// migratedDB migrates a fresh database and returns its URL as its owner and as mhfz_reader.
func migratedDB(t *testing.T) (owner, reader string) {
	t.Helper()
	return migratedDBTo(t, 0)
}

// migratedDBTo migrates a fresh database up to a version (0: every migration).
func migratedDBTo(t *testing.T, version int64) (owner, reader string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbURL := testenv.DatabaseURL(t)
	db, err := migrations.Open(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := migrations.NewProvider(db)
	if err != nil {
		t.Fatal(err)
	}
	if version == 0 {
		_, err = p.Up(ctx)
	} else {
		_, err = p.UpTo(ctx, version)
	}
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(migrations.ReaderRole) // scripts/testenv's server trusts loopback connections
	return dbURL, u.String()
}

// TestQueryTimeout: a query that takes longer than the query timeout is answered 503 with a
// message that says so, and the server answers again at once after it.
func TestQueryTimeout(t *testing.T) {
	dbURL := readerDB(t)
	for _, tc := range []struct {
		timeout time.Duration
		status  int
	}{{time.Nanosecond, 503}, {5 * time.Second, 200}} {
		cfg := testConfig(dbURL)
		cfg.QueryTimeout = tc.timeout
		base, stop := startServer(t, cfg)
		serving(t, base, stop) // the reader can read a migrated database
		resp, err := http.Get(base + "/api/weapons?q=katana")
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.status == 503 && (!strings.Contains(body.Error, "took too long") ||
			resp.Header.Get("Retry-After") == "")) {
			t.Errorf("query timeout %s: %d %q, want %d (503: says it took too long, with Retry-After)", tc.timeout,
				resp.StatusCode, body.Error, tc.status)
		}
		if err := stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	}
}

// TestCheckNeedsWeaponLatest: a database migrated up to 00009 lacks weapon_latest, which every
// search of the weapons reads: Run checks it at start and says which migration is missing.
func TestCheckNeedsWeaponLatest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbURL, _ := migratedDBTo(t, 9)
	cfg := testConfig(dbURL)
	cfg.Addr = "127.0.0.1:0"
	s, err := browse.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(ctx); err == nil || !strings.Contains(err.Error(), "00010") {
		t.Errorf("Run on a database without migration 00010: %v, want an error that names it", err)
	}
}
