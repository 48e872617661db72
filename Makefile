# The two commands: `make run` (the demo on http://127.0.0.1:8000) and
# `make test` (install, lint, type-check, the whole suite). Both set up
# .venv themselves on a fresh clone with Python 3.11+.
#
# Python is always run as `python -P` here: the project root holds a folder
# called platform/, which would shadow the standard library's `platform`.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PYTHON_OK := import sys; sys.exit(sys.version_info < (3, 11))
# The first Python 3.11+ on PATH, unless PYTHON is given.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -P -c '$(PYTHON_OK)' 2>/dev/null && { echo $$p; break; }; \
	done)
EXAMPLE_PLUGIN := $(wildcard tests/example_plugin/pyproject.toml)
INSTALLED := $(VENV)/.installed
# The strict editable install: a link tree mypy can follow (DESIGN.md, Layout).
TYPECHECK_TREE := build/typecheck

.PHONY: help run install lint format typecheck test pytest test-sqlite schema messages screenshots bench clean

help:
	@echo "make run          set up .venv, migrate ./var/tessera.sqlite3, create the demo, serve :8000"
	@echo "make test         set up .venv, ruff, mypy, then the whole pytest suite"
	@echo "make test-sqlite  only pytest, on SQLite (what .ci/run does after make test)"
	@echo "make lint         ruff check and ruff format --check"
	@echo "make format       ruff format and ruff check --fix"
	@echo "make typecheck    mypy on a strict editable install"
	@echo "make schema       regenerate schema/schema.graphql"
	@echo "make messages     add the admin UI's new texts to its catalogs (then translate them)"
	@echo "make screenshots  the admin UI's pages on demo data into docs/admin/*.png (needs chromium)"
	@echo "make bench        the benchmarks (BENCHES=..., sizes: docs/bench.md)"

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "make: Python 3.11 or newer is needed (set PYTHON=...)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -P -m pip install -q --upgrade pip

# Reinstalls only when the packaging changed; new modules need no reinstall.
$(INSTALLED): pyproject.toml $(EXAMPLE_PLUGIN) | $(BIN)/python
	@# The distribution was called "tessera" before it became "tessera-crm"; an old
	@# install beside the new one would register every built-in plugin twice.
	$(BIN)/python -P -m pip uninstall -q -y tessera 2>/dev/null || true
	$(BIN)/python -P -m pip install -q -e '.[dev]'
	$(if $(EXAMPLE_PLUGIN),$(BIN)/python -P -m pip install -q -e tests/example_plugin)
	@touch $@

install: $(INSTALLED)

# Plain-text log lines for a person at a terminal, unless TESSERA_LOG_JSON says otherwise.
run: export TESSERA_LOG_JSON ?= false
run: install
	$(BIN)/tessera migrate
	$(BIN)/tessera demo --members 200
	@echo
	@echo "  Tessera demo: http://$${TESSERA_HOST:-127.0.0.1}:$${TESSERA_PORT:-8000}/graphql (GraphiQL)"
	@echo "  Header:       {\"Authorization\": \"Bearer $$(cat $${TESSERA_VAR_DIR:-var}/demo_api_key)\"}"
	@echo "  Try:          { brand { code name currency } }"
	@echo "  Admin UI:     http://$${TESSERA_HOST:-127.0.0.1}:$${TESSERA_PORT:-8000}/admin/"
	@echo "                admin@demo.example / $$(cat $${TESSERA_VAR_DIR:-var}/demo_admin_password)"
	@echo
	$(BIN)/tessera serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install
	rm -rf $(TYPECHECK_TREE) build/__editable__.*
	$(BIN)/python -P -m pip install -q --no-deps --config-settings editable_mode=strict \
		--target $(TYPECHECK_TREE) -e .
	cd build/__editable__.*/ && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml tessera

test: lint typecheck pytest

# The database is TESSERA_TEST_DATABASE_URL's (SQLite when unset). pytest's exit
# code 5 (no tests collected) fails the target like any other non-zero code.
pytest: install
	$(BIN)/pytest
	$(BIN)/pytest tests/example_plugin/tests

test-sqlite: install
	env -u TESSERA_TEST_DATABASE_URL $(BIN)/pytest
	env -u TESSERA_TEST_DATABASE_URL $(BIN)/pytest tests/example_plugin/tests

schema: install
	$(BIN)/tessera export-schema > schema/schema.graphql.tmp
	mv schema/schema.graphql.tmp schema/schema.graphql

# The .po files are the committed source; the app compiles them when it starts.
messages: install
	@mkdir -p build
	cd admin_ui && $(CURDIR)/$(BIN)/pybabel extract -F babel.cfg -k N_ -k gettext \
		--no-location --sort-output --omit-header -o $(CURDIR)/build/admin_messages.pot .
	$(BIN)/pybabel update --no-fuzzy-matching --ignore-obsolete \
		-i build/admin_messages.pot -d admin_ui/locale -D messages

# Every page of the admin page registry, on a temporary demo database, in
# Debian's Chromium; rewrites the Screenshots section of docs/admin.md.
screenshots: install
	$(BIN)/python -P docs/tools/screenshots.py

BENCHES ?= ledger member_core segments import webhooks persons merge slots reports campaigns attribution

# Each bench writes var/bench/<bench>.json; the summary prints them all in one table (docs/bench.md).
bench: install
	@for b in $(BENCHES); do $(BIN)/python -P tests/benchmarks/bench_$$b.py || exit 1; done
	$(BIN)/python -P tests/benchmarks/summary.py

clean:
	rm -rf $(VENV) build *.egg-info
