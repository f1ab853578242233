package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

func TestDlqFlags(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		args              []string
		action, id, key   string
		since, until      time.Time
		kinds             []string
		json, dry, pendng bool
	}{
		{args: []string{"list"}, action: "list"},
		{args: []string{"--json", "list", "--kind", "parse,json", "--pending"}, action: "list", json: true, pendng: true, kinds: []string{"parse", "json"}},
		{args: []string{"show", "weapon_data.dlq/3/17"}, action: "show", id: "weapon_data.dlq/3/17"},
		{args: []string{"show", "weapon-sink/weapons.bow/0/4", "--topic-prefix", "x."}, action: "show", id: "weapon-sink/weapons.bow/0/4"},
		{args: []string{"redrive", "--dry-run", "--key", "bow|g|1|1", "--since", "24h", "--until", "2026-12-01T11:00:00Z"},
			action: "redrive", dry: true, key: "bow|g|1|1", since: now.Add(-24 * time.Hour), until: now.Add(-time.Hour)},
	} {
		o, err := parseDlqFlags(c.args, &strings.Builder{})
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		cfg, err := o.config(runEnv{}, now)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		f := cfg.Filter
		if o.action != c.action || o.id != c.id || f.Key != c.key || !f.Since.Equal(c.since) || !f.Until.Equal(c.until) ||
			strings.Join(f.Kinds, ",") != strings.Join(c.kinds, ",") || o.json != c.json || cfg.DryRun != c.dry || f.Pending != c.pendng {
			t.Errorf("%q: parsed as %+v, filter %+v", c.args, o, f)
		}
	}
}

func TestDlqUsage(t *testing.T) {
	for _, args := range [][]string{{"dlq"}, {"dlq", "sideways"}, {"dlq", "show"}, {"dlq", "list", "extra"},
		{"dlq", "show", "a/1/2", "b"}, {"dlq", "list", "--since", "yesterday"}, {"dlq", "list", "--source", "both"},
		{"dlq", "redrive", "--batch-size", "0"}, {"dlq", "list", "--since", "1h", "--until", "2h"}} {
		_, err := mhfz(t, args...)
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("mhfz %v: %v, want a usage error", args, err)
		}
	}
}

// TestDlqCommand: on a deployment without any dead letter (not even its dead-letter topic),
// list prints the table's header alone, and redrive sends nothing; neither creates a topic.
func TestDlqCommand(t *testing.T) {
	url := testenv.DatabaseURL(t)
	brokers := testenv.KafkaBrokers(t)
	t.Setenv("MHFZ_DATABASE_URL", url)
	t.Setenv("MHFZ_KAFKA_BROKERS", strings.Join(brokers, ","))
	names := codecs.Names{Prefix: testenv.Name(t, "dlq") + "."}
	t.Setenv("MHFZ_TOPIC_PREFIX", names.Prefix)
	if _, err := mhfz(t, "migrate", "up"); err != nil {
		t.Fatal(err)
	}
	out, err := mhfz(t, "dlq", "list")
	if err != nil || strings.TrimSpace(out) != "ID  SOURCE  KIND  KEY  TIME  REDRIVEN  REASON" {
		t.Errorf("dlq list: %v\n%q", err, out)
	}
	if out, err := mhfz(t, "dlq", "list", "--json"); err != nil || out != "" {
		t.Errorf("dlq list --json: %v\n%q", err, out)
	}
	out, err = mhfz(t, "dlq", "redrive")
	if err != nil || !strings.HasPrefix(out, "dlq redrive: 0 selected, sent 0") {
		t.Errorf("dlq redrive: %v\n%s", err, out)
	}
	client, admin, err := kafka.Connect(context.Background(), brokers, kafka.Config("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	defer admin.Close()
	topics, err := admin.ListTopics()
	if err != nil {
		t.Fatal(err)
	}
	for topic := range topics {
		if strings.HasPrefix(topic, names.Prefix) {
			t.Errorf("dlq created topic %s", topic)
		}
	}
}
