package kafka

// The Kafka defaults every stage's DefaultConfig and every command's flags share.
const (
	// DefaultBroker is the bootstrap broker of a deployment on one machine.
	DefaultBroker = "localhost:9092"

	// DefaultPartitions is the partition count of the topics a stage creates when none is asked
	// for (an existing topic keeps its own: TopicSpec). The partitions of weapon_data bound how
	// many processors share the work (goka gives each partition to one instance); those of the
	// weapon topics, how many sinks (15 topics: 15 times as many). Two let a second instance of
	// each stage take half; every partition costs CPU (a batch at each flush of a producer, a
	// fetch, in the processor a table and a goroutine): a snapshot through 12 a topic, the default
	// before, took the broker and the services 2.5 to 2.8 CPU-s more, and the run 1 to 2 s more
	// (docs/benchmarks.md, "The seventh round"). A deployment that will run more instances
	// chooses more when it is created (docs/scaling.md). Changing the count of an existing
	// deployment moves keys between partitions: it is the documented procedure, never a silent
	// change (PartitionMismatchError).
	DefaultPartitions = 2

	// DefaultReplication suits a single broker.
	DefaultReplication = 1
)
