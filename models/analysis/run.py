"""One decode, several models: the frame models read the frames of the tagger's own decode.

Each requested frame model gets a tap of the job's ffmpeg run (`media.taps.FrameTap`: its rate, its
size); between two of the tagger's batches, `FrameRun.around` hands each model the frames that have
arrived, batched by the model's own `handle`. The frames are sampled on the tagger's grid, so a
segment of a sharded job samples exactly the frames the whole-video decode does.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from media.frames import VideoFacts
from media.taps import FrameTap


class FrameRun:
    """The frame models of one decode, their taps and what they found."""

    def __init__(self, models: dict, facts: VideoFacts, grid_fps: float):
        self.models = dict(models)
        self.taps = tuple(FrameTap(feature, fps=model.spec.fps, max_side=model.spec.max_side, grid_fps=grid_fps,
                                   width=facts.width, height=facts.height)
                          for feature, model in self.models.items())
        self.samples: dict[str, list[dict]] = {feature: [] for feature in self.models}
        self.infer_s: dict[str, float] = dict.fromkeys(self.models, 0.0)

    def drain(self) -> None:
        """Run each model on the frames that have arrived on its tap."""
        for tap in self.taps:
            arrived = tap.take()
            if not arrived:
                continue
            started = time.perf_counter()
            found = self.models[tap.name].handle([frame for _, frame in arrived])
            self.infer_s[tap.name] += time.perf_counter() - started
            self.samples[tap.name].extend({"t": round(stamp, 3), "found": f} for (stamp, _), f in zip(arrived, found, strict=True))

    def around(self, batches: Iterable) -> Iterator:
        """`batches` as they come, the frame models run between them (and on the rest at the end)."""
        for item in batches:
            yield item
            self.drain()
        self.drain()

    @property
    def model_s(self) -> float:
        return sum(self.infer_s.values())

    def raw(self) -> dict[str, dict]:
        """{feature: {"period", "samples"}} (`models.analysis.summary`)."""
        return {tap.name: {"period": round(tap.every / tap.grid_fps, 6), "samples": self.samples[tap.name]}
                for tap in self.taps}

    def timings(self) -> dict[str, dict]:
        """Per feature: its model's seconds and the frames it was given."""
        return {feature: {"infer_s": round(self.infer_s[feature], 4), "frames": len(self.samples[feature])}
                for feature in self.models}

    def close(self) -> None:
        for tap in self.taps:
            tap.close()
