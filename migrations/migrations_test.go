package migrations_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

func provider(t *testing.T, url string) (*goose.Provider, *sql.DB) {
	t.Helper()
	db, err := migrations.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p, err := migrations.NewProvider(db)
	if err != nil {
		t.Fatal(err)
	}
	return p, db
}

// TestUpDownUp applies every migration on an empty database, checks the seed's queries, rolls
// everything back to zero (nothing of ours left), and applies them again.
func TestUpDownUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, db := provider(t, testenv.DatabaseURL(t))
	last := p.ListSources()[len(p.ListSources())-1].Version

	for round := 1; round <= 2; round++ {
		if _, err := p.Up(ctx); err != nil {
			t.Fatalf("round %d: up: %v", round, err)
		}
		if v, err := p.GetDBVersion(ctx); err != nil || v != last {
			t.Fatalf("round %d: version %d (%v), want %d", round, v, err, last)
		}
		for _, q := range []string{
			"SELECT COUNT(*) FROM long_sword",
			"SELECT name, rarity, attack, affinity FROM long_sword LIMIT 10",
			"SELECT COUNT(*) FROM long_sword_current",
			"SELECT name, rarity, attack, affinity FROM long_sword_current LIMIT 10",
			"SELECT * FROM long_sword_history('x')",
			"SELECT COUNT(*) FROM partner_weapon_current",
			"SELECT consumer, topic, partition, next_offset FROM kafka_offsets",
			"SELECT reason, value FROM sink_dead_letter",
			"SELECT weapon_table, key, version, stored_hash, incoming_hash, value FROM sink_conflict",
		} {
			rows, err := db.QueryContext(ctx, q)
			if err != nil {
				t.Fatalf("round %d: %s: %v", round, q, err)
			}
			rows.Close()
		}
		if _, err := p.DownTo(ctx, 0); err != nil {
			t.Fatalf("round %d: down to 0: %v", round, err)
		}
		var left int
		err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = 'public' AND c.relname <> 'goose_db_version' AND c.relname NOT LIKE 'goose_db_version%'`).Scan(&left)
		if err != nil || left != 0 {
			t.Fatalf("round %d: after down to 0, %d relations left (%v)", round, left, err)
		}
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentUp runs two migrations at once, as two containers starting together would:
// the advisory lock makes one wait, and both end at the latest version without error.
func TestConcurrentUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	url := testenv.DatabaseURL(t)
	p1, _ := provider(t, url)
	p2, _ := provider(t, url)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, p := range []*goose.Provider{p1, p2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = p.Up(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}
	pending, err := p1.HasPending(ctx)
	if err != nil || pending {
		t.Fatalf("pending after both: %v %v", pending, err)
	}
}

// TestQualityReachesViewsAndHistory: the quality column of 00003 is in every table, its
// <table>_current view (created before the column, so created again) and its <table>_history.
func TestQualityReachesViewsAndHistory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, db := provider(t, testenv.DatabaseURL(t))
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	tables := []string{"great_sword", "long_sword", "sword_and_shield", "dual_swords", "hammer",
		"hunting_horn", "lance", "gunlance", "tonfa", "switch_axe_f", "magnet_spike", "light_bowgun",
		"heavy_bowgun", "bow", "partner_weapon"}
	for _, table := range tables {
		for _, rel := range []string{table, table + "_current"} {
			var typ string
			err := db.QueryRowContext(ctx, `SELECT data_type FROM information_schema.columns
				WHERE table_schema = 'public' AND table_name = $1 AND column_name = 'quality'`, rel).Scan(&typ)
			if err != nil || typ != "jsonb" {
				t.Errorf("%s.quality: type %q (%v), want jsonb", rel, typ, err)
			}
		}
	}
	const finding = `[{"rule": "element_range", "field": "elements[1].value", "value": "102400"}]` // as jsonb prints it
	if _, err := db.ExecContext(ctx, `INSERT INTO switch_axe_f (key, version, content_hash, weapon_type,
		page_kind, layout, page, url, row_id, hidden, scraped_at, kafka_topic, kafka_partition, kafka_offset,
		name, source, quality) VALUES ('k', 1, 'h', 'switch_axe_f', 'ravi', 'ken', 'slaxe_s.htm', 'u', 'l1',
		false, now(), 't', 0, 0, 'Apophis Axe', '{}', $1)`, finding); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"SELECT quality::text FROM switch_axe_f_current WHERE key = 'k'",
		"SELECT quality::text FROM switch_axe_f_history('k')"} {
		var got string
		if err := db.QueryRowContext(ctx, q).Scan(&got); err != nil || got != finding {
			t.Errorf("%s: %q (%v), want %q", q, got, err, finding)
		}
	}
}

// TestSlimRowsKeepsSource: 00009 drops the record column of every table and its view, keeping
// the raw record's position it held in the new source column; rolled back, record is there
// again (empty: the weapon topics fill it) and source gone.
func TestSlimRowsKeepsSource(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, db := provider(t, testenv.DatabaseURL(t))
	if _, err := p.UpTo(ctx, 6); err != nil {
		t.Fatal(err)
	}
	const source = `{"topic": "weapon_data", "offset": 7, "partition": 3}` // as jsonb prints it
	if _, err := db.ExecContext(ctx, `INSERT INTO bow (key, version, content_hash, weapon_type, page_kind, layout,
		page, url, row_id, hidden, scraped_at, kafka_topic, kafka_partition, kafka_offset, name, record)
		VALUES ('k', 1, 'h', 'bow', 'base', 'bow', 'yumi.htm', 'u', 'l1', false, now(), 't', 0, 0, 'Bow',
		'{"schema": 1, "key": "k", "source": {"topic": "weapon_data", "partition": 3, "offset": 7}}')`); err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 9); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"SELECT source::text FROM bow WHERE key = 'k'", "SELECT source::text FROM bow_current",
		"SELECT source::text FROM bow_history('k')"} {
		var got string
		if err := db.QueryRowContext(ctx, q).Scan(&got); err != nil || got != source {
			t.Errorf("%s: %q (%v), want %q", q, got, err, source)
		}
	}
	columns := func(rel string) (n int) {
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.columns
			WHERE table_schema = 'public' AND table_name = $1 AND column_name = 'record'`, rel).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, rel := range []string{"bow", "bow_current", "partner_weapon", "partner_weapon_current"} {
		if n := columns(rel); n != 0 {
			t.Errorf("%s still has a record column after 00009", rel)
		}
	}
	if _, err := p.DownTo(ctx, 6); err != nil {
		t.Fatal(err)
	}
	if n := columns("bow_current"); n != 1 {
		t.Errorf("bow_current has %d record columns after rolling 00009 back, want 1", n)
	}
	var record sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT record FROM bow WHERE key = 'k'").Scan(&record); err != nil || record.Valid {
		t.Errorf("record after rolling 00009 back: %v (%v), want NULL", record, err)
	}
}
