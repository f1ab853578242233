package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/internal/testenv"
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
