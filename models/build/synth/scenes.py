"""What a generated video shows: scenes, random scene lists, and the ground truth they imply."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from models.build.synth.tags import ALL_TAGS, LIGHTINGS, OBJECTS, SETTINGS


@dataclass(frozen=True)
class Scene:
    setting: str = "outdoor"  # indoor | outdoor | park
    lighting: str = "day"  # day | night
    objects: tuple[str, ...] = ()
    moving: bool = False  # objects move; needs at least one object
    weather: str = "clear"  # clear | rain (never indoors)
    duration_s: float = 5.0
    look: int = 0  # seeds palette, sizes, positions and speeds

    def __post_init__(self):
        if self.setting not in SETTINGS or self.lighting not in LIGHTINGS:
            raise ValueError(f"unknown setting/lighting {self.setting!r}/{self.lighting!r}")
        if unknown := set(self.objects) - set(OBJECTS):
            raise ValueError(f"unknown objects {sorted(unknown)}")
        if self.moving and not self.objects:
            raise ValueError("a moving scene needs at least one object")
        if self.weather not in ("clear", "rain") or (self.weather == "rain" and self.setting == "indoor"):
            raise ValueError(f"weather {self.weather!r} is not possible {self.setting}")
        if self.duration_s <= 0:
            raise ValueError("duration_s must be positive")

    @property
    def tags(self) -> set[str]:
        tags = {self.setting, self.lighting, "moving" if self.moving else "still", *self.objects}
        if self.weather == "rain":
            tags.add("rain")
        return tags


@dataclass
class GroundTruth:
    tags: list[str]  # every tag present at some time, sorted
    timeline: dict[str, list[list[float]]]  # tag -> [[start, end], ...] merged ranges, seconds
    scenes: list[tuple[float, float, Scene]]
    duration_s: float
    fps: float
    width: int
    height: int
    seed: int
    cuts: list[float] = field(default_factory=list)  # scene boundaries (hard cuts), seconds

    def tags_at(self, t: float) -> set[str]:
        for start, end, scene in self.scenes:
            if start <= t < end:
                return scene.tags
        return set()

    def to_dict(self) -> dict:
        data = asdict(self)
        data["scenes"] = [
            {"start": start, "end": end, **asdict(scene), "tags": sorted(scene.tags)} for start, end, scene in self.scenes
        ]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def random_scene(rng: np.random.Generator, duration_s: float, *, avoid: Scene | None = None) -> Scene:
    """One random scene; differs from `avoid` in setting or lighting so the cut is a visible one."""
    while True:
        setting = SETTINGS[rng.integers(len(SETTINGS))]
        lighting = "day" if rng.random() < 0.6 else "night"
        if avoid is None or (setting, lighting) != (avoid.setting, avoid.lighting):
            break
    objects = tuple(obj for obj in OBJECTS if rng.random() < 0.4)
    moving = bool(objects) and rng.random() < 0.5
    weather = "rain" if setting != "indoor" and rng.random() < 0.35 else "clear"
    look = int(rng.integers(2**31))
    return Scene(setting, lighting, objects, moving, weather, round(duration_s, 1), look)


def random_scenes(seed: int, duration_s: float, min_scene_s: float = 3.0, max_scene_s: float = 8.0) -> list[Scene]:
    """Scenes of random length (0.1 s steps) filling `duration_s`; neighbours always differ visibly."""
    if not 0 < min_scene_s <= max_scene_s:
        raise ValueError("need 0 < min_scene_s <= max_scene_s")
    rng = np.random.default_rng([seed, 0x5CE])
    lengths: list[float] = []
    left = duration_s
    while left > 1e-9:
        length = round(float(rng.uniform(min_scene_s, max_scene_s)), 1)
        if left - length < min_scene_s:
            length = left if left <= max_scene_s or not lengths else left / 2
        lengths.append(round(length, 1))
        left = round(left - length, 6)
    scenes: list[Scene] = []
    for length in lengths:
        scenes.append(random_scene(rng, length, avoid=scenes[-1] if scenes else None))
    return scenes


def ground_truth(scenes: list[Scene], *, fps: float, width: int, height: int, seed: int) -> GroundTruth:
    """Place scenes back to back on whole frames and merge each tag's presence into ranges."""
    placed = []
    frame = 0
    for scene in scenes:
        frames = max(1, round(scene.duration_s * fps))
        placed.append((frame / fps, (frame + frames) / fps, scene))
        frame += frames
    timeline: dict[str, list[list[float]]] = {}
    for start, end, scene in placed:
        for tag in scene.tags:
            ranges = timeline.setdefault(tag, [])
            if ranges and abs(ranges[-1][1] - start) < 1e-9:
                ranges[-1][1] = end
            else:
                ranges.append([start, end])
    ordered = {tag: timeline[tag] for tag in ALL_TAGS if tag in timeline}
    return GroundTruth(
        tags=sorted(ordered),
        timeline=ordered,
        scenes=placed,
        duration_s=frame / fps,
        fps=fps,
        width=width,
        height=height,
        seed=seed,
        cuts=[start for start, _, _ in placed[1:]],
    )
