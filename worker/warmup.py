"""What each queue's replicas load before they report ready."""

from __future__ import annotations

from brigade import features
from brigade.settings import get_settings
from worker import work


def tagger():
    """The video tagger this process serves: the version is pinned at its first load (warm-up)."""
    from models.service import service

    return service(get_settings().TAGGER_MODEL)


def hotel_pricer():
    from models.service import service

    return service("hotel-price")


def frame_models(wanted) -> tuple:
    """(feature, loaded frame model) for each feature of `wanted` that a frame model answers."""
    from models.service import service

    return tuple((feature, service(features.FRAME_MODELS[feature])) for feature in features.frame_features(wanted))


def feature_key(wanted: tuple[str, ...], frame_models: tuple) -> tuple[str, ...]:
    """What a cached answer depends on beyond the video and the tagger: the features asked and
    the version of each frame model (empty for today's labels-only job, so its cache keys stay)."""
    if wanted == features.DEFAULT:
        return ()
    return (",".join(wanted), *(model.ref for _, model in frame_models))


def described(tagger, frame_models: tuple) -> dict:
    """The `model` of a result: the tagger's description, plus each frame model's by feature."""
    info = tagger.describe()
    if frame_models:
        info["frame_models"] = {feature: model.describe() for feature, model in frame_models}
    return info


def _store_model(name: str):
    from models.service import service

    return lambda: service(name)


#: `worker.work.Work.models` -> its loader.
LOADERS = {work.TAGGER: tagger, work.HOTEL_PRICER: hotel_pricer, **{name: _store_model(name) for name in work.FRAME_MODELS}}


def warm_up_for(queue_names) -> dict:
    """Load the model(s) the given queues need (the table of work says which); report the first
    as name@version and its device."""
    info: dict = {"model": None, "device": None}
    for model_name in dict.fromkeys(m for name in queue_names for m in work.models_for(name)):
        model = LOADERS[model_name]()
        if info["model"] is None:
            info = {"model": model.ref, "device": str(model.device)}
    return info
