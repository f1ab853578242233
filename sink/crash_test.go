package sink

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// The crash test runs the sink as a child process: this test binary again, told by these
// variables to run a sink instead of the tests.
const (
	childEnv       = "MHFZ_SINK_TEST_CHILD" // the database URL
	childBrokers   = "MHFZ_SINK_TEST_CHILD_BROKERS"
	childPrefix    = "MHFZ_SINK_TEST_CHILD_PREFIX"
	childBatchSize = "MHFZ_SINK_TEST_CHILD_BATCH"
	tracePrefix    = "TRACE "
)

// runChild runs a sink until SIGTERM, printing its transaction events on stdout.
func runChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	batch, _ := strconv.Atoi(os.Getenv(childBatchSize))
	prefix := os.Getenv(childPrefix)
	cfg := DefaultConfig()
	cfg.Brokers, cfg.DatabaseURL = strings.Split(os.Getenv(childBrokers), ","), os.Getenv(childEnv)
	cfg.Names, cfg.InstanceID = codecs.Names{Prefix: prefix}, prefix+"child"
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg.BatchSize, cfg.BatchWait = batch, 100*time.Millisecond
	s, err := New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	withTrace(func(event string) { fmt.Println(tracePrefix + event) })(s)
	if err := s.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// child is a sink child process and its transaction events.
type child struct {
	cmd    *exec.Cmd
	events chan string
	stderr *syncBuffer
}

func (f *fixture) startChild(t *testing.T, batch int) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+f.writer, childBrokers+"="+strings.Join(f.brokers, ","),
		childPrefix+"="+f.names.Prefix, childBatchSize+"="+strconv.Itoa(batch))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, events: make(chan string, 1024), stderr: newSyncBuffer()}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.events)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if ev, ok := strings.CutPrefix(sc.Text(), tracePrefix); ok {
				select {
				case c.events <- ev:
				default: // nobody is waiting for old events
				}
			}
		}
	}()
	return c
}

// waitEvent waits for the n-th event named ev.
func (c *child) waitEvent(t *testing.T, ev string, n int) {
	t.Helper()
	timeout := time.After(2 * time.Minute)
	for seen := 0; seen < n; {
		select {
		case got, ok := <-c.events:
			if !ok {
				t.Fatalf("child exited before %d %q events: %s", n, ev, c.stderr)
			}
			if got == ev {
				seen++
			}
		case <-timeout:
			t.Fatalf("no %d %q events in 2 minutes: %s", n, ev, c.stderr)
		}
	}
}

func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
}

// TestExactlyOnceUnderCrashes produces as many weapons as the whole corpus gives to the 15
// topics, and SIGKILLs the sink process at least six times: right after a transaction took its
// offsets (inside it), right after a commit (between two), and at random moments. After each
// crash the rows stored are exactly those of the offsets stored (all or nothing); at the end
// every (key, version) produced is stored exactly once.
func TestExactlyOnceUnderCrashes(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: the crash test loads the corpus' size")
	}
	f := newFixture(t)
	msgs, want := synthMessages(t, f.names, 0, CorpusRecords)
	begin := time.Now()
	f.produce(t, msgs)
	t.Logf("produced %d weapons in %s", len(msgs), time.Since(begin).Round(time.Millisecond))

	const batch = 2000
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for i := range 6 {
		c := f.startChild(t, batch)
		var how string
		switch i % 3 {
		case 0:
			n := 1 + rng.IntN(3)
			c.waitEvent(t, "begin", n)
			how = fmt.Sprintf("inside transaction %d", n)
		case 1:
			n := 1 + rng.IntN(3)
			c.waitEvent(t, "commit", n)
			how = fmt.Sprintf("after commit %d", n)
		default:
			c.waitEvent(t, "begin", 1)
			d := time.Duration(rng.IntN(1500)) * time.Millisecond
			time.Sleep(d)
			how = fmt.Sprintf("%s after the first transaction began", d)
		}
		c.kill(t)
		consumed := f.consumed(t)
		rows := 0
		for _, n := range f.storedRows(t) {
			rows += n
		}
		t.Logf("kill %d (%s): %d messages handled, %d rows stored", i+1, how, consumed, rows)
		if int64(rows) != consumed {
			t.Fatalf("after kill %d: %d rows for offsets covering %d messages: a batch was half written", i+1, rows, consumed)
		}
		if consumed == int64(len(msgs)) {
			t.Fatalf("the sink finished before kill %d: kill sooner", i+1)
		}
	}

	c := f.startChild(t, batch)
	f.waitConsumed(t, int64(len(msgs)), 5*time.Minute)
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Wait(); err != nil {
		t.Errorf("sink exited with %v after SIGTERM: %s", err, c.stderr)
	}
	if !strings.Contains(c.stderr.String(), "sink stopped") {
		t.Errorf("no summary in the sink's log: %s", c.stderr)
	}
	f.checkExactlyOnce(t, want)
}
