"""One life cycle for every served model, in the shape of TorchServe's handler and Ray Serve's
deployment: load (device, eval mode, version pinned, warm-up) -> preprocess -> infer (batched) ->
postprocess. Warm-up runs every input shape the model will be given once, before the process says it
is ready: the first request pays no graph optimization, and the peak memory is reached at load.

A registry loader returns a `ModelService`; tasks are thin adapters that call `handle` and write
the job record. `service(ref)` is how a worker gets one: the first call in a process resolves a
bare name through the store's DEFAULT pointer and pins that version for the life of the process,
so a DEFAULT flip never changes the model under a running worker (the heartbeat, /readyz and every
result name the version that is actually loaded; new workers pick up the flip).
"""

from __future__ import annotations

import threading
from typing import Any

from models.registry import default_store, load_model, parse_ref, resolve


class ModelService:
    """Base of a loaded model. Subclasses set `name`, `version` and `device` and implement the stages."""

    name: str = "model"
    version: str = "dev"
    device: str = "cpu"

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def describe(self) -> dict:
        """What every result and heartbeat says about the model that answered."""
        return {"name": self.name, "version": self.version, "device": str(self.device)}

    def warm_up(self) -> None:
        """Called once by the registry after loading (nothing to do for a model whose first call is
        no slower than the others)."""

    def preprocess(self, request: Any) -> Any:
        raise NotImplementedError

    def infer(self, batch: Any) -> Any:
        raise NotImplementedError

    def postprocess(self, outputs: Any, request: Any) -> Any:
        raise NotImplementedError

    def handle(self, request: Any) -> Any:
        return self.postprocess(self.infer(self.preprocess(request)), request)


_pinned: dict[tuple[str, str], str] = {}
_pin_lock = threading.Lock()


def pinned_ref(ref: str, store=None) -> str:
    """`name@version`: an explicit version as given; a bare name resolved once per process."""
    name, version = parse_ref(ref)
    if version is not None:
        return f"{name}@{version}"
    store = default_store(store)
    with _pin_lock:
        key = (str(store), name)
        if key not in _pinned:
            _pinned[key] = resolve(name, None, store).name
        return f"{name}@{_pinned[key]}"


def service(ref: str, store=None) -> ModelService:
    """The loaded, version-pinned service for `ref` (cached per process by the registry)."""
    return load_model(pinned_ref(ref, store), store)


def unpin() -> None:
    """Forget pinned versions (tests; a process that wants to follow DEFAULT again)."""
    with _pin_lock:
        _pinned.clear()
