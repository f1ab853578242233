package main

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/migrations"
)

func mhfz(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, &stdout, &stderr)
	return stdout.String(), err
}

// TestMigrateCommand: up on an empty database, status and version, down to zero, up again.
func TestMigrateCommand(t *testing.T) {
	url := testenv.DatabaseURL(t)
	t.Setenv("MHFZ_DATABASE_URL", url)
	statusLine := regexp.MustCompile(`(?m)^(\d+)\s+(applied|pending)\s+(\S+)\s+(\S+\.sql)$`)
	status := func(wantState string) {
		t.Helper()
		out, err := mhfz(t, "migrate", "status")
		if err != nil {
			t.Fatal(err)
		}
		lines := statusLine.FindAllStringSubmatch(out, -1)
		if !strings.HasPrefix(out, "VERSION") || len(lines) < 2 {
			t.Fatalf("status output:\n%s", out)
		}
		for _, l := range lines {
			if l[2] != wantState || (wantState == "pending") != (l[3] == "-") {
				t.Errorf("status line %q: want %s", l[0], wantState)
			}
		}
	}
	version := func(want string) {
		t.Helper()
		out, err := mhfz(t, "migrate", "version")
		if err != nil || strings.TrimSpace(out) != want {
			t.Fatalf("version %q (%v), want %s", out, err, want)
		}
	}

	// The latest migration and the one before it, whichever they are.
	db, err := migrations.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := migrations.NewProvider(db)
	if err != nil {
		t.Fatal(err)
	}
	sources := p.ListSources()
	last, previous := strconv.FormatInt(sources[len(sources)-1].Version, 10), strconv.FormatInt(sources[len(sources)-2].Version, 10)

	status("pending")
	version("0")
	if _, err := mhfz(t, "migrate", "up"); err != nil {
		t.Fatal(err)
	}
	status("applied")
	version(last)
	if _, err := mhfz(t, "migrate", "down"); err != nil { // one step
		t.Fatal(err)
	}
	version(previous)
	if _, err := mhfz(t, "migrate", "down", "--to", "0"); err != nil {
		t.Fatal(err)
	}
	status("pending")
	version("0")
	if _, err := mhfz(t, "migrate", "--database-url", url, "up"); err != nil {
		t.Fatal(err)
	}
	version(last)
}

func TestMigrateUsage(t *testing.T) {
	for _, args := range [][]string{{"migrate"}, {"migrate", "sideways"}, {"migrate", "up", "extra"}, {"migrate", "up", "--to", "-5"}} {
		_, err := mhfz(t, args...)
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("mhfz %v: %v, want a usage error", args, err)
		}
	}
}

// TestSinkNeedsTheSchema: on a database that is not migrated the sink stops with an error
// naming what is missing, instead of retrying forever.
func TestSinkNeedsTheSchema(t *testing.T) {
	t.Setenv("MHFZ_DATABASE_URL", testenv.DatabaseURL(t))
	t.Setenv("MHFZ_KAFKA_BROKERS", strings.Join(testenv.KafkaBrokers(t), ","))
	names := codecs.Names{Prefix: testenv.Name(t, "sink") + "."}
	t.Setenv("MHFZ_TOPIC_PREFIX", names.Prefix)
	t.Cleanup(func() {
		var topics []string
		for _, topic := range names.WeaponTopics() {
			topics = append(topics, string(topic))
		}
		_ = kafka.DeleteTopics(context.Background(), testenv.KafkaBrokers(t), kafka.Config("test"), topics...)
	})
	t.Setenv("MHFZ_KAFKA_PARTITIONS", "1")
	_, err := mhfz(t, "sink")
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("sink on an empty database: %v, want an error naming the missing table", err)
	}
	if exitCode(err) != 1 {
		t.Errorf("exit code %d, want 1", exitCode(err))
	}
}

func TestSinkUsage(t *testing.T) {
	for _, args := range [][]string{{"sink", "--batch-size", "0"}, {"sink", "--database-url", ""}, {"sink", "--batch-wait", "0s"}, {"sink", "--writers", "0"}} {
		_, err := mhfz(t, args...)
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("mhfz %v: %v, want a usage error", args, err)
		}
	}
}
