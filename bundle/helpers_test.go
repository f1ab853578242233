package bundle_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/bundle"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

// fixtureDB migrates a fresh database, fills it with fixture weapons (fill) and returns its URL
// as its owner and as mhfz_reader.
func fixtureDB(t *testing.T) (owner, reader string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	owner = testenv.DatabaseURL(t)
	if err := migrations.Up(ctx, owner); err != nil {
		t.Fatal(err)
	}
	execSQL(t, owner, fixture)
	return owner, testenv.RoleURL(t, owner, migrations.ReaderRole)
}

// fixture: 30 long swords (the first with a second version, materials and upgrade links), 3
// gunlances and 2 partner weapons, written the way the sink's rows look.
const fixture = `
INSERT INTO long_sword (key, version, content_hash, weapon_type, page_kind, layout, page, url, row_id, hidden,
	scraped_at, kafka_topic, kafka_partition, kafka_offset, name, rarity, attack, elements, materials, upgrade_from, upgrade_to)
SELECT 'long_sword/base/l' || lpad(i::text, 4, '0'), 1, 'h' || i, 'long_sword', 'base', 'ken', 'tachi.htm', 'u', 'l' || lpad(i::text, 4, '0'),
	i % 5 = 0, '2026-11-01 10:00:00+00', 't', 0, i, 'Katana ' || i, i % 12, 100 + i,
	CASE WHEN i % 3 = 0 THEN '[{"kind": "fire", "value": 160}]'::jsonb END,
	CASE WHEN i = 1 THEN '{"creation": [[{"item_id": "19F3", "name": "Iron Ore", "quantity": 3, "key": true}, {"item_id": "0001", "name": "Bone", "quantity": 1}]]}'::jsonb END,
	CASE WHEN i = 2 THEN '[{"page": "", "row_id": "l0001", "name": "Katana 1"}]'::jsonb END,
	CASE WHEN i = 1 THEN '[{"page": "", "row_id": "l0002", "name": "Katana 2"}, {"page": "sozai.htm", "row_id": "", "name": "x"}]'::jsonb END
FROM generate_series(1, 30) AS i;
INSERT INTO long_sword (key, version, content_hash, weapon_type, page_kind, layout, page, url, row_id, hidden,
	scraped_at, kafka_topic, kafka_partition, kafka_offset, name, rarity, attack)
VALUES ('long_sword/base/l0001', 2, 'h1b', 'long_sword', 'base', 'ken', 'tachi.htm', 'u', 'l0001', false,
	'2026-11-02 10:00:00.123456+00', 't', 0, 100, 'Katana 1', 1, 150);
INSERT INTO gunlance (key, version, content_hash, weapon_type, page_kind, layout, page, url, row_id, hidden,
	scraped_at, kafka_topic, kafka_partition, kafka_offset, name, attack, shelling)
SELECT 'gunlance/base/l11F' || i, 1, 'g' || i, 'gunlance', 'base', 'ken', 'gunlance.htm', 'u', 'l11F' || i, false,
	'2026-11-01 10:00:00+00', 't', 1, i, '銃槍 "' || i || '", ok', 300 + i, '{"kind": "normal", "level": 2}'::jsonb
FROM generate_series(0, 2) AS i;
INSERT INTO partner_weapon (key, version, content_hash, weapon_type, page_kind, layout, page, url, row_id, hidden,
	scraped_at, kafka_topic, kafka_partition, kafka_offset, name)
SELECT 'great_sword/partner/p' || i, 1, 'p' || i, 'great_sword', 'partner', 'ken', 'taiken_partner.htm', 'u', 'p' || i, false,
	'2026-11-01 10:00:00+00', 't', 2, i, 'Partner ' || i
FROM generate_series(1, 2) AS i;
`

func execSQL(t *testing.T, dbURL, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatal(err)
	}
}

// config is the configuration of a publisher of the database at reader into out.
func config(t *testing.T, reader, out string) bundle.Config {
	cfg := bundle.DefaultConfig()
	cfg.DatabaseURL, cfg.Out = reader, out
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	cfg.Startup.Timeout = 30 * time.Second
	return cfg
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// publish runs a publisher once and returns its summary.
func publish(t *testing.T, cfg bundle.Config) bundle.Summary {
	t.Helper()
	p, err := bundle.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatalf("publish: %v", err)
	}
	return p.Summary()
}

// newVersion stores a new version of a long sword, as the sink would after a scrape that
// changed it: another content hash, a later scrape, the attack one higher.
func newVersion(t *testing.T, owner, key string) {
	t.Helper()
	execSQL(t, owner, `INSERT INTO long_sword (key, version, content_hash, weapon_type, page_kind, layout, page, url, row_id,
		hidden, scraped_at, kafka_topic, kafka_partition, kafka_offset, name, attack)
		SELECT key, version + 1, content_hash || '+', weapon_type, page_kind, layout, page, url, row_id, hidden,
			scraped_at + interval '1 day', kafka_topic, kafka_partition, kafka_offset + 1000, name, coalesce(attack, 0) + 1
		FROM long_sword_current WHERE key = $1`, key)
}
