package testenv_test

import (
	"context"
	"testing"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// TestPostgreSQLAnswers proves the wiring with the real PostgreSQL: a fresh database per test
// that pgx can connect to and query.
func TestPostgreSQLAnswers(t *testing.T) {
	url := testenv.DatabaseURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var db string
	var n int
	if err := conn.QueryRow(ctx, "SELECT current_database(), 40 + 2").Scan(&db, &n); err != nil {
		t.Fatal(err)
	}
	if n != 42 || db == "mhfz" {
		t.Fatalf("got %d in database %q, want 42 in a fresh database", n, db)
	}
}

func TestManifestAddsUp(t *testing.T) {
	var rows, hidden int
	for _, p := range testenv.Manifest(t, testenv.Newest) {
		rows += p.WeaponRows
		hidden += p.HiddenRows
	}
	if rows != 145955 || hidden != 120308 {
		t.Fatalf("manifest: %d rows, %d hidden; the corpus README says 145,955 and 120,308", rows, hidden)
	}
}

// TestClusterHasThreeBrokers: `scripts/testenv up --cluster` gives three live brokers, node n
// on the n-th address with broker id n (the failover tests kill nodes by id).
func TestClusterHasThreeBrokers(t *testing.T) {
	c := testenv.KafkaCluster(t)
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V4_0_0_0
	for i, addr := range c.Brokers {
		client, err := sarama.NewClient([]string{addr}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		b, err := client.Controller()
		if err != nil {
			t.Fatal(err)
		}
		ids := map[int32]string{}
		for _, br := range client.Brokers() {
			ids[br.ID()] = br.Addr()
		}
		client.Close()
		if len(ids) != 3 || ids[int32(i+1)] != addr {
			t.Fatalf("brokers %v (controller %d): want 3, node %d at %s", ids, b.ID(), i+1, addr)
		}
	}
}
