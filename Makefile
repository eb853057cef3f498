# Portico — see README.md. `make run` starts the portal on its embedded default;
# `make test` runs every test (it installs missing test dependencies first).
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build image run dev dev-down dev-status stack-build test test-unit test-integration test-e2e generate check lint bench soak fuzz deps clean

all: build

## generate: regenerate ent and templ code (committed; CI fails when it is stale)
generate:
	$(GO) generate ./ent
	$(GO) tool templ generate

## build: build bin/portico
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/portico ./cmd/portico

## image: the container image without a Docker daemon, as an OCI layout and a tarball in bin/image (docker/podman load -i bin/image/portico.tar)
image:
	$(GO) run ./cmd/portico-image -out bin/image -version $(VERSION) -tag portico:$(VERSION)

## run: the portal alone on its embedded default (SQLite in ./data, ./catalog, ./runbooks, 127.0.0.1:8080)
run: build
	./bin/portico serve

## stack-build: build the local stack's binaries once into ~/.cache/portico (first time about 15 minutes)
stack-build:
	deploy/local/build.sh

## dev: the local stack (two control planes with kwok nodes, observability, OIDC provider, demo traffic) and the portal
dev: deps
	$(GO) run ./cmd/portico-dev up

## dev-down: stop everything make dev started
dev-down:
	$(GO) run ./cmd/portico-dev down

## dev-status: each component of the local stack, its address, health and memory
dev-status:
	$(GO) run ./cmd/portico-dev status

## deps: install what the tests need (PostgreSQL server programs, Chromium, Playwright driver, the stack's binaries)
deps:
	deploy/local/install-deps.sh
	deploy/local/build.sh

## check: generated code up to date, gofmt, go vet, no large files (build outputs) tracked
check:
	@big=$$(git ls-files -z | xargs -0 -r stat -c '%s %n' 2>/dev/null | awk '$$1 > 2097152 && $$2 !~ /(^|\/)testdata\// {printf "%s (%.1f MB) ", $$2, $$1/1048576}'); \
	if [ -n "$$big" ]; then echo "tracked files over 2 MB outside testdata/ (build outputs?): $$big"; exit 1; fi
	@before=$$(git ls-files -co --exclude-standard ent web | grep -E '(_templ\.go|\.go)$$' | sort | xargs sha256sum); \
	$(MAKE) -s generate >/dev/null; \
	after=$$(git ls-files -co --exclude-standard ent web | grep -E '(_templ\.go|\.go)$$' | sort | xargs sha256sum); \
	if [ "$$before" != "$$after" ]; then echo "generated code was stale: run make generate and commit"; diff <(echo "$$before") <(echo "$$after"); exit 1; fi
	@unformatted=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...

lint: check
	$(GO) run ./cmd/portico catalog lint --glob '**/*.yaml' --whole-catalog catalog

## test: every test — unit, integration (real PostgreSQL, SQLite, git), e2e (real Chromium)
test: deps check lint
	$(GO) test -count=1 -timeout 20m ./...
	cd deploy/local/demo && $(GO) test -count=1 ./...
	cd deploy/helm && $(GO) vet ./... && $(GO) test -count=1 ./...

test-unit:
	$(GO) test -short ./internal/catalog ./internal/config ./internal/runbooks ./internal/policy ./internal/pipeline ./internal/chart ./internal/dora ./internal/backend ./internal/metrics ./internal/triage

test-integration: deps
	$(GO) test -count=1 ./internal/... ./cmd/...

test-e2e: deps
	$(GO) test -count=1 ./e2e/...

## fuzz: run every fuzz target for FUZZTIME each (seed corpora in testdata/fuzz run in make test)
FUZZTIME ?= 30s
FUZZ_TARGETS = catalog:FuzzReadCatalog pipeline:FuzzParseGitHub pipeline:FuzzParseGitLab pipeline:FuzzParseGeneric \
	pipeline:FuzzVerifyToken ingest:FuzzVerifySignature ingest:FuzzParsePush policy:FuzzParse config:FuzzLoad \
	cluster:FuzzQueryFor metrics:FuzzRules
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "== $$fn ($$pkg) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) ./internal/$$pkg || exit 1; done

## bench: the issue's numbers as a table (ingest, list latency vs a trivial handler, webhook)
bench:
	$(GO) run ./cmd/portico-bench

## soak: faults under open-loop load against the whole local stack, a table per phase (SOAK_FLAGS, e.g. -rate 30 -fault 20s)
soak:
	$(GO) run ./cmd/portico-soak $(SOAK_FLAGS)

clean:
	rm -rf bin data e2e/artifacts
