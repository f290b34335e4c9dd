# Two commands for a newcomer:
#   make repro   create .venv if needed, install, run the whole DVC pipeline on the embedded default, one seed
#   make study   the same, three seeds: the committed tables
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

.PHONY: install repro study dataset-tools test bench paper-smoke data-tools test-tools clean-venv

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The committed state of params.yaml is the 3-seed study (seeds: [0, 1, 2]; README tables and claims come from it).
# `make repro` is the budgeted main job, one seed: `dvc exp run -S 'seeds=[0]'` runs it as a DVC experiment and leaves
# its results (and seeds: [0]) in the workspace; `dvc metrics diff` then compares it with the committed study.
# `make study` runs the 3-seed study (seed 0 is reused when `make repro` ran it before); plain `dvc repro` runs
# whatever params.yaml says.
repro: install dataset-tools
	dvc exp run -S 'seeds=[0]'

study: install dataset-tools
	dvc exp run -S 'seeds=[0,1,2]'

dataset-tools: install
	@$(BIN)/python -c "import sys; from attdistill.config import load_params; \
	sys.exit(load_params().dataset.name in ('ucf101', 'hmdb51'))" || $(MAKE) data-tools

# UCF101 and HMDB51 ship as compressed RAR archives, possibly solid: rarfile needs unar (Debian main) or RARLAB's
# unrar for those; bsdtar (libarchive-tools) refuses solid RAR 3.x archives. Root runs apt-get, others sudo.
APT_GET = $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get
data-tools:
	@command -v unar >/dev/null || { $(APT_GET) update -qq && $(APT_GET) install -y -qq unar >/dev/null; }
	@command -v unar >/dev/null

# For `make test` (CI runs it as root): the solid-RAR tests need unar. Quiet and idempotent; it never fails and never
# asks for a password: as another user, or without apt, it only says so and those tests skip.
test-tools:
	@command -v unar >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && timeout 300 $(MAKE) -s data-tools >/dev/null 2>&1; } \
	  || echo "note: unar is not installed (make data-tools installs it); the tests that need it skip"

test: install test-tools
	$(BIN)/python -m pytest -q

bench: install
	dvc repro benchmark

# The whole DAG at the paper's shapes (profiles/paper.yaml, full-width I3D from a pytorch-i3d checkpoint) on a handful
# of synthetic videos for one epoch, in a temporary copy: 15-30 min on 2 cores (tests/test_paper_smoke.py).
paper-smoke: install
	ATTDISTILL_PAPER_SMOKE=1 $(BIN)/python -m pytest -q -s tests/test_paper_smoke.py

clean-venv:
	rm -rf $(VENV)
