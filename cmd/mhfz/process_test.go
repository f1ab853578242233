package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/processors"
)

func TestProcessFlags(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want processOptions
		err  string
	}{
		{name: "defaults", want: processOptions{kafka: kafkaFlags{brokers: []string{"localhost:9092"}, replication: 1},
			router:   routerFlags{storage: "data/router", maxMessage: processors.DefaultMaxMessageBytes, setupWithin: time.Minute},
			progress: 10 * time.Second}},
		{name: "environment", env: map[string]string{"MHFZ_KAFKA_BROKERS": "a:1,b:2", "MHFZ_TOPIC_PREFIX": "x.",
			"MHFZ_PROCESS_STORAGE": "/var/lib/mhfz/tables", "MHFZ_PROGRESS_INTERVAL": "1s"},
			want: processOptions{kafka: kafkaFlags{brokers: []string{"a:1", "b:2"}, replication: 1, topicPrefix: "x."},
				router:   routerFlags{storage: "/var/lib/mhfz/tables", maxMessage: processors.DefaultMaxMessageBytes, setupWithin: time.Minute},
				progress: time.Second}},
		{name: "flags win over the environment", env: map[string]string{"MHFZ_PROCESS_STORAGE": "/env"},
			args: []string{"--storage", "/flag", "--partitions", "8", "--replication", "3"},
			want: processOptions{kafka: kafkaFlags{brokers: []string{"localhost:9092"}, replication: 3, partitions: 8},
				router:   routerFlags{storage: "/flag", maxMessage: processors.DefaultMaxMessageBytes, setupWithin: time.Minute},
				progress: 10 * time.Second}},
		{name: "no brokers", args: []string{"--brokers", " , "}, err: "--brokers is empty"},
		{name: "negative partitions", args: []string{"--partitions", "-1"}, err: "--partitions"},
		{name: "bad environment value", env: map[string]string{"MHFZ_PROCESS_MAX_MESSAGE_BYTES": "many"}, err: "MHFZ_PROCESS_MAX_MESSAGE_BYTES"},
		{name: "stray argument", args: []string{"now"}, err: "unexpected arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			got, err := parseProcessFlags(tc.args, io.Discard)
			if tc.err != "" {
				var u usageError
				if err == nil || !errors.As(err, &u) || !strings.Contains(err.Error(), tc.err) || exitCode(err) != 2 {
					t.Fatalf("error %v, want a usage error (exit 2) about %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalOptions(*got, tc.want) {
				t.Fatalf("got %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func equalOptions(a, b processOptions) bool {
	return strings.Join(a.kafka.brokers, ",") == strings.Join(b.kafka.brokers, ",") &&
		a.kafka.partitions == b.kafka.partitions && a.kafka.replication == b.kafka.replication &&
		a.kafka.topicPrefix == b.kafka.topicPrefix && a.router == b.router && a.progress == b.progress
}

func TestProcessHelpListsEveryVariable(t *testing.T) {
	var out bytes.Buffer
	_, err := parseProcessFlags([]string{"--help"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, v := range []string{"MHFZ_KAFKA_BROKERS", "MHFZ_TOPIC_PREFIX", "MHFZ_PROCESS_STORAGE"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("help does not mention %s:\n%s", v, out.String())
		}
	}
}

var processSummary = regexp.MustCompile(`process: read (\d+), forwarded (\d+), re-emitted (\d+), unchanged (\d+), stale (\d+), dead letters (\d+)`)

// TestProcessRunAndStop runs `mhfz process` on the real broker: a valid record and a bad one,
// a clean stop when the context ends (SIGTERM in main), and a second run that forwards nothing.
func TestProcessRunAndStop(t *testing.T) {
	f := newRouterFixture(t)
	brokers, names, cfg := f.brokers, f.names, f.cfg
	args := []string{"process", "--topic-prefix", names.Prefix, "--storage", f.storage, "--progress", "0"}
	ctx := context.Background()

	// runUntil runs mhfz process until the group has read everything, then stops it.
	runUntil := func(weapons int64) []string {
		t.Helper()
		runCtx, cancel := context.WithCancel(ctx)
		var stdout bytes.Buffer
		var wg sync.WaitGroup
		var runErr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			runErr = run(runCtx, args, &stdout, io.Discard)
		}()
		waitWeapons(t, brokers, cfg, names, weapons)
		waitCommitted(t, brokers, cfg, names, 2)
		cancel()
		wg.Wait()
		if runErr != nil {
			t.Fatalf("mhfz process: %+v", runErr)
		}
		m := processSummary.FindStringSubmatch(stdout.String())
		if m == nil {
			t.Fatalf("no summary in:\n%s", stdout.String())
		}
		return m[1:]
	}
	if got := runUntil(1); strings.Join(got, " ") != "2 1 0 0 0 1" {
		t.Fatalf("first run: read/forwarded/re-emitted/unchanged/stale/dead = %v, want 2 1 0 0 0 1", got)
	}
	// A second run reads nothing new.
	if got := runUntil(1); strings.Join(got, " ") != "0 0 0 0 0 0" {
		t.Fatalf("second run: %v, want nothing read", got)
	}
}

// TestProcessStoppedWhileStarting: a stop that comes while the router joins its group and
// recovers its table is a clean stop (goka reports it as an error of its own).
func TestProcessStoppedWhileStarting(t *testing.T) {
	f := newRouterFixture(t)
	args := []string{"process", "--topic-prefix", f.names.Prefix, "--storage", f.storage, "--progress", "0"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &cancelOn{substr: "router starting", cancel: cancel}
	var stdout bytes.Buffer
	if err := run(ctx, args, &stdout, logs); err != nil {
		t.Fatalf("mhfz process stopped while starting: %v, want a clean stop", err)
	}
	if !logs.seen.Load() {
		t.Fatal("the router never started: the stop did not come while it was starting")
	}
	if !processSummary.MatchString(stdout.String()) {
		t.Errorf("no summary in:\n%s", stdout.String())
	}
}

// cancelOn is a log destination that calls cancel once a line containing substr is written.
type cancelOn struct {
	substr string
	cancel context.CancelFunc
	seen   atomic.Bool
}

func (c *cancelOn) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(c.substr)) && c.seen.CompareAndSwap(false, true) {
		c.cancel()
	}
	return len(p), nil
}

// routerFixture is one deployment's topics on the test broker, with a valid raw record and an
// invalid one on weapon_data, and a folder for the router's storage.
type routerFixture struct {
	brokers []string
	names   codecs.Names
	cfg     *sarama.Config
	storage string
}

func newRouterFixture(t *testing.T) routerFixture {
	f := routerFixture{brokers: testenv.KafkaBrokers(t), names: codecs.Names{Prefix: testenv.Name(t, "p") + "."},
		cfg: kafka.Config("process-test"), storage: filepath.Join(t.TempDir(), "router")}
	t.Cleanup(func() {
		topics := []string{string(f.names.WeaponData()), string(f.names.DeadLetter()), processors.TableTopic(f.names)}
		for _, tp := range f.names.WeaponTopics() {
			topics = append(topics, string(tp))
		}
		_ = kafka.DeleteTopics(context.Background(), f.brokers, f.cfg, topics...)
	})
	t.Setenv("MHFZ_KAFKA_BROKERS", strings.Join(f.brokers, ","))
	t.Setenv("MHFZ_KAFKA_PARTITIONS", "4") // as the topics below: another count is refused
	good, err := os.ReadFile("../../processors/weaponrow/testdata/raw/ken_base_tree.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw codecs.RawRecord
	if err := json.Unmarshal(good, &raw); err != nil {
		t.Fatal(err)
	}
	if err := processors.EnsureTopics(context.Background(), f.names, processors.KafkaSetup{Brokers: f.brokers,
		Config: f.cfg, Partitions: 4, Replication: 1, StoragePath: f.storage}); err != nil {
		t.Fatal(err)
	}
	emitter, err := goka.NewEmitter(f.brokers, goka.Stream(f.names.WeaponData()), new(codec.Bytes),
		goka.WithEmitterProducerBuilder(goka.ProducerBuilderWithConfig(f.cfg)))
	if err != nil {
		t.Fatal(err)
	}
	for key, value := range map[string][]byte{raw.Key: good, "bad/key": []byte("{not json")} {
		if err := emitter.EmitSync(key, value); err != nil {
			t.Fatal(err)
		}
	}
	if err := emitter.Finish(); err != nil {
		t.Fatal(err)
	}
	return f
}

// waitCommitted waits until the router's group has committed n offsets of weapon_data in total.
func waitCommitted(t *testing.T, brokers []string, cfg *sarama.Config, names codecs.Names, n int64) {
	t.Helper()
	admin, err := sarama.NewClusterAdmin(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	topic := string(names.WeaponData())
	parts := map[string][]int32{topic: {0, 1, 2, 3}}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		res, err := admin.ListConsumerGroupOffsets(string(names.RouterGroup()), parts)
		if err == nil {
			var sum int64
			for _, p := range parts[topic] {
				if b := res.GetBlock(topic, p); b != nil && b.Offset > 0 {
					sum += b.Offset
				}
			}
			if sum >= n {
				time.Sleep(200 * time.Millisecond) // the callbacks of those offsets are done: they were committed
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the router did not commit %d offsets within a minute", n)
}

// waitWeapons waits until the weapon topics hold n records in total.
func waitWeapons(t *testing.T, brokers []string, cfg *sarama.Config, names codecs.Names, n int64) {
	t.Helper()
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var sum int64
		for _, topic := range names.WeaponTopics() {
			for p := int32(0); p < 4; p++ {
				hwm, err := client.GetOffset(string(topic), p, sarama.OffsetNewest)
				if err == nil {
					sum += hwm
				}
			}
		}
		if sum >= n {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the weapon topics did not reach %d records within a minute", n)
}
