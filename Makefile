# Wangge: `make run` (service with demo data, no servers needed) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 8000
WORKERS ?= 2

.PHONY: setup services run run-postgres test test-embedded bench lint clean console-assets

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) services

## The console's front-end bundle (docs/console.md): `npm ci` from the lock file, then esbuild
## into console/static/dist, only when the bundle is missing or older than its sources.
CONSOLE_FE    := console/frontend
CONSOLE_DIST  := console/static/dist
CONSOLE_SRC   := $(shell find $(CONSOLE_FE)/src -type f 2>/dev/null) $(CONSOLE_FE)/build.mjs $(CONSOLE_FE)/package.json
CONSOLE_DEPS  := $(CONSOLE_FE)/node_modules/.package-lock.json

$(CONSOLE_DEPS): $(CONSOLE_FE)/package-lock.json
	@command -v npm >/dev/null 2>&1 || bash scripts/services.sh node
	cd $(CONSOLE_FE) && npm ci --no-audit --no-fund --loglevel=error

$(CONSOLE_DIST)/.built: $(CONSOLE_SRC) $(CONSOLE_DEPS)
	cd $(CONSOLE_FE) && npm run --silent build
	@touch $@

console-assets: $(CONSOLE_DIST)/.built

services:
	@bash scripts/services.sh

## The embedded default: SQLite file under ./var, in-process index, jobs inline.
run: $(STAMP) console-assets
	WANGGE_PORT=$(PORT) $(BIN)/wangge serve

## The production parts: PostGIS and Redis on this machine, served by gunicorn (docs/operations.md).
run-postgres: setup console-assets
	@psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='wangge'" | grep -q 1 \
	  || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE wangge"
	WANGGE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/wangge \
	WANGGE_REDIS_URL=redis://127.0.0.1:6379/0 WANGGE_PORT=$(PORT) $(BIN)/wangge serve --workers $(WORKERS)

test: setup console-assets
	bash scripts/test.sh

test-embedded: $(STAMP)
	bash scripts/test.sh -m "not postgis and not redis"

bench: setup
	$(BIN)/python -m bench.run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf var .pytest_cache .ruff_cache $(CONSOLE_DIST) $(CONSOLE_FE)/node_modules
