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

.PHONY: install repro test bench data-tools clean-venv

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

repro: install
	@$(BIN)/python -c "import sys; from attdistill.config import load_params; \
	sys.exit(load_params().dataset.name in ('ucf101', 'hmdb51'))" || $(MAKE) data-tools
	dvc repro

# UCF101 and HMDB51 ship as compressed RAR archives: rarfile needs bsdtar (Debian's libarchive-tools) for them.
data-tools:
	@command -v bsdtar >/dev/null || command -v unar >/dev/null || command -v unrar >/dev/null || \
	  { apt-get install -y libarchive-tools 2>/dev/null || sudo apt-get install -y libarchive-tools; }

test: install
	$(BIN)/python -m pytest -q

bench: install
	dvc repro benchmark

clean-venv:
	rm -rf $(VENV)
