# One task runner; CI (.ci/run) calls these targets verbatim.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: setup run ingest chat test test-fast lint bench bench-ask bench-chat eval clean

# pip (not uv/poetry): it takes the local CPU wheel of torch==2.13.0 that pyproject pins.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## The main job: set up, ingest the sample corpus (incremental), open the web chat.
run: ingest
	$(VENV)/bin/followup chat

ingest: setup
	$(VENV)/bin/followup ingest corpus

chat: setup
	$(VENV)/bin/followup chat

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

## Answering latency on MedQuAD and retrieval quality on PubMedQA / COVID-QA (stores cached).
bench-ask: setup
	$(VENV)/bin/followup bench ask

## The chat: launch time, first token in the browser, 20 concurrent API sessions.
bench-chat: ingest
	$(VENV)/bin/followup bench chat

clean:
	rm -rf .followup .pytest_cache .mypy_cache .ruff_cache
