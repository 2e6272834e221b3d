# Two commands for a new machine: `make up` runs the platform, `make test` runs every test.
# Both install what they need: npm packages, and nats-server / redis-server from Debian's packages
# (and, for the tests only, chromium for the console's browser tests).
SHELL := /bin/bash
.DEFAULT_GOAL := help
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
TESTS := $(shell find test -name '*.test.ts' -not -path '*/chaos/*' | sort)

.PHONY: help install system-deps test-deps up down test check unit format lint typecheck compose-check replay chaos audit

help:
	@echo "make up      run NATS, Redis, gateway, projector, sender and webhooks locally (Ctrl-C stops them)"
	@echo "make test    format check, lint, typecheck and every test (real NATS and Redis, started per test)"
	@echo "make down    stop the NATS and Redis servers that 'make up' started"
	@echo "make replay  rebuild the Redis counters from the event log"
	@echo "make chaos   the long reliability suite: kills and restarts during a 10k-recipient blast,"
	@echo "             and SIGKILLs of redis-server and nats-server under write load"
	@echo "make audit   npm audit of the runtime dependencies (high or critical fail it)"
	@echo "make bench   the benchmark suite (~15 min): results in test/bench/results/"

system-deps:
	@missing=""; \
	command -v nats-server >/dev/null || missing="$$missing nats-server"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing from Debian's packages"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  $(SUDO) systemctl disable --now nats-server redis-server >/dev/null 2>&1 || true; \
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

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: system-deps node_modules/.installed

up: install
	node deploy/local/up.mjs

down:
	node deploy/local/up.mjs --down

replay: install
	node deploy/local/up.mjs --replay

format:
	npx prettier --write .

check: install test-deps
	npx prettier --check .
	npx eslint .
	npx tsc --noEmit

# --test-force-exit: Baileys 7 leaves timers armed after a socket ends (its event buffer's 30 s
# flush, ws close handshakes), which would hold every test file's process open for 30 s.
test: check
	node --import tsx --test --test-force-exit --test-reporter=spec --test-timeout=240000 $(TESTS)

unit: install
	node --import tsx --test $(shell find test/shared -name '*.test.ts' | sort)

# The long reliability suite (docs/RELIABILITY.md): kills and restarts during a 10k blast.
chaos: install
	node --import tsx --test --test-force-exit --test-reporter=spec --test-timeout=900000 $(shell find test/chaos -name '*.test.ts' | sort)

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
