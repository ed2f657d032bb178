"""What a video job may be asked to find (`POST /v1/videos?features=labels,people,faces,text`),
and which model answers each. Pure: the API validates with it (and imports no model), the
workers choose their models with it.

Shots are always found (they come from the decode itself); `labels` is the tagger and the default,
today's answer. Each other feature is one per-frame model (`models.frame_model.FrameModel`).
"""

from __future__ import annotations

LABELS, PEOPLE, FACES, TEXT = "labels", "people", "faces", "text"
FEATURES = (LABELS, PEOPLE, FACES, TEXT)
DEFAULT = (LABELS,)

#: feature -> the store name of the frame model that answers it (the tagger answers `labels`).
FRAME_MODELS = {PEOPLE: "person-detector", FACES: "face-detector", TEXT: "text-reader"}


class FeatureError(ValueError):
    """A `features` value the API refuses (400): the message names what is allowed."""


def parse_features(raw: str | list | tuple | None) -> tuple[str, ...]:
    """`"labels,text"` (or a list) -> ("labels", "text") in FEATURES order, duplicates dropped;
    empty or None -> DEFAULT."""
    items = raw.split(",") if isinstance(raw, str) else list(raw or ())
    wanted = {str(item).strip().lower() for item in items} - {""}
    unknown = sorted(wanted - set(FEATURES))
    if unknown:
        raise FeatureError(f"features={','.join(unknown)!s} unknown: use any of {', '.join(FEATURES)}")
    return tuple(f for f in FEATURES if f in wanted) or DEFAULT


def frame_features(features: tuple[str, ...]) -> tuple[str, ...]:
    """The requested features a frame model answers (all but `labels`)."""
    return tuple(f for f in features if f in FRAME_MODELS)
