# The two commands of the README. Both create ./.venv on first use and install cairn into it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint install

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
