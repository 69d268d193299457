# Wangge: `make run` (service with demo data, no servers needed) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 8000
WORKERS ?= 2

.PHONY: setup services run run-postgres test test-embedded bench lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) services

services:
	@bash scripts/services.sh

## The embedded default: SQLite file under ./var, in-process index, jobs inline.
run: $(STAMP)
	WANGGE_PORT=$(PORT) $(BIN)/wangge serve

## The production parts: PostGIS and Redis on this machine, served by gunicorn (docs/operations.md).
run-postgres: setup
	@psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='wangge'" | grep -q 1 \
	  || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE wangge"
	WANGGE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/wangge \
	WANGGE_REDIS_URL=redis://127.0.0.1:6379/0 WANGGE_PORT=$(PORT) $(BIN)/wangge serve --workers $(WORKERS)

test: setup
	bash scripts/test.sh

test-embedded: $(STAMP)
	bash scripts/test.sh -m "not postgis and not redis"

bench: setup
	$(BIN)/python -m bench.run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf var .pytest_cache .ruff_cache
