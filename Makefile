# Two commands do all set-up on a fresh machine:
#   make quickstart   creates .venv, installs the local target, fine-tunes and serves a demo
#                     (make demo: the same with a real small model, SmolLM2-135M, ~8 min)
#   make test         creates .venv with the dev extra (plus the storage emulators), lints (ruff)
#                     and runs pytest: every test
#   make test-fast    the inner loop: lint and every test but the slow ones (pytest -m "not slow":
#                     real training runs, image builds, the local pipeline end to end, `kit plan`
#                     in a subprocess; the list is tests/conftest.py SLOW): 1336 of 1431 tests,
#                     3 min 16 s on the 2-core machine under load (full `make test`: ~20 min)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A CPU build of torch. Asking pip for an unpinned torch would fetch a multi-GB CUDA build.
TORCH ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: quickstart demo test test-fast lint venv tools bench clean help

help:
	@echo "make quickstart | make demo | make test | make test-fast | make lint | make bench | make clean"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.local-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e '.[train,serve]'
	touch $@

$(VENV)/.demo-installed: $(VENV)/.local-installed
	$(BIN)/pip install --quiet -e '.[train,serve,demo]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.local-installed $@

# Azurite (the Azure Blob emulator) comes from npm; moto and the GCS emulator come with [dev].
.tools/node_modules/.bin/azurite-blob:
	npm install --silent --no-audit --no-fund --prefix .tools azurite@3

tools: .tools/node_modules/.bin/azurite-blob

quickstart: $(VENV)/.local-installed
	$(BIN)/kit up -f examples/quickstart/kit.yaml --yes

demo: $(VENV)/.demo-installed
	$(BIN)/kit up -f examples/demo/kit.yaml --yes

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check kit stacks tests bench

test: $(VENV)/.dev-installed tools lint
	$(BIN)/python -m pytest -q --durations=15 $(PYTEST_ARGS)

test-fast: $(VENV)/.dev-installed lint
	$(BIN)/python -m pytest -q -m "not slow" --durations=5 $(PYTEST_ARGS)

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/cli_startup.py

clean:
	-$(BIN)/kit down -f examples/quickstart/kit.yaml --yes --purge
	rm -rf $(VENV) .tools .pytest_cache
