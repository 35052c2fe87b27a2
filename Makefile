# citynode: the two commands a newcomer needs are `make demo` and `make test`.
# Everything else they depend on (venv, Node, the MicroPython WebAssembly port, services) is set up here.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export CITYNODE_ROOT := $(CURDIR)
STAMP := $(VENV)/.setup-done
PYTEST_ARGS ?=

.PHONY: setup test test-quick check lint bench demo clean services registry

setup: $(STAMP)

$(STAMP): pyproject.toml package.json package-lock.json .ci/setup-node
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@bash .ci/setup-node $(BIN)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

services: setup
	@bash tests/services/ensure.sh

test: setup services
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-quick: setup
	$(BIN)/python -m pytest -m 'not slow' $(PYTEST_ARGS)

# Before each commit: lint, types and the quick tests.
check: lint test-quick

lint: setup
	$(BIN)/ruff check host tests bench
	$(BIN)/mypy

registry: setup
	$(BIN)/python -m citynode.registry_gen

bench: setup services
	$(BIN)/python -m bench

demo: setup
	$(BIN)/python -m citynode.demo --out demo

clean:
	rm -rf demo .state build bench/.work
