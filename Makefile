# durable-ext: `make run` serves the sample app (starting Azurite), `make test` runs lint, types and tests.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
PORT ?= 7071

.PHONY: install system browser netns postgres sdk2-env checks run test lint typecheck unit bench bench-peers bench-quick bench-testing clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(BIN)/.installed node_modules/.installed

# Debian packages the tests need, installed in one apt-get call when their commands are missing (as root
# with apt-get; otherwise it says what to install): Chromium for the monitor's browser tests, PostgreSQL
# (its initdb and postgres binaries) for the relational provider's, and iproute2's `ip` for the test that
# calls the host from another network namespace. The tests that need them fail in CI without them.
SYSTEM_TOOLS := chromium:chromium pg_ctlcluster:postgresql ip:iproute2
system:
	@missing=""; for pair in $(SYSTEM_TOOLS); do 	  command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; done; 	if [ -z "$$missing" ]; then exit 0; fi; 	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then 	  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; 	else 	  echo "missing:$$missing (sudo apt-get install$$missing); the tests that need them skip or fail"; 	fi

browser netns postgres: system

run: install
	$(BIN)/durable-ext start --script-root . --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# The 2.x SDK's sample runs on Python 3.13 in an environment made once: made in the background while
# lint, types and the system packages go on (its test waits for it under the same lock).
sdk2-env: install
	( $(BIN)/python -m durable_ext.host.sdk2_runtime samples/sdk2_app > .sdk2-env.log 2>&1 & )

# Two at a time: the system packages download while pip installs, and the 2.x environment is made
# while lint and types run.
checks: sdk2-env lint typecheck system

test:
	$(MAKE) --no-print-directory -j2 checks
	$(BIN)/pytest -q --durations=30

bench: install
	$(BIN)/python -m bench.run

bench-peers: install
	$(BIN)/pip install -q -e '.[peers]'
	command -v redis-server >/dev/null || { echo "redis-server is missing: apt-get install redis-server"; exit 1; }
	$(BIN)/python -m bench.run --peers

bench-quick: install
	$(BIN)/python -m bench.run --quick --output $${TMPDIR:-/tmp}

# the samples' test suite on the memory provider and on Azurite, and a 30-day monitor under time skipping
bench-testing: install
	$(BIN)/python -m bench.testing_speed

unit: install
	$(BIN)/pytest -q tests/unit

clean:
	rm -rf $(VENV) node_modules .azurite .pytest_cache .mypy_cache .ruff_cache
