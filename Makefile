# The commands of the README: `make build` (the binary, bin/mhfz), `make test` (the test command
# of the README and of CI: real Kafka and PostgreSQL started on loopback by scripts/testenv, the
# three-broker cluster too, everything stopped after), `make check` (a minute, no services),
# `make bench`.
#
# Every package is tested with the race detector but e2e, which runs after them: e2e runs the
# whole pipeline over the full snapshots, 2.2 times slower raced (1,586 s against 725 s, measured),
# and each of its parts is raced in its own package's tests, against the same real services. Run
# beside the raced packages, e2e took longer still (1,691 s): they share two cores and the cluster.
GO ?= go
TESTFLAGS ?= -count=1 -timeout 50m
RACEFLAGS ?= -race
BIN ?= bin/mhfz
# What `mhfz version` reports: the nearest tag or else the short commit ("-dirty" with
# uncommitted changes), and the commit.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)

.PHONY: build check test bench profile soak
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X main.version=$(VERSION) -X main.commit=$(COMMIT)" -o $(BIN) ./cmd/mhfz

# What answers in about a minute without any service: go vet, the shape of the module (the
# layers and the size of every function, internal/structure), and the tests of every package that
# need no Kafka or PostgreSQL. CI and the MHFZ_TEST_* variables are unset, so that the tests of
# the services skip instead of failing or finding them; -short skips the build of the binary.
# e2e is `make test`'s: its one test without services runs the whole corpus through the router.
CHECKFLAGS ?= -short -count=1
check:
	$(GO) vet ./...
	env -u CI $$(env | sed -n 's/^\(MHFZ_TEST_[A-Z0-9_]*\)=.*/-u \1/p') \
		$(GO) test $(CHECKFLAGS) $$($(GO) list ./... | grep -v /e2e$$)

# The raced packages start in the order given, two at a time (-p is the number of cores): the
# slowest first, so that the others run beside them instead of after them. sink alone took 457 s
# of the 626 s of the raced packages (measured on a loaded machine); started last, as in
# alphabetical order, it began at 169 s and ended the run alone.
SLOWEST ?= ./sink ./cmd/mhfz ./scraper ./internal/kafka ./migrations
# How many parallel tests of one raced package run at once (go test's default: GOMAXPROCS, 2
# here). sink's tests mostly wait (restarts, crashes, rebalances, Kafka and PostgreSQL round
# trips), each on its own topics and database. Measured on a loaded machine, wall (CPU) seconds:
# one after another 291 (110), -parallel 2 188 (113), 4 278 (120, a busier moment), 8 144 (126).
RACEPARALLEL ?= -parallel 16
# e2e's tests run three at once: each has its own topics, groups and databases (and its own
# broker where it stops one; the cluster is the failover test's alone), and most of their time
# is spent waiting on the services: 497 s for the package against 787 s one after another
# (measured on the same, loaded, machine). Six at once was faster (467 s with both cores loaded
# by stress-ng, against 508 s) but too much for the machine: the stack test's services then took
# over 3 minutes to stop.
E2EPARALLEL ?= -parallel 3
test:
	scripts/testenv run --cluster sh -c '\
		$(GO) test $(TESTFLAGS) $(RACEFLAGS) $(RACEPARALLEL) $(SLOWEST) $$($(GO) list ./... | grep -v /e2e$$); raced=$$?; \
		$(GO) test $(TESTFLAGS) $(E2EPARALLEL) ./e2e/ && exit $$raced'

# Benchmarks against the real services and the real pages (see docs/benchmarks.md).
bench:
	scripts/testenv run $(GO) test -run '^$$' -bench . -benchtime 3x -count 5 ./...

# The end-to-end benchmark with every service's CPU profile on (MHFZ_CPU_PROFILE): the profiles
# and a summary per service (where the CPU went, by library and stage, and the top functions)
# in PROFILE_DIR. See docs/benchmarks.md.
PROFILE_DIR ?= profiles
PROFILE_RUNS ?= 3
profile:
	mkdir -p $(PROFILE_DIR) && rm -f $(PROFILE_DIR)/*.pprof $(PROFILE_DIR)/summary.md
	scripts/testenv run env MHFZ_PROFILE_DIR=$(abspath $(PROFILE_DIR)) \
		$(GO) test -run '^$$' -bench 'StackEndToEnd/metrics=off' -benchtime 1x -count $(PROFILE_RUNS) -v -timeout 60m ./e2e/
	@cat $(PROFILE_DIR)/summary.md

# The soak (docs/benchmarks.md, "Soak"): the stack as processes for SOAK_DURATION under `scrape
# --every SOAK_EVERY` over a mirror alternating the two snapshots, a SIGKILL of a random service
# every SOAK_KILL_EVERY, every series sampled each minute; the figures, verdicts (soak.md), samples
# (soak.csv) and plot (soak.svg) go to SOAK_OUT. `make test` runs its 3-minute variant.
SOAK_DURATION ?= 60m
SOAK_EVERY ?= 3m
SOAK_KILL_EVERY ?= 6m
SOAK_OUT ?= $(CURDIR)/bin/soak
soak:
	scripts/testenv run env MHFZ_SOAK_DURATION=$(SOAK_DURATION) MHFZ_SOAK_EVERY=$(SOAK_EVERY) \
		MHFZ_SOAK_KILL_EVERY=$(SOAK_KILL_EVERY) MHFZ_SOAK_SAMPLE_EVERY=1m MHFZ_SOAK_OUT=$(SOAK_OUT) \
		$(GO) test -count=1 -timeout 4h -run '^TestSoak$$' -v ./e2e/
