"""The one settings module: typed, read from the environment, shared by the API and the workers.

Every setting has a default that works for `make run` on one machine; `docs/SETTINGS.md` and the
README table list them all. Read them through `get_settings()`; tests build their own with
`Settings.from_env({...})` instead of mutating `os.environ`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


def _env_field(default, help_text: str, *, secret: bool = False):
    """A setting; `secret`: its value opens something (a password, a token, a URL that may carry a
    password), so the deployment files give it only to the processes that use it (secret_names())."""
    return field(default=default, metadata={"help": help_text, "secret": secret})


@dataclass(frozen=True)
class Settings:
    # --- connections ---------------------------------------------------------------------
    REDIS_URL: str = _env_field("redis://127.0.0.1:6379/0", "Redis for job records, heartbeats, results and (by default) the broker.",
                                secret=True)
    BROKER_URL: str = _env_field("", "Celery broker; empty means REDIS_URL. `amqp://…` selects RabbitMQ.", secret=True)
    REDIS_SOCKET_TIMEOUT_S: float = _env_field(2.0, "Seconds one Redis command may take before it counts as a fault.")
    REDIS_RETRY_S: float = _env_field(120.0, "How long a worker keeps retrying a Redis command through a stall or restart "
                                             "(the API does not: it answers 503).")
    RESULT_BACKEND: str = _env_field("", "Celery result backend; empty means REDIS_URL.", secret=True)
    KEY_PREFIX: str = _env_field("brigade", "Prefix of every Redis key Brigade writes (job records, heartbeats, caches).")
    REDIS_SENTINELS: str = _env_field("", "Redis Sentinels, `host:port,host:port,…`; set: every Redis client (broker, results, job "
                                          "records, rate limits) finds the primary through them and follows a failover, and "
                                          "REDIS_URL gives only the password and db. Empty: REDIS_URL itself (one Redis).")
    REDIS_MASTER_NAME: str = _env_field("brigade", "With REDIS_SENTINELS: the primary's name in the Sentinels' `sentinel monitor`.")
    REDIS_SENTINEL_PASSWORD: str = _env_field("", "With REDIS_SENTINELS: the Sentinels' own `requirepass`; empty: REDIS_URL's password.",
                                              secret=True)
    REDIS_MIN_REPLICAS_ACK: int = _env_field(0, "Replicas that must hold a job's record and message (Redis WAIT) before the API "
                                                "answers 202; fewer within REDIS_ACK_TIMEOUT_MS: 503, the job is withdrawn. "
                                                "1 with Sentinel (docs/DEPLOY.md); 0: no wait (one Redis).")
    REDIS_ACK_TIMEOUT_MS: int = _env_field(1000, "How long the API waits for REDIS_MIN_REPLICAS_ACK replicas to confirm a job.")

    # --- storage ---------------------------------------------------------------------------
    UPLOAD_DIR: str = _env_field(str(ROOT / "var" / "uploads"),
                                 "Uploads. `local` backend: the stored videos, seen by every worker; `s3`: the API's scratch space.")
    STORAGE_BACKEND: str = _env_field("local", "Upload storage: `local` (UPLOAD_DIR, shared by all) or `s3` (S3_BUCKET; no shared disk).")
    UPLOAD_RETENTION_S: float = _env_field(7 * 24 * 3600, "`local` backend: uploads not sent again for this long are deleted; 0: kept.")
    S3_BUCKET: str = _env_field("", "`s3` backend: the uploads' bucket; workers refuse `s3://` URIs of any other bucket.")
    S3_PREFIX: str = _env_field("uploads/", "`s3` backend: key prefix of uploads, `<prefix><sha256>.<ext>`; workers refuse other keys.")
    S3_ENDPOINT_URL: str = _env_field("", "`s3` backend: endpoint of an S3-compatible server (MinIO, Ceph...); empty means AWS S3.")
    S3_REGION: str = _env_field("", "`s3` backend: the bucket's region; empty: AWS_DEFAULT_REGION. Credentials: AWS_* variables or a role.")
    WORKER_CACHE_DIR: str = _env_field(str(ROOT / "var" / "video-cache"),
                                       "`s3` backend: where a worker keeps downloaded videos (docs/DEPLOY.md: sizing, clean-up).")
    WORKER_CACHE_MAX_BYTES: int = _env_field(10 * 1024**3, "`s3` backend: after a download, the least recently used videos go until "
                                                           "WORKER_CACHE_DIR holds at most this; 0: no limit.")
    MODEL_STORE: str = _env_field(str(ROOT / "models" / "store"), "Model store: <store>/<name>/<version>/ with manifest.json.")
    TAGGER_MODEL: str = _env_field("video-tagger", "Model the video endpoints serve, as name or name@version "
                                   "(`synth-tagger`: the synthetic one); a name is pinned to its DEFAULT version at worker start.")

    # --- input limits ------------------------------------------------------------------------
    MAX_UPLOAD_BYTES: int = _env_field(512 * 1024 * 1024, "Largest accepted upload; enforced while reading (413).")
    MAX_VIDEO_SECONDS: float = _env_field(4 * 3600.0, "Longest accepted video duration.")
    MIN_VIDEO_SECONDS: float = _env_field(0.5, "Shortest accepted video duration.")
    MAX_VIDEO_WIDTH: int = _env_field(3840, "Widest accepted frame.")
    MAX_VIDEO_HEIGHT: int = _env_field(2160, "Tallest accepted frame.")
    MAX_VIDEO_FPS: float = _env_field(120.0, "Highest accepted frame rate.")

    # --- workers -------------------------------------------------------------------------------
    PREDICT_REPLICAS: int = _env_field(2, "`make run`: how many identical predict worker processes.")
    TORCH_THREADS: int = _env_field(1, "Intra-op threads per worker process (one core per replica).")
    TAGGER_BATCH: int = _env_field(0, "Frames (windows) per forward pass of the tagger; 0: 4 on CPU (fastest per frame "
                                   "there, see bench/results/tagger.md), 64 on CUDA.")
    FFMPEG_BINARY: str = _env_field("", "ffmpeg to use; empty: `ffmpeg` on PATH, else the imageio-ffmpeg wheel's.")
    FFMPEG_THREADS: int = _env_field(1, "Decoder threads per ffmpeg process (one core per replica).")
    DECODER_CPUS: str = _env_field("", "CPUs a worker's ffmpeg decoders run on, e.g. `0` or `0,2-3`; empty: wherever "
                                       "the worker runs. Pin the worker itself elsewhere (taskset, a cpuset) and the "
                                       "model keeps a core no decoder shares (docs/MODEL_TAGGER.md).")
    FFMPEG_NICE: int = _env_field(0, "How much lower a worker's decoders run than the worker (the model first when "
                                     "both want a core); 0: the same priority. 10 on 2 cores: the model's frames/s up, jobs 2-5 % slower.")
    TAGGER_RUNTIME: str = _env_field("auto", "What runs the tagger's network: `onnx` (its ONNX export on ONNX Runtime: on "
                                             "one CPU thread 3-4x the frames/s of TorchScript, same tags), `torchscript`, or "
                                             "`auto`: onnx on CPU when the artifact ships an export, torchscript on CUDA.")
    DECODE_MODE: str = _env_field("sampled", "`sampled`: the decoder skips the frames no sampled frame needs (H.264/HEVC: "
                                             "non-reference frames; intra-only codecs: all but the sampled ones): at 720p H.264 "
                                             "ffmpeg's CPU 1.5-1.7x lower, a job's 1.4-1.5x on ONNX Runtime, same tags "
                                             "(bench/results/decode.md). "
                                             "`full`: every frame decoded.")
    TASK_SOFT_TIME_LIMIT_S: int = _env_field(540, "Soft time limit of a task (SoftTimeLimitExceeded is raised).")
    TASK_TIME_LIMIT_S: int = _env_field(600, "Hard time limit of a task (the child is killed).")
    VISIBILITY_TIMEOUT_S: int = _env_field(3600, "Redis broker: seconds before an unacked message is redelivered; > the longest task.")
    RESULT_EXPIRES_S: int = _env_field(7 * 24 * 3600, "How long task results and job records are kept.")
    HEARTBEAT_INTERVAL_S: float = _env_field(2.0, "How often a replica refreshes its heartbeat.")
    HEARTBEAT_TTL_S: float = _env_field(10.0, "A replica whose heartbeat is older than this is dead; its running jobs are redelivered.")
    RECONCILE_INTERVAL_S: float = _env_field(10.0, "How often one worker looks for queued jobs whose message the broker lost "
                                                   "(a failover, a worker lost mid-pop) and sends it again; 0: never.")

    # --- sharded pattern -------------------------------------------------------------------------
    SHARD_WORKERS: int = _env_field(0, "`make run`: shard worker processes; 0 = one per GPU, or 2 on a CPU-only host.")
    SHARD_THRESHOLD_S: float = _env_field(120.0, "Videos longer than this go the sharded path (unless ?mode= says otherwise).")
    SHARD_THRESHOLD_BYTES: int = _env_field(256 * 1024 * 1024, "Uploads larger than this go the sharded path.")
    SEGMENT_MIN_S: float = _env_field(10.0, "Shortest planned segment (except a video's last one).")
    SEGMENT_MAX_S: float = _env_field(120.0, "Longest planned segment; SEGMENT_MEMORY_MB may lower it.")
    SEGMENT_MEMORY_MB: int = _env_field(1024, "Memory one shard worker may use for a segment; caps segment length.")
    SEGMENTS_PER_WORKER: int = _env_field(3, "Planner aims for this many segments per live shard worker (balance).")
    SEGMENT_BALANCE: str = _env_field("cost", "`cost`: segments of equal decoding cost (from the packet index); `duration`: equal lengths.")
    SCENE_SEARCH_S: float = _env_field(10.0, "How far a segment boundary may move to meet a scene cut (the planner scans only there).")
    SCENE_THRESHOLD: float = _env_field(0.15, "ffmpeg scene score above which a keyframe starts a new scene.")
    SHARD_ROUTING: str = _env_field("queue", "`queue`: one shared `segments` queue; `hash`: segment -> `shard.<hash % NUM_SHARDS>`.")
    NUM_SHARDS: int = _env_field(2, "Shard queues `shard.0..N-1` used when SHARD_ROUTING=hash.")
    SHARD_STANDBY: bool = _env_field(False, "This worker is a standby: it takes over the queue of a shard whose heartbeat expired.")
    SEGMENT_MAX_RETRIES: int = _env_field(3, "Retries (with backoff) of a segment on a transient fault.")
    MAX_TASK_ATTEMPTS: int = _env_field(3, "Starts of one message (redelivered after its worker died) before its job fails as poison.")
    SHARDED_JOB_TIMEOUT_S: float = _env_field(1800.0, "A sharded job not finished by then (from its planning) is failed by the watchdog.")
    JOB_TIMEOUT_S: float = _env_field(3600.0, "Any other job not finished by then (from its creation, queue wait "
                                              "included) is failed by the watchdog.")

    # --- API -------------------------------------------------------------------------------------
    MAX_WAIT_S: float = _env_field(60.0, "Cap on `?wait=` of GET /v1/jobs/<id>.")
    MAX_HELD_WAITS: int = _env_field(8, "Requests one API process holds waiting at once (`?wait=`, the hotel sync wait); "
                                        "more are answered at once. Keep it under API_THREADS.")
    OPERATOR_TOKEN: str = _env_field("", "Secret that opens /metrics and the details of /readyz; empty: loopback callers only.",
                                     secret=True)

    # --- Flower ----------------------------------------------------------------------------------
    FLOWER_USER: str = _env_field("admin", "Flower basic-auth user.")
    FLOWER_PASSWORD: str = _env_field("", "Flower basic-auth password; `make run` generates one when empty.", secret=True)

    # --- event-driven pattern --------------------------------------------------------------------
    HOTEL_SYNC_WAIT_S: float = _env_field(3.0, "POST /v1/hotel-prices waits this long for the answer (200); after it, 202 with the job.")
    EVENTS_MIN: int = _env_field(0, "`make run`: fewest processes of the autoscaled events pool (0: scale to zero when idle).")
    EVENTS_MAX: int = _env_field(4, "`make run`: most processes of the autoscaled events pool.")
    AUTOSCALE_COOLDOWN_S: float = _env_field(30.0, "The events pool shrinks to the most it needed over this many seconds (never sooner).")
    AUTOSCALE_INTERVAL_S: float = _env_field(0.5, "How often the events autoscaler reads the broker's queue depth (and on each new task).")
    AUTOSCALE_SAMPLES: int = _env_field(20000, "Autoscaler samples (time, processes, queue depth) kept per worker in Redis, for plots.")
    EVENTS_PRELOAD: bool = _env_field(True, "Load the hotel model in the events worker's parent before forking (not with CUDA).")
    EVENTS_SIMULATED_IO_MS: float = _env_field(0.0, "Tests/benchmarks only: sleep this long per hotel-price task (a supplier lookup).")
    AUTOSCALE_PREDICTIVE: bool = _env_field(False, "The events autoscaler also scales ahead of the arrivals it forecasts "
                                                   "(docs/EVENTS.md); never below the reactive rule, never above EVENTS_MAX.")
    AUTOSCALE_TARGET_UTILIZATION: float = _env_field(0.7, "Predictive scaling: processes = ceil(forecast arrivals/s x service "
                                                          "time / this); more than 0, at most 1 (lower: more headroom).")
    AUTOSCALE_FORECAST_QUANTILE: float = _env_field(0.95, "Predictive scaling: also enough processes for this share of the moments "
                                                        "(Poisson arrivals at the forecast rate); 0: the utilisation rule alone.")
    FORECAST_SEASON_S: float = _env_field(86400.0, "Predictive scaling: the period of the arrivals' pattern (a day; a week is 604800, "
                                                   "with ARRIVAL_RETENTION_S over 3 weeks).")
    FORECAST_HORIZON_S: float = _env_field(120.0, "Predictive scaling: how far ahead the arrival rate is forecast (also the window of "
                                                  "the current level it is scaled by).")
    FORECAST_SERVICE_TIME_S: float = _env_field(0.05, "Predictive scaling: seconds one task holds a process, until the pool has "
                                                      "measured its own (its recent tasks' weighted mean).")
    ARRIVAL_BUCKET_S: float = _env_field(60.0, "Accepted jobs are counted per queue per this many seconds in Redis: the forecast's "
                                               "history.")
    ARRIVAL_RETENTION_S: float = _env_field(8 * 24 * 3600.0, "How long arrival counts are kept: at least a season (the forecast "
                                                             "averages up to 3 past seasons).")
    API_KEYS: str = _env_field("", "API keys and their tiers, `key1:premium,key2:authenticated`; no key means anonymous.", secret=True)
    API_KEYS_FILE: str = _env_field("", "File of `key:tier` lines (`#` comments), merged with API_KEYS; re-read when it changes.")
    RATE_LIMIT_ANONYMOUS: str = _env_field("10/hour;3/minute", "Work-submitting requests per client address without a key (flask-limiter).")
    RATE_LIMIT_AUTHENTICATED: str = _env_field("100/hour;20/minute", "Work-submitting requests per authenticated API key.")
    RATE_LIMIT_PREMIUM: str = _env_field("1000/hour;100/minute", "Work-submitting requests per premium API key.")
    TRUSTED_PROXY_HOPS: int = _env_field(0, "Reverse proxies in front of the API whose X-Forwarded-* headers to trust (0: none).")
    RATE_LIMIT_STORAGE_URI: str = _env_field("", "flask-limiter storage; empty means REDIS_URL, so every API process shares the counts.",
                                             secret=True)
    RATE_LIMIT_STRATEGY: str = _env_field("moving-window", "flask-limiter strategy: moving-window, fixed-window or sliding-window-counter.")

    # --- webhooks (docs/WEBHOOKS.md) -----------------------------------------------------------------
    WEBHOOK_ALLOWED_HOSTS: str = _env_field("", "Hosts a `callback_url` may name: `host`, `host:port` or `*.domain` patterns, "
                                                "comma-separated; empty: webhooks off. Only an exact entry may resolve "
                                                "to a private address.")
    WEBHOOK_SIGNING_SECRET: str = _env_field("", "Master secret from which each API key's webhook signing secret is derived; "
                                                 "empty: webhooks off. `make run` generates one in var/.", secret=True)
    WEBHOOK_MAX_ATTEMPTS: int = _env_field(8, "Delivery attempts of a job-completion webhook before it is given up.")
    WEBHOOK_BACKOFF_S: float = _env_field(10.0, "Wait before the second delivery attempt; doubled after each failed one.")
    WEBHOOK_BACKOFF_MAX_S: float = _env_field(600.0, "Longest wait between delivery attempts; < VISIBILITY_TIMEOUT_S.")
    WEBHOOK_TIMEOUT_S: float = _env_field(10.0, "Connect and read timeout of one delivery attempt.")

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        """REDIS_SENTINELS as (host, port) pairs; empty without Sentinel."""
        return sentinel_list(self.REDIS_SENTINELS)

    @property
    def store_url(self) -> str:
        """Where the Redis store is, as Celery and kombu name it: REDIS_URL, or with Sentinels
        `sentinel://:pw@host:port/db;…` (one per Sentinel, each with the store's password and db:
        kombu reads them from whichever it parses first)."""
        if not self.sentinels:
            return self.REDIS_URL
        return ";".join(f"sentinel://{self.store_auth}{host}:{port}/{self.store_db}" for host, port in self.sentinels)

    @property
    def store_auth(self) -> str:
        """REDIS_URL's credentials as a URL's `user:password@` part (empty without a password)."""
        url = urlsplit(self.REDIS_URL)
        return f"{url.username or ''}:{url.password}@" if url.password else ""

    @property
    def store_db(self) -> int:
        return int(urlsplit(self.REDIS_URL).path.strip("/") or 0)

    @property
    def sentinel_password(self) -> str | None:
        return self.REDIS_SENTINEL_PASSWORD or urlsplit(self.REDIS_URL).password or None

    @property
    def broker_url(self) -> str:
        return self.BROKER_URL or self.store_url

    @property
    def result_backend(self) -> str:
        return self.RESULT_BACKEND or self.store_url

    @property
    def decoder_cpus(self) -> set[int]:
        return cpu_list(self.DECODER_CPUS)

    def __post_init__(self):
        """Refuse combinations that would lose work quietly, naming the settings to change."""
        rules = [
            (self.VISIBILITY_TIMEOUT_S > self.TASK_TIME_LIMIT_S,
             "VISIBILITY_TIMEOUT_S must exceed TASK_TIME_LIMIT_S, or Redis redelivers tasks that are still running"),
            (self.TASK_TIME_LIMIT_S > self.TASK_SOFT_TIME_LIMIT_S, "TASK_TIME_LIMIT_S must exceed TASK_SOFT_TIME_LIMIT_S"),
            (self.JOB_TIMEOUT_S > self.TASK_TIME_LIMIT_S,
             "JOB_TIMEOUT_S must exceed TASK_TIME_LIMIT_S, or the watchdog fails jobs still running"),
            (self.RESULT_EXPIRES_S > self.SHARDED_JOB_TIMEOUT_S,
             "RESULT_EXPIRES_S must outlive SHARDED_JOB_TIMEOUT_S, or a chord's segment results expire before its merge"),
            (self.HEARTBEAT_TTL_S > self.HEARTBEAT_INTERVAL_S,
             "HEARTBEAT_TTL_S must exceed HEARTBEAT_INTERVAL_S, or live replicas look dead"),
            (self.SHARD_ROUTING in ("queue", "hash"), f"SHARD_ROUTING={self.SHARD_ROUTING!r}: use queue or hash"),
            (self.UPLOAD_RETENTION_S == 0 or self.UPLOAD_RETENTION_S >= self.RESULT_EXPIRES_S,
             "UPLOAD_RETENTION_S must be 0 or at least RESULT_EXPIRES_S, or a job still on record may lose its video"),
            (self.RECONCILE_INTERVAL_S >= 0, "RECONCILE_INTERVAL_S must be 0 (off) or more"),
            (self.TRUSTED_PROXY_HOPS >= 0, "TRUSTED_PROXY_HOPS must be 0 or more"),
            (self.SEGMENT_BALANCE in ("cost", "duration"), f"SEGMENT_BALANCE={self.SEGMENT_BALANCE!r}: use cost or duration"),
            (self.TAGGER_RUNTIME in ("auto", "onnx", "torchscript"),
             f"TAGGER_RUNTIME={self.TAGGER_RUNTIME!r}: use auto, onnx or torchscript"),
            (self.DECODE_MODE in ("sampled", "full"), f"DECODE_MODE={self.DECODE_MODE!r}: use sampled or full"),
            (self.WEBHOOK_MAX_ATTEMPTS >= 1, "WEBHOOK_MAX_ATTEMPTS must be 1 or more"),
            (_parses(cpu_list, self.DECODER_CPUS), f"DECODER_CPUS={self.DECODER_CPUS!r}: CPU numbers and ranges, e.g. 0,2-3"),
            (_parses(sentinel_list, self.REDIS_SENTINELS),
             f"REDIS_SENTINELS={self.REDIS_SENTINELS!r}: comma-separated host:port pairs, e.g. s1:26379,s2:26379"),
            (not self.REDIS_SENTINELS or self.REDIS_MASTER_NAME, "REDIS_MASTER_NAME must name the primary when REDIS_SENTINELS is set"),
            (self.REDIS_MIN_REPLICAS_ACK >= 0 and self.REDIS_ACK_TIMEOUT_MS > 0,
             "REDIS_MIN_REPLICAS_ACK must be 0 or more and REDIS_ACK_TIMEOUT_MS more than 0"),
            (0 < self.AUTOSCALE_TARGET_UTILIZATION <= 1, "AUTOSCALE_TARGET_UTILIZATION must be more than 0 and at most 1"),
            (0 <= self.AUTOSCALE_FORECAST_QUANTILE < 1, "AUTOSCALE_FORECAST_QUANTILE must be at least 0 and less than 1"),
            (self.ARRIVAL_BUCKET_S > 0 and self.FORECAST_HORIZON_S > 0 and self.FORECAST_SERVICE_TIME_S > 0,
             "ARRIVAL_BUCKET_S, FORECAST_HORIZON_S and FORECAST_SERVICE_TIME_S must be more than 0"),
            (self.FORECAST_SEASON_S > 2 * self.FORECAST_HORIZON_S,
             "FORECAST_SEASON_S must exceed twice FORECAST_HORIZON_S (the horizon and the level window before it)"),
            (self.ARRIVAL_RETENTION_S >= self.FORECAST_SEASON_S + 2 * self.FORECAST_HORIZON_S,
             "ARRIVAL_RETENTION_S must cover FORECAST_SEASON_S plus twice FORECAST_HORIZON_S, or the forecast never has a season"),
            (0 < self.WEBHOOK_BACKOFF_S <= self.WEBHOOK_BACKOFF_MAX_S < self.VISIBILITY_TIMEOUT_S,
             "0 < WEBHOOK_BACKOFF_S <= WEBHOOK_BACKOFF_MAX_S < VISIBILITY_TIMEOUT_S, or a waiting retry is redelivered twice"),
        ]
        problems = [message for ok, message in rules if not ok]
        if problems:
            raise ValueError("invalid settings: " + "; ".join(problems))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values = {}
        for f in fields(cls):
            if f.name in env:
                values[f.name] = _parse(f, env[f.name])
        return cls(**values)


def _parse(f: dataclasses.Field, raw: str):
    kind = type(f.default)
    try:
        if kind is bool:
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        return kind(raw)
    except ValueError as exc:
        raise ValueError(f"setting {f.name}={raw!r} is not a valid {kind.__name__}") from exc


def cpu_list(spec: str) -> set[int]:
    """`0,2-3` -> {0, 2, 3} (the cpuset list format); empty -> empty set."""
    cpus: set[int] = set()
    for part in filter(None, (p.strip() for p in spec.split(","))):
        low, _, high = part.partition("-")
        first, last = int(low), int(high or low)  # ValueError on anything else
        if first < 0 or last < first:
            raise ValueError(f"{part!r} is not a CPU range")
        cpus.update(range(first, last + 1))
    return cpus


def sentinel_list(spec: str) -> list[tuple[str, int]]:
    """`s1:26379,s2` -> [("s1", 26379), ("s2", 26379)] (26379, Sentinel's port, when none is given)."""
    pairs = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        host, _, port = part.rpartition(":") if ":" in part else (part, "", "26379")
        if not host or not port.isdigit():
            raise ValueError(f"{part!r} is not host:port")
        pairs.append((host, int(port)))
    return pairs


def _parses(parse, spec: str) -> bool:
    try:
        parse(spec)
    except ValueError:
        return False
    return True


def describe() -> list[tuple[str, object, str]]:
    """(name, default, help) of every setting: the source of the README's settings table."""
    return [(f.name, f.default, f.metadata["help"]) for f in fields(Settings)]


def secret_names() -> set[str]:
    """The settings whose values are secrets (see _env_field)."""
    return {f.name for f in fields(Settings) if f.metadata["secret"]}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


@contextmanager
def overridden(**values: str) -> Iterator[None]:
    """These settings in the environment for the block, so `get_settings()` here and every process
    started meanwhile (ffmpeg, a worker) read them; then the environment as it was. For benchmarks
    and tests that run two settings side by side in one process."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()
