# One image for every Brigade process: the API, each worker pool and Flower (docker-compose.yml,
# deploy/k8s/). The torch wheel is chosen at build time:
#   docker build -t brigade:cpu .                                   # CPU wheel (the default)
#   docker build -t brigade:cuda --build-arg TORCH_VARIANT=cuda .   # CUDA wheel, for the GPU pool
# TORCH_CUDA picks the CUDA wheel index (cu126, cu128, ...) among those pytorch.org publishes for the
# torch version requirements.txt pins. The package indexes are build arguments, so a mirror can
# stand in: PIP_INDEX_URL (PyPI's simple index) and TORCH_INDEX_URL (a tree laid out as
# download.pytorch.org/whl: <url>/cpu/, <url>/cu128/, ...). No `# syntax=` line: the Dockerfile
# frontend built into the engine reads this file, so a build fetches no frontend image.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtual environment with the pinned requirements -------------------------------------
FROM ${PYTHON_IMAGE} AS build
ARG TORCH_VARIANT=cpu
ARG TORCH_CUDA=cu128
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt /tmp/requirements.txt
# torch first, at the version requirements.txt pins, from the index of the chosen variant; then the
# rest, which finds torch satisfied (a local version such as 2.13.0+cpu satisfies torch==2.13.0).
RUN set -eu; \
    case "$TORCH_VARIANT" in \
      cpu) index="${TORCH_INDEX_URL}/cpu" ;; \
      cuda) index="${TORCH_INDEX_URL}/${TORCH_CUDA}" ;; \
      *) echo "TORCH_VARIANT must be cpu or cuda, not '${TORCH_VARIANT}'" >&2; exit 2 ;; \
    esac; \
    torch_pin="$(grep -E '^torch==' /tmp/requirements.txt)"; \
    pip install --index-url "$index" --extra-index-url "$PIP_INDEX_URL" "$torch_pin"; \
    pip install --index-url "$PIP_INDEX_URL" -r /tmp/requirements.txt; \
    python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"

# --- runtime: Debian's ffmpeg, the venv, the code; runs as a non-root user ---------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG TORCH_VARIANT=cpu
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 brigade \
    && useradd --system --uid 10001 --gid brigade --create-home --home-dir /home/brigade --shell /usr/sbin/nologin brigade
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The code stays root-owned (read-only for the service user); only the data directories are its own.
# A new named volume mounted on them starts as a copy of them, ownership included.
COPY . /app
# The text reader's model files come out of the installed rapidocr wheel (not committed).
RUN /opt/venv/bin/python -m models.build.text --restore \
    && mkdir -p /data/uploads /data/video-cache /app/models/store \
    && chown -R brigade:brigade /data /app/models/store
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FFMPEG_BINARY=/usr/bin/ffmpeg \
    UPLOAD_DIR=/data/uploads \
    WORKER_CACHE_DIR=/data/video-cache \
    MODEL_STORE=/app/models/store \
    BRIGADE_TORCH_VARIANT=${TORCH_VARIANT}
USER brigade
EXPOSE 8000 5555
# The API; every other process gives its own command (docker-compose.yml, deploy/k8s/).
CMD ["gunicorn", "-c", "app/gunicorn_conf.py", "app.wsgi:app"]
