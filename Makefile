# Two commands for a newcomer:
#   make repro   create .venv if needed, install, run the whole DVC pipeline on the embedded default
#   make test    create .venv if needed, install, run the test suite
# Both are idempotent: when .venv is up to date with pyproject.toml the install step is skipped.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# No telemetry, no update checks, no Studio uploads: this project never talks to anything but PyPI.
export DVC_NO_ANALYTICS := 1
export DVCLIVE_OPEN := false
export DVC_STUDIO_OFFLINE := true
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install repro test bench clean-venv

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

repro: install
	dvc repro

test: install
	$(BIN)/python -m pytest -q

bench: install
	dvc repro benchmark

clean-venv:
	rm -rf $(VENV)
