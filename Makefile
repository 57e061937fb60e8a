# statewall: build, test, benchmark and demo targets.
# `make test` is the test command CI runs (through .ci/run); `make demo`
# runs the namespace lab with real traffic through statewalld (root).

GO          ?= go
BIN         ?= bin
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
BENCHTIME   ?= 1s
COUNT       ?= 5

.PHONY: all deps build test test-short bench pgo demo lint clean

all: build

# statewalld links DPDK statically (deploy/build-statewalld.sh;
# STATEWALL_DPDK_LINK=shared for DPDK's shared libraries).
build:
	mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -o $(BIN)/statewall ./cmd/statewall
	deploy/build-statewalld.sh $(BIN)/statewalld

# The whole suite: vet, unit and scenario tests, every fuzz target's seed
# corpus, capture replays against Linux's answers, DPDK virtual-device runs
# and the namespace lab (the last two need root and DPDK; they skip
# without them unless CI=true).
deps:
	bash deploy/install-deps.sh

test: deps build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...
	$(GO) test -count=1 -race -timeout 20m ./config/... ./alg/... ./dataplane/pipeline/...

test-short:
	$(GO) test -short ./...

# Benchmarks: medians over COUNT runs; figures go to perf/RESULTS.md with
# the command that produced them. Built with statewalld's profile, as the
# daemon is (without it the packet path inlines less: perf/RESULTS.md).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count $(COUNT) \
		-pgo=$(CURDIR)/cmd/statewalld/default.pgo \
		./dataplane/... ./flowtable/... ./config/... ./alg/... ./perf/...

# Profile-guided optimization: statewalld is built with
# cmd/statewalld/default.pgo, a CPU profile of the pipeline benchmarks
# (about 10% more packets per second, perf/RESULTS.md): established TCP
# and UDP flows over IPv4 and IPv6, and whole connections, whose
# handshakes and FINs take the paths that steady traffic never does (left
# out, their inlining changed from one profile to the next).
# Regenerate it after changing the packet path, and check that the fast
# path's calls are inlined (dataplane/pipeline's parseBurst and
# decideBurst: `go build -gcflags=-m`; TestFastPathInlined checks it).
pgo:
	mkdir -p $(BIN)
	$(GO) test -run '^$$' -bench '^BenchmarkPipeline(UDP|6|UDP6)?$$/./^cache=true$$' -benchtime 3s \
		-cpuprofile $(BIN)/pgo-steady.prof ./perf/
	$(GO) test -run '^$$' -bench '^BenchmarkPipelineConnections$$/^rules=3$$' -benchtime 3s \
		-cpuprofile $(BIN)/pgo-connections.prof ./perf/
	$(GO) tool pprof -proto $(BIN)/pgo-steady.prof $(BIN)/pgo-connections.prof >cmd/statewalld/default.pgo
	rm -f perf.test $(BIN)/pgo-steady.prof $(BIN)/pgo-connections.prof

demo: deps build
	deploy/lab/lab.sh demo

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

clean:
	rm -rf $(BIN)
