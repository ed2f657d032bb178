"""`POST /v1/videos?features=` in this process (the app layer, tests/appkit.py): the features asked
reach the task's message (in FEATURES order, case and repeats normalized) and the job's input; the
default sends the message as before; an unknown name is a 400 refused before a byte of the upload
is read. A job whose result holds every feature conforms to /openapi.json's Job schema."""

from __future__ import annotations

import io

import pytest

from brigade import jobs
from brigade.features import FEATURES
from models.analysis.summary import with_features
from models.frame_model import FrameModel, FrameSpec
from tests.appkit import conforms, problem, upload

pytestmark = pytest.mark.app  # its layer (tests/conftest.py): the API in this process, the test Redis


def _accepted(response) -> dict:
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()


@pytest.mark.parametrize("query, sent", [
    ("people,text", ["people", "text"]),
    ("text,people", ["people", "text"]),  # FEATURES order, whatever the client's
    ("TEXT,People,text, people", ["people", "text"]),  # case, repeats and spaces do not matter
    ("faces,labels,text,people", list(FEATURES)),
])
def test_the_features_asked_reach_the_message_and_the_job_input(client, recorder, clip, query, sent):
    body = _accepted(upload(client, clip, "", query_string={"features": query}))
    assert recorder.only().kwargs["features"] == sent
    assert jobs.get_job(body["job_id"])["input"]["features"] == sent


def test_a_sharded_job_carries_its_features_to_the_planner(client, recorder, clip):
    _accepted(upload(client, clip, "?mode=sharded&features=faces"))
    sent = recorder.only()
    assert sent.name == "tasks.sharded.plan_video" and sent.kwargs["features"] == ["faces"]


@pytest.mark.parametrize("query", ["", "?features=", "?features=labels", "?features=LABELS,labels"])
def test_labels_alone_sends_the_message_as_before_and_records_labels(client, recorder, clip, query):
    body = _accepted(upload(client, clip, query))
    assert "features" not in recorder.only().kwargs  # workers of an older release take it
    assert jobs.get_job(body["job_id"])["input"]["features"] == ["labels"]


@pytest.mark.parametrize("value", ["objects", "labels,objects", "people;faces"])
def test_an_unknown_feature_is_a_400_before_the_upload_is_read(client, recorder, clip, no_job_created, value):
    data = clip.read_bytes()
    stream = io.BytesIO(data)  # its position is how far the app read it, whichever way it read
    response = client.post("/v1/videos", query_string={"features": value}, input_stream=stream,
                           content_type="video/mp4", content_length=len(data))
    body = problem(response, 400, "invalid-parameter")
    assert "unknown" in body["detail"] and ", ".join(FEATURES) in body["detail"]
    assert stream.tell() == 0
    assert recorder.sent == []


def test_an_accepted_upload_is_read_through_the_same_stream(client, recorder, clip):
    """The check above can fail: the same request with a known feature reads the whole body."""
    data = clip.read_bytes()
    stream = io.BytesIO(data)
    _accepted(client.post("/v1/videos?features=text", input_stream=stream, content_type="video/mp4", content_length=len(data)))
    assert stream.tell() == len(data)


# --- the result a client reads back -------------------------------------------------------------------


def _frame_model(feature: str, runtime: str) -> dict:
    model = FrameModel()
    model.name, model.version, model.feature, model.runtime = f"{feature}-model", "1.0.0", feature, runtime
    model.spec = FrameSpec(2.0, 640)
    return model.describe()


def _detections() -> dict:
    person = {"box": [0.2, 0.1, 0.4, 0.9], "score": 0.88}
    face = {"box": [0.3, 0.1, 0.35, 0.2], "score": 0.99}
    title = {"box": [0.1, 0.4, 0.9, 0.5], "score": 0.93, "text": "BRIGADE"}
    return {
        "people": {"period": 0.5, "samples": [{"t": 0.0, "found": []}, {"t": 0.5, "found": [person]},
                                              {"t": 1.0, "found": [person, person]}]},
        "faces": {"period": 0.5, "samples": [{"t": 0.0, "found": [face]}, {"t": 0.5, "found": []}]},
        "text": {"period": 1.0, "samples": [{"t": 0.0, "found": [title]}, {"t": 1.0, "found": [title]}]},
    }


def test_a_result_with_every_feature_conforms_to_the_job_schema(client):
    tags = {"tags": [{"label": "Outdoor", "score": 0.7, "covered_s": 2.0, "parents": []}], "scores": {"Outdoor": 0.7},
            "timeline": {"Outdoor": [[0.0, 2.0]]}, "shots": [{"shot": 0, "start": 0.0, "end": 2.0, "tags": []}]}
    result = {"features": list(FEATURES), **with_features(tags, _detections(), [0.0, 2.0]), "duration_s": 2.0, "frames": 10}
    assert {t["label"] for t in result["tags"]} == {"Outdoor", "Person"} and result["text"][0]["text"] == "BRIGADE"
    model = {"name": "video-tagger", "version": "2.0.0", "device": "cpu",
             "frame_models": {f: _frame_model(f, "onnxruntime") for f in ("people", "faces", "text")}}
    timings = {"decode_s": 0.1, "infer_s": 0.2, "models": {f: {"infer_s": 0.01, "frames": 4} for f in ("people", "faces", "text")}}
    job_id = jobs.create_job("video-tags", "single")
    jobs.succeed(job_id, result, timings=timings, model=model)
    body = client.get(f"/v1/jobs/{job_id}").get_json()
    conforms(body, "Job")
    assert body["result"]["people"]["max_count"] == 2 and body["result"]["model"]["frame_models"]["text"]["frames"]["fps"] == 2.0


@pytest.mark.parametrize("broken", [
    lambda r: r["people"].pop("seen"),
    lambda r: r["faces"]["samples"][0]["boxes"][0].pop(),  # a box without its score
    lambda r: r["text"][0].update(ranges=[[0.0]]),
    lambda r: r.update(features=["objects"]),
], ids=["no-seen", "short-box", "half-range", "unknown-feature"])
def test_the_job_schema_refuses_a_malformed_feature(broken):
    """The schemas the previous test passes are not vacuous."""
    result = {"features": ["people", "faces", "text"], **with_features({}, _detections(), [0.0, 2.0])}
    broken(result)
    with pytest.raises(AssertionError):
        conforms({"job_id": "x", "status": "succeeded", "result": result}, "Job")
