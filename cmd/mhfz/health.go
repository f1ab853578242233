package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
)

// runHealth checks that what the service is configured with answers: the Kafka brokers and, when
// a database URL is set, PostgreSQL; or, with --url, a service's /readyz or /healthz (a service
// that works, not only its dependencies). The image's HEALTHCHECK and the compose healthchecks
// run it (the final image has no shell and no curl), so it reads the same environment variables
// as the services.
func runHealth(ctx context.Context, args []string, env runEnv) error {
	stdout := env.stdout
	var (
		brokers []string
		dbURL   string
		timeout time.Duration
		url     string
	)
	fs := newFlagSet("health", "health [flags]", stdout)
	registerBrokers(fs, &brokers)
	fs.stringVar(&dbURL, "database-url", envDatabaseURL, "", "PostgreSQL URL to check; empty: do not check PostgreSQL")
	fs.durationVar(&timeout, "timeout", "MHFZ_HEALTH_TIMEOUT", 5*time.Second, "how long each check may take")
	fs.stringVar(&url, "url", "MHFZ_HEALTH_URL", "",
		"check this URL of a service instead (http://localhost:9100/readyz): healthy if it answers 200")
	if err := fs.parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var errs []error
	switch {
	case url != "":
		errs = append(errs, checkURL(ctx, url))
	default:
		errs = append(errs, checkDependencies(ctx, brokers, dbURL, timeout)...)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	fmt.Fprintln(stdout, "healthy")
	return nil
}

func checkDependencies(ctx context.Context, brokers []string, dbURL string, timeout time.Duration) []error {
	var errs []error
	if len(brokers) > 0 {
		errs = append(errs, checkKafka(brokers, timeout))
	}
	if dbURL != "" {
		errs = append(errs, checkPostgres(ctx, dbURL))
	}
	return errs
}

// checkURL GETs a health endpoint: 200 is healthy; anything else is an error with what the
// service said (its failing checks).
func checkURL(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("--url %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

func checkKafka(brokers []string, timeout time.Duration) error {
	cfg := kafka.Config("mhfz-health")
	cfg.Net.DialTimeout = timeout
	cfg.Metadata.Retry.Max = 0
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		return fmt.Errorf("kafka at %v: %w", brokers, err)
	}
	defer client.Close()
	if len(client.Brokers()) == 0 {
		return fmt.Errorf("kafka at %v: no broker in the metadata", brokers)
	}
	return nil
}

func checkPostgres(ctx context.Context, url string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(ctx)
	if err := conn.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}
