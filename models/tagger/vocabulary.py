"""The tag vocabulary as data: tags, their hierarchy, and which ImageNet classes show each tag.

`vocabulary.json` (beside this file) is the source; `build_labels` expands it into the
`labels.json` of an artifact, where each tag's class list already includes every descendant's
classes. A tag's score is the summed probability of its classes, so a parent scores at least as
high as its best child by construction. The hierarchy helpers here are pure Python: the merge
callback (control pool) uses them without torch.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

VOCABULARY_FILE = Path(__file__).with_name("vocabulary.json")
CLASS_NAMES_FILE = Path(__file__).with_name("imagenet_classes.json")
NUM_CLASSES = 1000


class VocabularyError(ValueError):
    pass


def _class_ids(specs: list[str], tag: str) -> set[int]:
    ids: set[int] = set()
    for spec in specs:
        first, _, last = str(spec).partition("-")
        lo, hi = int(first), int(last or first)
        if not 0 <= lo <= hi < NUM_CLASSES:
            raise VocabularyError(f"{tag}: class range {spec!r} is outside 0-{NUM_CLASSES - 1}")
        ids.update(range(lo, hi + 1))
    return ids


def ancestors(parents: dict[str, list[str]]) -> dict[str, list[str]]:
    """tag -> every ancestor (nearest first, no repeats); raises on a cycle or an unknown parent."""
    out: dict[str, list[str]] = {}

    def walk(tag: str, seen: tuple[str, ...]) -> list[str]:
        if tag in seen:
            raise VocabularyError(f"the tag hierarchy has a cycle through {tag!r}")
        if tag not in out:
            found: list[str] = []
            for parent in parents.get(tag, []):
                if parent not in parents:
                    raise VocabularyError(f"{tag}: unknown parent {parent!r}")
                for name in [parent, *walk(parent, (*seen, tag))]:
                    if name not in found:
                        found.append(name)
            out[tag] = found
        return out[tag]

    for tag in parents:
        walk(tag, ())
    return out


def build_labels(path: Path = VOCABULARY_FILE) -> dict:
    """The `labels.json` document of an artifact: labels, parents, exclusive groups, class map."""
    doc = json.loads(Path(path).read_text())
    tags = doc["tags"]
    parents = {tag: list(spec.get("parents", [])) for tag, spec in tags.items()}
    lineage = ancestors(parents)
    classes = {tag: _class_ids(spec.get("classes", []), tag) for tag, spec in tags.items()}
    for tag, ups in lineage.items():  # a parent's classes include every descendant's
        for up in ups:
            classes[up] |= classes[tag]
    empty = sorted(tag for tag, ids in classes.items() if not ids)
    if empty:
        raise VocabularyError(f"tags with no class: {', '.join(empty)}")
    groups = {}
    for name, members in doc.get("exclusive", {}).items():
        unknown = [m for m in members if m not in tags]
        if unknown:
            raise VocabularyError(f"exclusive group {name!r} names unknown tags {unknown}")
        groups[name] = {"exclusive": True, "labels": list(members)}
    return {
        "labels": list(tags),
        "parents": parents,
        "groups": groups,
        "threshold": float(doc.get("threshold", 0.5)),
        "class_map": {tag: sorted(ids) for tag, ids in classes.items()},
        "class_names": class_names(),
        "about": doc.get("about", ""),
        "class_names_source": doc.get("class_names", ""),
    }


@cache
def class_names() -> list[str]:
    names = json.loads(CLASS_NAMES_FILE.read_text())
    if len(names) != NUM_CLASSES:
        raise VocabularyError(f"{CLASS_NAMES_FILE.name}: {len(names)} names, expected {NUM_CLASSES}")
    return names
