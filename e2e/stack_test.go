package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
	"github.com/mhfz/mhfz-pipeline/scraper"
)

// stack is one deployment of the whole pipeline as processes, as scripts/stack runs it: the same
// subcommands and environment variables as docker-compose.yml, on the test services, with a
// prefix of its own for every topic and group and a database of its own.
type stack struct {
	t       testing.TB
	brokers []string
	dbURL   string
	names   codecs.Names
	env     []string
}

func newStack(t testing.TB) *stack {
	brokers := testenv.KafkaBrokers(t)
	s := &stack{t: t, brokers: brokers, dbURL: testenv.DatabaseURL(t),
		names: codecs.Names{Prefix: testenv.Name(t, "stack") + "."}}
	state := t.TempDir()
	s.env = []string{
		"MHFZ_KAFKA_BROKERS=" + strings.Join(brokers, ","),
		"MHFZ_KAFKA_REPLICATION=1",
		"MHFZ_DATABASE_URL=" + s.dbURL,
		"MHFZ_TOPIC_PREFIX=" + s.names.Prefix,
		"MHFZ_SCRAPE_STATE=" + state + "/scrape-state.json",
		"MHFZ_PROCESS_STORAGE=" + state + "/tables",
		"MHFZ_PROGRESS_INTERVAL=2s",
	}
	t.Cleanup(func() {
		var topics []string
		for _, tp := range append(s.names.WeaponTopics(), s.names.WeaponData(), s.names.DeadLetter()) {
			topics = append(topics, string(tp))
		}
		topics = append(topics, string(s.names.RouterGroup())+"-table")
		_ = kafka.DeleteTopics(context.Background(), brokers, kafka.Config("e2e-cleanup"), topics...)
	})
	return s
}

// start migrates the database (as its owner) and starts the processor and the sink (as
// mhfz_writer, as in docker-compose.yml).
func (s *stack) start(ctx context.Context) (processor, sink *service) {
	runService(s.t, ctx, s.env, "migrate", "up")
	return startService(s.t, s.env, "process"), startService(s.t, s.sinkEnv(), "sink")
}

// sinkEnv is the stack's environment with the database URL of the sink's role, mhfz_writer
// (scripts/testenv's server trusts loopback connections: no password).
func (s *stack) sinkEnv() []string {
	u, err := url.Parse(s.dbURL)
	if err != nil {
		s.t.Fatal(err)
	}
	u.User = url.User(migrations.WriterRole)
	return append(append([]string(nil), s.env...), "MHFZ_DATABASE_URL="+u.String())
}

// scrape runs one scrape of the mirror at baseURL, without a rate limit (it is on loopback).
func (s *stack) scrape(ctx context.Context, baseURL string) {
	runService(s.t, ctx, s.env, "scrape", "--base-url", baseURL, "--rate", "0")
}

// caughtUp reports whether the processor has read all of weapon_data and the sink has stored
// all of the weapon topics: offsets committed by the processor's group and offsets in
// PostgreSQL equal the topics' ends.
func (s *stack) caughtUp(ctx context.Context, client sarama.Client, admin sarama.ClusterAdmin) (bool, error) {
	lag, err := groupLag(client, admin, s.names.RouterGroup(), s.names.WeaponData())
	if err != nil || lag > 0 {
		return false, err
	}
	weaponEnds, err := kafka.TopicEnds(client, weaponTopicNames(s.names)...)
	if err != nil {
		return false, err
	}
	stored, err := s.sinkOffsets(ctx)
	if err != nil {
		return false, err
	}
	for tp, end := range weaponEnds {
		if end > 0 && stored[tp] != end {
			return false, nil
		}
	}
	return true, nil
}

func (s *stack) sinkOffsets(ctx context.Context) (kafka.Ends, error) {
	conn, err := pgx.Connect(ctx, s.dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT topic, partition, next_offset FROM kafka_offsets WHERE consumer = $1",
		string(s.names.SinkConsumer()))
	if err != nil {
		return nil, err
	}
	out := kafka.Ends{}
	var p kafka.Position
	_, err = pgx.ForEachRow(rows, []any{&p.Topic, &p.ID, &p.Offset}, func() error {
		out[p.Partition] = p.Offset
		return nil
	})
	return out, err
}

// waitCaughtUp polls caughtUp until it holds, or fails the test after timeout.
func (s *stack) waitCaughtUp(ctx context.Context, timeout time.Duration) {
	s.t.Helper()
	cfg := kafka.Config("e2e-watch")
	client, err := sarama.NewClient(s.brokers, cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(timeout)
	for {
		if err := client.RefreshMetadata(); err != nil {
			s.t.Logf("refresh metadata: %v", err)
		}
		ok, err := s.caughtUp(ctx, client, admin)
		if err != nil {
			s.t.Logf("caught up? %v", err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the pipeline did not catch up within %s", timeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// tableOf is the table a raw record ends up in.
func tableOf(t codecs.WeaponType, kind codecs.PageKind) string {
	if kind == codecs.KindPartner {
		return "partner_weapon"
	}
	return string(t)
}

// tableOfKey is tableOf for a record key ("long_sword/g/l219C").
func tableOfKey(key string) string {
	parts := strings.SplitN(key, "/", 3)
	if len(parts) < 2 {
		return ""
	}
	return tableOf(codecs.WeaponType(parts[0]), codecs.PageKind(parts[1]))
}

// The whole pipeline as the stack runs it, over the whole newest snapshot, is run once, by
// TestStackMetricsInPrometheus (observe_test.go), and asserted there both ways: what Prometheus
// says (its metrics) and what the tables hold (stackRowsPerTable, checkStackTables, formerly
// TestStackEndToEnd, which ran the same stack over the same snapshot a second time).

// stackRowsPerTable counts, independently of the stack, what the scraper will emit from a
// snapshot folder: its rows per table, and the scrape's summary (rows and pages).
func stackRowsPerTable(t *testing.T, ctx context.Context, buki string) (map[string]int, scraper.Summary) {
	t.Helper()
	want := map[string]int{}
	total := 0
	sum, err := scrapeFolder(ctx, buki, func(r *codecs.RawRecord) error {
		want[tableOf(r.WeaponType, r.PageKind)]++
		total++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total != 145955 || sum.Rows != 145955 || sum.Pages == 0 {
		t.Fatalf("the snapshot has %d weapon rows (%d) on %d pages, want 145,955", total, sum.Rows, sum.Pages)
	}
	return want, sum
}

// checkStackTables checks, once the stack has caught up, that every weapon row of the snapshot
// (want: the rows per table) is in its table or in the dead-letter topic, a few weapons field by
// field, and the README's queries on the filled database.
func checkStackTables(t *testing.T, ctx context.Context, s *stack, want map[string]int) {
	t.Helper()
	dead := readDeadLetters(t, s.brokers, kafka.Config("e2e-dlq"), s.names.DeadLetter())
	for _, d := range dead {
		want[tableOfKey(d.Key)]--
		t.Logf("dead letter %s: %s", d.Key, d.Reason)
	}
	conn, err := pgx.Connect(ctx, s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	stored := 0
	for table, n := range want {
		var got int
		if err := conn.QueryRow(ctx, "SELECT COUNT(*) FROM "+pgx.Identifier{table + "_current"}.Sanitize()).Scan(&got); err != nil {
			t.Fatalf("count %s_current: %v", table, err)
		}
		if got != n {
			t.Errorf("%s_current holds %d weapons, want %d (emitted minus dead-lettered)", table, got, n)
		}
		stored += got
	}
	if stored+len(dead) != 145955 {
		t.Errorf("%d stored + %d dead-lettered = %d, want 145,955", stored, len(dead), stored+len(dead))
	}
	checkSpotWeapons(t, ctx, conn)
	checkZenithSkills(t, ctx, conn)
	checkReadmeQueries(t, ctx, conn)
}

// spotWeapon is one weapon checked by eye on the page, with the values its row shows.
type spotWeapon struct {
	table, key, name      string
	rarity, attack, price int
	affinity              int
	element               string // "" for none
	elementValue          int
	rankSystem            string
	rankLevel             *int
}

func intp(v int) *int { return &v }

// The rows, as the pages show them:
//   - tachi.htm l000A: "Iron Katana", rarity 1, "480 0%", HR 1, price 1575;
//   - tachi.htm l0013: "Wyvern Blade "Azure"", rarity 4, "864 0% / Fire 270", HR 31, 25000;
//   - tachi_g.htm l219C: "Ephemerality Nodachi" Lv1, "12 GR 1", "1248 0% / Fire 120", HR (no
//     number), 1450;
//   - yumi.htm l0050: "Power Wild Bow III", rarity 4, "240 -10%" (struck through), HR 31, 19600;
//   - heavy.htm l000F: "Tankmage", rarity 1, "180 0%", HR 5, 1225.
var spotWeapons = []spotWeapon{
	{"long_sword", "long_sword/base/l000A", "Iron Katana", 1, 480, 1575, 0, "", 0, "HR", intp(1)},
	{"long_sword", "long_sword/base/l0013", `Wyvern Blade "Azure"`, 4, 864, 25000, 0, "fire", 270, "HR", intp(31)},
	{"long_sword", "long_sword/g/l219C", "Ephemerality Nodachi", 12, 1248, 1450, 0, "fire", 120, "HR", nil},
	{"bow", "bow/base/l0050", "Power Wild Bow III", 4, 240, 19600, -10, "", 0, "HR", intp(31)},
	{"heavy_bowgun", "heavy_bowgun/base/l000F", "Tankmage", 1, 180, 1225, 0, "", 0, "HR", intp(5)},
}

func checkSpotWeapons(t *testing.T, ctx context.Context, conn *pgx.Conn) {
	t.Helper()
	for _, w := range spotWeapons {
		var (
			name, rankSystem                string
			rarity, attack, price, affinity int
			element                         *string
			elementValue, rankLevel         *int
		)
		err := conn.QueryRow(ctx, "SELECT name, rarity, attack, price, affinity, element, element_value, rank_system, rank_level FROM "+
			pgx.Identifier{w.table + "_current"}.Sanitize()+" WHERE key = $1", w.key).
			Scan(&name, &rarity, &attack, &price, &affinity, &element, &elementValue, &rankSystem, &rankLevel)
		if err != nil {
			t.Errorf("%s: %v", w.key, err)
			continue
		}
		gotElement := ""
		if element != nil {
			gotElement = strings.ToLower(*element)
		}
		if name != w.name || rarity != w.rarity || attack != w.attack || price != w.price || affinity != w.affinity ||
			gotElement != w.element || (w.element != "" && (elementValue == nil || *elementValue != w.elementValue)) ||
			rankSystem != w.rankSystem || fmt.Sprint(deref(rankLevel)) != fmt.Sprint(deref(w.rankLevel)) {
			t.Errorf("%s: got %q rarity %d attack %d price %d affinity %d element %q %v rank %s %v; want %+v",
				w.key, name, rarity, attack, price, affinity, gotElement, deref(elementValue), rankSystem, deref(rankLevel), w)
		}
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}
