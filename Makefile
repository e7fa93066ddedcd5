# The two commands of the README. Both create ./.venv on first use and install cairn into it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint install web

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/cairn serve

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/lint-imports

test: $(STAMP) lint
	$(BIN)/pytest -q -n auto --dist loadgroup

# Rebuild the web client's checked-in assets (src/cairn/a2ui/static/) from web/ (needs npm).
web:
	bash web/build.sh
