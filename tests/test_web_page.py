"""The web page (GET /) in a real browser: headless Chromium driven by Playwright, against the real
stack (gunicorn, a predict replica on the synthetic tagger, an events worker).

Chromium is Debian's `chromium` package (Playwright's own browser download cannot run here): when
/usr/bin/chromium is missing, the module installs it with apt-get if it runs as root, else skips
saying why. Playwright is in requirements-dev.txt. Screenshots go to the test's tmp dir and to
var/test-screenshots/ (ignored by git).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from brigade.features import FEATURES
from brigade.settings import ROOT
from devtools import apt
from models.analysis.summary import with_features
from models.build.synth import Scene
from tests import media_samples as samples
from tests.appkit import problem
from tests.stack import CONTROL, EVENTS, GPU, PREDICT, Workers

CHROMIUM = Path("/usr/bin/chromium")
APT_PACKAGES = ["chromium", "fonts-liberation"]  # a font, or the screenshots show boxes for text
SCREENSHOTS = ROOT / "var" / "test-screenshots"
RESULT_TIMEOUT_MS = 180_000  # generous: the assertions are about what is shown, never how fast


def chromium() -> Path:
    """Debian's Chromium, installed with apt-get when missing (as root only); else the test skips."""
    try:
        return apt.ensure(CHROMIUM, APT_PACKAGES)
    except apt.Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements-dev.txt)")
    executable = chromium()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(executable), headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, api):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=api)
    yield context.new_page()
    context.close()


@pytest.fixture
def console(page) -> list[str]:
    """The page's script errors and console errors (a refused request is logged as one too)."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


@pytest.fixture(scope="module")
def predict_replica(stack):
    with Workers(stack) as ws:
        yield ws.one(PREDICT)


@pytest.fixture(scope="module")
def events_worker(stack):
    with Workers(stack) as ws:
        yield ws.one(EVENTS)


def screenshot(page, name: str, tmp_path: Path) -> Path:
    """A full-page screenshot in the test's tmp dir, copied to var/test-screenshots/."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SCREENSHOTS / path.name)
    return path


def open_page(page):
    response = page.goto("/")
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector("#destination[data-loaded]")  # the page ran: it asked the API for destinations
    return response


def wait_for_video_outcome(page) -> None:
    """Until the result or a problem is shown."""
    page.wait_for_function(
        "() => !document.getElementById('result').hidden || !document.getElementById('video-error').hidden",
        timeout=RESULT_TIMEOUT_MS)


def test_an_uploaded_clip_shows_its_tags_and_a_timeline_that_seeks_the_video(api, predict_replica, clips, page, console,
                                                                             tmp_path):
    scenes = [Scene(setting="park", lighting="day", objects=("ball", "person"), moving=True, duration_s=4.0, look=1),
              Scene(setting="indoor", lighting="day", objects=("box",), duration_s=4.0, look=2)]
    path, _ = clips.clip("web-page-two-scenes", seed=41, scenes=scenes)
    open_page(page)
    page.set_input_files("#video-file", str(path))
    assert path.name in page.text_content("#file-name")
    page.click("#upload-button")
    wait_for_video_outcome(page)
    assert page.is_hidden("#video-error"), page.text_content("#video-error")

    job = requests.get(api + page.get_attribute("#result-meta a", "href"), timeout=30).json()
    assert job["status"] == "succeeded", job
    result = job["result"]
    shown = page.eval_on_selector_all("#tags-table tbody tr", "rows => rows.map(r => r.dataset.tag)")
    assert shown == [t["label"] for t in result["tags"]]  # the job's tags, in its order
    assert shown, "the clip has tags"
    for label in shown:
        bars = page.locator(f'.tl-bar.tag[data-tag="{label}"]')
        assert bars.count() == len(result["timeline"][label]) > 0, label
    assert page.locator(".tl-bar.shot").count() == len(result["shots"])
    assert page.locator(".tl-mark.shot").count() >= len(result["shots"]) - 1  # each cut, marked on every row
    assert page.text_content("#job-text").startswith("succeeded")

    later = page.evaluate("""() => {
        const bar = [...document.querySelectorAll('.tl-bar.tag')].reduce((a, b) => (+b.dataset.start > +a.dataset.start ? b : a));
        bar.focus();
        return +bar.dataset.start;
    }""")  # the tag bar that starts last
    assert later in {start for ranges in result["timeline"].values() for start, _ in ranges}
    page.keyboard.press("Enter")  # keyboard-usable: the bars are buttons
    page.wait_for_function(f"() => Math.abs(document.getElementById('player').currentTime - {later}) < 1.0",
                           timeout=30_000)
    screenshot(page, "page-result", tmp_path)
    page.locator("#video").screenshot(path=str(SCREENSHOTS / "page-result-video.png"))  # the README's picture
    assert not console, console


def _features_job(job_id: str) -> dict:
    """A finished job that asked every feature, its result built by the workers' own summary code
    from hand-made detections: two people at most (on screen 1-3 s and 4-5 s), a face at 1-2 s,
    two strings read."""
    person, face = {"box": [0.2, 0.1, 0.4, 0.9], "score": 0.9}, {"box": [0.3, 0.1, 0.35, 0.2], "score": 0.99}
    title = {"box": [0.1, 0.4, 0.9, 0.5], "score": 0.96, "text": "BRIGADE PICTURES"}
    end = {"box": [0.3, 0.4, 0.7, 0.5], "score": 0.81, "text": "THE END"}
    found = {"people": [[], [person], [person, person], [], [person], []], "faces": [[], [face], [], [], [], []],
             "text": [[title], [title], [], [], [], [end]]}
    detections = {f: {"period": 1.0, "samples": [{"t": float(t), "found": hits} for t, hits in enumerate(rows)]}
                  for f, rows in found.items()}
    tags = {"tags": [{"label": "Outdoor", "score": 0.7, "covered_s": 6.0, "parents": []}], "scores": {"Outdoor": 0.7},
            "timeline": {"Outdoor": [[0.0, 6.0]]},
            "shots": [{"shot": 0, "start": 0.0, "end": 3.0, "tags": []}, {"shot": 1, "start": 3.0, "end": 6.0, "tags": []}]}
    result = {"features": list(FEATURES), **with_features(tags, detections, [0.0, 6.0]), "duration_s": 6.0, "frames": 60,
              "model": {"name": "video-tagger", "version": "2.0.0", "device": "cpu"}}
    return {"job_id": job_id, "kind": "video-tags", "mode": "single", "status": "succeeded", "status_url": f"/v1/jobs/{job_id}",
            "progress": {"done": 6.0, "total": 6.0, "unit": "video-seconds", "percent": 100.0}, "result": result}


def _play_the_api(page, jobs: list[dict]) -> list[str]:
    """Answer the page's uploads and job polls here (page.route): the n-th upload is accepted as
    jobs[n], already finished. The URLs of the uploads, as the page sent them."""
    sent: list[str] = []
    by_id = {job["job_id"]: job for job in jobs}

    def accept(route):
        job = jobs[len(sent)]
        sent.append(route.request.url)
        route.fulfill(status=202, content_type="application/json",
                      body=json.dumps({"job_id": job["job_id"], "status": "queued", "mode": "single", "status_url": job["status_url"]}))

    page.route("**/v1/videos*", accept)
    page.route("**/v1/jobs/*", lambda route: route.fulfill(status=200, content_type="application/json",
                                                           body=json.dumps(by_id[urlsplit(route.request.url).path.rsplit("/", 1)[1]])))
    return sent


def _upload_and_wait(page, job_id: str) -> None:
    page.click("#upload-button")
    page.wait_for_function(f"() => document.getElementById('video-status').textContent === 'Job {job_id} succeeded.'",
                           timeout=RESULT_TIMEOUT_MS)


def test_the_feature_boxes_send_features_and_the_result_shows_people_faces_and_text(page, console, tmp_path):
    """The page against answers this test plays (no worker: how a result is drawn is the page's
    alone). Labels alone sends no `features`; ticking the other boxes sends them all, and the result
    shows a people and a faces line on the timeline (their most at once in each bar's title) and the
    strings read, each with its time ranges, which play the video from there."""
    labels_only = {**_features_job("1" * 32), "result": {"features": ["labels"], "tags": [], "timeline": {}, "shots": []}}
    job = _features_job("2" * 32)
    sent = _play_the_api(page, [labels_only, job])
    clip = samples.lavfi_video(tmp_path / "clip.mp4", size="160x120", rate=10, duration=6.0)
    open_page(page)
    page.set_input_files("#video-file", str(clip))
    assert page.is_checked('input[name="features"][value="labels"]')
    _upload_and_wait(page, labels_only["job_id"])
    assert "features" not in parse_qs(urlsplit(sent[0]).query)
    assert page.is_hidden("#text-result") and page.locator('.tl-row[data-row="people"]').count() == 0

    for feature in ("people", "faces", "text"):
        page.check(f'input[name="features"][value="{feature}"]')
    _upload_and_wait(page, job["job_id"])
    assert parse_qs(urlsplit(sent[1]).query)["features"] == [",".join(FEATURES)]
    result = job["result"]
    for feature, most in (("people", [2, 1]), ("faces", [1])):
        bars = page.locator(f'.tl-row[data-row="{feature}"] .tl-bar')
        spans = bars.evaluate_all("bars => bars.map(b => [+b.dataset.start, +b.dataset.end])")
        assert spans == result[feature]["seen"], feature
        titles = bars.evaluate_all("bars => bars.map(b => b.title)")
        assert [re.search(r"up to (\d+) at once", t).group(1) for t in titles] == [str(n) for n in most], titles
    assert page.locator('.tl-bar.tag[data-tag="Person"]').count() == len(result["timeline"]["Person"])

    rows = page.locator("#text-table tbody tr")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.text)") == [e["text"] for e in result["text"]]
    for i, entry in enumerate(result["text"]):
        starts = rows.nth(i).locator("button.range").evaluate_all("bs => bs.map(b => +b.dataset.start)")
        assert starts == [start for start, _ in entry["ranges"]]
        assert rows.nth(i).locator("td.num").text_content() == f"{entry['confidence']:.2f}"
    rows.nth(1).locator("button.range").first.click()
    later = result["text"][1]["ranges"][0][0]
    page.wait_for_function(f"() => Math.abs(document.getElementById('player').currentTime - {later}) < 1.0", timeout=30_000)
    screenshot(page, "page-features", tmp_path)
    assert not console, console


@pytest.fixture(scope="module")
def shard_workers(stack):
    with Workers(stack) as ws:
        yield ws.start(CONTROL, GPU)


def test_a_sharded_job_shows_its_segments_on_the_timeline(api, shard_workers, clips, page, console, tmp_path):
    """mode=sharded from the page: the segments row has a bar per segment, each boundary is marked
    on every row, and the tags and their bars are the merged result's."""
    scenes = [Scene(setting="indoor", lighting="day", objects=("box",), duration_s=10.0, look=1),
              Scene(setting="park", lighting="day", objects=("ball", "person"), moving=True, duration_s=10.0, look=2),
              Scene(setting="outdoor", lighting="night", objects=("vehicle",), moving=True, duration_s=10.0, look=3)]
    path, _ = clips.clip("web-page-sharded", seed=43, scenes=scenes)
    open_page(page)
    page.set_input_files("#video-file", str(path))
    page.check('input[name="mode"][value="sharded"]')
    page.click("#upload-button")
    wait_for_video_outcome(page)
    assert page.is_hidden("#video-error"), page.text_content("#video-error")

    job = requests.get(api + page.get_attribute("#result-meta a", "href"), timeout=30).json()
    assert job["status"] == "succeeded" and job["mode"] == "sharded", job
    result = job["result"]
    segments = result["segments"]
    assert len(segments) >= 2, segments
    assert page.is_visible("#segment-legend")
    assert page.locator(".tl-bar.segment").count() == len(segments)
    starts = page.eval_on_selector_all(".tl-bar.segment", "bars => bars.map(b => +b.dataset.start)")
    assert starts == pytest.approx([seg["start"] for seg in segments], abs=0.01)
    tracks = page.locator(".tl-track").count()
    assert page.locator(".tl-mark.segment").count() == (len(segments) - 1) * tracks  # each boundary on every row
    shown = page.eval_on_selector_all("#tags-table tbody tr", "rows => rows.map(r => r.dataset.tag)")
    assert shown == [t["label"] for t in result["tags"]] and shown
    for label in shown:
        assert page.locator(f'.tl-bar.tag[data-tag="{label}"]').count() == len(result["timeline"][label]), label
    screenshot(page, "page-sharded", tmp_path)
    assert not console, console


def test_a_file_that_is_not_a_video_shows_the_apis_problem(api, page, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a video, only words\n" * 20)
    with open(notes, "rb") as fh:  # what the API answers to this upload
        response = requests.post(f"{api}/v1/videos", files={"video": (notes.name, fh, "text/plain")}, timeout=30)
    expected = response.json()
    code = expected["type"].rsplit("/", 1)[-1]
    problem(response, expected["status"], code)

    open_page(page)
    page.set_input_files("#video-file", str(notes))
    page.click("#upload-button")
    wait_for_video_outcome(page)
    box = page.locator("#video-error")
    assert box.get_attribute("data-status") == str(expected["status"])
    assert box.get_attribute("data-type") == code
    text = box.text_content()
    assert expected["title"] in text and expected["detail"] in text
    assert page.is_hidden("#result")
    screenshot(page, "page-bad-upload", tmp_path)


def test_the_hotel_form_lists_priced_hotels_and_shows_a_refusal(api, events_worker, page, console, tmp_path):
    listing = requests.get(f"{api}/v1/hotel-destinations", timeout=30).json()
    open_page(page)
    options = page.eval_on_selector_all("#destination option", "opts => opts.map(o => o.value)")
    assert options == [d["slug"] for d in listing["destinations"]]
    destination = listing["destinations"][-1]
    page.select_option("#destination", destination["slug"])
    page.fill("#budget", "1500")
    page.click("#hotel-button")
    page.wait_for_function("() => !document.getElementById('hotel-table').hidden || !document.getElementById('hotel-error').hidden",
                           timeout=RESULT_TIMEOUT_MS)
    assert page.is_hidden("#hotel-error"), page.text_content("#hotel-error")
    rows = page.locator("#hotel-table tbody tr")
    assert rows.count() == destination["hotels"]
    for cells in rows.evaluate_all("rows => rows.map(r => [...r.cells].map(c => c.textContent))"):
        name, _stars, _rating, nightly, interval, confidence, total, budget = cells
        assert name and nightly.startswith("$") and " – " in interval and confidence.endswith("%") and total.startswith("$")
        assert budget in {"within", "over"}
    assert destination["name"] in page.text_content("#hotel-caption")
    screenshot(page, "page-hotels", tmp_path)
    assert not console, console

    page.fill("#guests", str(listing["max_guests"] + 1))  # the API refuses it: the page shows its 422
    page.click("#hotel-button")
    page.wait_for_selector("#hotel-error:not([hidden])")
    box = page.locator("#hotel-error")
    assert box.get_attribute("data-status") == "422" and box.get_attribute("data-type") == "guests-out-of-range"
    assert f"between 1 and {listing['max_guests']}" in box.text_content()


def test_refusals_show_the_limit_and_when_to_retry(stack, browser, tmp_path):
    """An API of its own: a 64 KiB upload limit and an API key allowed one work request an hour.
    A file dropped on the page is refused with 413 naming the limit, the next request with 429 and
    when to retry; a key the API does not know, with 401. The key field survives a reload."""
    strict = stack.start_api(env={"MAX_UPLOAD_BYTES": "65536", "API_KEYS": "web-page-key:authenticated",
                                  "RATE_LIMIT_AUTHENTICATED": "1/hour"})
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=strict)
    page = context.new_page()
    try:
        page.goto("/")
        page.fill("#api-key", "web-page-key")
        page.reload()
        assert page.input_value("#api-key") == "web-page-key"  # kept in localStorage

        page.evaluate("""() => {  // drag and drop: a 100 kB file dropped on the zone
            const data = new DataTransfer();
            data.items.add(new File([new Uint8Array(100000)], "dropped.mp4", { type: "video/mp4" }));
            document.getElementById("drop-zone").dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true }));
        }""")
        assert "dropped.mp4" in page.text_content("#file-name")
        box = page.locator("#video-error")
        page.click("#upload-button")
        page.wait_for_function("() => document.getElementById('video-error').dataset.status === '413'")
        assert box.get_attribute("data-type") == "upload-too-large"
        assert "MAX_UPLOAD_BYTES=65536" in box.text_content() and "64.0 KiB" in box.text_content()

        page.click("#upload-button")  # the key's one request an hour went on the 413
        page.wait_for_function("() => document.getElementById('video-error').dataset.status === '429'")
        assert box.get_attribute("data-type") == "rate-limited"
        assert re.search(r"Retry in \d+ min, after ", box.text_content()), box.text_content()
        screenshot(page, "page-rate-limited", tmp_path)

        page.fill("#api-key", "not-a-key")
        page.click("#upload-button")
        page.wait_for_function("() => document.getElementById('video-error').dataset.status === '401'")
        assert "Check the API key" in box.text_content()
    finally:
        context.close()
