"""What builds the served models and measures them; never loaded by a worker.

The builds from wheels (`tagger`, `faces`, `people`, `text`), training (`train_tagger`,
`train_hotel`, `tagger_data`, `tagger_net`), generated data and photographic media (`synth`,
`hotel_market`, `photos`, `eval_media`) and the evaluations (`tagger_eval`, `photo_eval`,
`agreement`, `frame_eval`, `hotel_eval`). `make model` runs them as
`python -m models.build.<name>`. The serving side (everything else under `models/`) never imports
this package (`tests/test_models_layout.py`).
"""

from __future__ import annotations

import argparse


def artifact_args(parser: argparse.ArgumentParser, version: str) -> argparse.ArgumentParser:
    """The options every build of an artifact takes: where it goes, its version, whether it
    becomes the DEFAULT."""
    from brigade.settings import get_settings

    parser.add_argument("--store", default=get_settings().MODEL_STORE)
    parser.add_argument("--version", default=version)
    parser.add_argument("--no-default", action="store_true", help="do not point DEFAULT at the new version")
    return parser
