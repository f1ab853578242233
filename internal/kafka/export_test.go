package kafka

// RetriableErrors lists the broker's answers Retriable allows, for the test that lists every
// classified error.
var RetriableErrors = retriableErrors
