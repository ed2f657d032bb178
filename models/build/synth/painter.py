"""Paint scenes with numpy: a lit background and object sprites built once per scene, then
frames composed by pasting sprites at their positions (cheap enough for minutes of video).

Sizes are in units of `u = height / 240`, so a 720p clip shows the same picture as a 240p one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.build.synth.scenes import Scene

SKY_DAY = ((150, 195, 245), (215, 232, 250))
SKY_NIGHT = ((8, 10, 30), (25, 28, 60))
SKY_RAIN = ((120, 128, 140), (165, 170, 178))
NIGHT_TINT = np.array([0.33, 0.36, 0.48], np.float32)
INDOOR_NIGHT_TINT = np.array([0.55, 0.45, 0.32], np.float32)
#: objects stay readable at night (street lights, lamps): their light is raised towards day by this
OBJECT_FILL_LIGHT = 0.4


@dataclass
class Sprite:
    rgb: np.ndarray  # uint8 [h, w, 3]
    mask: np.ndarray  # bool [h, w]
    x: float
    y: float
    vx: float
    vy: float


def _grid(h: int, w: int):
    return np.mgrid[0:h, 0:w].astype(np.float32)


def _ellipse(h: int, w: int, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    yy, xx = _grid(h, w)
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def _rect(mask: np.ndarray, y0: float, y1: float, x0: float, x1: float) -> np.ndarray:
    out = np.zeros_like(mask)
    out[int(y0) : int(y1), int(x0) : int(x1)] = True
    return out


def _color(rng, low=40, high=230) -> np.ndarray:
    return rng.integers(low, high, 3).astype(np.float32)


def _vertical_gradient(h: int, w: int, top, bottom) -> np.ndarray:
    ramp = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    column = np.array(top, np.float32) * (1 - ramp) + np.array(bottom, np.float32) * ramp
    return np.broadcast_to(column, (h, w, 3)).copy()


def _texture(rng, h: int, w: int, strength: float) -> np.ndarray:
    """Smooth-ish multiplicative texture (upsampled coarse noise)."""
    coarse = rng.normal(1.0, strength, (h // 8 + 2, w // 8 + 2)).astype(np.float32)
    return np.repeat(np.repeat(coarse, 8, 0), 8, 1)[:h, :w, None]


def paint_background(scene: Scene, rng, h: int, w: int) -> np.ndarray:
    """The scene without objects, unlit: float32 [h, w, 3] in 0..255."""
    u = h / 240
    night, rain = scene.lighting == "night", scene.weather == "rain"
    sky = _vertical_gradient(h, w, *(SKY_NIGHT if night else SKY_RAIN if rain else SKY_DAY))
    if scene.setting == "indoor":
        img = np.empty((h, w, 3), np.float32)
        floor_y = int(h * rng.uniform(0.6, 0.72))
        img[:] = _color(rng, 90, 220) * _texture(rng, h, w, 0.04)
        stripes = (np.arange(w) // max(1, int(rng.uniform(8, 20) * u))) % 2 == 0
        img[:floor_y, stripes] *= rng.uniform(0.85, 0.95)
        floor = _color(rng, 60, 170)
        planks = ((np.arange(h - floor_y) // max(1, int(6 * u))) % 2)[:, None, None]
        img[floor_y:] = floor * (0.92 + 0.08 * planks)
        wy, wx = int(h * rng.uniform(0.08, 0.2)), int(w * rng.uniform(0.05, 0.6))
        wh, ww = int(h * rng.uniform(0.25, 0.35)), int(w * rng.uniform(0.2, 0.3))
        img[wy - 3 : wy + wh + 3, wx - 3 : wx + ww + 3] = 245
        img[wy : wy + wh, wx : wx + ww] = sky[wy : wy + wh, wx : wx + ww] * (0.25 if night else 1.1)
        img[wy : wy + wh, wx + ww // 2 - 1 : wx + ww // 2 + 2] = 240
        return img
    horizon = int(h * rng.uniform(0.35, 0.5))
    img = sky
    if night:
        stars = rng.random((horizon, w)) < 0.004
        img[:horizon][stars] = 230
    if scene.setting == "outdoor":
        x = 0
        while x < w:
            bw, bh = int(rng.uniform(30, 80) * u), int(rng.uniform(40, 110) * u)
            top = max(0, horizon - bh)
            img[top:horizon, x : x + bw] = _color(rng, 70, 190) * (0.5 if night else 1.0)
            win = np.zeros((horizon - top, min(bw, w - x)), bool)
            win[int(4 * u) :: int(12 * u), int(4 * u) :: int(10 * u)] = True
            win |= np.roll(win, 1, 0) | np.roll(win, 1, 1)
            lit = (235, 210, 120) if night else (90, 110, 140)
            img[top:horizon, x : x + bw][win] = lit
            x += bw + int(rng.uniform(0, 15) * u)
        road = _color(rng, 85, 125).mean()
        img[horizon:] = road * _texture(rng, h - horizon, w, 0.05)
        lane = int(horizon + (h - horizon) * 0.55)
        dashes = (np.arange(w) // int(20 * u)) % 2 == 0
        img[lane : lane + max(2, int(3 * u)), dashes] = (230, 220, 150)
    else:  # park
        grass = np.array([rng.uniform(40, 90), rng.uniform(130, 190), rng.uniform(40, 80)], np.float32)
        img[horizon:] = grass * _texture(rng, h - horizon, w, 0.08)
        for _ in range(int(rng.integers(2, 6))):
            cx, r = rng.uniform(0, w), rng.uniform(18, 35) * u
            trunk_w = max(3, int(6 * u))
            img[int(horizon - r) : horizon + int(10 * u), int(cx) : int(cx) + trunk_w] = (95, 65, 35)
            crown = _ellipse(h, w, horizon - 1.6 * r, cx + trunk_w / 2, r, r * 0.9)
            img[crown] = np.array([30, rng.uniform(90, 140), 35], np.float32) * _texture(rng, h, w, 0.1)[crown]
    return img


def _paint_ball(rng, u):
    r = rng.uniform(12, 22) * u
    size = int(2 * r) + 2
    mask = _ellipse(size, size, size / 2, size / 2, r, r)
    yy, xx = _grid(size, size)
    shade = 1.15 - 0.5 * np.hypot(yy - size * 0.35, xx - size * 0.35) / r
    hue = np.zeros(3, np.float32)
    hue[rng.integers(3)] = 230
    hue[rng.integers(3)] += rng.uniform(0, 200)
    return np.clip(hue * shade[..., None] + 20, 0, 255), mask


def _paint_box(rng, u):
    bh, bw = int(rng.uniform(30, 50) * u), int(rng.uniform(32, 56) * u)
    rgb = np.empty((bh, bw, 3), np.float32)
    rgb[:] = (rng.uniform(150, 210), rng.uniform(105, 150), rng.uniform(55, 90))
    edge = max(2, int(2 * u))
    rgb[:edge], rgb[-edge:], rgb[:, :edge], rgb[:, -edge:] = 90, 90, 90, 90
    rgb[:, bw // 2 - edge // 2 : bw // 2 + edge] = (225, 205, 160)
    return rgb, np.ones((bh, bw), bool)


def _paint_vehicle(rng, u):
    bw, bh = int(rng.uniform(85, 120) * u), int(rng.uniform(24, 32) * u)
    wheel = 9 * u
    h, w = int(bh * 1.9 + wheel), bw
    body_top = int(bh * 0.9)
    rgb = np.zeros((h, w, 3), np.float32)
    body = _rect(np.zeros((h, w), bool), body_top, body_top + bh, 0, w)
    cabin = _rect(body, 0, body_top, w * 0.25, w * 0.72)
    rgb[body | cabin] = _color(rng, 30, 240)
    glass = _rect(body, 3 * u, body_top, w * 0.29, w * 0.68)
    rgb[glass] = (150, 190, 215)
    wheels = _ellipse(h, w, body_top + bh, w * 0.22, wheel, wheel) | _ellipse(h, w, body_top + bh, w * 0.78, wheel, wheel)
    rgb[wheels] = 25
    return rgb, body | cabin | wheels


def _paint_person(rng, u):
    tall = rng.uniform(65, 90) * u
    w, h = int(tall * 0.45), int(tall)
    grid = np.zeros((h, w), bool)
    head_r = tall * 0.1
    head = _ellipse(h, w, head_r + 1, w / 2, head_r, head_r)
    torso = _rect(grid, 2 * head_r, h * 0.58, w * 0.28, w * 0.72)
    arms = _rect(grid, 2.3 * head_r, 2.3 * head_r + 3 * u, 0, w)
    legs = _rect(grid, h * 0.58, h, w * 0.3, w * 0.46) | _rect(grid, h * 0.58, h, w * 0.54, w * 0.7)
    rgb = np.zeros((h, w, 3), np.float32)
    rgb[torso | arms] = _color(rng, 30, 240)
    rgb[legs] = _color(rng, 20, 90)
    rgb[head] = (rng.uniform(120, 235), rng.uniform(85, 180), rng.uniform(60, 140))
    return rgb, head | torso | arms | legs


def _paint_animal(rng, u):
    length = rng.uniform(50, 70) * u
    w, h = int(length * 1.25), int(length * 0.75)
    grid = np.zeros((h, w), bool)
    body = _ellipse(h, w, h * 0.42, w * 0.45, h * 0.2, length * 0.4)
    head = _ellipse(h, w, h * 0.22, w * 0.86, h * 0.15, h * 0.17)
    ear = _ellipse(h, w, h * 0.1, w * 0.82, h * 0.09, h * 0.05)
    legs = grid.copy()
    for fx in (0.15, 0.27, 0.6, 0.72):
        legs |= _rect(grid, h * 0.5, h, w * fx, w * fx + 4 * u)
    tail = _rect(grid, h * 0.28, h * 0.33, 0, w * 0.12)
    rgb = np.zeros((h, w, 3), np.float32)
    fur = np.array([(120, 80, 45), (60, 50, 45), (200, 190, 170), (150, 150, 150), (175, 120, 60)][rng.integers(5)])
    rgb[:] = fur * rng.uniform(0.85, 1.15)
    return rgb, body | head | ear | legs | tail


PAINTERS = {"ball": _paint_ball, "box": _paint_box, "vehicle": _paint_vehicle, "person": _paint_person, "animal": _paint_animal}
#: objects that keep to the ground, and those allowed to move vertically (in px/s units of u)
GROUNDED = {"box", "vehicle", "person", "animal"}


def _overlap(a, b) -> float:
    (ax, ay, aw, ah), (bx, by, bw, bh) = a, b
    return max(0.0, min(ax + aw, bx + bw) - max(ax, bx)) * max(0.0, min(ay + ah, by + bh) - max(ay, by))


def free_spot(rng, placed: list, sw: int, sh: int, x_range, y_range, tries: int = 40) -> tuple[float, float]:
    """A position where the sprite covers no placed one (else the least covered): the truth says
    an object is in the picture, so it must not start out hidden behind another."""
    best, best_overlap = None, float("inf")
    for _ in range(tries):
        spot = (rng.uniform(*x_range), rng.uniform(*y_range))
        overlap = sum(_overlap((*spot, sw, sh), other) for other in placed)
        if overlap < best_overlap:
            best, best_overlap = spot, overlap
        if overlap == 0:
            break
    return best


def make_sprites(scene: Scene, rng, h: int, w: int, light) -> list[Sprite]:
    u = h / 240
    sprites, placed = [], []
    movers = set(scene.objects) if scene.moving else set()
    if scene.moving and len(scene.objects) > 1:  # not every object has to move, but one does
        movers = {o for o in scene.objects if rng.random() < 0.7} or {scene.objects[rng.integers(len(scene.objects))]}
    for name in scene.objects:
        rgb, mask = PAINTERS[name](rng, u)
        if name in ("vehicle", "animal") and rng.random() < 0.5:
            rgb, mask = rgb[:, ::-1], mask[:, ::-1]
        sh, sw = mask.shape
        y_low = h * 0.45 if name in GROUNDED else 0.0
        x, y = free_spot(rng, placed, sw, sh, (0, max(1, w - sw)), (y_low, max(y_low + 1, h - sh)))
        placed.append((x, y, sw, sh))
        vx = vy = 0.0
        if name in movers:
            speed = rng.uniform(40, 90) * u
            angle = rng.uniform(-0.35, 0.35) if name in GROUNDED else rng.uniform(0, 2 * np.pi)
            vx, vy = speed * np.cos(angle) * rng.choice([-1, 1]), speed * np.sin(angle)
        lit = np.clip(rgb * light, 0, 255).astype(np.uint8)
        sprites.append(Sprite(np.ascontiguousarray(lit), np.ascontiguousarray(mask), x, y, vx, vy))
    return sprites


def _bounce(pos: float, span: float) -> float:
    """Position after bouncing between 0 and span (a triangle wave)."""
    if span <= 0:
        return 0.0
    pos = pos % (2 * span)
    return pos if pos <= span else 2 * span - pos


def paste(frame: np.ndarray, sprite: Sprite, t: float) -> None:
    h, w = frame.shape[:2]
    sh, sw = sprite.mask.shape
    x = int(_bounce(sprite.x + sprite.vx * t, w - sw))
    y = int(_bounce(sprite.y + sprite.vy * t, h - sh))
    region = frame[y : y + sh, x : x + sw]
    mask = sprite.mask[: region.shape[0], : region.shape[1]]
    np.copyto(region, sprite.rgb[: region.shape[0], : region.shape[1]], where=mask[..., None])


def rain_layer(rng, h: int, w: int) -> np.ndarray:
    """A bool streak mask twice the frame height; rolling it down animates the rain."""
    u = h / 240
    layer = np.zeros((2 * h, w), bool)
    n = int(w * h / 90)
    ys, xs = rng.integers(0, 2 * h, n), rng.integers(0, w, n)
    for step in range(int(9 * u)):
        layer[(ys + step) % (2 * h), (xs + step // 3) % w] = True
    return layer


class SceneRenderer:
    """Renders the frames of one scene at times relative to the scene start."""

    def __init__(self, scene: Scene, rng: np.random.Generator, h: int, w: int):
        if scene.lighting == "night":
            light = INDOOR_NIGHT_TINT if scene.setting == "indoor" else NIGHT_TINT
        else:
            light = np.full(3, rng.uniform(0.9, 1.1), np.float32)
        if scene.weather == "rain":
            light = light * 0.85
        background = paint_background(scene, rng, h, w)
        self.background = np.clip(background * light, 0, 255).astype(np.uint8)
        object_light = light + OBJECT_FILL_LIGHT * (1 - light)
        self.sprites = make_sprites(scene, rng, h, w, object_light)
        self.rain = rain_layer(rng, h, w) if scene.weather == "rain" else None
        self.rain_speed = rng.uniform(300, 450) * h / 240
        self.noise = rng.normal(0, 2.5, (4, h, w, 1)).astype(np.int16)

    def frame(self, t: float, index: int) -> np.ndarray:
        frame = self.background.copy()
        for sprite in self.sprites:
            paste(frame, sprite, t)
        if self.rain is not None:
            h = frame.shape[0]
            offset = int(t * self.rain_speed) % h
            streaks = self.rain[h - offset : 2 * h - offset]
            frame[streaks] = frame[streaks] // 3 + 150
        noisy = frame.astype(np.int16) + self.noise[index % len(self.noise)]
        return np.clip(noisy, 0, 255).astype(np.uint8)
