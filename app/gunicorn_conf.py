"""gunicorn settings for the API: threads, because `?wait=` holds a request open."""

import glob
import os
import shutil
import tempfile

bind = os.environ.get("API_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("API_WORKERS", "2"))
worker_class = "app.gunicorn_worker.HeaderDeadlineWorker"  # gthread, with a deadline on request headers
threads = int(os.environ.get("API_THREADS", "16"))
timeout = 120
accesslog = "-"
# No admin socket: several API processes may run on one host (tests, `make run`).
control_socket_disable = True

# Prometheus multiprocess mode (app/metrics.py): each worker writes its counters to files in this
# directory and /metrics adds up every worker's, whichever worker answers the scrape. It must be
# set here, in the master, before a worker imports prometheus_client. Our own temp dir unless the
# deployment gives one (e.g. an emptyDir); emptied at start, since old files would add old counts.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="brigade-prom-")
    os.environ["BRIGADE_OWNS_PROM_DIR"] = "1"  # survives a config reload (HUP) that re-reads this file
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)


def on_starting(server):
    for stale in glob.glob(os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], "*.db")):
        os.remove(stale)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if os.environ.get("BRIGADE_OWNS_PROM_DIR"):
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
