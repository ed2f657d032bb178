"""A slice of `make chaos` (devtools/chaos/) against the session's API, so CI keeps the runner
working: its hostile media and bad-request families, each answered with a 4xx problem, no 5xx,
no job created. The whole suite, with its faults, is `make chaos`."""

from __future__ import annotations

from devtools.chaos import hostile
from devtools.chaos.ledger import Ledger

CHEAP_MEDIA = ("unknown_codec", "truncated", "audio_only", "valid")


def test_the_hostile_families_get_4xx_problems_and_no_5xx(api, tmp_root, no_job_created):
    media = hostile.make_media(tmp_root / "chaos-smoke", 8 * 1024 * 1024, 60.0, names=CHEAP_MEDIA)
    cases = hostile.cases(media, 8 * 1024 * 1024, include_accepted=False)
    ledger = Ledger()
    summary = hostile.run(api, ledger, cases, job_id="00000000000000000000000000000000")
    assert summary["tried"] == len(cases) > 40
    assert summary["unexpected"] == [], summary["unexpected"]
    assert ledger.server_errors == [] and summary["accepted_jobs"] == []
    assert summary["refused_4xx"] == len(cases)
