package kafka_test

import (
	"context"
	"net"
	"testing"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// TestPingNoBroker: nothing listens on the port: Ping fails at once, with an error worth
// waiting out, and leaves the caller's config as it was.
func TestPingNoBroker(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := kafka.Config("ping-test")
	err = kafka.Ping(context.Background(), []string{addr}, cfg)
	if err == nil || !kafka.NotReady(err) {
		t.Fatalf("Ping of a closed port: %v, want an error worth waiting out", err)
	}
	if cfg.Metadata.Retry.Max != kafka.Config("x").Metadata.Retry.Max {
		t.Error("Ping changed the caller's config")
	}
	bad := kafka.Config("ping-test")
	bad.Producer.Idempotent, bad.Net.MaxOpenRequests = true, 5
	if err := kafka.Ping(context.Background(), []string{addr}, bad); err == nil || kafka.NotReady(err) {
		t.Errorf("Ping with an impossible config: %v, want an error not worth waiting out", err)
	}
}

func TestPingBroker(t *testing.T) {
	brokers := testenv.KafkaBrokers(t)
	if err := kafka.Ping(context.Background(), brokers, kafka.Config("ping-test")); err != nil {
		t.Fatal(err)
	}
}
