// Package kafka owns how the pipeline talks to Apache Kafka: the one sarama configuration that
// every stage (and goka) uses, and the creation of the pipeline's topics with explicit
// partition counts, replication and configs, instead of relying on broker auto-creation.
package kafka
