"""Evaluation clips nobody here drew: package-shipped photographs with people and faces, and title
cards rendered with Pillow's own font over real photos, each clip with its ground truth.

Frame models (people, faces, text) are measured on these (`models.build.frame_eval`): the photos come
from installed wheels (`models.build.photos`), the text from a font inside Pillow, so the truth is known
exactly and no test media is drawn or downloaded.

Clips (`CLIPS`), all 640x360 at 25 fps, shots joined by hard cuts (`models.build.photos.make_concat_clip`):

* `people-faces` (motion "zoom"): astronaut (1 person, 1 face), grace_hopper (1, 1), camera (1, 1:
  the cameraman's face is a three-quarter profile about 55 px tall in the frame; a person sees a
  face, so it counts), the astronaut and Grace Hopper side by side (2, 2), the cameraman beside
  them (3, 3: smaller, his face about 35 px tall), then cat, coffee and rocket (none; the cat's face
  is a hard negative for a face detector).
* `text-zoom` (motion "zoom") and `text-pan` (motion "pan"): title cards (the photo cropped to the
  frame's 16:9; titles white or yellow with a black outline, small credits, some without an outline
  over a busy or light background) and one shot with no text. The text moves with the picture: the
  zoom grows it and drifts it, the pan slides it across the frame. Their backgrounds (rocket, cat,
  coffee) hold no person and no human face, so these clips also count people and faces (zero).

Boxes. Person and face boxes were read off the photos by eye (drawn over them and checked) and are
stored as fractions of each photo; text boxes are the ink's exact bounding box as rendered. Camera
motion moves every box, so boxes in a frame are computed exactly from the filter graph of
`models.build.photos` (letterbox, then zoompan's crop at that frame: `frame_boxes`); ffmpeg's integer
rounding of the crop moves them by under one output pixel. A box that motion pushes partly out of
the frame is clipped to it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from models.build.photos import load_photo, make_concat_clip

__all__ = ["CLIPS", "Clip", "ClipSpec", "boxes_in_frame", "build_clip", "card_box", "eval_clips", "frame_boxes",
           "render_card", "shot_at", "shot_pictures", "truth_of"]

#: Bump when a change here changes how a clip is made from its pictures (the pictures' own pixels,
#: the text as rendered by the installed Pillow included, are part of the cache key anyway).
BUILD = 1
WIDTH, HEIGHT, FPS = 640, 360, 25
SECONDS_EACH = 2.4  # 60 frames a shot
_ZOOM = 0.15  # models.build.photos: a "zoom" goes 1.0 -> 1.15 with a drift right, a "pan" crosses at 1.15
_CARD_SCALE = 2  # cards are rendered at twice the frame size (zoompan's canvas), so text edges stay sharp
_WHITE, _GREY, _YELLOW, _BLACK = (255, 255, 255), (200, 200, 200), (255, 214, 0), (0, 0, 0)

#: Person and face boxes (x0, y0, x1, y1) in pixels of each photo, read by eye: persons from the
#: top of the hair (or hat) to where the photo cuts the body, faces from brow to chin, ear to ear.
PHOTO_PIXEL_BOXES: dict[str, dict[str, list[tuple[int, int, int, int]]]] = {
    "astronaut": {"people": [(20, 12, 365, 512)], "faces": [(176, 76, 282, 185)]},  # 512x512; the helmet is not her
    "grace_hopper": {"people": [(10, 20, 512, 600)], "faces": [(160, 150, 370, 335)]},  # 512x600
    "camera": {"people": [(0, 62, 335, 512)], "faces": [(180, 106, 258, 204)]},  # 512x512; face in 3/4 profile
    "cat": {"people": [], "faces": []},
    "coffee": {"people": [], "faces": []},
    "rocket": {"people": [], "faces": []},
}


@dataclass(frozen=True)
class Line:
    """One string on a title card: its font size in card pixels (twice the frame's), where its
    centre lies (fractions of the card), its fill, and whether it has a black outline (small
    credits without one, over a busy or light background, are the hard ones)."""

    text: str
    size: int
    centre: tuple[float, float]
    fill: tuple[int, int, int] = _WHITE
    outline: bool = True


@dataclass(frozen=True)
class Shot:
    """A photo (a `PHOTOS` name, or "a+b" for two side by side) with the lines written over it."""

    photo: str
    lines: tuple[Line, ...] = ()


@dataclass(frozen=True)
class ClipSpec:
    name: str
    motion: str
    shots: tuple[Shot, ...]
    features: tuple[str, ...]
    cards: bool  # shots become title cards (the photo cropped to 16:9 with its lines drawn)

    def key(self, pictures: Sequence[np.ndarray] = ()) -> str:
        """What the clip's file is named by: everything that makes it, down to its pictures' pixels."""
        digest = hashlib.sha256(json.dumps({
            "build": BUILD, "size": [WIDTH, HEIGHT, FPS, SECONDS_EACH], "name": self.name, "motion": self.motion,
            "cards": self.cards, "shots": [[s.photo, [[ln.text, ln.size, ln.centre, ln.fill, ln.outline] for ln in s.lines]]
                                           for s in self.shots]}, sort_keys=True).encode())
        for picture in pictures:
            digest.update(str(picture.shape).encode())
            digest.update(np.ascontiguousarray(picture).tobytes())
        return digest.hexdigest()[:16]


# Text stays within 14-86 % of the card's width and 8-92 % of its height: the zoom's and the pan's
# crops keep that part in view for the whole shot.
CLIPS: dict[str, ClipSpec] = {c.name: c for c in (
    ClipSpec("people-faces", "zoom", tuple(Shot(p) for p in (
        "astronaut", "grace_hopper", "camera", "astronaut+grace_hopper", "camera+astronaut+grace_hopper", "cat",
        "coffee", "rocket")),
        ("people", "faces"), cards=False),
    ClipSpec("text-zoom", "zoom", (
        Shot("rocket", (Line("BRIGADE PICTURES PRESENTS", 60, (0.5, 0.3)),
                        Line("in association with Unit 9 Films", 28, (0.5, 0.6), _GREY, outline=False))),
        Shot("cat", (Line("A Film by the Crew", 72, (0.5, 0.78), _YELLOW),
                     Line("Directed by Jo Q. Smith", 36, (0.5, 0.14), outline=False))),
        Shot("coffee", (Line("SCENE 12 TAKE 3", 80, (0.5, 0.22)), Line("Roll 7, Day 2", 48, (0.5, 0.82)))),
        Shot("cat"),
    ), ("text", "people", "faces"), cards=True),
    ClipSpec("text-pan", "pan", (
        Shot("coffee", (Line("Coming Soon", 88, (0.5, 0.5), _YELLOW), Line("Rated PG-13 | 118 min", 32, (0.5, 0.66)))),
        Shot("rocket", (Line("In Theaters 2026", 64, (0.5, 0.8)),)),
        Shot("coffee"),
    ), ("text", "people", "faces"), cards=True),
)}


class Clip(NamedTuple):
    """An evaluation clip: its mp4 and its ground truth (`truth_of`)."""

    path: Path
    truth: dict


# --- pictures ------------------------------------------------------------------------------------------


def _side_by_side(names: Sequence[str], height: int = 512) -> tuple[np.ndarray, dict[str, list[list[float]]]]:
    """Photos scaled to one height and put next to each other, with their boxes as fractions of
    the montage."""
    from PIL import Image

    parts, boxes, x = [], {"people": [], "faces": []}, 0
    widths = []
    for name in names:
        image = load_photo(name)
        h, w = image.shape[:2]
        scaled = round(w * height / h)
        parts.append(np.asarray(Image.fromarray(image).resize((scaled, height), Image.Resampling.LANCZOS)))
        widths.append((x, scaled, w, h))
        x += scaled
    for name, (left, scaled, w, h) in zip(names, widths):
        for kind in boxes:
            for x0, y0, x1, y1 in PHOTO_PIXEL_BOXES[name][kind]:
                boxes[kind].append([(left + x0 * scaled / w) / x, y0 / h, (left + x1 * scaled / w) / x, y1 / h])
    return np.concatenate(parts, axis=1), boxes


def _photo(name: str) -> tuple[np.ndarray, dict[str, list[list[float]]]]:
    """A shot's picture and its person and face boxes (fractions of the picture)."""
    if "+" in name:
        return _side_by_side(name.split("+"))
    image = load_photo(name)
    h, w = image.shape[:2]
    return image, {kind: [[x0 / w, y0 / h, x1 / w, y1 / h] for x0, y0, x1, y1 in PHOTO_PIXEL_BOXES[name][kind]]
                   for kind in ("people", "faces")}


def _cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The image scaled to cover width x height and cropped to it about its centre."""
    from PIL import Image

    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    sw, sh = max(width, round(w * scale)), max(height, round(h * scale))
    big = Image.fromarray(image).resize((sw, sh), Image.Resampling.LANCZOS)
    left, top = (sw - width) // 2, (sh - height) // 2
    return np.asarray(big.crop((left, top, left + width, top + height)))


def render_card(shot: Shot, width: int = WIDTH * _CARD_SCALE, height: int = HEIGHT * _CARD_SCALE
                ) -> tuple[np.ndarray, list[list[float]]]:
    """A title card: the photo covering the card, each line drawn in Pillow's own font (Aileron,
    inside the Pillow wheel), outlined in black where the line says so; returns the card and each
    line's ink box (fractions of the card), measured on the rendered ink itself."""
    from PIL import Image, ImageDraw, ImageFont

    card = Image.fromarray(_cover(load_photo(shot.photo), width, height))
    boxes = []
    for line in shot.lines:
        font = ImageFont.load_default(size=line.size)
        stroke = max(2, line.size // 20) if line.outline else 0
        centre = (line.centre[0] * width, line.centre[1] * height)
        ink = Image.new("L", card.size, 0)
        ImageDraw.Draw(ink).text(centre, line.text, font=font, fill=255, anchor="mm", stroke_width=stroke, stroke_fill=255)
        x0, y0, x1, y1 = ink.getbbox()
        ImageDraw.Draw(card).text(centre, line.text, font=font, fill=line.fill, anchor="mm", stroke_width=stroke,
                                  stroke_fill=_BLACK)
        boxes.append([x0 / width, y0 / height, x1 / width, y1 / height])
    return np.asarray(card), boxes


# --- where things are in a frame -----------------------------------------------------------------------


def _placement(image_w: int, image_h: int, width: int, height: int) -> list[float]:
    """Where `models.build.photos` letterboxes an image in the frame (x0, y0, w, h as fractions):
    scaled to fit, centred."""
    aspect = (image_w / image_h) / (width / height)
    if aspect >= 1:
        return [0.0, (1 - 1 / aspect) / 2, 1.0, 1 / aspect]
    return [(1 - aspect) / 2, 0.0, aspect, 1.0]


def _crop(motion: str, k: int, n: int) -> tuple[float, float, float]:
    """zoompan's crop at frame k of n of a shot (`models.build.photos._shot_filter`): its zoom and its
    top-left corner as fractions of the canvas."""
    t = k / max(n - 1, 1)
    if motion == "zoom":
        z = 1 + _ZOOM * t
        return z, (1 - 1 / z) * (0.4 + 0.2 * t), (1 - 1 / z) / 2
    if motion == "pan":
        z = 1 + _ZOOM
        return z, (1 - 1 / z) * t, (1 - 1 / z) / 2
    if motion == "none":
        return 1.0, 0.0, 0.0
    raise ValueError(f"unknown motion {motion!r}")


def frame_boxes(boxes: Sequence[Sequence[float]], placement: Sequence[float], motion: str, k: int, n: int,
                min_visible: float = 0.25) -> list[list[float]]:
    """Boxes given as fractions of a shot's picture, as fractions of the frame at frame k (0-based)
    of the shot's n: letterboxed by `placement`, then cropped and enlarged by the camera motion,
    clipped to the frame. A box less than `min_visible` of which is in view is left out."""
    px, py, pw, ph = placement
    z, cx, cy = _crop(motion, k, n)
    out = []
    for x0, y0, x1, y1 in boxes:
        fx0, fx1 = ((px + x0 * pw) - cx) * z, ((px + x1 * pw) - cx) * z
        fy0, fy1 = ((py + y0 * ph) - cy) * z, ((py + y1 * ph) - cy) * z
        full = (fx1 - fx0) * (fy1 - fy0)
        cx0, cy0, cx1, cy1 = max(fx0, 0.0), max(fy0, 0.0), min(fx1, 1.0), min(fy1, 1.0)
        if cx1 <= cx0 or cy1 <= cy0 or (cx1 - cx0) * (cy1 - cy0) < min_visible * full:
            continue
        out.append([round(v, 5) for v in (cx0, cy0, cx1, cy1)])
    return out


def shot_at(truth: dict, frame: int) -> tuple[dict, int]:
    """The shot holding clip frame `frame` (0-based) and the frame's index within it."""
    n = truth["frames_each"]
    index = min(frame // n, len(truth["shots"]) - 1)
    return truth["shots"][index], frame - index * n


def boxes_in_frame(truth: dict, frame: int, kind: str) -> list[list[float]]:
    """The true boxes of `kind` ("people", "faces" or "text") in clip frame `frame`."""
    shot, k = shot_at(truth, frame)
    return frame_boxes(shot[kind]["boxes"], shot["placement"], truth["motion"], k, truth["frames_each"])


def card_box(truth: dict, card: dict, frame: int) -> list[float] | None:
    """Where a text card lies in clip frame `frame` (None outside its shot)."""
    shot = truth["shots"][card["shot"]]
    k = frame - shot["frames"][0]
    if not 0 <= k < truth["frames_each"]:
        return None
    found = frame_boxes([shot["text"]["boxes"][card["line"]]], shot["placement"], truth["motion"], k, truth["frames_each"])
    return found[0] if found else None


# --- ground truth and building --------------------------------------------------------------------------


def shot_pictures(spec: ClipSpec) -> list[tuple[np.ndarray, dict[str, list[list[float]]]]]:
    """Each shot's picture (what goes into the clip) and its boxes of every kind as fractions of it."""
    out = []
    for shot in spec.shots:
        if spec.cards:
            image, text_boxes = render_card(shot)
            people = {kind: [] for kind in ("people", "faces")}  # card backgrounds hold no person
            if any(PHOTO_PIXEL_BOXES[shot.photo][kind] for kind in people):
                raise ValueError(f"{spec.name}: a card over {shot.photo} would hide its people's true boxes")
            out.append((image, {**people, "text": text_boxes}))
        else:
            image, boxes = _photo(shot.photo)
            out.append((image, {**boxes, "text": []}))
    return out


def truth_of(spec: ClipSpec, pictures: list | None = None) -> dict:
    """The clip's ground truth, JSON-able: per shot its [start, end) in seconds, its frames, the
    expected count and boxes (fractions of its picture, with the letterbox `placement`) of people,
    faces and text; per text card its string, [start, end) and its box in the frame (first frame,
    last frame, and their union over the shot); `features` says what the clip is evaluated for."""
    pictures = pictures if pictures is not None else shot_pictures(spec)
    n = round(SECONDS_EACH * FPS)
    shots, cards = [], []
    for i, (shot, (image, boxes)) in enumerate(zip(spec.shots, pictures)):
        start, end = i * n / FPS, (i + 1) * n / FPS
        placement = [round(v, 6) for v in _placement(image.shape[1], image.shape[0], WIDTH, HEIGHT)]
        entry = {"index": i, "photo": shot.photo, "start": start, "end": end, "frames": [i * n, (i + 1) * n],
                 "placement": placement}
        for kind in ("people", "faces", "text"):
            entry[kind] = {"count": len(boxes[kind]), "boxes": [[round(v, 5) for v in b] for b in boxes[kind]]}
        shots.append(entry)
        for j, line in enumerate(shot.lines):
            stored = entry["text"]["boxes"][j]  # as rounded in the truth: card_box gives the same
            each = [frame_boxes([stored], placement, spec.motion, k, n)[0] for k in range(n)]
            union = [min(b[0] for b in each), min(b[1] for b in each), max(b[2] for b in each), max(b[3] for b in each)]
            cards.append({"text": line.text, "shot": i, "line": j, "start": start, "end": end, "box": union, "box_first": each[0],
                          "box_last": each[-1]})
    return {"name": spec.name, "build": BUILD, "width": WIDTH, "height": HEIGHT, "fps": FPS, "motion": spec.motion,
            "frames_each": n, "frames": n * len(spec.shots), "duration_s": n * len(spec.shots) / FPS,
            "cuts": [i * n / FPS for i in range(1, len(spec.shots))], "features": list(spec.features),
            "shots": shots, "cards": cards,
            "sources": sorted({p for s in spec.shots for p in s.photo.split("+")}),
            "font": "Pillow's ImageFont.load_default(size=...) (Aileron Regular, inside the Pillow wheel)"}


def default_cache() -> Path:
    return Path(os.environ.get("EVAL_MEDIA_CACHE") or Path(tempfile.gettempdir()) / "brigade-eval-media")


def build_clip(spec: ClipSpec, cache_dir: str | Path | None = None) -> Clip:
    """The clip's mp4 (built once, then reused from `cache_dir`, keyed by everything that makes it)
    and its ground truth (with that key as `media_key`)."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache()
    cache.mkdir(parents=True, exist_ok=True)
    pictures = shot_pictures(spec)
    key = spec.key([image for image, _ in pictures])
    path = cache / f"{spec.name}-{key}.mp4"
    truth = {**truth_of(spec, pictures), "media_key": key}
    if not path.is_file():
        partial = path.with_name(f".{path.stem}.{os.getpid()}.mp4")  # renamed into place: no half-written clip is reused
        try:
            _, cuts = make_concat_clip(partial, [image for image, _ in pictures], seconds_each=SECONDS_EACH, width=WIDTH,
                                       height=HEIGHT, fps=FPS, motion=spec.motion)
            if [round(c, 6) for c in cuts] != [round(c, 6) for c in truth["cuts"]]:
                raise RuntimeError(f"{spec.name}: cuts at {cuts}, the truth says {truth['cuts']}")
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
    return Clip(path, truth)


def eval_clips(feature: str | None = None, cache_dir: str | Path | None = None) -> list[Clip]:
    """Every evaluation clip (or those evaluated for `feature`), built or taken from the cache."""
    return [build_clip(spec, cache_dir) for spec in CLIPS.values() if feature is None or feature in spec.features]
