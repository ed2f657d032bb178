"""Webhooks in this process (brigade/webhooks/): signatures a receiver can verify and nobody else
can forge, the callback URLs the API accepts, and the addresses a delivery may go to once the
host is resolved (a fake resolver: no DNS)."""

from __future__ import annotations

import socket
import time

import pytest

from brigade.settings import ROOT, Settings
from brigade.webhooks import delivery, destinations, signing

pytestmark = pytest.mark.unit  # its layer (tests/conftest.py): logic in this process

ALLOWED = "hooks.example.com, *.partner.test, 127.0.0.1:9000, [::1]:9001, intranet.local"
SETTINGS = Settings(WEBHOOK_ALLOWED_HOSTS=ALLOWED, WEBHOOK_SIGNING_SECRET="master")


# --- secrets and signatures --------------------------------------------------------------------------


def test_each_key_has_its_own_secret_derived_from_the_master():
    alice, bob = signing.signing_secret("master", "key:aaaa"), signing.signing_secret("master", "key:bbbb")
    assert alice != bob and alice == signing.signing_secret("master", "key:aaaa")
    assert signing.signing_secret("rotated", "key:aaaa") != alice
    assert "master" not in alice


def test_a_signature_verifies_and_a_changed_body_secret_or_old_timestamp_does_not():
    secret, body, now = signing.signing_secret("master", "key:aaaa"), b'{"job_id":"x","status":"succeeded"}', 1_700_000_000
    signature = signing.sign(secret, now, body)
    assert signature.startswith("v1=") and len(signature) == 3 + 64
    assert signing.verify(secret, str(now), body, signature, now=now + 10)
    assert signing.verify(secret, str(now), body, f"v1=deadbeef, {signature}", now=now)  # one of several (rotation)
    assert not signing.verify(secret, str(now), body + b" ", signature, now=now)
    assert not signing.verify(signing.signing_secret("master", "key:bbbb"), str(now), body, signature, now=now)
    assert not signing.verify(secret, str(now + 1), body, signature, now=now)  # the timestamp is signed too
    assert not signing.verify(secret, str(now), body, signature, now=now + 301)  # a replay, too late
    assert not signing.verify(secret, "yesterday", body, signature, now=now)


# --- callback URLs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("url, exact", [
    ("https://hooks.example.com/brigade?team=7", True),
    ("http://HOOKS.example.com.:80/", True),  # case and a trailing dot do not matter
    ("https://a.partner.test/x", False),
    ("https://deep.a.partner.test/x", False),
    ("http://127.0.0.1:9000/hook", True),
    ("http://[::1]:9001/", True),
])
def test_allowed_callback_urls(url, exact):
    assert destinations.check_callback_url(url, SETTINGS).exact is exact


@pytest.mark.parametrize("url, reason", [
    ("ftp://hooks.example.com/x", "http or https"),
    ("file:///etc/passwd", "http or https"),
    ("javascript:alert(1)", "http or https"),
    ("/v1/jobs", "http or https"),
    ("", "empty"),
    ("https://user:pw@hooks.example.com/", "user information"),
    ("https://hooks.example.com@evil.test/", "user information"),
    ("https://evil.test/", "not allowed"),
    ("https://partner.test/", "not allowed"),  # `*.partner.test` names its subdomains only
    ("https://hooks.example.com.evil.test/", "not allowed"),
    ("http://127.0.0.1:9001/", "not allowed"),  # the listed port only
    ("http://127.0.0.1/", "not allowed"),
    ("https://hooks.example.com:99999/", "invalid port"),
    ("https://hooks.example.com/a b", "spaces"),
    ("https://hooks.example.com/\r\nX-Injected: 1", "control"),
    ("https://hooks.example.com/" + "a" * destinations.MAX_URL_LENGTH, "longer than"),
])
def test_refused_callback_urls(url, reason):
    with pytest.raises(destinations.CallbackRefused, match=reason):
        destinations.check_callback_url(url, SETTINGS)


def test_a_wildcard_never_admits_a_private_address_literal():
    s = Settings(WEBHOOK_ALLOWED_HOSTS="*.0.0.1", WEBHOOK_SIGNING_SECRET="m")
    with pytest.raises(destinations.CallbackRefused, match="not a public address"):
        destinations.check_callback_url("http://127.0.0.1/", s)


@pytest.mark.parametrize("text", ["host:port", "a:1:2:3:4]", "*", "*.", "x.*.y", "h:0", "h:70000"])
def test_a_bad_allow_list_entry_is_a_configuration_error(text):
    with pytest.raises(ValueError, match="WEBHOOK_ALLOWED_HOSTS"):
        destinations.parse_allowed_hosts(text)


def test_webhooks_are_off_until_both_settings_are_set():
    assert "WEBHOOK_ALLOWED_HOSTS and WEBHOOK_SIGNING_SECRET" in destinations.off_reason(Settings())
    assert "WEBHOOK_SIGNING_SECRET is not set" in destinations.off_reason(Settings(WEBHOOK_ALLOWED_HOSTS="h"))
    assert destinations.off_reason(SETTINGS) is None


# --- at delivery: what the host resolves to ----------------------------------------------------------------


def _resolver(*addresses: str):
    def resolve(host, port, type=0):
        family = socket.AF_INET6 if ":" in addresses[0] else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port)) for address in addresses]
    return resolve


@pytest.mark.parametrize("address", ["10.1.2.3", "127.0.0.1", "169.254.169.254", "192.168.0.9", "100.64.0.1",
                                     "::1", "fe80::1", "fd00::5", "::ffff:127.0.0.1", "0.0.0.0", "224.0.0.1"])
def test_a_host_allowed_by_a_wildcard_that_resolves_inside_is_refused(address):
    with pytest.raises(destinations.CallbackRefused, match="not a public address"):
        destinations.resolve_destination("https://a.partner.test/hook", SETTINGS, _resolver(address))


def test_one_inside_address_among_public_ones_is_enough_to_refuse():
    with pytest.raises(destinations.CallbackRefused, match="10.0.0.8"):
        destinations.resolve_destination("https://a.partner.test/", SETTINGS, _resolver("93.184.216.34", "10.0.0.8"))


def test_a_public_address_goes_and_the_request_is_pinned_to_it():
    destination = destinations.resolve_destination("https://a.partner.test/hook?x=1", SETTINGS, _resolver("93.184.216.34"))
    assert (destination.address, destination.host, destination.port, destination.target) == (
        "93.184.216.34", "a.partner.test", 443, "/hook?x=1")


def test_a_host_listed_exactly_may_resolve_inside_the_operator_opted_in():
    destination = destinations.resolve_destination("http://intranet.local/hook", SETTINGS, _resolver("10.1.2.3"))
    assert destination.address == "10.1.2.3"


def test_a_host_removed_from_the_allow_list_since_is_refused_at_delivery():
    later = Settings(WEBHOOK_ALLOWED_HOSTS="hooks.example.com", WEBHOOK_SIGNING_SECRET="master")
    with pytest.raises(destinations.CallbackRefused, match="not allowed"):
        destinations.resolve_destination("https://a.partner.test/", later, _resolver("93.184.216.34"))


def test_backoff_doubles_up_to_its_cap_and_honours_retry_after():
    s = Settings(WEBHOOK_BACKOFF_S=2, WEBHOOK_BACKOFF_MAX_S=20)
    assert [delivery.backoff_s(n, s) for n in range(1, 6)] == [2, 4, 8, 16, 20]
    assert delivery.backoff_s(1, s, retry_after="7") == 7
    assert delivery.backoff_s(1, s, retry_after="3600") == 20
    assert delivery.backoff_s(2, s, retry_after="Wed, 21 Oct 2015 07:28:00 GMT") == 4


def test_backoff_longer_than_the_visibility_timeout_is_refused():
    with pytest.raises(ValueError, match="WEBHOOK_BACKOFF_MAX_S < VISIBILITY_TIMEOUT_S"):
        Settings(WEBHOOK_BACKOFF_MAX_S=7200)


def test_the_documented_verification_snippet_verifies_what_the_server_signs():
    doc = (ROOT / "docs" / "WEBHOOKS.md").read_text()
    snippet = doc.split("<!-- verify-snippet -->\n```python\n", 1)[1].split("```", 1)[0]
    scope: dict = {}
    exec(compile(snippet, "docs/WEBHOOKS.md", "exec"), scope)
    secret, body, now = signing.signing_secret("master", "key:aaaa"), b'{"status":"failed"}', int(time.time())
    headers = {signing.TIMESTAMP_HEADER: str(now), signing.SIGNATURE_HEADER: signing.sign(secret, now, body)}
    assert scope["verify"](secret, headers, body)
    assert not scope["verify"](secret, headers, body + b"x")
    assert not scope["verify"]("whsec_other", headers, body)
    assert not scope["verify"](secret, {**headers, signing.TIMESTAMP_HEADER: str(now - 3600)}, body)
