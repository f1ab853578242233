package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/startup"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// The first ten minutes of a new user: what the binary says when it is called the wrong way,
// or before the services it needs are there.

// mhfzCmd runs the binary's entry point with its outputs kept apart; the services say again
// every 50ms what they are waiting for.
func mhfzCmd(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	var out, errOut syncBuffer
	err = runWith(ctx, args, &out, &errOut, 50*time.Millisecond)
	return out.String(), errOut.String(), err
}

func TestHelpGoesToStandardOutput(t *testing.T) {
	scrapeHelp, _, err := mhfzCmd(context.Background(), "scrape", "--help")
	if !errors.Is(err, flag.ErrHelp) || !strings.HasPrefix(scrapeHelp, "usage: mhfz scrape") {
		t.Fatalf("mhfz scrape --help: %v\n%s", err, scrapeHelp)
	}
	tests := []struct {
		args       []string
		wantStdout string // prefix; "" for nothing
		wantStderr string
		exit       int
	}{
		{[]string{"--help"}, "usage: mhfz COMMAND", "", 0},
		{[]string{"-h"}, "usage: mhfz COMMAND", "", 0},
		{[]string{"help"}, "usage: mhfz COMMAND", "", 0},
		{[]string{"help", "scrape"}, scrapeHelp, "", 0},
		{[]string{"migrate", "--help"}, "usage: mhfz migrate [flags] up|down|status|version", "", 0},
		{[]string{"version", "--help"}, "usage: mhfz version", "", 0},
		{nil, "", "usage: mhfz COMMAND", 2},
		{[]string{"help", "scrap"}, "", "usage: mhfz COMMAND", 2},
		{[]string{"scrap"}, "", "usage: mhfz COMMAND", 2},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			stdout, stderr, err := mhfzCmd(context.Background(), tc.args...)
			if exitCode(err) != tc.exit {
				t.Errorf("exit %d (%v), want %d", exitCode(err), err, tc.exit)
			}
			if (tc.wantStdout == "") != (stdout == "") || !strings.HasPrefix(stdout, tc.wantStdout) {
				t.Errorf("stdout %q, want it to start with %q", stdout, tc.wantStdout)
			}
			if (tc.wantStderr == "") != (stderr == "") || !strings.HasPrefix(stderr, tc.wantStderr) {
				t.Errorf("stderr %q, want it to start with %q", stderr, tc.wantStderr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		stdout, _, err := mhfzCmd(context.Background(), args...)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"mhfz ", "\ncommit ", runtime.Version()} {
			if !strings.Contains(stdout, want) {
				t.Errorf("mhfz %v: %q lacks %q", args, stdout, want)
			}
		}
	}
	if got := buildDescription("v1.2.3", "abc123"); !strings.HasPrefix(got, "mhfz v1.2.3\ncommit abc123\n") {
		t.Errorf("the stamped version and commit are not shown first: %q", got)
	}
}

// TestDurationsNeedAUnit: every duration flag of every command, given a bare number on the
// command line or in its variable, says that a unit is needed, and prints no help.
func TestDurationsNeedAUnit(t *testing.T) {
	n := 0
	for _, c := range commands() {
		for name, env := range helpOf(t, c.name) {
			if !isDurationFlag(t, c.name, name) {
				continue
			}
			n++
			t.Run(c.name+" --"+name, func(t *testing.T) {
				for _, setEnv := range []bool{false, true} {
					args := []string{c.name, "--" + name, "5"}
					if setEnv {
						t.Setenv(env, "5")
						args = []string{c.name}
					}
					if c.name == "migrate" {
						args = append(args, "up")
					}
					stdout, _, err := mhfzCmd(context.Background(), args...)
					if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "needs a unit: 5m, 6h") ||
						!strings.Contains(fmt.Sprint(err), c.name) || stdout != "" {
						t.Errorf("%v (env %v): exit %d, %v; stdout %q", args, setEnv, exitCode(err), err, stdout)
					}
				}
			})
		}
	}
	if n < 8 {
		t.Fatalf("found %d duration flags; the help's defaults are not recognised", n)
	}
}

// isDurationFlag tells a duration flag by its default in the help ("1m0s", "200ms", "0s").
func isDurationFlag(t *testing.T, cmd, name string) bool {
	t.Helper()
	var out bytes.Buffer
	_ = runWith(context.Background(), []string{cmd, "--help"}, &out, &out, time.Second)
	m := regexp.MustCompile(`(?m)^  --` + name + ` \[[A-Z0-9_]+\]\n.*\(default ([^)]*)\)$`).FindStringSubmatch(out.String())
	if m == nil {
		return false
	}
	_, err := time.ParseDuration(m[1])
	return err == nil && strings.ContainsAny(m[1], "smh")
}

func TestBadFlagSaysWhereTheFlagsAre(t *testing.T) {
	stdout, _, err := mhfzCmd(context.Background(), "sink", "--batch-sise", "10")
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "sink: flag provided but not defined: -batch-sise") ||
		!strings.Contains(err.Error(), "mhfz sink --help") || stdout != "" {
		t.Fatalf("exit %d: %v; stdout %q", exitCode(err), err, stdout)
	}
}

func TestProgressZeroMeansNone(t *testing.T) {
	if o, err := parseSinkFlags([]string{"--progress", "0"}, &bytes.Buffer{}); err != nil || o.cfg.Progress != 0 {
		t.Errorf("sink --progress 0: %v", err)
	}
	if o, err := parseProcessFlags([]string{"--progress", "0"}, &bytes.Buffer{}); err != nil || o.progress != 0 {
		t.Errorf("process --progress 0: %v", err)
	}
}

// closedPort is an address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// runningCmd is `mhfz ARGS` running until stopped.
type runningCmd struct {
	stderr syncBuffer
	stdout syncBuffer
	stop   context.CancelFunc
	done   chan error
}

func startCmd(t *testing.T, args ...string) *runningCmd {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningCmd{stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- runWith(ctx, args, &r.stdout, &r.stderr, 50*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-r.done; r.done <- nil })
	return r
}

// waitLog waits until the command's log holds n lines containing substr, or it exits.
func (r *runningCmd) waitLog(t *testing.T, substr string, n int) {
	t.Helper()
	deadline := time.After(time.Minute)
	for strings.Count(r.stderr.String(), substr) < n {
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("exited (%v) before logging %q %d times:\n%s", err, substr, n, r.stderr.String())
		case <-deadline:
			t.Fatalf("did not log %q %d times within a minute:\n%s", substr, n, r.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestServicesSayWhatTheyWaitFor: each service started before its broker says so at once and
// keeps saying it, and a stop (SIGTERM) before it ever connected is a failure to start
// (exit status 1), not a clean stop.
func TestServicesSayWhatTheyWaitFor(t *testing.T) {
	site := writeSite(t, scrapeSite)
	for _, args := range [][]string{
		{"sink", "--database-url", "postgres://mhfz:mhfz@" + closedPort(t) + "/mhfz"},
		{"process", "--storage", t.TempDir()},
		{"scrape", "--source", site},
	} {
		t.Run(args[0], func(t *testing.T) {
			t.Parallel()
			broker := closedPort(t)
			r := startCmd(t, append(args, "--brokers", broker)...)
			waiting := fmt.Sprintf("waiting for Kafka at [%s]", broker)
			r.waitLog(t, waiting, 3)
			r.stop()
			err := <-r.done
			r.done <- err
			want := fmt.Sprintf("%s: stopped before connecting to Kafka at [%s]: a failure to start", args[0], broker)
			if !errors.Is(err, startup.ErrNotStarted) || !strings.Contains(err.Error(), want) || exitCode(err) != 1 {
				t.Fatalf("stopped: exit %d, %v; want exit 1 and %q", exitCode(err), err, want)
			}
			if !strings.Contains(r.stderr.String(), "connection refused") {
				t.Errorf("the log does not say why it waits:\n%s", r.stderr.String())
			}
			if r.stdout.String() != "" {
				t.Errorf("a summary of a run that never started: %q", r.stdout.String())
			}
		})
	}
}

func TestProcessGivesUpAfterTheSetupTimeout(t *testing.T) {
	broker := closedPort(t)
	_, stderr, err := mhfzCmd(context.Background(), "process", "--brokers", broker, "--storage", t.TempDir(),
		"--setup-timeout", "300ms")
	want := fmt.Sprintf("process: connect to Kafka at [%s]: gave up after 300ms", broker)
	if err == nil || !strings.HasPrefix(err.Error(), want) || exitCode(err) != 1 {
		t.Fatalf("error %v, want %q", err, want)
	}
	if !strings.Contains(stderr, "waiting for Kafka") {
		t.Errorf("no waiting line:\n%s", stderr)
	}
}

// fakePostgres answers every connection with the error a PostgreSQL server would send, and
// returns a URL to it.
func fakePostgres(t *testing.T, code, message string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				be := pgproto3.NewBackend(c, c)
				if _, err := be.ReceiveStartupMessage(); err != nil {
					return
				}
				be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: message})
				_ = be.Flush()
			}()
		}
	}()
	return "postgres://mhfz:wrong@" + l.Addr().String() + "/mhfz?sslmode=disable"
}

// TestMigrateWaitsOnlyForWhatCanCome: a wrong password fails at once with the server's reason;
// a database that is still starting up is waited for, saying so.
func TestMigrateWaitsOnlyForWhatCanCome(t *testing.T) {
	t.Run("wrong password", func(t *testing.T) {
		dbURL := fakePostgres(t, "28P01", `password authentication failed for user "mhfz"`)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, stderr, err := mhfzCmd(ctx, "migrate", "--database-url", dbURL, "--wait", "1h", "up")
		if err == nil || !strings.Contains(err.Error(), `password authentication failed for user "mhfz" (SQLSTATE 28P01)`) ||
			ctx.Err() != nil || exitCode(err) != 1 {
			t.Fatalf("error %v (exit %d), want the server's reason at once", err, exitCode(err))
		}
		if strings.Contains(stderr, "waiting for") || strings.Contains(err.Error(), "wrong") {
			t.Errorf("waited, or showed the password: %v\n%s", err, stderr)
		}
	})
	t.Run("starting up", func(t *testing.T) {
		dbURL := fakePostgres(t, "57P03", "the database system is starting up")
		u, _ := url.Parse(dbURL)
		r := startCmd(t, "migrate", "--database-url", dbURL, "up")
		r.waitLog(t, fmt.Sprintf("waiting for PostgreSQL at %s (database mhfz, user mhfz)", u.Host), 2)
		r.stop()
		err := <-r.done
		r.done <- err
		if !errors.Is(err, startup.ErrNotStarted) || !strings.Contains(err.Error(), "the database system is starting up") {
			t.Fatalf("stopped: %v", err)
		}
	})
}

// TestMigrateRealServerPermanentErrors: on the real server, an unknown user and a database
// that does not exist fail at once.
func TestMigrateRealServerPermanentErrors(t *testing.T) {
	server := testenv.DatabaseURL(t)
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	noUser, noDB := *u, *u
	noUser.User = url.UserPassword("nobody_here", "x")
	noDB.Path = "/no_such_database"
	for _, tc := range []struct{ url, want string }{
		{noUser.String(), `role "nobody_here" does not exist (SQLSTATE 28000)`},
		{noDB.String(), `database "no_such_database" does not exist (SQLSTATE 3D000)`},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, stderr, err := mhfzCmd(ctx, "migrate", "--database-url", tc.url, "--wait", "1h", "status")
		if err == nil || !strings.Contains(err.Error(), tc.want) || ctx.Err() != nil || strings.Contains(stderr, "waiting for") {
			t.Errorf("migrate on %s: %v, want %q at once\n%s", tc.url, err, tc.want, stderr)
		}
		cancel()
	}
}

// TestSinkWaitsForTheDatabase: with the broker up and PostgreSQL not, the sink says it waits
// for PostgreSQL; a wrong password fails at once.
func TestSinkWaitsForTheDatabase(t *testing.T) {
	brokers := strings.Join(testenv.KafkaBrokers(t), ",")
	names := codecs.Names{Prefix: testenv.Name(t, "sinkwait") + "."}
	prefix := names.Prefix
	t.Cleanup(func() {
		var topics []string
		for _, topic := range names.WeaponTopics() {
			topics = append(topics, string(topic))
		}
		_ = kafka.DeleteTopics(context.Background(), testenv.KafkaBrokers(t), kafka.Config("test"), topics...)
	})
	down := closedPort(t)
	r := startCmd(t, "sink", "--brokers", brokers, "--topic-prefix", prefix,
		"--database-url", "postgres://mhfz:mhfz@"+down+"/mhfz?sslmode=disable")
	r.waitLog(t, "waiting for PostgreSQL at "+down, 2)
	r.stop()
	if err := <-r.done; !errors.Is(err, startup.ErrNotStarted) || exitCode(err) != 1 {
		t.Errorf("stopped while waiting for PostgreSQL: %v, want a failure to start", err)
	}
	r.done <- nil

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _, err := mhfzCmd(ctx, "sink", "--brokers", brokers, "--topic-prefix", prefix,
		"--database-url", fakePostgres(t, "28P01", `password authentication failed for user "mhfz"`))
	if err == nil || !strings.Contains(err.Error(), "password authentication failed") || ctx.Err() != nil {
		t.Errorf("sink with a wrong password: %v, want the reason at once", err)
	}
}

// TestScrapeWrongFolder: a folder without the site's index or weapon pages (most often the one
// above buki/) is an error naming it and what was expected in it.
func TestScrapeWrongFolder(t *testing.T) {
	parent := t.TempDir()
	buki := filepath.Join(parent, "buki")
	if err := os.Mkdir(buki, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range scrapeSite {
		if err := os.WriteFile(filepath.Join(buki, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	empty := t.TempDir()
	for _, tc := range []struct{ dir, want string }{
		{parent, fmt.Sprintf("--source %s: no buki.htm", parent)},
		{empty, fmt.Sprintf("--source %s: no buki.htm", empty)},
	} {
		stdout, _, err := mhfzCmd(context.Background(), "scrape", "--dry-run", "--source", tc.dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) || exitCode(err) == 0 || stdout != "" {
			t.Errorf("scrape --source %s: exit %d, %v; want %q", tc.dir, exitCode(err), err, tc.want)
		}
	}
	_, _, err := mhfzCmd(context.Background(), "scrape", "--dry-run", "--source", parent)
	if err == nil || !strings.Contains(err.Error(), buki+" has it: give that folder") {
		t.Errorf("no hint at %s: %v", buki, err)
	}
}

// TestCPUProfileFile: with MHFZ_CPU_PROFILE set, a command writes its CPU profile there when it
// ends (a gzip-compressed protocol buffer, as `go tool pprof` reads); a file it cannot create
// is an error naming the variable.
func TestCPUProfileFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	t.Setenv(envCPUProfile, path)
	if _, _, err := mhfzCmd(context.Background(), "version"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		t.Fatalf("MHFZ_CPU_PROFILE=%s: %d bytes (%v), want a gzip-compressed profile", path, len(data), err)
	}
	t.Setenv(envCPUProfile, filepath.Join(t.TempDir(), "missing", "cpu.pprof"))
	if _, _, err := mhfzCmd(context.Background(), "version"); err == nil || !strings.Contains(err.Error(), envCPUProfile) {
		t.Errorf("a profile file that cannot be created: %v, want an error naming %s", err, envCPUProfile)
	}
}
