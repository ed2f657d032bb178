"""The CLI client's pure pieces: argument parsing, tables, progress, the streamed multipart body,
problem bodies, and the commands' control flow against a stand-in API (the real stack:
test_cli_stack.py)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
import requests

from app.client import cli, render
from app.client.api import Api, ApiProblem, JobFailed, MultipartFile
from brigade.features import FEATURES
from brigade.settings import ROOT

TAGS_BODY = {
    "job_id": "a" * 32, "kind": "video-tags", "mode": "single", "status": "succeeded",
    "progress": {"done": 6.0, "total": 6.0, "unit": "video-seconds", "percent": 100.0},
    "result": {
        "tags": [{"label": "park", "score": 0.9812, "covered_s": 6.0}, {"label": "ball", "score": 0.5, "covered_s": 2.5}],
        "timeline": {"park": [[0.0, 6.0]], "ball": [[0.0, 1.0], [4.5, 6.0]]},
        "shots": [{"shot": 0, "start": 0.0, "end": 6.0, "tags": []}], "duration_s": 6.0,
        "model": {"name": "synth-tagger", "version": "1.0.0", "device": "cpu"},
    },
}
PEOPLE = {"max_count": 2, "sampled": 5, "seen": [[0.5, 1.5], [4.0, 4.5]], "period_s": 0.5,
          "samples": [{"t": 0.0, "count": 0, "boxes": []}, {"t": 0.5, "count": 1, "boxes": [[0.2, 0.1, 0.4, 0.9, 0.8]]},
                      {"t": 1.0, "count": 2, "boxes": [[0.2, 0.1, 0.4, 0.9, 0.8], [0.5, 0.1, 0.7, 0.9, 0.7]]},
                      {"t": 2.0, "count": 0, "boxes": []}, {"t": 4.0, "count": 1, "boxes": [[0.2, 0.1, 0.4, 0.9, 0.6]]}]}
NO_FACES = {"max_count": 0, "sampled": 1, "seen": [], "period_s": 0.5, "samples": [{"t": 0.0, "count": 0, "boxes": []}]}
TEXT = [{"text": "BRIGADE PICTURES", "ranges": [[0.0, 2.0], [5.0, 6.0]], "box": [0.1, 0.4, 0.9, 0.5], "confidence": 0.97, "reads": 3},
        {"text": "THE END", "ranges": [[5.5, 6.0]], "box": [0.3, 0.4, 0.7, 0.5], "confidence": 0.8, "reads": 1}]
HOTELS_RESULT = {
    "destination": "paris", "check_in": "2030-05-01", "check_out": "2030-05-04", "nights": 3, "guests": 2, "budget": 500.0,
    "hotels": [{"hotel_id": "h1", "name": "Hotel Un", "stars": 3, "nightly_price": 150.0, "interval": [120.0, 180.5],
                "confidence": 0.8, "total_price": 450.0, "within_budget": True},
               {"hotel_id": "h2", "name": "Grand Deux", "stars": 5, "nightly_price": 1234.5, "interval": [1000.0, 1500.0],
                "confidence": 0.6, "total_price": 3703.5, "within_budget": False}],
    "model": {"name": "hotel-price", "version": "1.0.0"},
}


def _rows(text: str) -> list[list[str]]:
    """The rows of a render.table (cells two or more spaces apart), header and rule skipped."""
    lines = text.splitlines()
    return [[c.strip() for c in line.split("  ") if c.strip()] for line in lines[2:]]


# --- arguments -----------------------------------------------------------------------------------


def test_global_options_go_before_or_after_the_command_and_default_from_the_environment():
    env = {"BRIGADE_API": "http://env:1", "BRIGADE_API_KEY": "env-key"}
    args = cli.parse_args(["tag", "v.mp4"], env)
    assert (args.api, args.api_key, args.timeout) == ("http://env:1", "env-key", 30.0)
    assert (args.mode, args.fast, args.wait, args.json) == ("auto", False, True, False)
    before = cli.parse_args(["--api", "http://a:2", "--api-key", "k", "--timeout", "5", "tag", "v.mp4", "--no-wait"], env)
    after = cli.parse_args(["tag", "v.mp4", "--api", "http://a:2", "--api-key", "k", "--timeout", "5", "--no-wait"], env)
    for args in (before, after):
        assert (args.api, args.api_key, args.timeout, args.wait) == ("http://a:2", "k", 5.0, False)
    assert cli.parse_args(["job", "x"], {}).api == cli.DEFAULT_API
    assert cli.parse_args(["job", "x"], {}).api_key is None


def test_hotels_arguments():
    args = cli.parse_args(["hotels", "paris", "--check-in", "2030-05-01", "--check-out", "2030-05-04", "--guests", "2",
                           "--budget", "500"], {})
    assert (args.destination, args.check_in, args.check_out, args.guests, args.budget) == ("paris", "2030-05-01", "2030-05-04", 2, 500.0)


def test_features_are_read_as_the_api_reads_them():
    assert cli.FEATURES == FEATURES  # the client's copy of the server's list (it imports no server code)
    assert cli.parse_args(["tag", "v.mp4"], {}).features == ()  # none sent: the API's default
    assert cli.parse_args(["tag", "v.mp4", "--features", "text, People,text"], {}).features == ("people", "text")
    assert cli.parse_args(["tag", "v.mp4", "--features", "faces,labels,text,people"], {}).features == FEATURES


@pytest.mark.parametrize("argv", [[], ["tag"], ["tag", "v.mp4", "--mode", "fastest"], ["hotels", "paris", "--guests", "two"],
                                  ["frobnicate"], ["--timeout", "0", "job", "x"], ["job", "x", "--timeout", "soon"],
                                  ["tag", "v.mp4", "--features", "people,objects"], ["tag", "v.mp4", "--features", ","]])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.parse_args(argv, {})
    assert exc.value.code == cli.EXIT_USAGE
    assert "usage: brigade" in capsys.readouterr().err


def test_a_missing_video_is_a_usage_error(tmp_path):
    err = io.StringIO()
    assert cli.main(["tag", str(tmp_path / "nope.mp4")], api=_FakeApi(), err=err) == cli.EXIT_USAGE
    assert "no such file" in err.getvalue()


# --- rendering -----------------------------------------------------------------------------------


def test_table_aligns_columns():
    text = render.table(["name", "n"], [["a", "1"], ["longer", "100"]], "lr")
    assert text.splitlines() == ["name      n", "------  ---", "a         1", "longer  100"]


def test_numbers():
    assert [render.number(x) for x in (12, 3.25, 3.0, 0)] == ["12", "3.2", "3", "0"]
    assert [render.human_bytes(x) for x in (12, 1500, 2_500_000, 3e12)] == ["12 B", "1.5 kB", "2.5 MB", "3000.0 GB"]
    assert render.money(1234.5) == "$1,234.50" and render.money(None) == "-"
    assert render.bar(0.5, 10) == "[#####.....]" and render.bar(None, 4) == "[....]" and render.bar(2, 4) == "[####]"


def test_tags_report_lists_tags_with_scores_coverage_and_time_ranges():
    text = render.tags_report(TAGS_BODY)
    first, blank, *table = text.splitlines()
    assert first == f"job {'a' * 32}: succeeded (single), 6 s of video, 1 shot, model synth-tagger@1.0.0 (cpu)"
    assert _rows("\n".join(table)) == [["park", "0.981", "6", "0-6"], ["ball", "0.500", "2.5", "0-1, 4.5-6"]]


def test_tags_report_of_a_sharded_job_lists_its_segments_and_caps_long_timelines():
    body = json.loads(json.dumps(TAGS_BODY))
    body["mode"] = "sharded"
    body["result"]["timeline"]["park"] = [[i, i + 0.5] for i in range(9)]
    body["result"]["segments"] = [{"segment_id": 0, "start": 0.0, "end": 3.0, "worker": "s1@h", "tags": [{"label": "park"}]},
                                  {"segment_id": 1, "start": 3.0, "end": 6.0, "worker": "s2@h", "tags": []}]
    text = render.tags_report(body)
    assert "0-0.5, 1-1.5, 2-2.5, 3-3.5, 4-4.5, 5-5.5, +3 more" in text
    segments = text.split("\n\n")[-1]
    assert _rows(segments) == [["0", "0-3", "s1@h", "park"], ["1", "3-6", "s2@h", "-"]]


def test_a_video_without_tags_says_so():
    body = {**TAGS_BODY, "result": {**TAGS_BODY["result"], "tags": [], "timeline": {}}}
    assert render.tags_report(body).splitlines()[-1] == "no tags"


def test_people_and_faces_lines_say_how_many_and_when_or_none_seen():
    assert render.count_line("people", PEOPLE) == "people: up to 2 at once, on screen 0.5-1.5, 4-4.5 (3 of 5 sampled frames)"
    assert render.count_line("faces", NO_FACES) == "faces: none seen in 1 sampled frame"


def test_text_is_listed_with_confidence_reads_and_time_ranges():
    assert _rows(render.text_report(TEXT)) == [["BRIGADE PICTURES", "0.970", "3", "0-2, 5-6"], ["THE END", "0.800", "1", "5.5-6"]]
    assert render.text_report([]) == "no text read"


def test_tags_report_adds_the_features_asked_after_the_tags():
    body = json.loads(json.dumps(TAGS_BODY))
    body["result"].update(features=["labels", "people", "faces", "text"], people=PEOPLE, faces=NO_FACES, text=TEXT)
    blocks = render.tags_report(body).split("\n\n")
    assert blocks[2].splitlines() == [render.count_line("people", PEOPLE), render.count_line("faces", NO_FACES)]
    assert blocks[3] == render.text_report(TEXT)
    assert len(blocks) == 4
    assert render.tags_report(TAGS_BODY).count("\n\n") == 1  # a labels-only result shows as before


def test_only_the_features_asked_are_shown():
    body = json.loads(json.dumps(TAGS_BODY))
    body["result"].update(features=["text"], text=[])
    assert render.tags_report(body).endswith("\n\nno text read")
    assert "people" not in render.tags_report(body) and "faces" not in render.tags_report(body)


def test_hotels_report():
    text = render.hotels_report(HOTELS_RESULT)
    lines = text.splitlines()
    assert lines[0] == "paris, 2030-05-01 to 2030-05-04 (3 nights), 2 guests, budget $500.00; model hotel-price@1.0.0"
    assert _rows("\n".join(lines[2:])) == [
        ["Hotel Un", "3", "$150.00", "$120.00-$180.50", "0.80", "$450.00", "yes"],
        ["Grand Deux", "5", "$1,234.50", "$1,000.00-$1,500.00", "0.60", "$3,703.50", "no"],
    ]
    # a job body holds the same under `result`
    assert render.hotels_report({"status": "succeeded", "result": HOTELS_RESULT}) == text


def test_job_report_of_an_unfinished_job():
    body = {"job_id": "b" * 32, "kind": "video-tags", "mode": "sharded", "status": "running",
            "progress": {"done": 3, "total": 8, "unit": "segments", "percent": 37.5}}
    assert render.job_report(body) == f"job {'b' * 32}: running (sharded), 38%\nprogress: running  3/8 segments"
    assert render.job_report({**body, "status": "queued"}).splitlines()[-1] == "progress: queued"


# --- progress ------------------------------------------------------------------------------------


def test_progress_on_a_terminal_redraws_one_line():
    stream, clock = io.StringIO(), iter(float(i) for i in range(100))
    progress = render.Progress(stream, "upload", tty=True, clock=lambda: next(clock))
    progress.update(0.5, "5 MB/10 MB", "upload")
    progress.update(1.0, "10 MB", "upload")
    progress.close()
    out = stream.getvalue()
    assert out.count("\n") == 1 and out.endswith("\n")
    frames = out.rstrip("\n").split("\r")[1:]
    assert frames[0] == "upload [############............]  50%  5 MB/10 MB"
    assert frames[1].startswith("upload [########################] 100%  10 MB") and len(frames[1]) == len(frames[0])


def test_progress_on_a_terminal_skips_redraws_closer_than_its_interval():
    stream, now = io.StringIO(), [0.0]
    progress = render.Progress(stream, "job", tty=True, min_interval_s=1.0, clock=lambda: now[0])
    for i in range(10):
        progress.update(i / 20, f"{i}", "running")
    assert stream.getvalue().count("\r") == 1
    progress.update(0.9, "done soon", "merging")  # a new phase is drawn at once
    progress.update(1.0, "done", "merging")  # and so is the end
    assert stream.getvalue().count("\r") == 3


def test_progress_elsewhere_writes_a_line_per_quarter_and_per_phase():
    stream = io.StringIO()
    progress = render.Progress(stream, "job", tty=False)
    progress.update(None, "queued", "queued")
    for i in range(101):
        progress.update(i / 100, f"{i}/100", "running")
    progress.close()
    lines = stream.getvalue().splitlines()
    assert [line.rsplit("  ", 1)[1] for line in lines] == ["queued", "0/100", "25/100", "50/100", "75/100", "100/100"]


def test_job_progress_reads_a_job_body():
    assert render.job_progress({"status": "queued", "progress": {"done": 0, "total": 1}}) == (None, "queued", "queued")
    body = {"status": "running", "progress": {"done": 2.5, "total": 10, "unit": "video-seconds", "percent": 25.0}}
    assert render.job_progress(body) == (0.25, "running  2.5/10 video-seconds", "running")


# --- HTTP pieces ---------------------------------------------------------------------------------


def test_multipart_body_streams_the_file_with_its_exact_length(tmp_path):
    from werkzeug.formparser import parse_form_data
    from werkzeug.test import EnvironBuilder

    path = tmp_path / 'my "clip".mp4'
    data = bytes(range(256)) * 1000
    path.write_bytes(data)
    seen = []
    body = MultipartFile(path, "video", lambda done, total: seen.append((done, total)))
    raw = b""
    while chunk := body.read(8192):
        raw += chunk
    body.close()
    assert len(raw) == len(body)
    assert seen[-1] == (len(data), len(data)) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    environ = EnvironBuilder(method="POST", input_stream=io.BytesIO(raw), content_length=len(raw),
                             headers={"Content-Type": body.content_type}).get_environ()
    _, _, files = parse_form_data(environ)
    assert files["video"].read() == data
    assert files["video"].filename == 'my "clip".mp4' and files["video"].mimetype == "video/mp4"


def _response(status: int, body: bytes, content_type: str = "application/problem+json", **headers) -> requests.Response:
    response = requests.Response()
    response.status_code, response._content = status, body
    response.headers.update({"Content-Type": content_type, **headers})
    return response


def test_a_problem_body_becomes_a_message_with_status_title_detail_and_retry_after():
    body = {"type": "https://brigade.dev/problems/rate-limited", "title": "Too many requests", "status": 429,
            "detail": "the anonymous limit of 3 per 1 minute is used up; retry in 20 s"}
    problem = ApiProblem.from_response(_response(429, json.dumps(body).encode(), **{"Retry-After": "20"}))
    assert (problem.status, problem.code, problem.retry_after) == (429, "rate-limited", "20")
    assert str(problem) == ("429 Too many requests (rate-limited): the anonymous limit of 3 per 1 minute is used up; "
                            "retry in 20 s\nretry after 20 s")


def test_a_problem_with_several_errors_lists_them():
    body = {"type": ".../missing-field", "title": "Missing field", "status": 422, "detail": "a; b",
            "errors": [{"field": "guests", "detail": "guests is required"}, {"field": "x", "detail": "unknown field 'x'"}]}
    assert str(ApiProblem.from_response(_response(422, json.dumps(body).encode()))).splitlines()[1:] == [
        "  - guests: guests is required", "  - x: unknown field 'x'"]


def test_an_error_page_that_is_not_a_problem_body_is_shown_briefly():
    problem = ApiProblem.from_response(_response(502, b"<html>\n<body>Bad   gateway</body></html>", "text/html"))
    problem.title = "Bad Gateway"
    assert problem.message() == "502 Bad Gateway: <html> <body>Bad gateway</body></html>"


# --- commands against a stand-in API -------------------------------------------------------------


class _FakeApi:
    """Answers as the API would; records the calls."""

    def __init__(self, hotel_answer=None, job_bodies=()):
        self.hotel_answer, self.job_bodies, self.calls = hotel_answer, list(job_bodies), []

    def submit_video(self, path, *, mode="auto", fast=False, features=(), on_read=None):
        self.calls.append(("submit_video", {"mode": mode, "fast": fast, "features": features}))
        return {"job_id": self.job_bodies[-1]["job_id"], "status": "queued", "mode": "single"}

    def hotel_prices(self, query):
        self.calls.append(("hotel_prices", query))
        return self.hotel_answer

    def wait_job(self, job_id, on_update=None, poll_s=2.0):
        self.calls.append(("wait_job", job_id))
        for body in self.job_bodies:
            on_update(body)
        return self.job_bodies[-1]

    def job(self, job_id, wait=0.0):
        self.calls.append(("job", job_id))
        return self.job_bodies[-1]


HOTELS_ARGS = ["hotels", "paris", "--check-in", "2030-05-01", "--check-out", "2030-05-04", "--guests", "2"]


def test_hotels_answered_at_once_prints_the_table():
    api, out = _FakeApi(hotel_answer=(200, {"job_id": "c" * 32, "status": "succeeded", **HOTELS_RESULT})), io.StringIO()
    assert cli.main([*HOTELS_ARGS, "--budget", "500"], api=api, out=out, err=io.StringIO()) == cli.EXIT_OK
    assert api.calls == [("hotel_prices", {"destination": "paris", "check_in": "2030-05-01", "check_out": "2030-05-04",
                                           "guests": 2, "budget": 500.0})]
    assert out.getvalue().strip() == render.hotels_report(HOTELS_RESULT)


def test_hotels_answered_202_follows_the_job():
    job = {"job_id": "c" * 32, "kind": "hotel-prices", "status": "succeeded", "progress": {"percent": 100.0}, "result": HOTELS_RESULT}
    queued = {"job_id": "c" * 32, "status": "queued", "progress": {"done": 0, "total": 1}}
    api, out, err = _FakeApi(hotel_answer=(202, queued), job_bodies=[queued, job]), io.StringIO(), io.StringIO()
    assert cli.main([*HOTELS_ARGS, "--json"], api=api, out=out, err=err) == cli.EXIT_OK
    assert api.calls[-1] == ("wait_job", "c" * 32)
    assert json.loads(out.getvalue()) == job
    assert f"job {'c' * 32} queued" in err.getvalue()


def test_a_failed_job_exits_1_with_its_error():
    failed = {"job_id": "d" * 32, "status": "failed", "error": {"type": "decode-failed", "detail": "ffmpeg gave up"}}
    err = io.StringIO()
    assert cli.main(["job", "d" * 32, "--wait"], api=_FakeApi(job_bodies=[failed]), out=io.StringIO(), err=err) == cli.EXIT_API
    assert err.getvalue().splitlines()[-1] == f"brigade: job {'d' * 32} failed (decode-failed): ffmpeg gave up"
    assert str(JobFailed({"job_id": "e", "error": None})) == "job e failed: no detail given"
    out = io.StringIO()
    assert cli.main(["job", "d" * 32, "--json"], api=_FakeApi(job_bodies=[failed]), out=out, err=io.StringIO()) == cli.EXIT_API
    assert json.loads(out.getvalue()) == failed


def test_the_client_imports_no_server_code():
    code = ("import sys, runpy; sys.argv = ['brigade', '--help']\n"
            "try: runpy.run_module('app.client', run_name='__main__')\n"
            "except SystemExit: pass\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'flask', 'werkzeug', 'torch', 'celery', 'redis', 'brigade', "
            "'tasks', 'models', 'media', 'devtools', 'tests'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.splitlines()[-1] == "[]"


def test_bin_brigade_runs_the_client_from_any_directory(tmp_path):
    done = subprocess.run([str(ROOT / "bin" / "brigade"), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: brigade")


def test_tag_sends_the_features_and_prints_what_came_back(tmp_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"not read by the stand-in")
    body = json.loads(json.dumps(TAGS_BODY))
    body["result"].update(features=["labels", "people"], people=PEOPLE)
    api, out = _FakeApi(job_bodies=[body]), io.StringIO()
    assert cli.main(["tag", str(video), "--features", "people,labels"], api=api, out=out, err=io.StringIO()) == cli.EXIT_OK
    assert api.calls[0] == ("submit_video", {"mode": "auto", "fast": False, "features": ("labels", "people")})
    assert render.count_line("people", PEOPLE) in out.getvalue().splitlines()


class _RecordingSession:
    """A requests.Session stand-in: records each request, answers 202."""

    def __init__(self):
        self.headers, self.requests = {}, []

    def request(self, method, url, **kwargs):
        self.requests.append((method, url, kwargs["params"]))
        return _response(202, json.dumps({"job_id": "f" * 32, "status": "queued"}).encode(), "application/json")


@pytest.mark.parametrize("features, params", [
    ((), {"mode": "auto"}),  # nothing asked: no parameter, the API's default
    (("people", "text"), {"mode": "auto", "features": "people,text"}),
])
def test_submit_video_sends_features_as_one_comma_separated_parameter(tmp_path, features, params):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x" * 10)
    session = _RecordingSession()
    Api("http://api:1", session=session).submit_video(video, features=features)
    assert session.requests == [("POST", "http://api:1/v1/videos", params)]
