"""MTCNN's cascade around the three networks: image pyramid -> P-Net proposals -> R-Net refinement
-> O-Net output, with box regression, squaring and non-maximum suppression between the stages.

Our own code, following the maths of facenet-pytorch 2.6.0's `models/utils/detect_face.py`
(MIT, Copyright (c) 2019 Timothy Esler), itself a port of the MIT-licensed original MTCNN
(Zhang et al. 2016, via davidsandberg/facenet): the same pyramid (first scale 12 / min_face, then
x0.709 while the shorter side is >= 12 px), the same box arithmetic (which edges get a +1), the
same stage thresholds (>= for P-Net, > for R-Net and O-Net) and the same suppressions (IoU 0.5 per
pyramid level, 0.7 per frame after P-Net and R-Net, "Min" overlap 0.7 after O-Net). Differences:
NMS is numpy here (no torchvision), one NMS per frame rather than torchvision's coordinate-offset
trick (which lets boxes with negative coordinates of neighbouring frames overlap), and a
candidate whose crop lies wholly outside the frame is dropped with its box (the original skipped
the crop only, misaligning the boxes after it).

Frames of one call must share a size (one video's frames do): P-Net runs once per pyramid level on
all of them, and the R-Net and O-Net crops of all frames go through in batches of `crop_batch`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn.functional import adaptive_avg_pool2d

CELL, STRIDE = 12, 2  # P-Net sees 12x12 windows at stride 2


@dataclass(frozen=True)
class Cascade:
    """The detector's settings, as written in the artifact's manifest (`detector`)."""

    min_face: int = 20  # smallest face searched for, px of the frame given
    factor: float = 0.709  # pyramid step
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)  # P-Net, R-Net, O-Net
    crop_batch: int = 512  # crops per R-Net / O-Net forward pass

    def as_dict(self) -> dict:
        return {"min_face": self.min_face, "factor": self.factor, "thresholds": list(self.thresholds),
                "crop_batch": self.crop_batch}


@dataclass
class Faces:
    """One frame's faces, by decreasing probability: boxes [n, 4] (x0, y0, x1, y1 in pixels),
    probabilities [n], landmarks [n, 5, 2] (eyes, nose, mouth corners as x, y pixels)."""

    boxes: np.ndarray
    probs: np.ndarray
    landmarks: np.ndarray


def scales(height: int, width: int, min_face: int, factor: float) -> list[float]:
    """The pyramid: scale 12 / min_face makes a min_face face P-Net's 12-px window; each next level
    is `factor` smaller, down to a shorter side of 12 px."""
    scale = CELL / min_face
    side = min(height, width) * scale
    found = []
    while side >= CELL:
        found.append(scale)
        scale *= factor
        side *= factor
    return found


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str = "union", plus_one: float = 0.0) -> np.ndarray:
    """Greedy non-maximum suppression: indices kept, by decreasing score. `mode` "union" is IoU,
    "min" divides the intersection by the smaller area; `plus_one` 1 counts pixels inclusively (the
    original's final stage), 0 as torchvision does."""
    x0, y0, x1, y1 = (boxes[:, k] for k in range(4))
    area = (x1 - x0 + plus_one) * (y1 - y0 + plus_one)
    order = np.argsort(-scores, kind="stable")
    keep = []
    with np.errstate(divide="ignore", invalid="ignore"):
        while order.size:
            i, rest = order[0], order[1:]
            keep.append(i)
            iw = np.maximum(0.0, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]) + plus_one)
            ih = np.maximum(0.0, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]) + plus_one)
            inter = iw * ih
            denom = np.minimum(area[i], area[rest]) if mode == "min" else area[i] + area[rest] - inter
            order = rest[~(inter / denom > threshold)]  # a NaN overlap (empty boxes) suppresses nothing
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, frames: torch.Tensor, threshold: float,
                mode: str = "union", plus_one: float = 0.0) -> torch.Tensor:
    """`nms` within each frame; the kept indices of all frames by decreasing score."""
    if boxes.shape[0] == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    b = boxes.detach().cpu().numpy()
    s = scores.detach().cpu().numpy()
    f = frames.cpu().numpy()
    kept = []
    for frame in np.unique(f):
        idx = np.flatnonzero(f == frame)
        kept.append(idx[nms(b[idx], s[idx], threshold, mode, plus_one)])
    keep = np.concatenate(kept)
    keep = keep[np.argsort(-s[keep], kind="stable")]
    return torch.from_numpy(keep).to(boxes.device)


def square(boxes: torch.Tensor) -> torch.Tensor:
    """Boxes grown to squares about their centres (the original's `rerec`); the score column kept."""
    out = boxes.clone()
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    side = torch.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def regress(boxes: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    """R-Net / O-Net box regression (the original's `bbreg`): offsets in units of the inclusive
    width and height."""
    out = boxes.clone()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    out[:, :4] = boxes[:, :4] + reg * torch.stack([w, h, w, h], dim=1)
    return out


def proposals(reg: torch.Tensor, prob: torch.Tensor, scale: float, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """P-Net cells at or above `threshold` as boxes in frame pixels: [n, 9] = x0, y0, x1, y1, score,
    4 regression offsets; and the frame index of each (the original's `generateBoundingBox`)."""
    mask = prob >= threshold
    where = mask.nonzero()
    cells = where[:, 1:].to(reg.dtype).flip(1)  # (x, y) of each cell
    top_left = ((STRIDE * cells + 1) / scale).floor()
    bottom_right = ((STRIDE * cells + CELL) / scale).floor()
    offsets = reg.permute(1, 0, 2, 3)[:, mask].permute(1, 0)
    return torch.cat([top_left, bottom_right, prob[mask].unsqueeze(1), offsets], dim=1), where[:, 0]


def stage_one(images: torch.Tensor, pnet, cascade: Cascade) -> tuple[torch.Tensor, torch.Tensor]:
    """Square candidate boxes [n, 5] (with P-Net's score) and their frame indices."""
    _, _, height, width = images.shape
    boxes, frames = [], []
    for scale in scales(height, width, cascade.min_face, cascade.factor):
        level = adaptive_avg_pool2d(images, (int(height * scale + 1), int(width * scale + 1)))  # = "area" resize
        reg, prob = pnet(level)
        found, found_frames = proposals(reg, prob, scale, cascade.thresholds[0])
        keep = batched_nms(found[:, :4], found[:, 4], found_frames, 0.5)
        boxes.append(found[keep])
        frames.append(found_frames[keep])
    if not boxes:  # smaller than one face: no pyramid at all
        return images.new_zeros((0, 5)), torch.zeros(0, dtype=torch.long, device=images.device)
    boxes, frames = torch.cat(boxes), torch.cat(frames)
    keep = batched_nms(boxes[:, :4], boxes[:, 4], frames, 0.7)
    boxes, frames = boxes[keep], frames[keep]
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    shifted = boxes[:, :4] + boxes[:, 5:9] * torch.stack([w, h, w, h], dim=1)
    return square(torch.cat([shifted, boxes[:, 4:5]], dim=1)), frames


def crops(images: torch.Tensor, boxes: torch.Tensor, frames: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each box's pixels, clipped to the frame (the original's `pad`: whole pixels, 1-based) and
    area-resized to size x size; and a mask of the boxes with any pixel in the frame. One pooling
    call per box: on CPU this beat gathering every box at once from a summed-area table (36 us a
    box against 100, measured)."""
    height, width = images.shape[2:]
    b = boxes[:, :4].trunc().int().cpu().numpy()
    x0, y0 = np.maximum(b[:, 0], 1), np.maximum(b[:, 1], 1)
    x1, y1 = np.minimum(b[:, 2], width), np.minimum(b[:, 3], height)
    inside = (y1 > y0 - 1) & (x1 > x0 - 1)
    f = frames.cpu().numpy()
    out = [adaptive_avg_pool2d(images[f[k]:f[k] + 1, :, y0[k] - 1:y1[k], x0[k] - 1:x1[k]], (size, size))
           for k in np.flatnonzero(inside)]
    data = torch.cat(out) if out else images.new_zeros((0, 3, size, size))
    return data, torch.from_numpy(inside).to(boxes.device)


def batched(net, data: torch.Tensor, size: int) -> tuple[torch.Tensor, ...]:
    """`net` over `data` in chunks of at most `size` (bounded memory whatever the candidate count)."""
    parts = [net(data[i:i + size]) for i in range(0, data.shape[0], size)]
    return tuple(torch.cat(outputs) for outputs in zip(*parts, strict=True))


def stage_two(images, boxes, frames, rnet, cascade: Cascade) -> tuple[torch.Tensor, torch.Tensor]:
    """R-Net's verdict on 24x24 crops: boxes it keeps [n, 5] (with its score), regressed and squared."""
    data, inside = crops(images, boxes, frames, 24)
    boxes, frames = boxes[inside], frames[inside]
    if not boxes.shape[0]:
        return boxes, frames
    reg, prob = batched(rnet, data, cascade.crop_batch)
    passed = prob > cascade.thresholds[1]
    boxes = torch.cat([boxes[passed, :4], prob[passed].unsqueeze(1)], dim=1)
    frames, reg = frames[passed], reg[passed]
    keep = batched_nms(boxes[:, :4], boxes[:, 4], frames, 0.7)
    return square(regress(boxes[keep], reg[keep])), frames[keep]


def stage_three(images, boxes, frames, onet, cascade: Cascade) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """O-Net's verdict on 48x48 crops: final boxes [n, 5], landmarks [n, 5, 2], frame indices."""
    data, inside = crops(images, boxes, frames, 48)
    boxes, frames = boxes[inside], frames[inside]
    if not boxes.shape[0]:
        return boxes, boxes.new_zeros((0, 5, 2)), frames
    reg, marks, prob = batched(onet, data, cascade.crop_batch)
    passed = prob > cascade.thresholds[2]
    boxes = torch.cat([boxes[passed, :4], prob[passed].unsqueeze(1)], dim=1)
    frames, reg, marks = frames[passed], reg[passed], marks[passed]
    w = (boxes[:, 2] - boxes[:, 0] + 1).unsqueeze(1)
    h = (boxes[:, 3] - boxes[:, 1] + 1).unsqueeze(1)
    points = torch.stack([w * marks[:, :5] + boxes[:, 0:1] - 1, h * marks[:, 5:] + boxes[:, 1:2] - 1], dim=2)
    boxes = regress(boxes, reg)
    keep = batched_nms(boxes[:, :4], boxes[:, 4], frames, 0.7, mode="min", plus_one=1.0)
    return boxes[keep], points[keep], frames[keep]


@torch.inference_mode()
def detect(images: torch.Tensor, pnet, rnet, onet, cascade: Cascade = Cascade()) -> list[Faces]:
    """Faces in each of `images` (float [B, 3, H, W], RGB 0..255, on the nets' device)."""
    boxes, frames = stage_one(images, pnet, cascade)
    if boxes.shape[0]:
        boxes, frames = stage_two(images, boxes, frames, rnet, cascade)
    points = boxes.new_zeros((0, 5, 2))
    if boxes.shape[0]:
        boxes, points, frames = stage_three(images, boxes, frames, onet, cascade)
    boxes, points, frames = boxes.float().cpu().numpy(), points.float().cpu().numpy(), frames.cpu().numpy()
    return [Faces(boxes[frames == i, :4], boxes[frames == i, 4], points[frames == i]) for i in range(images.shape[0])]
