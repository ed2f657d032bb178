"""gunicorn settings for the API: threads, because `?wait=` holds a request open."""

import os

bind = os.environ.get("API_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("API_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("API_THREADS", "16"))
timeout = 120
accesslog = "-"
# No admin socket: several API processes may run on one host (tests, `make run`).
control_socket_disable = True
