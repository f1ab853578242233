package bundle_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/bundle"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// checkVersion checks that a published version's folder holds its manifest's files, each of
// its size and SHA-256, and that the files carry the version in their names.
func checkVersion(t *testing.T, out, version string) *bundle.Manifest {
	t.Helper()
	m, err := bundle.ReadManifest(filepath.Join(out, version))
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != version || m.SchemaVersion < 14 || m.CreatedAt.IsZero() {
		t.Errorf("manifest of %s: version %s, schema %d, created %s", version, m.Version, m.SchemaVersion, m.CreatedAt)
	}
	// One SQLite file, a JSON Lines and a CSV file per weapon table.
	if want := 1 + 2*len(migrations.WeaponTables()); len(m.Files) != want {
		t.Errorf("manifest of %s: %d files, want %d", version, len(m.Files), want)
	}
	for _, f := range m.Files {
		if !strings.Contains(f.Name, version) {
			t.Errorf("file %s does not carry the version %s", f.Name, version)
		}
		data, err := os.ReadFile(filepath.Join(out, version, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if int64(len(data)) != f.Size || hex.EncodeToString(sum[:]) != f.SHA256 {
			t.Errorf("%s: %d bytes, SHA-256 %x; the manifest says %d, %s", f.Name, len(data), sum, f.Size, f.SHA256)
		}
	}
	return m
}

func latest(t *testing.T, out string) string {
	t.Helper()
	v, err := bundle.ReadLatest(out)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// versions lists the version folders of out.
func versions(t *testing.T, out string) []string {
	t.Helper()
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, e := range entries {
		vs = append(vs, e.Name())
	}
	return vs
}

// TestPublishVersions: the same data gives the same version, and a second publication of it
// writes nothing; a new version of a weapon gives another version, and latest follows it.
func TestPublishVersions(t *testing.T) {
	t.Parallel()
	owner, reader := fixtureDB(t)
	out := t.TempDir()
	cfg := config(t, reader, out)
	s := publish(t, cfg)
	v1 := latest(t, out)
	if s.Published != 1 || s.Version != v1 || len(v1) != 16 {
		t.Fatalf("first publication: %+v, latest %q", s, v1)
	}
	m := checkVersion(t, out, v1)
	rows := map[string]int64{}
	for _, f := range m.Files {
		rows[f.Kind] = f.Rows
	}
	if rows["sqlite"] != 36 || rows["long_sword.csv"] != 30 || rows["long_sword.jsonl"] != 30 || rows["gunlance.csv"] != 3 ||
		rows["partner_weapon.jsonl"] != 2 || rows["bow.csv"] != 0 {
		t.Errorf("rows by file: %v", rows)
	}
	if s := publish(t, cfg); s.Published != 0 || s.Unchanged != 1 || s.Version != v1 {
		t.Errorf("the same data again: %+v, want unchanged %s", s, v1)
	}
	// Another folder, the same data: the same version.
	if s := publish(t, config(t, reader, t.TempDir())); s.Version != v1 {
		t.Errorf("the same data into another folder: version %s, want %s", s.Version, v1)
	}
	execSQL(t, owner, `INSERT INTO gunlance (key, version, content_hash, weapon_type, page_kind, layout, page, url, row_id, hidden,
		scraped_at, kafka_topic, kafka_partition, kafka_offset, name, attack)
		VALUES ('gunlance/base/l11F0', 2, 'g0b', 'gunlance', 'base', 'ken', 'gunlance.htm', 'u', 'l11F0', false,
		'2026-11-03 10:00:00+00', 't', 1, 50, 'Gunlance changed', 310)`)
	s = publish(t, cfg)
	v2 := latest(t, out)
	if s.Published != 1 || v2 == v1 || s.Version != v2 {
		t.Fatalf("after a change: %+v, latest %s (was %s)", s, v2, v1)
	}
	checkVersion(t, out, v2)
	if vs := versions(t, out); !slices.Equal(vs, slices.Sorted(slices.Values([]string{v1, v2, bundle.LatestName}))) {
		t.Errorf("folder holds %v, want both versions and latest", vs)
	}
}

// TestPublishKeepsN: with Keep 2, three versions leave the two newest; latest is one of them.
func TestPublishKeepsN(t *testing.T) {
	t.Parallel()
	owner, reader := fixtureDB(t)
	out := t.TempDir()
	cfg := config(t, reader, out)
	cfg.Keep = 2
	clock := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	cfg.Now = func() time.Time { clock = clock.Add(time.Hour); return clock }
	var published []string
	for i := range 3 {
		if i > 0 {
			newVersion(t, owner, "long_sword/base/l0003")
		}
		published = append(published, publish(t, cfg).Version)
	}
	want := slices.Sorted(slices.Values([]string{published[1], published[2], bundle.LatestName}))
	if vs := versions(t, out); !slices.Equal(vs, want) {
		t.Errorf("after 3 versions with Keep 2: %v, want %v", vs, want)
	}
	if l := latest(t, out); l != published[2] {
		t.Errorf("latest %s, want %s", l, published[2])
	}
}

// TestFailedPublicationLeavesLatest: a publication that cannot move its version into place (a
// file stands where its folder would go) fails, and leaves latest, the versions and no
// unfinished folder behind.
func TestFailedPublicationLeavesLatest(t *testing.T) {
	t.Parallel()
	owner, reader := fixtureDB(t)
	out := t.TempDir()
	cfg := config(t, reader, out)
	v1 := publish(t, cfg).Version
	newVersion(t, owner, "long_sword/base/l0004")
	v2 := publish(t, config(t, reader, t.TempDir())).Version // the version the change gives
	if err := os.WriteFile(filepath.Join(out, v2), []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := bundle.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Run(ctx); err == nil || !strings.Contains(err.Error(), "move the version") {
		t.Fatalf("publish with its folder's place taken: %v, want a failure to move it", err)
	}
	if l := latest(t, out); l != v1 {
		t.Errorf("latest %s after a failed publication, want %s", l, v1)
	}
	want := slices.Sorted(slices.Values([]string{v1, v2, bundle.LatestName}))
	if vs := versions(t, out); !slices.Equal(vs, want) {
		t.Errorf("folder holds %v after a failed publication, want %v (no unfinished folder)", vs, want)
	}
	checkVersion(t, out, v1)
}

// TestExportFormats: export writes only the formats asked for, with their manifest, into the
// folder itself.
func TestExportFormats(t *testing.T) {
	t.Parallel()
	_, reader := fixtureDB(t)
	out := t.TempDir()
	cfg := config(t, reader, out)
	cfg.Formats = []bundle.Format{bundle.FormatCSV}
	p, err := bundle.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.Export(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != len(migrations.WeaponTables()) {
		t.Errorf("export of csv: %d files, want one per table", len(m.Files))
	}
	f, err := os.Open(filepath.Join(out, m.Files[0].Name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 64)
	n, _ := io.ReadFull(f, head)
	if !strings.HasPrefix(string(head[:n]), strings.Join(bundle.CSVColumns[:5], ",")) {
		t.Errorf("%s begins %q, want the CSV columns", m.Files[0].Name, head[:n])
	}
	if _, err := os.Stat(filepath.Join(out, bundle.ManifestName)); err != nil {
		t.Error(err)
	}
}

// TestNewValidates: New refuses what it cannot run, naming the field.
func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		says   string
		change func(*bundle.Config)
	}{
		{"Out is empty", func(c *bundle.Config) { c.Out = "" }},
		{"Keep 0 must be at least 1", func(c *bundle.Config) { c.Keep = 0 }},
		{"Every -1s must not be negative", func(c *bundle.Config) { c.Every = -time.Second }},
		{"Settle -1s must not be negative", func(c *bundle.Config) { c.Settle = -time.Second }},
		{"DatabaseURL is empty", func(c *bundle.Config) { c.DatabaseURL = "" }},
		{"format \"xml\"", func(c *bundle.Config) { c.Formats = []bundle.Format{"xml"} }},
	} {
		cfg := bundle.DefaultConfig()
		tc.change(&cfg)
		if _, err := bundle.New(cfg); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("New: %v, want an error that says %q", err, tc.says)
		}
	}
	if _, err := bundle.ParseFormats([]string{"SQLite", "csv", "csv"}); err != nil {
		t.Error(err)
	}
	if _, err := bundle.ParseFormats(nil); err == nil {
		t.Error("ParseFormats(nil): no error")
	}
}

// TestPublishWaitsForTheDataToSettle: while the sink keeps committing (its offsets move), a
// publisher running every so often publishes nothing; the first version comes once the data
// stayed the same for Settle, and holds all of it.
func TestPublishWaitsForTheDataToSettle(t *testing.T) {
	owner, reader := fixtureDB(t)
	out := t.TempDir()
	cfg := config(t, reader, out)
	cfg.Every, cfg.Settle = time.Hour, 2*time.Second
	p, err := bundle.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- p.Run(ctx) }()

	// A scrape being stored: a commit every 100 ms for 4 s (Settle is 2 s), a new weapon version
	// at the end.
	conn, err := pgx.Connect(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for i := range 40 {
		if _, err := conn.Exec(ctx, `INSERT INTO kafka_offsets (consumer, topic, partition, next_offset) VALUES ('weapon-sink', 'weapons.long_sword', 0, $1)
			ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset`, int64(i+1)); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(out, bundle.LatestName)); err == nil {
			t.Fatalf("a version was published after %d commits, while the data was still changing", i+1)
		}
		time.Sleep(100 * time.Millisecond) // the commits' pace, slower than Settle, is what is tested
	}
	newVersion(t, owner, "long_sword/base/l0003")
	stopped := time.Now()

	for {
		if info, err := os.Stat(filepath.Join(out, bundle.LatestName)); err == nil {
			if info.ModTime().Before(stopped) {
				t.Errorf("published at %s, before the data stopped changing (%s)", info.ModTime(), stopped)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("nothing published once the data stayed the same")
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if s := p.Summary(); s.Published != 1 {
		t.Errorf("summary %+v: want exactly one version published", s)
	}
	once := t.TempDir()
	publish(t, config(t, reader, once))
	if got, want := latest(t, out), latest(t, once); got != want {
		t.Errorf("published version %s, want %s: the settled data's, as a publication now gives", got, want)
	}
}

// TestStopDuringAPublication: a stop while a version is being built (after the first table
// read, half way, after the last: the SQLite indexes and the files' hashing and syncing are
// left) ends Run at once with nil, and leaves latest, the versions and no unfinished folder.
func TestStopDuringAPublication(t *testing.T) {
	t.Parallel()
	owner, reader := fixtureDB(t)
	out := t.TempDir()
	v1 := publish(t, config(t, reader, out)).Version
	newVersion(t, owner, "long_sword/base/l0005")
	tables := int32(len(migrations.WeaponTables()))
	for _, at := range []int32{1, tables / 2, tables} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cfg := config(t, reader, out)
		cfg.Every, cfg.Settle = time.Hour, 0
		cfg.Logger = slog.New(&cancelAt{Handler: cfg.Logger.Handler(), msg: "table read", at: at, seen: new(atomic.Int32), cancel: cancel})
		p, err := bundle.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Run(ctx); err != nil {
			t.Errorf("stopped at table read %d: Run returned %v, want nil", at, err)
		}
		if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("stop at table read %d: Run did not end on the stop (%v)", at, ctx.Err())
		}
		if s := p.Summary(); s.Published != 0 {
			t.Errorf("stopped at table read %d: %d versions published, want 0", at, s.Published)
		}
		if l := latest(t, out); l != v1 {
			t.Errorf("stopped at table read %d: latest %s, want %s", at, l, v1)
		}
		if vs := versions(t, out); !slices.Equal(vs, []string{v1, bundle.LatestName}) {
			t.Errorf("stopped at table read %d: the folder holds %v, want only %s and latest", at, vs, v1)
		}
	}
}

// cancelAt is a log handler that calls cancel when it handles the at-th record of message msg:
// a stop at a known point of the work that logs it.
type cancelAt struct {
	slog.Handler
	msg    string
	at     int32
	seen   *atomic.Int32
	cancel context.CancelFunc
}

func (h *cancelAt) Enabled(context.Context, slog.Level) bool { return true }

func (h *cancelAt) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg && h.seen.Add(1) == h.at {
		h.cancel()
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h *cancelAt) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.Handler = h.Handler.WithAttrs(as)
	return &c
}

func (h *cancelAt) WithGroup(name string) slog.Handler {
	c := *h
	c.Handler = h.Handler.WithGroup(name)
	return &c
}
