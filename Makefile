# One task runner; CI (.ci/run) calls these targets verbatim.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: setup run ingest test test-fast lint bench eval clean

# pip (not uv/poetry): it takes the local CPU wheel of torch==2.13.0 that pyproject pins.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## The main job: set up, ingest the sample corpus, print the summary.
run: setup
	$(VENV)/bin/followup ingest corpus

ingest: run

## Set up and run every test (slow ones included: real Chroma server, dataset slices).
test: setup
	$(PY) -m pytest -q

## Quick loop while developing: skip the slow tests.
test-fast: setup
	$(PY) -m pytest -q -m "not slow"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

## Benchmarks that print figures (long: embeds all 5,497 MedQuAD pages twice).
bench: setup
	$(VENV)/bin/followup bench ingest

clean:
	rm -rf .followup .pytest_cache .mypy_cache .ruff_cache
