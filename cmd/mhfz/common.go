package main

import (
	"fmt"
	"time"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/internal/startup"
)

// Flags shared by several commands, declared once so that every service reads the same
// environment variables.

const (
	envBrokers     = "MHFZ_KAFKA_BROKERS"
	envDatabaseURL = "MHFZ_DATABASE_URL"
	envReplication = "MHFZ_KAFKA_REPLICATION"
	envPartitions  = "MHFZ_KAFKA_PARTITIONS"
	envTopicPrefix = "MHFZ_TOPIC_PREFIX"
	envSetupWait   = "MHFZ_SETUP_TIMEOUT"

	defaultDatabaseURL = "postgres://mhfz:mhfz@localhost:5432/mhfz?sslmode=disable"
)

// kafkaFlags are the flags of every stage: the broker, the topics it creates, their names.
type kafkaFlags struct {
	brokers     []string
	replication int
	partitions  int
	topicPrefix string
}

func (k *kafkaFlags) register(fs *flagSet) {
	registerBrokers(fs, &k.brokers)
	fs.stringVar(&k.topicPrefix, "topic-prefix", envTopicPrefix, "",
		"prefix of every topic and group name (one deployment, or one test, per prefix)")
	fs.intVar(&k.replication, "replication", envReplication, kafka.DefaultReplication,
		"replication factor of the topics this command creates (1 on a single broker)")
	fs.intVar(&k.partitions, "partitions", envPartitions, 0,
		fmt.Sprintf("partition count of the topics this command creates; 0: %d, and existing topics keep theirs "+
			"(another count than an existing topic's is refused: docs/scaling.md)", kafka.DefaultPartitions))
}

// check says what is wrong with the flags, for command.
func (k *kafkaFlags) check(command string) error {
	switch {
	case len(k.brokers) == 0:
		return usageError{command + ": --brokers is empty"}
	case k.partitions < 0:
		return usageError{command + ": --partitions must be >= 0 (0: the default)"}
	case k.replication < 1:
		return usageError{command + ": --replication must be >= 1"}
	}
	return nil
}

// names are the topic and group names of this deployment.
func (k *kafkaFlags) names() codecs.Names { return codecs.Names{Prefix: k.topicPrefix} }

func registerBrokers(fs *flagSet, brokers *[]string) {
	fs.listVar(brokers, "brokers", envBrokers, kafka.DefaultBroker, "Kafka bootstrap brokers, comma-separated")
}

// databaseFlags are the flags of every command that talks to PostgreSQL.
type databaseFlags struct {
	url string
}

func (d *databaseFlags) register(fs *flagSet) {
	fs.stringVar(&d.url, "database-url", envDatabaseURL, defaultDatabaseURL,
		"PostgreSQL URL: postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=disable")
}

// registerSetupTimeout is the flag of every service that waits for Kafka (and the sink for
// PostgreSQL too) at start: how long it waits, saying what it waits for, before it fails.
func registerSetupTimeout(fs *flagSet, d *time.Duration) {
	fs.durationVar(d, "setup-timeout", envSetupWait, startup.DefaultTimeout,
		"how long to wait at start for Kafka (the sink: and PostgreSQL) to answer before failing (0: until stopped)")
}
