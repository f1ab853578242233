// Package testenv gives the tests of every stage the real services and the real pages they run
// against: the Kafka broker and the PostgreSQL server started by scripts/testenv, unique topic
// and database names, and the snapshots of the site in ../shared/corpus.
//
// Outside CI a test whose service is missing is skipped with a message saying how to provide
// it; in CI (CI=true) it fails.
package testenv

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"
)

const howTo = "run the tests with `make test`, or start the services with `scripts/testenv up` " +
	"and `source FOLDER/env`"

// missing skips the test, or fails it in CI, because something it needs is not there.
func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing (CI=true, so this fails instead of skipping): %s", what, howTo)
	}
	t.Skipf("%s is missing: %s", what, howTo)
}

// KafkaBrokers returns the addresses of the test broker.
func KafkaBrokers(t testing.TB) []string {
	t.Helper()
	v := os.Getenv("MHFZ_TEST_KAFKA_BROKERS")
	if v == "" {
		missing(t, "Kafka (MHFZ_TEST_KAFKA_BROKERS)")
	}
	return strings.Split(v, ",")
}

// PartitionCount returns how many partitions topic has.
func PartitionCount(t testing.TB, brokers []string, cfg *sarama.Config, topic string) int {
	t.Helper()
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatalf("partitions of %s: %v", topic, err)
	}
	return len(parts)
}

var counter atomic.Int64

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9_]+`)

// Name returns a name unique to this test run, made of the test's name and base, usable as a
// Kafka topic or group and as a PostgreSQL identifier.
func Name(t testing.TB, base string) string {
	n := unsafeChars.ReplaceAllString(strings.ToLower(t.Name()+"_"+base), "_")
	if len(n) > 40 {
		n = n[:40]
	}
	return fmt.Sprintf("t_%s_%d_%d", n, time.Now().UnixNano()%1e9, counter.Add(1))
}

// RoleURL is dbURL with the user role instead of its own: the migrations create the services'
// roles without a password, and the test server trusts connections on loopback.
func RoleURL(t testing.TB, dbURL, role string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	return u.String()
}

// DatabaseURL creates a fresh, empty database on the test server and returns its URL; the
// database is dropped when the test ends.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	server := os.Getenv("MHFZ_TEST_DATABASE_URL")
	if server == "" {
		missing(t, "PostgreSQL (MHFZ_TEST_DATABASE_URL)")
	}
	name := Name(t, "db")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("connect to the test PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create test database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Logf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	cfg, err := pgx.ParseConfig(server)
	if err != nil {
		t.Fatalf("parse MHFZ_TEST_DATABASE_URL: %v", err)
	}
	return fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Password, cfg.Host, cfg.Port, name)
}

// Chromium returns the path of the headless browser of the browser tests: Debian's chromium,
// which scripts/testenv installs when it is missing (MHFZ_TEST_CHROMIUM).
func Chromium(t testing.TB) string {
	t.Helper()
	path := os.Getenv("MHFZ_TEST_CHROMIUM")
	if path == "" {
		missing(t, "Chromium (MHFZ_TEST_CHROMIUM)")
	}
	if _, err := os.Stat(path); err != nil {
		missing(t, "Chromium at "+path)
	}
	return path
}

// SQLite3 returns the path of Debian's sqlite3 command, which the tests of the downloadable
// dataset open its SQLite file with: MHFZ_TEST_SQLITE3 (scripts/testenv installs it when it is
// missing), else sqlite3 on the PATH.
func SQLite3(t testing.TB) string {
	t.Helper()
	path := os.Getenv("MHFZ_TEST_SQLITE3")
	if path == "" {
		var err error
		if path, err = exec.LookPath("sqlite3"); err != nil {
			missing(t, "sqlite3 (MHFZ_TEST_SQLITE3)")
		}
	}
	if _, err := os.Stat(path); err != nil {
		missing(t, "sqlite3 at "+path)
	}
	return path
}
