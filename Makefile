# The two commands of the README. Both create ./.venv on first use and install cairn into it:
# `make serve` only what cairn needs to run, `make test` also the test tools and the benchmark
# peers (the dev extra; `make dev` installs it without running the tests).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: serve test lint install dev web

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $(STAMP)

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP) $(DEV_STAMP)

install: $(STAMP)

dev: $(DEV_STAMP)

serve: $(STAMP)
	$(BIN)/cairn serve

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/lint-imports

test: $(DEV_STAMP) lint
	$(BIN)/pytest -q -n auto --dist loadgroup

# Rebuild the web client's checked-in assets (src/cairn/a2ui/static/) from web/ (needs npm).
web:
	bash web/build.sh
