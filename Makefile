# The contract users, CI and checks rely on: install, run, stop, test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
LOCAL := infra/local/newsflow-local

.PHONY: install run stop test test-unit check infra-up infra-down bench

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	touch $@

# The main job: Kafka + Elasticsearch, topics and index, the demo site and its
# feeds, the four services; returns once the demo articles are searchable.
# The demo site is on loopback, which the fetcher refuses unless allowed.
run: install
	$(LOCAL) up
	NEWSFLOW_FETCHER_ALLOW_HOSTS=127.0.0.1 $(BIN)/newsflow run-demo $(if $(WORKERS),--workers $(WORKERS),)

# Stops what `make run` started, and only that.
stop:
	-test -x $(BIN)/newsflow && $(BIN)/newsflow down
	$(LOCAL) down

# The whole suite; the integration and e2e tiers start their own Kafka and
# Elasticsearch (on other ports than `make run`) and stop them afterwards.
test: install .cache/compose-schema/.fetched
	$(LOCAL) fetch
	$(BIN)/pytest -q -ra $(PYTEST_ARGS)

# The Compose Specification's JSON schema, from the docker-compose wheel on PyPI.
.cache/compose-schema/.fetched:
	$(BIN)/pip download -q --no-deps -d .cache/compose-schema docker-compose==1.29.2
	touch $@

test-unit: install .cache/compose-schema/.fetched
	$(BIN)/pytest -q tests/unit

check: install
	$(BIN)/ruff check shared services newsflow tests bench
	$(BIN)/mypy

infra-up:
	$(LOCAL) up

infra-down:
	$(LOCAL) down
