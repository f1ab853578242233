# The commands of the README: `make build` (the binary, bin/mhfz), `make test` (the test command
# of the README and of CI: real Kafka and PostgreSQL started on loopback by scripts/testenv, the
# whole module tested with the race detector, the three-broker cluster too, everything stopped
# after), `make bench`.
GO ?= go
TESTFLAGS ?= -race -count=1 -timeout 50m
BIN ?= bin/mhfz
# What `mhfz version` reports: the nearest tag or else the short commit ("-dirty" with
# uncommitted changes), and the commit.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)

.PHONY: build test bench
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X main.version=$(VERSION) -X main.commit=$(COMMIT)" -o $(BIN) ./cmd/mhfz

test:
	scripts/testenv run --cluster $(GO) test $(TESTFLAGS) ./...

# Benchmarks against the real services and the real pages (see docs/benchmarks.md).
bench:
	scripts/testenv run $(GO) test -run '^$$' -bench . -benchtime 3x -count 5 ./...
