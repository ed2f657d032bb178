"""What a video job may be asked to find (`POST /v1/videos?features=labels,people,faces,text`),
and which model answers each. Pure: the API validates with it (and imports no model), the
workers choose their models with it.

Shots are always found (they come from the decode itself); `labels` is the tagger and the default,
today's answer. Each other feature is one per-frame model (`models.frame_model.FrameModel`).
"""

from __future__ import annotations

from dataclasses import dataclass

LABELS, PEOPLE, FACES, TEXT = "labels", "people", "faces", "text"


@dataclass(frozen=True)
class FrameModelRow:
    """The one place that names a frame model: the feature it answers, its name in the model store
    (also its artifact kind) and the loader of that kind, "module:function" as a string, so this
    package still imports no model (`models.registry.LOADERS` reads it)."""

    feature: str
    model: str
    loader: str


#: One row per frame model. The feature list, the models a video replica warms up (`worker.work`,
#: `worker.warmup`) and the registry's loaders derive from it.
FRAME_MODEL_ROWS = (
    FrameModelRow(PEOPLE, "person-detector", "models.people.artifact:load"),
    FrameModelRow(FACES, "face-detector", "models.faces.artifact:load"),
    FrameModelRow(TEXT, "text-reader", "models.text.artifact:load"),
)
#: feature -> the store name of the frame model that answers it (the tagger answers `labels`).
FRAME_MODELS = {row.feature: row.model for row in FRAME_MODEL_ROWS}
FEATURES = (LABELS, *FRAME_MODELS)
DEFAULT = (LABELS,)


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
