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
// a database URL is set, PostgreSQL. The image's HEALTHCHECK runs it (the final image has no
// shell), so it reads the same environment variables as the services.
func runHealth(ctx context.Context, args []string, env runEnv) error {
	stdout := env.stdout
	var (
		brokers []string
		dbURL   string
		httpURL string
		timeout time.Duration
	)
	fs := newFlagSet("health", "health [flags]", stdout)
	registerBrokers(fs, &brokers)
	fs.stringVar(&dbURL, "database-url", envDatabaseURL, "", "PostgreSQL URL to check; empty: do not check PostgreSQL")
	fs.stringVar(&httpURL, "url", "MHFZ_HEALTH_URL", "",
		"an HTTP URL that must answer 200 (mhfz serve: http://127.0.0.1:8080/api/health); empty: none")
	fs.durationVar(&timeout, "timeout", "MHFZ_HEALTH_TIMEOUT", 5*time.Second, "how long each check may take")
	if err := fs.parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var errs []error
	if len(brokers) > 0 {
		errs = append(errs, checkKafka(brokers, timeout))
	}
	if dbURL != "" {
		errs = append(errs, checkPostgres(ctx, dbURL))
	}
	if httpURL != "" {
		errs = append(errs, checkHTTP(ctx, httpURL))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	fmt.Fprintln(stdout, "healthy")
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

func checkHTTP(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("--url %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
