// Command mhfz runs the stages of the MHFZ weapon pipeline: one subcommand per service.
//
//	mhfz scrape    fetch the weapon pages and emit one raw record per weapon row
//	mhfz process   parse, validate, deduplicate and route the raw records
//	mhfz sink      store the routed weapons in PostgreSQL, exactly once
//	mhfz reprocess re-derive the tables from weapon_data with this build, then switch them
//	mhfz migrate   apply or inspect the database schema
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
)

// command is one subcommand: its name, a one-line summary and the function that runs it.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error
}

func commands() []command {
	return []command{
		{"scrape", "fetch the weapon pages and emit one raw record per weapon row to Kafka", runScrape},
		{"process", "parse, validate, deduplicate and route the raw records (goka processor)", runProcess},
		{"sink", "store the routed weapons in PostgreSQL, with the Kafka offsets, exactly once", runSink},
		{"reprocess", "re-derive every weapon table from weapon_data with this build, then switch the tables", runReprocess},
		{"migrate", "apply or inspect the database schema: up, down, status, version", runMigrate},
		{"health", "exit 0 if the broker and/or the database given answer (for healthchecks)", runHealth},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return usageError{"no command given"}
		}
		return flag.ErrHelp
	}
	for _, c := range commands() {
		if c.name == args[0] {
			log := newLogger(stderr).With("service", c.name)
			return c.run(ctx, args[1:], stdout, log)
		}
	}
	printUsage(stderr)
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: mhfz COMMAND [flags]   (mhfz COMMAND --help for its flags)")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
}

// newLogger logs with log/slog: text by default, JSON with MHFZ_LOG_FORMAT=json; the level
// from MHFZ_LOG_LEVEL (debug, info, warn, error).
func newLogger(w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(os.Getenv("MHFZ_LOG_LEVEL"))); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if os.Getenv("MHFZ_LOG_FORMAT") == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
