# The two commands a newcomer runs:  `make run`  and  `make test`.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup run test lint

$(BIN)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

setup: $(BIN)/.installed

# Start the bot on the embedded defaults: shipped catalogue, demo dossiers (created on the
# first run), web chat on http://127.0.0.1:8080, Telegram/Zalo when tokens are configured.
run: setup
	$(BIN)/bot demo --if-missing
	$(BIN)/bot run

lint: setup
	$(BIN)/ruff check bot tests benchmarks
	$(BIN)/ruff format --check bot tests benchmarks
	$(BIN)/mypy

# Lint, type-check and the whole test suite.
test: lint
	$(BIN)/pytest -q
