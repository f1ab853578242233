// Package e2e holds the tests that need several stages of the pipeline at once (the stages meet
// only through Kafka, so no stage's own tests can): the processor on the real corpus, the sink
// under crashes with the real processor upstream, and the whole stack without Docker. They run
// against the real Kafka broker and PostgreSQL of scripts/testenv.
package e2e
