package kafka

// The Kafka defaults every stage's DefaultConfig and every command's flags share.
const (
	// DefaultBroker is the bootstrap broker of a deployment on one machine.
	DefaultBroker = "localhost:9092"

	// DefaultPartitions is chosen for growth (docs/scaling.md). The partitions of weapon_data
	// bound how many processors share the work (goka gives each partition to one instance);
	// those of the weapon topics, how many sinks (15 topics: 15 times as many). 12 spreads
	// evenly over 1, 2, 3, 4, 6 or 12 instances, several times the processors that 100 sites
	// like this one, scraped hourly, need at their peak; a partition costs the brokers little,
	// each processor a local table per partition it holds. Changing the count of an existing
	// deployment moves keys between partitions: it is the documented procedure, never a silent
	// change (PartitionMismatchError).
	DefaultPartitions = 12

	// DefaultReplication suits a single broker.
	DefaultReplication = 1
)
