// Command mhfz runs the stages of the MHFZ weapon pipeline: one subcommand per service.
//
//	mhfz scrape    fetch the weapon pages and emit one raw record per weapon row
//	mhfz process   parse, validate, deduplicate and route the raw records
//	mhfz sink      store the routed weapons in PostgreSQL, exactly once
//	mhfz reprocess re-derive the tables from weapon_data with this build, then switch them
//	mhfz serve     the web page and the JSON API over the stored weapons (read-only)
//	mhfz publish   publish the downloadable dataset (SQLite, JSON Lines, CSV) when the data changed
//	mhfz export    write the downloadable dataset's files by hand
//	mhfz dlq       list, show and re-drive the dead letters
//	mhfz migrate   apply or inspect the database schema
//	mhfz health    check that Kafka and/or PostgreSQL answer
//	mhfz version   the build's version, Go version and commit
//
// Every flag has an environment-variable equivalent; `mhfz COMMAND --help` lists both.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mhfz/mhfz-pipeline/internal/startup"
)

// command is one subcommand: its name, a one-line summary and the function that runs it.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, env runEnv) error
}

func commands() []command {
	return []command{
		{"scrape", "fetch the weapon pages and emit one raw record per weapon row to Kafka", runScrape},
		{"process", "parse, validate, deduplicate and route the raw records (goka processor)", runProcess},
		{"sink", "store the routed weapons in PostgreSQL, with the Kafka offsets, exactly once", runSink},
		{"reprocess", "re-derive every weapon table from weapon_data with this build, then switch the tables", runReprocess},
		{"serve", "the web page and the JSON API over the stored weapons, read-only", runServe},
		{"publish", "publish the downloadable dataset (SQLite, JSON Lines, CSV), once or --every, when the data changed", runPublish},
		{"export", "write the downloadable dataset's files by hand: --format sqlite,jsonl,csv --out DIR", runExport},
		{"dlq", "list, show and re-drive the dead letters of the processor and the sink: list, show ID, redrive", runDlq},
		{"migrate", "apply or inspect the database schema: up, down, status, version", runMigrate},
		{"health", "exit 0 if the broker and/or the database given answer (for healthchecks)", runHealth},
		{"version", "the build's version, Go version and commit (for bug reports)", runVersion},
	}
}

// runEnv is what a command runs with besides its arguments.
type runEnv struct {
	stdout io.Writer    // results, summaries and --help
	log    *slog.Logger // everything else (standard error)
	// waitEvery is how often a service still waiting for Kafka or PostgreSQL at start says so
	// again (10s; shorter in tests).
	waitEvery time.Duration
}

// waiter waits for a dependency at start, for at most timeout (0: until stopped).
func (e runEnv) waiter(timeout time.Duration) startup.Waiter {
	return startup.Waiter{Log: e.log, Every: e.waitEvery, Timeout: timeout}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 { // the collector is the process's: set here, not by the commands tests run in theirs
		setGCPercent(os.Args[1])
	}
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "mhfz:", err)
		}
		stop()
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// usageError is a mistake in the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// run runs the command line args; a service says again every 10s what it is waiting for.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runWith(ctx, args, stdout, stderr, 10*time.Second)
}

func runWith(ctx context.Context, args []string, stdout, stderr io.Writer, waitEvery time.Duration) error {
	if len(args) == 0 {
		printUsage(stderr)
		return usageError{"no command given"}
	}
	switch args[0] {
	case "-h", "-help", "--help":
		printUsage(stdout)
		return flag.ErrHelp
	case "help": // `mhfz help` is `mhfz --help`, `mhfz help scrape` is `mhfz scrape --help`
		if len(args) == 1 {
			printUsage(stdout)
			return flag.ErrHelp
		}
		args = []string{args[1], "--help"}
	case "-version", "--version":
		args = []string{"version"}
	}
	for _, c := range commands() {
		if c.name == args[0] {
			log := newLogger(stderr).With("service", c.name)
			stopProfile, err := startCPUProfile()
			if err != nil {
				return err
			}
			err = c.run(ctx, args[1:], runEnv{stdout: stdout, log: log, waitEvery: waitEvery})
			return errors.Join(err, stopProfile())
		}
	}
	printUsage(stderr)
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: mhfz COMMAND [flags]   (mhfz COMMAND --help, or mhfz help COMMAND, for its flags)")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nevery command also reads MHFZ_LOG_LEVEL (debug, info, warn, error), MHFZ_LOG_FORMAT (json, text)")
	fmt.Fprintln(w, "and MHFZ_CPU_PROFILE (a file where the command writes its CPU profile when it ends);")
	fmt.Fprintln(w, "scrape and sink run with GOGC=200 unless GOGC is set (GOMEMLIMIT bounds the heap)")
}

// newLogger logs with log/slog: text by default, JSON with MHFZ_LOG_FORMAT=json; the level
// from MHFZ_LOG_LEVEL (debug, info, warn, error).
// A value it does not know is said, not silently taken for the default.
func newLogger(w io.Writer) *slog.Logger {
	var level slog.Level
	levelName := os.Getenv("MHFZ_LOG_LEVEL")
	levelErr := level.UnmarshalText([]byte(levelName))
	if levelErr != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	format := os.Getenv("MHFZ_LOG_FORMAT")
	var log *slog.Logger
	if format == "json" {
		log = slog.New(slog.NewJSONHandler(w, opts))
	} else {
		log = slog.New(slog.NewTextHandler(w, opts))
	}
	if levelName != "" && levelErr != nil {
		log.Warn("MHFZ_LOG_LEVEL not understood (debug, info, warn, error): logging at info", "value", levelName)
	}
	if format != "" && format != "json" && format != "text" {
		log.Warn("MHFZ_LOG_FORMAT not understood (json, text): logging as text", "value", format)
	}
	return log
}
