"""The web page's files (GET /, /static/…) with their Content-Security-Policy, and
GET /v1/hotel-destinations, which the page's hotel form reads: through the API in this process.
The page at work in a browser: test_web_page.py."""

from __future__ import annotations

import json
import re

import pytest

from app.hotel_validation import validate
from app.web import CSP
from brigade.features import DEFAULT, FEATURES
from brigade.settings import ROOT
from models.hotel import catalog
from tests.appkit import conforms, problem
from tests.stack import hotel_stay

STATIC = ROOT / "app" / "static"
HOTEL_MANIFEST = ROOT / "models" / "store" / "hotel-price" / "1.0.0" / "manifest.json"


def test_the_page_is_served_at_the_root_with_a_self_only_policy(client):
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'"
    for directive in ("script-src", "style-src", "connect-src"):
        assert policy[directive] == "'self'", directive  # no inline script or style, no other host
    assert policy["media-src"] == "'self' blob:"  # the video plays from an object URL of the local file
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    html = response.get_data(as_text=True)
    assert 'src="/static/app.js"' in html and 'href="/static/style.css"' in html
    assert "<script>" not in html and "style=" not in html  # nothing inline: the policy would block it


@pytest.mark.parametrize("name, mimetype", [("app.js", "text/javascript"), ("style.css", "text/css")])
def test_the_page_files_are_served_with_the_same_policy(client, name, mimetype):
    response = client.get(f"/static/{name}")
    assert response.status_code == 200 and response.mimetype == mimetype
    assert response.headers["Content-Security-Policy"] == CSP
    response.close()


def test_the_page_fetches_nothing_from_another_host():
    for path in STATIC.iterdir():
        text = path.read_text()
        assert not re.search(r"https?://|(src|href)=\"//|url\(|@import|@font-face", text), path.name


def test_the_api_calls_of_the_page_are_routes_of_the_api(make_app):
    app = make_app()
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    called = set(re.findall(r'"(/v1/[\w-]+)', (STATIC / "app.js").read_text()))
    assert called == {"/v1/videos", "/v1/hotel-destinations", "/v1/hotel-prices"}
    assert called <= rules


def test_the_feature_boxes_are_the_apis_features_with_its_default_ticked(client):
    """The page can ask for every feature the API knows and nothing it would refuse; what is ticked
    when it opens is the API's default."""
    html = client.get("/").get_data(as_text=True)
    boxes = re.findall(r'<input type="checkbox" name="features" value="(\w+)"( checked)?>', html)
    assert tuple(value for value, _ in boxes) == FEATURES
    assert tuple(value for value, checked in boxes if checked) == DEFAULT


def test_hotel_destinations_are_the_served_models_with_the_catalogs_names(client):
    response = client.get("/v1/hotel-destinations")
    assert response.status_code == 200
    body = response.get_json()
    conforms(body, "Destinations")
    manifest = json.loads(HOTEL_MANIFEST.read_text())
    assert body["model"] == {"name": "hotel-price", "version": manifest["version"]}
    assert [d["slug"] for d in body["destinations"]] == manifest["destinations"]
    for destination in body["destinations"]:
        assert destination["name"] == catalog.DESTINATIONS[destination["slug"]].name
        assert destination["hotels"] == len(catalog.hotels_for(destination["slug"]))
    assert (body["max_nights"], body["max_guests"]) == (catalog.MAX_NIGHTS, catalog.MAX_GUESTS)


def test_every_listed_destination_is_accepted_by_the_price_query(client):
    for destination in client.get("/v1/hotel-destinations").get_json()["destinations"]:
        stay = validate(hotel_stay(destination=destination["slug"], days_ahead=10, nights=2))
        assert stay.destination == destination["slug"]


def test_hotel_destinations_without_the_model_artifact_is_a_503(make_app, tmp_path):
    response = make_app(MODEL_STORE=str(tmp_path)).test_client().get("/v1/hotel-destinations")
    assert "hotel-price" in problem(response, 503, "model-unavailable")["detail"]
