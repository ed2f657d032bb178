"""The tag vocabulary of the generated videos: tag groups, and which groups are exclusive.

An exclusive group has exactly one label true at any moment (setting, motion, lighting); the labels
of a non-exclusive group (objects, weather) may be absent or present together.
"""

from __future__ import annotations

TAG_GROUPS: dict[str, dict] = {
    "setting": {"exclusive": True, "labels": ["indoor", "outdoor", "park"]},
    "objects": {"exclusive": False, "labels": ["ball", "box", "vehicle", "person", "animal"]},
    "motion": {"exclusive": True, "labels": ["moving", "still"]},
    "lighting": {"exclusive": True, "labels": ["day", "night"]},
    "weather": {"exclusive": False, "labels": ["rain"]},
}

ALL_TAGS: list[str] = [label for group in TAG_GROUPS.values() for label in group["labels"]]
SETTINGS = TAG_GROUPS["setting"]["labels"]
OBJECTS = TAG_GROUPS["objects"]["labels"]
LIGHTINGS = TAG_GROUPS["lighting"]["labels"]
