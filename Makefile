# durable-ext: `make run` serves the sample app (starting Azurite), `make test` runs lint, types and tests.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
PORT ?= 7071

.PHONY: install browser run test lint typecheck unit bench bench-peers bench-quick clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(BIN)/.installed node_modules/.installed

# Debian's Chromium for the monitor's browser tests (they skip without it, and fail in CI).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; \
	  else \
	    echo "chromium is missing: install it (sudo apt-get install chromium) or the monitor's browser tests skip"; \
	  fi; }

run: install
	$(BIN)/durable-ext start --script-root . --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

test: lint typecheck browser
	$(BIN)/pytest -q

bench: install
	$(BIN)/python -m bench.run

bench-peers: install
	$(BIN)/pip install -q -e '.[peers]'
	command -v redis-server >/dev/null || { echo "redis-server is missing: apt-get install redis-server"; exit 1; }
	$(BIN)/python -m bench.run --peers

bench-quick: install
	$(BIN)/python -m bench.run --quick --output $${TMPDIR:-/tmp}

unit: install
	$(BIN)/pytest -q tests/unit

clean:
	rm -rf $(VENV) node_modules .azurite .pytest_cache .mypy_cache .ruff_cache
