"""GET /openapi.json: the API's contract, written by hand and checked by the tests."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("openapi", __name__)

_PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _problem(description: str) -> dict:
    return {"description": description, "content": {"application/problem+json": {"schema": _PROBLEM}}}


def _json(description: str, ref: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "Brigade", "version": "1.0.0",
             "description": "Serve torch models through Celery: replicated, sharded and event-driven."},
    "paths": {
        "/v1/videos": {"post": {
            "summary": "Upload a video to tag; answers 202 with a job to poll.",
            "parameters": [
                {"name": "fast", "in": "query", "schema": {"type": "boolean"}, "description": "keyframe-only sampling"},
                {"name": "mode", "in": "query", "schema": {"type": "string", "enum": ["single", "sharded"]}},
            ],
            "requestBody": {"required": True, "content": {
                "multipart/form-data": {"schema": {"type": "object", "required": ["video"],
                                                   "properties": {"video": {"type": "string", "format": "binary"}}}},
                "video/*": {"schema": {"type": "string", "format": "binary"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            }},
            "responses": {
                "202": _json("job accepted", "Accepted"),
                "400": _problem("empty body or missing field"),
                "413": _problem("upload larger than MAX_UPLOAD_BYTES"),
                "415": _problem("not a video, or an unsupported content type"),
                "422": _problem("a video outside the duration, resolution or fps limits, or truncated"),
                "503": _problem("broker or upload storage unavailable"),
            },
        }},
        "/v1/jobs/{job_id}": {"get": {
            "summary": "A job's status, progress and result.",
            "parameters": [
                {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "wait", "in": "query", "schema": {"type": "number", "minimum": 0},
                 "description": "seconds to wait for a terminal status (capped by MAX_WAIT_S)"},
            ],
            "responses": {"200": _json("the job", "Job"), "404": _problem("unknown job")},
        }},
        "/v1/hotel-prices": {"post": {
            "summary": "Nightly prices per hotel at a destination, with an interval and a confidence.",
            "parameters": [{"name": "X-API-Key", "in": "header", "schema": {"type": "string"},
                            "description": "API key (tier); none = anonymous, limited by client address"}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["destination", "check_in", "check_out", "guests"],
                "properties": {"destination": {"type": "string"}, "check_in": {"type": "string", "format": "date"},
                               "check_out": {"type": "string", "format": "date"}, "guests": {"type": "integer"},
                               "budget": {"type": "number", "description": "for the whole stay"}}}}}},
            "responses": {
                "200": {"description": "the hotels, answered within HOTEL_SYNC_WAIT_S"},
                "202": _json("still running: poll the job", "Accepted"),
                "400": _problem("malformed JSON"),
                "401": _problem("unknown API key"),
                "422": _problem("invalid request: unknown destination, bad dates, stay too long, guests out of range"),
                "429": _problem("rate limit of the caller's tier exceeded (see Retry-After)"),
            },
        }},
        "/v1/echo": {"post": {
            "summary": "Round trip of a trivial task through the whole serving path.",
            "responses": {"200": _json("the finished job", "Job"), "202": _json("still running", "Job")},
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
        "Tag": {"type": "object", "required": ["label", "score"], "properties": {
            "label": {"type": "string"}, "score": {"type": "number", "description": "confidence 0-1"},
            "covered_s": {"type": "number", "description": "video-seconds in which the tag is shown"},
            "parents": {"type": "array", "items": {"type": "string"},
                        "description": "every ancestor in the tag hierarchy, nearest first (Dog: Pet, Animal)"}}},
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
                "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"},
                         "description": "video-level tags, best first"},
                "scores": {"type": "object", "additionalProperties": {"type": "number"}},
                "timeline": {"type": "object", "additionalProperties": {
                    "type": "array", "items": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}},
                    "description": "tag -> [[start, end], ...] seconds where it is shown"},
                "shots": {"type": "array", "items": {"$ref": "#/components/schemas/Span"},
                          "description": "stretches between scene cuts, each with its own tags (every job)"},
                "segments": {"type": "array", "items": {"$ref": "#/components/schemas/Span"},
                             "description": "sharded jobs: each segment's own tags"},
                "duration_s": {"type": "number"}, "frames": {"type": "integer"},
                "model": {"type": "object", "properties": {"name": {"type": "string"}, "version": {"type": "string"},
                                                            "device": {"type": "string"}},
                          "description": "the model version that actually answered"},
                "timings": {"type": "object"}}},
            "error": {"type": "object"}}},
    }},
}


@bp.get("/openapi.json")
def openapi():
    return SPEC
