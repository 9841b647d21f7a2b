# Biotracker: every install step lives here, so a clean clone needs only `make demo` / `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: install demo test system-deps clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

## Run the whole chain on the bundled recorded feeds (SQLite under var/) and write the digest.
demo: install
	$(BIN)/biotracker demo
	@$(BIN)/biotracker users demo
	@echo "Serve the demo's alerts: $(BIN)/biotracker serve --host 127.0.0.1 --port 8000"
	@echo "  then log in at http://127.0.0.1:8000/login or use a token: $(BIN)/biotracker tokens issue nl.analyst"
	@echo "  (browsers accept its Secure session cookie on localhost only; elsewhere put TLS in front: docs/ACCESS.md)"

## Install everything the tests need (Python packages, PostgreSQL server, Chromium) and run them all.
test: install system-deps
	$(BIN)/python -m pytest -n 2 --dist loadfile

## Debian packages the tests use: PostgreSQL server binaries (initdb/pg_ctl) and headless Chromium.
system-deps:
	@bash scripts/ensure-system-deps.sh

clean:
	rm -rf $(VENV) var test-output
