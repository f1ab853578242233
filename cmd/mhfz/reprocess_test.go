package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/internal/startup"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
	"github.com/mhfz/mhfz-pipeline/reprocess"
)

var reprocessSummary = regexp.MustCompile(`reprocess: read (\d+) raw records, forwarded (\d+), dead letters (\d+); stored (\d+) rows`)

// TestReprocessCommand runs `mhfz reprocess` on weapon_data holding a valid and an invalid raw
// record: it refuses while the processor runs, then rebuilds and switches the tables.
func TestReprocessCommand(t *testing.T) {
	f := newRouterFixture(t)
	url := testenv.DatabaseURL(t)
	if _, err := mhfz(t, "migrate", "--database-url", url, "up"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{"reprocess", "--topic-prefix", f.names.Prefix, "--storage", f.storage, "--database-url", url,
		"--progress", "0"}

	// A processor of the same deployment is running: reprocess says so and changes nothing.
	procCtx, stopProc := context.WithCancel(ctx)
	procDone := make(chan error, 1)
	go func() {
		procDone <- run(procCtx, []string{"process", "--topic-prefix", f.names.Prefix, "--storage", t.TempDir(),
			"--progress", "0"}, io.Discard, io.Discard)
	}()
	waitCommitted(t, f.brokers, f.cfg, f.names, 2)
	err := run(ctx, args, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "the processor is running") {
		t.Fatalf("reprocess while the processor runs: %v, want an error saying the processor is running", err)
	}
	stopProc()
	if err := <-procDone; err != nil {
		t.Fatal(err)
	}

	var stdout bytes.Buffer
	if err := run(ctx, args, &stdout, io.Discard); err != nil {
		t.Fatalf("mhfz reprocess: %v", err)
	}
	m := reprocessSummary.FindStringSubmatch(stdout.String())
	if m == nil || strings.Join(m[1:], " ") != "2 1 1 1" {
		t.Fatalf("summary %q: want read 2, forwarded 1, dead letters 1, stored 1", stdout.String())
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, markers int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM long_sword_current),
		(SELECT count(*) FROM pipeline_rebuild)`).Scan(&rows, &markers); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || markers != 0 {
		t.Fatalf("after the switch: %d weapons in the views, %d markers; want 1 and 0", rows, markers)
	}
}

func TestReprocessHelp(t *testing.T) {
	var out bytes.Buffer
	_, err := parseReprocessFlags([]string{"--help"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, v := range []string{"MHFZ_DATABASE_URL", "MHFZ_PROCESS_STORAGE", "MHFZ_SETUP_TIMEOUT", "MHFZ_KAFKA_BROKERS"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("help does not mention %s:\n%s", v, out.String())
		}
	}
}

// TestReprocessSaysWhatItWaitsFor: a re-processing started before Kafka, or before PostgreSQL,
// says what it waits for until stopped, and a stop then is a failure to start.
func TestReprocessSaysWhatItWaitsFor(t *testing.T) {
	kafkaUp := strings.Join(testenv.KafkaBrokers(t), ",")
	for _, tc := range []struct{ name, brokers, db, waiting string }{
		{"kafka", "", "", "waiting for Kafka at [%s]"},
		{"postgres", kafkaUp, "", "waiting for PostgreSQL at %s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			closed := closedPort(t)
			brokers, db, waiting := tc.brokers, "postgres://mhfz:mhfz@"+closed+"/mhfz", fmt.Sprintf(tc.waiting, closed)
			if brokers == "" {
				brokers = closed
			}
			r := startCmd(t, "reprocess", "--brokers", brokers, "--database-url", db, "--storage", t.TempDir(),
				"--topic-prefix", testenv.Name(t, "rw")+".")
			r.waitLog(t, waiting, 2)
			r.stop()
			err := <-r.done
			r.done <- err
			if !errors.Is(err, startup.ErrNotStarted) || exitCode(err) != 1 || r.stdout.String() != "" {
				t.Fatalf("stopped: exit %d, %v, stdout %q; want exit 1, a failure to start and no summary",
					exitCode(err), err, r.stdout.String())
			}
		})
	}
}

// TestReprocessFlagsMakeItsConfig: the flags' defaults are reprocess.DefaultConfig's, --progress
// 0 is NoProgress, and a configuration New refuses is a usage error (exit status 2).
func TestReprocessFlagsMakeItsConfig(t *testing.T) {
	env := runEnv{stdout: io.Discard, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	o, err := parseReprocessFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	def, cfg := reprocess.DefaultConfig(), o.config(env, nil)
	if cfg.Progress != def.Progress || cfg.StallTimeout != def.StallTimeout || cfg.CopyFrom != def.CopyFrom ||
		cfg.Poll != def.Poll || cfg.LagEvery != def.LagEvery {
		t.Errorf("flag defaults %+v, want DefaultConfig's %+v", cfg, def)
	}
	if _, err := reprocess.New(cfg); err != nil {
		t.Errorf("the default flags: %v", err)
	}
	if o, err = parseReprocessFlags([]string{"--progress", "0"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got := o.config(env, nil).Progress; got != reprocess.NoProgress {
		t.Errorf("--progress 0: Progress %s, want NoProgress", got)
	}
	for _, args := range [][]string{
		{"reprocess", "--copy-from", "x.weapon_data", "--topic-prefix", "x."},
		{"reprocess", "--progress", "-1s"},
		{"reprocess", "--database-url", ""},
	} {
		if _, _, err := mhfzCmd(context.Background(), args...); exitCode(err) != 2 {
			t.Errorf("%v: exit %d, %v; want a usage error", args, exitCode(err), err)
		}
	}
}
