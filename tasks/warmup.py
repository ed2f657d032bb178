"""What each queue's replicas load before they report ready."""

from __future__ import annotations

from brigade.settings import get_settings
from tasks import work


def tagger():
    """The video tagger this process serves: the version is pinned at its first load (warm-up)."""
    from models.service import service

    return service(get_settings().TAGGER_MODEL)


def hotel_pricer():
    from models.service import service

    return service("hotel-price")


#: `tasks.work.Work.model` -> its loader.
LOADERS = {work.TAGGER: tagger, work.HOTEL_PRICER: hotel_pricer}


def warm_up_for(queue_names) -> dict:
    """Load the model(s) the given queues need (the table of work says which); report the first
    as name@version and its device."""
    info: dict = {"model": None, "device": None}
    for model_name in dict.fromkeys(m for name in queue_names for m in work.models_for(name)):
        model = LOADERS[model_name]()
        if info["model"] is None:
            info = {"model": model.ref, "device": str(model.device)}
    return info
