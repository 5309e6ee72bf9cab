# Development tasks. `make run` starts the platform; `make test` runs every gate.
# Requires GNU make and Python >= 3.11 (override with `make PYTHON=python3.12 ...`).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules --warn-undefined-variables

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MANAGE := $(BIN)/python manage.py
# The dev server's port. Not $PORT: honcho sets PORT=5000, 5100, ... per process.
WEB_PORT ?= 8000
PYTEST_ARGS ?=

export WEB_PORT

.PHONY: help venv install run test lint fmt migrate shell clean distclean

help: ## Show this help
	@echo "Usage: make <target>"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-zA-Z_-]*:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo
	@echo "Variables: PYTHON=$(PYTHON) WEB_PORT=$(WEB_PORT) PYTEST_ARGS=$(PYTEST_ARGS)"

# --- Environment ------------------------------------------------------------------------

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "error: '$(PYTHON)' not found. Install Python 3.11 or newer, or run 'make PYTHON=/path/to/python3.11 ...'." >&2; \
	  exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || { \
	  echo "error: Python >= 3.11 is required, but '$(PYTHON)' is $$($(PYTHON) -V 2>&1)." >&2; \
	  echo "       Run 'make PYTHON=/path/to/python3.11 ...'." >&2; \
	  exit 1; }
	$(PYTHON) -m venv $(VENV)

# Re-installs only when pyproject.toml is newer than the stamp.
$(STAMP): pyproject.toml | $(BIN)/python
	@$(BIN)/python -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || { \
	  echo "error: $(VENV) uses $$($(BIN)/python -V 2>&1); Python >= 3.11 is required." >&2; \
	  echo "       Run 'make distclean' and then 'make PYTHON=/path/to/python3.11 install'." >&2; \
	  exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

venv: $(BIN)/python ## Create .venv (if missing)

install: $(STAMP) ## Create .venv and install the project with dev extras (when pyproject.toml changed)

# --- Run --------------------------------------------------------------------------------

run: export DEBUG := true
run: export SITE_URL ?= http://127.0.0.1:$(WEB_PORT)
run: export SHOP_PORT ?= 8001
run: export DEMO_SHOP_ORIGIN ?= http://127.0.0.1:$(SHOP_PORT)
run: install ## Migrate, seed the demo organization, start web + worker + beat (honcho)
	$(MANAGE) migrate --noinput
	$(MANAGE) seed_demo
	$(MANAGE) demo_shop
	@echo
	@echo "================================================================================"
	@echo "  Feedback platform (embedded default: SQLite, on-disk broker, file outbox)"
	@echo
	@echo "  URL:      http://127.0.0.1:$(WEB_PORT)"
	@echo "  Login:    admin@demo.example / demo-password-1   (administrator)"
	@echo "            owner@demo.example / demo-password-1   (case owner)"
	@outbox="$${OUTBOX_DIR:-$${VAR_DIR:-var}/outbox}"; echo "  Outbox:   $$outbox/email (.eml files), $$outbox/sms"
	@echo "  API docs: http://127.0.0.1:$(WEB_PORT)/api/v1/docs/"
	@echo "  Live feed: http://127.0.0.1:$(WEB_PORT)/o/demo/responses/"
	@echo "  Demo shop: http://127.0.0.1:$(SHOP_PORT)/  (the website widget, from a second origin)"
	@echo "  Survey links, the open link, its QR code and the SMS reply command: printed above."
	@echo
	@echo "  Processes: web (runserver), worker (celery), beat (celery beat), shop (demo page)."
	@echo "  Ctrl-C stops all."
	@echo "================================================================================"
	@echo
	exec $(BIN)/honcho -f Procfile.dev start

# --- Quality gates ----------------------------------------------------------------------

test: install ## Run ruff, ruff format --check, mypy, makemigrations --check, pytest
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(MANAGE) makemigrations --check --dry-run
	@status=0; $(BIN)/pytest $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "error: pytest collected no tests" >&2; fi; \
	exit $$status

lint: install ## ruff check + ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install ## Format and auto-fix (ruff format + ruff check --fix)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# --- Django -----------------------------------------------------------------------------

migrate: install ## Apply database migrations
	$(MANAGE) migrate --noinput

shell: install ## Django shell
	$(MANAGE) shell

# --- Cleaning ---------------------------------------------------------------------------

clean: ## Delete var/ (local database, outbox, broker, secret key) and tool caches; keeps .venv
	rm -rf var .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

distclean: clean ## clean, and also delete .venv
	rm -rf $(VENV)
