"""What each queue's replicas load before they report ready."""

from __future__ import annotations

from brigade.settings import get_settings
from tasks import queues


def tagger():
    """The video tagger this process serves: the version is pinned at its first load (warm-up)."""
    from models.service import service

    return service(get_settings().TAGGER_MODEL)


def hotel_pricer():
    from models.service import service

    return service("hotel-price")


_LOADERS = {queues.PREDICT: tagger, queues.SEGMENTS: tagger, queues.EVENTS: hotel_pricer}


def warm_up_for(queue_names) -> dict:
    """Load the model(s) the given queues need; report the first as name@version and its device."""
    info: dict = {"model": None, "device": None}
    for name in queue_names:
        loader = _LOADERS.get(name) or (tagger if queues.is_shard_queue(name) else None)
        if loader is None:
            continue
        model = loader()
        if info["model"] is None:
            info = {"model": model.ref, "device": str(model.device)}
    return info
