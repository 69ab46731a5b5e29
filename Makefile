# The two commands a newcomer types: `make run` and `make test`. Both create and fill .venv
# on first use (and again whenever pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Two workers for this 2-core machine; each worker gets its own databases.
PYTEST_WORKERS ?= 2

.PHONY: run test e2e lint openapi bench scale scale-drop clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/captem run

test: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

# Only the browser tests (also part of `make test`). They use the Debian Chromium at
# /usr/bin/chromium (`apt-get install chromium`; .ci/run installs it) and skip locally without it.
e2e: $(STAMP)
	$(BIN)/pytest tests/e2e -v

lint: $(STAMP)
	$(BIN)/ruff check services migrations tests bench
	$(BIN)/mypy services migrations

openapi: $(STAMP)
	$(BIN)/captem openapi

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# The 100x trial (5,000 subjects, ~1M lab results, ~1M diary days) in PostgreSQL at
# 127.0.0.1:5432, then read latency p50/p99 of the staff pages and their query plans. Not part of
# `make test` or `make bench`. SCALE_ARGS=--reuse keeps already filled databases; `make
# scale-drop` removes them (about 1.5 GB).
SCALE_ARGS ?=
scale: $(STAMP)
	$(BIN)/python bench/scale/generate.py $(SCALE_ARGS)
	$(BIN)/python bench/scale/bench_scale.py --json bench/scale/results.json

scale-drop: $(STAMP)
	$(BIN)/python bench/scale/generate.py --drop

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache test-artifacts
