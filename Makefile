# The test command of the README and of CI: real Kafka and PostgreSQL started on loopback by
# scripts/testenv, the whole module tested with the race detector, everything stopped after.
GO ?= go
TESTFLAGS ?= -race -count=1 -timeout 50m

.PHONY: test build bench services
test:
	scripts/testenv run $(GO) test $(TESTFLAGS) ./...

build:
	CGO_ENABLED=0 $(GO) build -o bin/mhfz ./cmd/mhfz

# Benchmarks against the real services and the real pages (see docs/benchmarks.md).
bench:
	scripts/testenv run $(GO) test -run '^$$' -bench . -benchtime 3x -count 5 ./...
