# nextbest: Next-Best-Action decision engine.
# `make run` serves the demo; `make test` runs every test CI runs.

GO        ?= go
BIN       := bin/nextbest
PKGS      := ./...
# Fuzz targets run briefly in CI (see .ci/run); FUZZTIME tunes how long each one runs.
FUZZTIME  ?= 10s

.PHONY: all build run test test-short race fuzz bench bench-http fmt vet tidy demo clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/nextbest

run: build
	$(BIN) serve

test: vet
	$(GO) test -race -count=1 -timeout 60m $(PKGS)
	$(MAKE) fuzz FUZZTIME=$(FUZZTIME)

test-short:
	$(GO) test -short -count=1 $(PKGS)

# fuzz runs every Fuzz* target for FUZZTIME each (Go can only fuzz one target per run).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)

# bench-http starts a server on a fresh temp store and measures /v1/decide, /v1/feedback and
# a trivial endpoint (the machine's HTTP ceiling) in the same run; see docs/benchmarks.md.
bench-http: build
	$(BIN) loadtest --spawn --duration 10s

fmt:
	gofmt -s -w $$(git ls-files '*.go')

vet:
	@test -z "$$(gofmt -s -l $$(git ls-files '*.go'))" || (echo "gofmt -s needed on:"; gofmt -s -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet $(PKGS)

tidy:
	$(GO) mod tidy

clean:
	rm -rf bin
