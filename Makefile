# nextbest: Next-Best-Action decision engine.
# `make run` serves the demo; `make test` runs every test CI runs.

GO        ?= go
BIN       := bin/nextbest
BENCH     := bin/nextbest-bench
PKGS      := ./...
# Fuzz targets run briefly in CI (see .ci/run); FUZZTIME tunes how long each one runs.
FUZZTIME  ?= 10s

.PHONY: all build run test test-short race fuzz bench bench-http soak memtest fmt vet tidy demo ope-truth cluster-sim cluster-cost clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/nextbest
	$(GO) build -o $(BENCH) ./cmd/nextbest-bench

run: build
	$(BIN) serve

test: vet
	$(GO) test -race -count=1 -timeout 60m $(PKGS)
	$(MAKE) fuzz FUZZTIME=$(FUZZTIME)

test-short:
	$(GO) test -short -count=1 $(PKGS)

# fuzz runs every Fuzz* target for FUZZTIME each (Go can only fuzz one target per run).
# Minimizing a new input may take at most 3 s (Go's default is 60 s, which would use the
# whole FUZZTIME without counting executions).
# Go 1.26's fuzz coordinator can fail a target with a bare "context deadline exceeded" as
# FUZZTIME runs out on a busy machine (golang/go#75804, fixed in Go 1.27). Such a run
# writes no failing input, so it is run again, up to twice; any other failure, or a
# failing input written, fails at once.
fuzz:
	@set -e; log=$$(mktemp); trap 'rm -f "$$log"' EXIT; \
	for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    for try in 1 2 3; do \
	      echo "fuzz $$pkg $$t ($(FUZZTIME))"; \
	      if $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 3s $$pkg >"$$log" 2>&1; then \
	        cat "$$log"; break; \
	      fi; \
	      cat "$$log"; \
	      if grep -q 'Failing input written' "$$log" || ! grep -q 'context deadline exceeded' "$$log" || [ $$try = 3 ]; then \
	        exit 1; \
	      fi; \
	      echo "fuzz: $$t stopped on Go's fuzz-deadline race (golang/go#75804) with no failing input; again"; \
	    done; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)

# bench-http starts a server on a fresh temp store and measures /v1/decide, /v1/feedback and
# a trivial endpoint (the machine's HTTP ceiling) in the same run; see docs/benchmarks.md.
bench-http: build
	$(BENCH) loadtest --spawn --duration 10s

# soak: the real binary at 80% of its measured maximum rate for a minute; memtest: its
# resident memory under a million decisions (docs/benchmarks.md).
soak: build
	$(BENCH) soak --bin $(BIN) --duration 60s

memtest: build
	$(BENCH) memory --bin $(BIN)

# ope-truth: off-policy estimates against the simulated telco's ground truth (four 90-day
# simulations and their evaluations, about 20 minutes; docs/evaluation.md). Needs jq.
ope-truth: build
	mkdir -p tmp && sh sim/ope-truth.sh | tee tmp/ope-truth.md

# cluster-sim: the simulated telco against one node and against three replicas (R3) with a
# round-robin client, and the two reports' diff (docs/scale-out.md). cluster-cost: durable
# feedback/s and decide/s on one node, a 1-server stream and three replicas, in one run.
cluster-sim: build
	mkdir -p tmp && sh sim/cluster-sim.sh | tee tmp/cluster-sim.md

cluster-cost: build
	mkdir -p tmp && sh bench/cluster-cost.sh | tee tmp/cluster-cost.md

# demo: build; start a fresh simulation server (cmd/nextbest/demo.yaml: manual clock, no
# keys on loopback, data in $(DEMO_DIR)) unless one already answers on $(DEMO_ADDR); run a
# short simulation (about two minutes on a 2-core machine); leave the server running for
# the dashboards. DEMO_ARGS picks the world: docs/simulation.md.
DEMO_ADDR ?= 127.0.0.1:8090
DEMO_DIR  ?= tmp/demo
DEMO_ARGS ?= --customers 15000 --days 90 --seed 1
demo: build
	@set -e; mkdir -p $(DEMO_DIR); \
	state=$$($(BIN) simulate --check --addr $(DEMO_ADDR) 2>/dev/null || echo other); \
	case "$$state" in \
	ready) \
	  echo "make demo: a simulation server already answers on $(DEMO_ADDR); simulating against it."; \
	  echo "           (Its clock and models carry on from earlier runs. For a fresh start: kill \$$(cat $(DEMO_DIR)/server.pid); make demo)";; \
	none) \
	  if [ -f $(DEMO_DIR)/server.pid ] && kill -0 "$$(cat $(DEMO_DIR)/server.pid)" 2>/dev/null; then \
	    echo "make demo: the server started earlier (pid $$(cat $(DEMO_DIR)/server.pid)) is alive but does not answer on $(DEMO_ADDR)." >&2; \
	    echo "           Stop it with: kill $$(cat $(DEMO_DIR)/server.pid)   then run make demo again." >&2; exit 1; \
	  fi; \
	  rm -rf $(DEMO_DIR); mkdir -p $(DEMO_DIR); \
	  echo "make demo: starting a fresh simulation server on $(DEMO_ADDR) (data in $(DEMO_DIR)/store, log in $(DEMO_DIR)/server.log)"; \
	  if command -v setsid >/dev/null 2>&1; then detach=setsid; else detach=nohup; fi; \
	  $$detach $(BIN) serve --config cmd/nextbest/demo.yaml --addr $(DEMO_ADDR) --data $(DEMO_DIR)/store </dev/null >$(DEMO_DIR)/server.log 2>&1 & \
	  echo $$! > $(DEMO_DIR)/server.pid; \
	  i=0; until [ "$$($(BIN) simulate --check --addr $(DEMO_ADDR) 2>/dev/null)" = ready ]; do \
	    if ! kill -0 "$$(cat $(DEMO_DIR)/server.pid)" 2>/dev/null || [ $$i -ge 300 ]; then \
	      echo "make demo: the server did not start; its log ($(DEMO_DIR)/server.log) ends with:" >&2; tail -5 $(DEMO_DIR)/server.log >&2; exit 1; \
	    fi; i=$$((i+1)); sleep 0.1; \
	  done;; \
	system-clock) \
	  echo "make demo: a nextbest server on $(DEMO_ADDR) follows the system clock; the simulation needs its own server." >&2; \
	  echo "           Stop that server, or pick another address: make demo DEMO_ADDR=127.0.0.1:8091" >&2; exit 1;; \
	*) \
	  echo "make demo: something that is not a nextbest simulation server answers on $(DEMO_ADDR)." >&2; \
	  echo "           Free the port, or pick another address: make demo DEMO_ADDR=127.0.0.1:8091" >&2; exit 1;; \
	esac; \
	echo "make demo: simulating $(DEMO_ARGS); progress below, the report at the end (also in $(DEMO_DIR)/report.txt)"; \
	$(BIN) simulate --addr $(DEMO_ADDR) $(DEMO_ARGS) > $(DEMO_DIR)/report.txt; \
	echo; cat $(DEMO_DIR)/report.txt; echo; \
	echo "The simulation server keeps running, so the dashboards show the result:"; \
	echo "  dashboards     http://$(DEMO_ADDR)/   (no key needed on this loopback demo server)"; \
	echo "  server log     $(DEMO_DIR)/server.log"; \
	if [ -f $(DEMO_DIR)/server.pid ]; then echo "  stop it        kill $$(cat $(DEMO_DIR)/server.pid)"; fi; \
	echo "  what it means  docs/simulation.md"

fmt:
	gofmt -s -w $$(git ls-files '*.go')

vet:
	@test -z "$$(gofmt -s -l $$(git ls-files '*.go'))" || (echo "gofmt -s needed on:"; gofmt -s -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet $(PKGS)
	@$(GO) mod tidy -diff >/dev/null || (echo "go.mod and go.sum are not tidy: run make tidy"; exit 1)

tidy:
	$(GO) mod tidy

clean:
	rm -rf bin
