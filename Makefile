# Two commands for a new machine: `make up` runs the platform, `make test` runs every test.
# Both install what they need: npm packages, and nats-server / redis-server from Debian's packages
# (and, for the tests only, chromium for the console's browser tests), and Node 24 itself when the
# machine's node is older.
SHELL := /bin/bash
.DEFAULT_GOAL := help
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
TESTS := $(shell find test -name '*.test.ts' -not -path '*/chaos/*' | sort)

# Node 24 LTS. Where the machine's node is older, `make` unpacks the official build that the npm
# registry publishes as the package node-linux-<arch> into .runtime/node and puts it first on PATH
# for every recipe, so npm, the services, `make up` and the tests (they spawn process.execPath)
# all run on it. `npm pack` only downloads the tarball (checked against the registry's integrity
# hash) and runs no install script, so npm's install-script policy does not get in the way.
NODE_VERSION := 24.22.3
NODE_ARCH := $(subst x86_64,x64,$(subst aarch64,arm64,$(shell uname -m)))
RUNTIME := $(CURDIR)/.runtime
export PATH := $(RUNTIME)/node/bin:$(PATH)

.PHONY: help install node-runtime system-deps test-deps up down test check unit format lint typecheck compose-check replay chaos audit build

help:
	@echo "make up      run NATS, Redis, gateway, projector, sender and webhooks locally (Ctrl-C stops them)"
	@echo "make test    format check, lint, typecheck and every test (real NATS and Redis, started per test)"
	@echo "make down    stop the NATS and Redis servers that 'make up' started"
	@echo "make replay  rebuild the Redis counters from the event log"
	@echo "make chaos   the long reliability suite: kills and restarts during a 10k-recipient blast,"
	@echo "             and SIGKILLs of redis-server and nats-server under write load"
	@echo "make audit   npm audit of the runtime dependencies (high or critical fail it)"
	@echo "make bench   the benchmark suite (~15 min): results in test/bench/results/"
	@echo "make build   compile the services and the console into dist/ (what the Docker image runs)"

node-runtime:
	@if ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 24 ? 0 : 1)' 2>/dev/null; then \
	  command -v npm >/dev/null || { echo "npm is needed once, to fetch Node $(NODE_VERSION)"; exit 1; }; \
	  echo "node is $$(node --version 2>/dev/null || echo missing); fetching Node $(NODE_VERSION) from the npm registry into .runtime/node"; \
	  rm -rf $(RUNTIME)/node && mkdir -p $(RUNTIME)/node && \
	  npm pack --silent node-linux-$(NODE_ARCH)@$(NODE_VERSION) --pack-destination $(RUNTIME) >/dev/null && \
	  tar -xzf $(RUNTIME)/node-linux-$(NODE_ARCH)-$(NODE_VERSION).tgz -C $(RUNTIME)/node --strip-components=1 && \
	  rm -f $(RUNTIME)/node-linux-$(NODE_ARCH)-$(NODE_VERSION).tgz && \
	  node --version >/dev/null; \
	fi

system-deps:
	@missing=""; \
	command -v nats-server >/dev/null || missing="$$missing nats-server"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v redis-sentinel >/dev/null || missing="$$missing redis-sentinel"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing from Debian's packages"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  $(SUDO) systemctl disable --now nats-server redis-server redis-sentinel >/dev/null 2>&1 || true; \
	fi

# The console's browser tests drive Debian's Chromium (nothing downloads a browser of its own);
# the TLS tests make throw-away certificates with openssl.
test-deps:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing from Debian's packages"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

node_modules/.installed: package.json package-lock.json | node-runtime
	npm ci --no-audit --no-fund
	@touch $@

install: node-runtime system-deps node_modules/.installed

# Local runs use the TypeScript sources through tsx (no build to forget); `make build` is what the
# Docker image runs.
up: install
	node deploy/local/up.mjs

# Production build (deploy/build/build.ts): each service compiled into one ES module in dist/, and
# the console bundled into dist/console-assets/. Run one with `node dist/gateway.js`.
build: install
	node deploy/build/build.ts

down:
	node deploy/local/up.mjs --down

replay: install
	node deploy/local/up.mjs --replay

format:
	npx prettier --write .

check: install test-deps
	npx prettier --check .
	npx eslint . --ignore-pattern 'dist/' --ignore-pattern '.runtime/'
	npx tsc --noEmit

# Baileys 7 leaves timers armed after a socket ends (its event buffer's 30 s flush, ws close
# handshakes), which would hold a test file's process open for 30 s: test/harness/exitAfterTests.ts
# ends it 2 s after its tests are reported. (Node 24's --test-force-exit ends it sooner, before all
# its results are reported: tests went missing from the count without failing the run.)
TEST_RUN := node --import tsx --import ./test/harness/exitAfterTests.ts --test --test-reporter=spec

test: check
	@echo "testing on Node $$(node --version) ($$(command -v node))"
	$(TEST_RUN) --test-timeout=240000 $(TESTS)

unit: install
	node --import tsx --test $(shell find test/shared -name '*.test.ts' | sort)

# The long reliability suite (docs/RELIABILITY.md): kills and restarts during a 10k blast.
chaos: install
	$(TEST_RUN) --test-timeout=900000 $(shell find test/chaos -name '*.test.ts' | sort)

compose-check:
	docker-compose config -q

# npm audit of the runtime dependencies: fails on an unexplained high or critical advisory.
audit: install
	node --import tsx deploy/audit/audit.ts

# The benchmark suite (docs/PERFORMANCE.md): real NATS and Redis, sim transport, ~15 minutes on
# 2 cores; writes test/bench/results/<date>.json and .md. Not part of `make test`.
.PHONY: bench
bench: install
	node --import tsx test/bench/runBenchmarks.ts
