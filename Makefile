# Brigade: `make run` starts the stack, `make test` runs the suite. Both set up .venv first,
# so a fresh machine with only Python 3.11 needs nothing else.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast bench bench-lb chaos cluster model lint docs clean venv

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m devtools.run_stack

test: $(STAMP) lint
	$(PY) -m pytest -q --durations=15 tests

# The unit and app layers only (tests/README.md): no gunicorn, no workers, no ffmpeg stack.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "unit or app" tests

BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(PY) -m pip install -q -r requirements-bench.txt
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) -m bench.run_all

# Faults and abuse against a stack of its own (devtools/chaos/); writes bench/results/chaos.* and
# the README's "Chaos and abuse" table. Under 10 minutes on 2 cores; exits 1 on a lost job or a 5xx.
chaos: $(STAMP)
	$(PY) -m bench.chaos

# Brigade on a cluster of hosts on this machine, each a network namespace (devtools/cluster/): 3 Redis
# hosts with Sentinel, HAProxy, API, predict, shard, control and events hosts. As root; Ctrl-C stops it.
# Options: make cluster ARGS="--size smoke --balance leastconn".
cluster: $(STAMP)
	$(PY) -m devtools.cluster $(ARGS)

# HAProxy's balancing across 3 API hosts on that cluster (as root): bench/results/lb.{json,md,png}.
bench-lb: $(STAMP)
	$(PY) -m bench.bench_lb

model: $(STAMP)
	$(PY) -m models.build_tagger
	$(PY) -m models.train_tagger
	$(PY) -m models.train_hotel

lint: $(STAMP)
	$(PY) -m ruff check .

# docs/SETTINGS.md, the README's settings table and .env.example, from brigade/settings.py.
docs: $(STAMP)
	$(PY) -m devtools.settings_doc --write

clean:
	rm -rf var .pytest_cache
