package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/deadletter"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
)

// dlqOptions are the flags and the action of `mhfz dlq`.
type dlqOptions struct {
	brokers      []string
	topicPrefix  string
	db           databaseFlags
	action, id   string
	source       string
	kinds        []string
	key          string
	since, until string
	pending      bool
	json         bool
	dryRun       bool
	batchSize    int
}

var dlqActions = map[string]int{"list": 0, "show": 1, "redrive": 0} // action -> positional arguments

func parseDlqFlags(args []string, output io.Writer) (*dlqOptions, error) {
	o := &dlqOptions{}
	fs := newFlagSet("dlq", "dlq [flags] list | show ID | redrive", output)
	fs.takesArgs = true
	registerBrokers(fs, &o.brokers)
	fs.stringVar(&o.topicPrefix, "topic-prefix", envTopicPrefix, "",
		"prefix of every topic and group name (one deployment, or one test, per prefix)")
	o.db.register(fs)
	fs.stringVar(&o.source, "source", "MHFZ_DLQ_SOURCE", "",
		"list, redrive: only the dead letters of the processor's topic (topic) or of the sink's table (table); empty: both")
	fs.listVar(&o.kinds, "kind", "MHFZ_DLQ_KIND", "",
		"list, redrive: only these kinds, comma-separated (the processor's: json, parse, panic, ...; the sink's: sink, lost)")
	fs.stringVar(&o.key, "key", "MHFZ_DLQ_KEY", "", "list, redrive: only the dead letters of this record key")
	fs.stringVar(&o.since, "since", "MHFZ_DLQ_SINCE", "",
		"list, redrive: only those that failed at or after this time (RFC 3339, or a duration: that long ago)")
	fs.stringVar(&o.until, "until", "MHFZ_DLQ_UNTIL", "",
		"list, redrive: only those that failed before this time (RFC 3339, or a duration: that long ago)")
	fs.boolVar(&o.pending, "pending", "MHFZ_DLQ_PENDING", false, "list: only the dead letters not re-driven yet")
	fs.boolVar(&o.json, "json", "MHFZ_DLQ_JSON", false, "list: JSON lines instead of a table")
	fs.boolVar(&o.dryRun, "dry-run", "MHFZ_DLQ_DRY_RUN", false, "redrive: say how many would be sent; send and mark nothing")
	fs.intVar(&o.batchSize, "batch-size", "MHFZ_DLQ_BATCH_SIZE", deadletter.DefaultConfig().BatchSize,
		"redrive: dead letters per batch (one claim, one acknowledged send, one mark)")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() == 0 {
		return nil, usageError{"dlq: missing action: list, show ID or redrive"}
	}
	o.action = fs.Arg(0)
	want, ok := dlqActions[o.action]
	if !ok {
		return nil, usageError{fmt.Sprintf("dlq: unknown action %q: want list, show ID or redrive", o.action)}
	}
	rest := fs.Args()[1:]
	if err := fs.parseArgs(rest); err != nil { // flags after the action
		return nil, err
	}
	if want == 1 && fs.NArg() > 0 { // show ID [flags]
		o.id = fs.Arg(0)
		if err := fs.parseArgs(fs.Args()[1:]); err != nil {
			return nil, err
		}
	}
	switch {
	case want == 1 && o.id == "":
		return nil, usageError{"dlq show: missing the dead letter's ID (as dlq list prints it)"}
	case fs.NArg() > 0:
		return nil, usageError{fmt.Sprintf("dlq %s: unexpected arguments %q", o.action, fs.Args())}
	case len(o.brokers) == 0 || o.db.url == "":
		return nil, usageError{"dlq: --brokers and --database-url must be given"}
	}
	return o, nil
}

// config is the deadletter configuration of the flags, at now.
func (o *dlqOptions) config(env runEnv, now time.Time) (deadletter.Config, error) {
	cfg := deadletter.DefaultConfig()
	cfg.Brokers, cfg.Kafka, cfg.Names = o.brokers, kafka.Config("mhfz-dlq"), codecs.Names{Prefix: o.topicPrefix}
	cfg.DatabaseURL, cfg.Logger, cfg.DryRun, cfg.BatchSize = o.db.url, env.log, o.dryRun, o.batchSize
	cfg.Filter = deadletter.Filter{Source: o.source, Kinds: o.kinds, Key: o.key, Pending: o.pending}
	var err1, err2 error
	cfg.Filter.Since, err1 = parseWhen("--since", o.since, now)
	cfg.Filter.Until, err2 = parseWhen("--until", o.until, now)
	return cfg, errors.Join(err1, err2)
}

// parseWhen reads a time: RFC 3339, or a duration before now; empty is no time.
func parseWhen(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usageError{fmt.Sprintf("dlq: %s %q: want an RFC 3339 time (2026-12-01T00:00:00Z) or a duration (24h)", flag, v)}
}

// runDlq lists, shows or re-drives the dead letters (package deadletter).
func runDlq(ctx context.Context, args []string, env runEnv) error {
	o, err := parseDlqFlags(args, env.stdout)
	if err != nil {
		return err
	}
	cfg, err := o.config(env, time.Now())
	if err != nil {
		return err
	}
	tool, err := deadletter.New(cfg)
	if err != nil {
		return usageError{err.Error()} // the configuration is the flags'
	}
	switch o.action {
	case "list":
		return dlqList(ctx, tool, o.json, env.stdout)
	case "show":
		l, err := tool.Show(ctx, o.id)
		if err != nil {
			return err
		}
		return deadletter.WriteShow(env.stdout, l)
	}
	st, err := tool.Redrive(ctx)
	verb := "sent"
	if o.dryRun {
		verb = "would send"
	}
	fmt.Fprintf(env.stdout, "dlq redrive: %d selected, %s %d, %d cannot be re-driven; from a stopped redrive: %d found sent, %d sent again\n",
		st.Selected, verb, st.Sent, st.Blocked, st.Settled, st.Released)
	return err
}

func dlqList(ctx context.Context, tool *deadletter.Tool, asJSON bool, w io.Writer) error {
	ls, err := tool.List(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return deadletter.WriteJSONLines(w, ls)
	}
	return deadletter.WriteTable(w, ls)
}
