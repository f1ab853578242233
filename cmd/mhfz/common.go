package main

// Flags shared by several commands, declared once so that every service reads the same
// environment variables.

const (
	envBrokers     = "MHFZ_KAFKA_BROKERS"
	envDatabaseURL = "MHFZ_DATABASE_URL"
	envReplication = "MHFZ_KAFKA_REPLICATION"
	envPartitions  = "MHFZ_KAFKA_PARTITIONS"

	defaultBrokers     = "localhost:9092"
	defaultDatabaseURL = "postgres://mhfz:mhfz@localhost:5432/mhfz?sslmode=disable"
)

// kafkaFlags are the flags of every command that talks to Kafka.
type kafkaFlags struct {
	brokers     []string
	replication int
	partitions  int
}

func (k *kafkaFlags) register(fs *flagSet) {
	fs.listVar(&k.brokers, "brokers", envBrokers, defaultBrokers, "Kafka bootstrap brokers, comma-separated")
	fs.intVar(&k.replication, "replication", envReplication, 1,
		"replication factor of the topics this command creates (1 on a single broker)")
	fs.intVar(&k.partitions, "partitions", envPartitions, 4, "partition count of the topics this command creates")
}

// databaseFlags are the flags of every command that talks to PostgreSQL.
type databaseFlags struct {
	url string
}

func (d *databaseFlags) register(fs *flagSet) {
	fs.stringVar(&d.url, "database-url", envDatabaseURL, defaultDatabaseURL,
		"PostgreSQL URL: postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=disable")
}
