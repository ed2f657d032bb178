"""GET /openapi.json: the API's contract, written by hand and checked by the tests."""

from __future__ import annotations

from flask import Blueprint

from brigade.features import DEFAULT as DEFAULT_FEATURES
from brigade.features import FEATURES
from worker import work

bp = Blueprint("openapi", __name__)

_PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _problem(description: str) -> dict:
    return {"description": description, "content": {"application/problem+json": {"schema": _PROBLEM}}}


def _json(description: str, ref: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


_CALLBACK_URL = {
    "name": "callback_url", "in": "query", "schema": {"type": "string", "format": "uri", "maxLength": 2048},
    "description": "POSTed the job's body, signed, when the job ends (docs/WEBHOOKS.md): http(s), a host that "
                   "WEBHOOK_ALLOWED_HOSTS allows, no user:password@; needs an API key"}
_FEATURES = {
    "name": "features", "in": "query", "style": "form", "explode": False,
    "schema": {"type": "array", "items": {"type": "string", "enum": list(FEATURES)}, "default": list(DEFAULT_FEATURES)},
    "description": f"what to find, comma-separated, any of {', '.join(FEATURES)} (default {','.join(DEFAULT_FEATURES)}; "
                   "shots are always found). `labels`: the tagger's tags; `people`, `faces`: a count per sampled time "
                   "with boxes (`people` adds `Person` to the tags); `text`: each distinct string on screen. Case and "
                   "repeats do not matter; an unknown name is a 400 `invalid-parameter`, refused before the upload is read"}
_WEBHOOK_HEADER = {"required": True, "schema": {"type": "string"}}
_CALLBACKS = {"jobFinished": {"{$request.query.callback_url}": {"post": {
    "summary": "The job ended (succeeded or failed): its body as GET /v1/jobs/{job_id} renders it, without `webhook`. "
               "Delivered by a worker, at least once; retried with exponential backoff on a network error, 408, 429 "
               "or 5xx, up to WEBHOOK_MAX_ATTEMPTS; any other answer but 2xx gives up. Redirects are not followed.",
    "parameters": [
        {"name": "X-Brigade-Timestamp", "in": "header", **_WEBHOOK_HEADER, "description": "unix seconds of this attempt"},
        {"name": "X-Brigade-Signature", "in": "header", **_WEBHOOK_HEADER,
         "description": "`v1=<hex HMAC-SHA256(secret, '<timestamp>.<raw body>')>`, secret: GET /v1/webhook-secret"},
        {"name": "X-Brigade-Event", "in": "header", **_WEBHOOK_HEADER, "description": "`job.succeeded` or `job.failed`"},
        {"name": "X-Brigade-Job", "in": "header", **_WEBHOOK_HEADER, "description": "the job id"},
        {"name": "X-Brigade-Attempt", "in": "header", **_WEBHOOK_HEADER, "description": "1 for the first attempt"},
    ],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
    "responses": {"2XX": {"description": "delivered"}, "default": {"description": "retried (408, 429, 5xx) or given up"}},
}}}}


# --- the work endpoints' operations: each named by its rows in the table of work (worker/work.py) --------


def _submit_video() -> dict:
    return {
        "summary": "Upload a video to tag; answers 202 with a job to poll.",
        "parameters": [
            {"name": "fast", "in": "query", "schema": {"type": "boolean"}, "description": "keyframe-only sampling"},
            {"name": "mode", "in": "query", "schema": {"type": "string", "enum": ["auto", "single", "sharded"], "default": "auto"},
             "description": "auto: sharded when longer than SHARD_THRESHOLD_S or larger than SHARD_THRESHOLD_BYTES"},
            _FEATURES,
            _CALLBACK_URL,
        ],
        "callbacks": _CALLBACKS,
        "requestBody": {"required": True, "content": {
            "multipart/form-data": {"schema": {"type": "object", "required": ["video"],
                                               "properties": {"video": {"type": "string", "format": "binary"}}}},
            "video/*": {"schema": {"type": "string", "format": "binary"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        }},
        "responses": {
            "202": _json("job accepted", "Accepted"),
            "400": _problem("empty body or missing field; `invalid-parameter`: an unknown mode or feature; "
                             "`invalid-callback`: a callback_url not allowed, or webhooks off"),
            "401": _problem("unknown API key; `api-key-required`: callback_url without a key"),
            "413": _problem("upload larger than MAX_UPLOAD_BYTES"),
            "415": _problem("not a video, or an unsupported content type"),
            "422": _problem("a video outside the duration, resolution or fps limits, or truncated"),
            "503": _problem("broker or upload storage unavailable"),
        },
    }


def _submit_hotel_prices() -> dict:
    return {
        "summary": "Nightly prices per hotel at a destination, with an interval and a confidence.",
        "parameters": [{"name": "X-API-Key", "in": "header", "schema": {"type": "string"},
                        "description": "API key (tier); none = anonymous, limited by client address"},
                       _CALLBACK_URL],
        "callbacks": _CALLBACKS,
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["destination", "check_in", "check_out", "guests"],
            "properties": {"destination": {"type": "string"}, "check_in": {"type": "string", "format": "date"},
                           "check_out": {"type": "string", "format": "date"}, "guests": {"type": "integer"},
                           "budget": {"type": "number", "description": "for the whole stay"}}}}}},
        "responses": {
            "200": {"description": "the hotels, answered within HOTEL_SYNC_WAIT_S"},
            "202": _json("still running: poll the job", "Accepted"),
            "400": _problem("malformed JSON; `invalid-callback`: a callback_url not allowed, or webhooks off"),
            "401": _problem("unknown API key; `api-key-required`: callback_url without a key"),
            "422": _problem("invalid request: unknown destination, bad dates, stay too long, guests out of range"),
            "429": _problem("rate limit of the caller's tier exceeded (see Retry-After)"),
        },
    }


def _echo() -> dict:
    return {
        "summary": "Round trip of a trivial task through the whole serving path.",
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"payload": {"description": "returned as the job's result"}},
            "additionalProperties": False}}}},
        "responses": {"200": _json("the finished job", "Job"), "202": _json("still running", "Job"),
                      "400": _problem("malformed JSON, or nested too deeply"),
                      "413": _problem("a body over 4096 bytes"), "415": _problem("a body that is not JSON"),
                      "422": _problem("not a JSON object, or fields other than `payload`")},
    }


#: "METHOD /path" -> its operation: the value of `worker.work.Work.openapi` (tests/test_work_table.py
#: checks that each row with an endpoint names one, and that no other operation sends work).
WORK_OPERATIONS = {
    "POST /v1/videos": _submit_video,
    "POST /v1/hotel-prices": _submit_hotel_prices,
    "POST /v1/echo": _echo,
}


def _method_path(operation: str) -> tuple[str, str]:
    """"POST /v1/videos" -> ("post", "/v1/videos")."""
    method, path = operation.split(" ", 1)
    return method.lower(), path


def work_paths(rows=work.TABLE) -> dict[str, dict]:
    """The paths of the work endpoints, assembled from the rows that send work: each names its
    operation, and a row whose endpoint names none is refused, so the spec cannot miss one."""
    unnamed = [row.task for row in rows if row.endpoint and not row.openapi]
    if unnamed:
        raise ValueError(f"rows of the table of work whose endpoint names no OpenAPI operation: {unnamed}")
    paths: dict[str, dict] = {}
    for operation in work.openapi_operations(rows):
        method, path = _method_path(operation)
        paths.setdefault(path, {})[method] = WORK_OPERATIONS[operation]()
    return paths


SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "Brigade", "version": "1.0.0",
             "description": "Serve torch models through Celery: replicated, sharded and event-driven."},
    "paths": {
        **work_paths(),
        "/v1/jobs/{job_id}": {"get": {
            "summary": "A job's status, progress and result.",
            "parameters": [
                {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "wait", "in": "query", "schema": {"type": "number", "minimum": 0},
                 "description": "seconds to wait for a terminal status (capped by MAX_WAIT_S)"},
            ],
            "responses": {"200": _json("the job", "Job"), "400": _problem("`wait` is not a number of seconds >= 0"),
                          "404": _problem("unknown job")},
        }},
        "/v1/hotel-destinations": {"get": {
            "summary": "The destinations POST /v1/hotel-prices accepts (the served hotel model's), and the limits of a stay.",
            "responses": {"200": _json("the destinations", "Destinations"), "503": _problem("the hotel model's artifact is unreadable")},
        }},
        "/": {"get": {
            "summary": "The web page: upload a video and see its tags on a timeline; price hotels (a client of this API).",
            "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}},
        }},
        "/v1/webhook-secret": {"get": {
            "summary": "The secret the caller's webhooks are signed with (one per API key; docs/WEBHOOKS.md).",
            "responses": {"200": _json("the secret and how it signs", "WebhookSecret"),
                          "401": _problem("no API key (`api-key-required`), or an unknown one"),
                          "404": _problem("webhooks are off on this server (`webhooks-disabled`)")},
        }},
        "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "alive"}}}},
        "/readyz": {"get": {"summary": "Readiness: broker answers and a ready predict replica exists",
                            "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}}}},
    },
    "components": {"schemas": {
        "Problem": {"type": "object", "required": ["type", "title", "status", "detail"], "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"}}},
        "Accepted": {"type": "object", "required": ["job_id", "status_url"], "properties": {
            "job_id": {"type": "string"}, "status": {"type": "string"}, "mode": {"type": "string"},
            "status_url": {"type": "string"}}},
        "Destinations": {"type": "object", "required": ["destinations", "max_nights", "max_guests"], "properties": {
            "model": {"type": "object", "properties": {"name": {"type": "string"}, "version": {"type": "string"}}},
            "destinations": {"type": "array", "items": {"type": "object", "required": ["slug", "name"], "properties": {
                "slug": {"type": "string", "description": "the value of `destination`"}, "name": {"type": "string"},
                "hotels": {"type": "integer"}}}},
            "max_nights": {"type": "integer"}, "max_guests": {"type": "integer"}}},
        "WebhookSecret": {"type": "object", "required": ["secret", "algorithm", "timestamp_header", "signature_header"],
                          "properties": {"secret": {"type": "string"}, "algorithm": {"type": "string"},
                                         "timestamp_header": {"type": "string"}, "signature_header": {"type": "string"},
                                         "signature": {"type": "string"}}},
        "Tag": {"type": "object", "required": ["label", "score"], "properties": {
            "label": {"type": "string"}, "score": {"type": "number", "description": "confidence 0-1"},
            "covered_s": {"type": "number", "description": "video-seconds in which the tag is shown"},
            "parents": {"type": "array", "items": {"type": "string"},
                        "description": "every ancestor in the tag hierarchy, nearest first (Dog: Pet, Animal)"},
            "source": {"type": "string", "description": "the feature whose model found it, when not the tagger "
                                                        "(`people` for Person)"}}},
        "Range": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2,
                  "description": "[start, end] in seconds of video"},
        "CountSeries": {
            "type": "object", "required": ["max_count", "sampled", "seen", "period_s", "samples"],
            "description": "`people` or `faces`: what the detector found in each sampled frame",
            "properties": {
                "max_count": {"type": "integer", "minimum": 0, "description": "the most found in one frame"},
                "sampled": {"type": "integer", "minimum": 0, "description": "frames the detector was given"},
                "seen": {"type": "array", "items": {"$ref": "#/components/schemas/Range"},
                         "description": "stretches with at least one on screen"},
                "period_s": {"type": "number", "description": "seconds between samples; a sample covers [t, t + period_s)"},
                "samples": {"type": "array", "items": {"type": "object", "required": ["t", "count", "boxes"], "properties": {
                    "t": {"type": "number", "description": "seconds into the video"},
                    "count": {"type": "integer", "minimum": 0},
                    "boxes": {"type": "array", "items": {"type": "array", "items": {"type": "number"}, "minItems": 5,
                                                         "maxItems": 5},
                              "description": "[x0, y0, x1, y1, score] each, the box as fractions of the frame"}}}}}},
        "TextEntry": {
            "type": "object", "required": ["text", "ranges", "box", "confidence", "reads"],
            "description": "one distinct string on screen, deduplicated across frames and segments",
            "properties": {
                "text": {"type": "string", "description": "the spelling read most often"},
                "ranges": {"type": "array", "items": {"$ref": "#/components/schemas/Range"},
                           "description": "when it is on screen"},
                "box": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4,
                        "description": "[x0, y0, x1, y1] as fractions of the frame, where it was read most confidently"},
                "confidence": {"type": "number", "description": "the best read's, 0-1"},
                "reads": {"type": "integer", "minimum": 1, "description": "sampled frames that read it"}}},
        "FrameModel": {
            "type": "object", "required": ["name", "version"],
            "description": "a per-frame model that answered a feature",
            "properties": {
                "name": {"type": "string"}, "version": {"type": "string"}, "device": {"type": "string"},
                "runtime": {"type": "string", "description": "torchscript or onnxruntime"},
                "threads": {"type": "integer"}, "feature": {"type": "string", "enum": list(FEATURES)},
                "frames": {"type": "object", "description": "the frames it takes", "properties": {
                    "fps": {"type": "number"}, "max_side": {"type": "integer"}}}}},
        "Span": {"type": "object", "required": ["start", "end", "tags"], "properties": {
            "start": {"type": "number"}, "end": {"type": "number"},
            "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}}}},
        "Job": {"type": "object", "required": ["job_id", "status"], "properties": {
            "job_id": {"type": "string"},
            "status": {"type": "string", "enum": ["queued", "running", "succeeded", "failed"]},
            "kind": {"type": "string"}, "mode": {"type": "string"},
            "progress": {"type": "object"},
            "created_at": {"type": "number", "description": "epoch seconds when the upload was accepted"},
            "started_at": {"type": "number", "description": "epoch seconds when a worker (or the planner) began"},
            "finished_at": {"type": "number", "description": "epoch seconds when the job succeeded or failed"},
            "plan": {"type": "object", "description": "sharded jobs: segments, scene cuts, how they were balanced"},
            "result": {"type": "object", "properties": {
                "features": {"type": "array", "items": {"type": "string", "enum": list(FEATURES)},
                             "description": "video jobs: the features asked (`?features=`)"},
                "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"},
                         "description": "video-level tags, best first"},
                "scores": {"type": "object", "additionalProperties": {"type": "number"}},
                "timeline": {"type": "object", "additionalProperties": {
                    "type": "array", "items": {"$ref": "#/components/schemas/Range"}},
                    "description": "tag -> [[start, end], ...] seconds where it is shown"},
                "people": {"$ref": "#/components/schemas/CountSeries", "description": "features=people: people per sampled time"},
                "faces": {"$ref": "#/components/schemas/CountSeries", "description": "features=faces: faces per sampled time"},
                "text": {"type": "array", "items": {"$ref": "#/components/schemas/TextEntry"},
                         "description": "features=text: each string on screen, in order of first appearance"},
                "shots": {"type": "array", "items": {"$ref": "#/components/schemas/Span"},
                          "description": "stretches between scene cuts, each with its own tags (every job)"},
                "segments": {"type": "array", "items": {"$ref": "#/components/schemas/Span"},
                             "description": "sharded jobs: each segment's own tags"},
                "duration_s": {"type": "number"}, "frames": {"type": "integer"},
                "model": {"type": "object", "properties": {
                    "name": {"type": "string"}, "version": {"type": "string"}, "device": {"type": "string"},
                    "frame_models": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/FrameModel"},
                                     "description": "feature -> the per-frame model that answered it"}},
                          "description": "the model version that actually answered"},
                "timings": {"type": "object", "description": "where the time went (video jobs; a sharded job's are its "
                            "segments' added up, beside plan_s, segments_wall_s, segment_compute_s and merge_s)",
                            "properties": {
                                "decode_s": {"type": "number", "description": "seconds waiting for decoded frames"},
                                "infer_s": {"type": "number", "description": "seconds in the model"},
                                "frames_decoded": {"type": ["integer", "null"],
                                                   "description": "frames ffmpeg decoded (0 when the cache answered)"},
                                "frames_sampled": {"type": "integer", "description": "frames the model was given"},
                                "decode_mode": {"type": ["string", "null"],
                                                "description": "DECODE_MODE (sampled, full), or keyframes for ?fast=1"},
                                "models": {"type": "object", "description": "feature -> its per-frame model's share",
                                           "additionalProperties": {"type": "object", "properties": {
                                               "infer_s": {"type": "number", "description": "seconds in that model"},
                                               "frames": {"type": "integer", "description": "frames it was given"}}}},
                                "total_s": {"type": "number"}}}}},
            "error": {"type": "object"},
            "webhook": {"type": "object", "description": "jobs with a callback_url: the delivery of their webhook", "properties": {
                "status": {"type": "string", "enum": ["pending", "retrying", "delivered", "failed"]},
                "attempts": {"type": "integer"}, "last_error": {"type": ["string", "null"]},
                "last_status_code": {"type": ["integer", "null"]}, "last_attempt_at": {"type": "number"}}}}},
    }},
}


#: The paths of the endpoints whose work spends the caller's rate limit (`worker.work`).
RATE_LIMITED_PATHS = frozenset(_method_path(operation)[1] for operation in work.rate_limited_operations())


def _add_shared_responses(spec: dict) -> dict:
    """Answers every operation under /v1/ can give: an unknown API key (401, checked before any
    view), the rate limit on the endpoints that send work (429, `x-rate-limited`), a server fault
    (500); POST bodies: too large (413) and not of an accepted type (415). A status an operation
    documents itself keeps its own description. (tests/test_work_table.py checks RATE_LIMITED_PATHS
    against the table of work.)"""
    for path, operations in spec["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in operations.items():
            shared = {"401": "unknown API key", "500": "the server failed; the body names no internals"}
            if method == "post":
                shared.update({"413": "body over the endpoint's limit", "415": "a content type the endpoint does not take"})
            if path in RATE_LIMITED_PATHS:
                operation["x-rate-limited"] = True
                shared["429"] = "rate limit of the caller's tier exceeded (see Retry-After)"
                shared["503"] = "the broker does not answer: nothing was queued (the job, if created, is failed); retry later"
            for status, description in shared.items():
                operation["responses"].setdefault(status, _problem(description))
    for operations in spec["paths"].values():  # gunicorn's own answer, before the app: HTML, not a problem
        for operation in operations.values():
            operation["responses"].setdefault("414", {"description": "request line over gunicorn's limit (4094 bytes)"})
    return spec


_add_shared_responses(SPEC)


@bp.get("/openapi.json")
def openapi():
    return SPEC
