"""Faces per frame with MediaPipe BlazeFace (LiteRT): how many, how sure, where.

BlazeFace is an SSD: the frame is letterboxed to the model's square input in [-1, 1], every anchor predicts
a face score and a box offset, and overlapping boxes are merged by MediaPipe's weighted non-maximum
suppression. Anchors, decoding and NMS follow MediaPipe's ``face_detection_*_range_common.pbtxt``
(``SsdAnchorsCalculator``, ``TensorsToDetectionsCalculator``, ``NonMaxSuppressionCalculator``) in numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mmvideo.arrays import check_rgb_frames
from mmvideo.errors import ParameterError

MODEL = "blazeface"
MIN_SCORE = 0.5  # MediaPipe's min_score_thresh for both variants
NMS_IOU = 0.3  # MediaPipe's min_suppression_threshold
_RAW_SCORE_CLIP = 80.0  # MediaPipe clips at +-100; exp(100) overflows float32


@dataclass(frozen=True)
class Variant:
    """One BlazeFace model: its file, square input size and SSD anchor layout."""

    file: str
    size: int
    strides: tuple[int, ...]
    anchors_per_cell: tuple[int, ...]  # per distinct stride, in order


VARIANTS: dict[str, Variant] = {
    # faces within ~2 m of the camera (selfie, talking head): 128x128, 896 anchors
    "short": Variant("face_detection_short_range.tflite", 128, (8, 16), (2, 6)),
    # faces within ~5 m (wide shots, small faces): 192x192, 2304 anchors
    "full": Variant("face_detection_full_range.tflite", 192, (4,), (1,)),
}
DEFAULT_VARIANT = "full"


@dataclass(frozen=True)
class Face:
    """One detected face: ``box`` (x0, y0, x1, y1) in [0, 1] of the frame's width/height, ``score`` in [0, 1]."""

    box: tuple[float, float, float, float]
    score: float


def anchors(variant: Variant) -> np.ndarray:
    """(A, 2) float32 anchor centres (x, y) in [0, 1], in the model's output order (fixed-size anchors)."""
    out = []
    for stride, repeats in zip(variant.strides, variant.anchors_per_cell):
        n = variant.size // stride
        centres = (np.arange(n, dtype=np.float32) + 0.5) / n
        yy, xx = np.meshgrid(centres, centres, indexing="ij")
        grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
        out.append(np.repeat(grid, repeats, axis=0))
    return np.concatenate(out).astype(np.float32)


def check_frames(frames: np.ndarray) -> np.ndarray:
    """``frames`` unchanged; ``ParameterError`` unless (N, H, W, 3) uint8 RGB of at least 2x2 pixels."""
    return check_rgb_frames(frames, min_side=2)


def letterbox(frame: np.ndarray, size: int) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """(size, size, 3) float32 in [-1, 1] with the frame scaled to fit and centred on black (-1), plus
    (x_offset, y_offset, x_scale, y_scale): the frame's place in the square, as fractions of ``size``."""
    import cv2

    h, w = frame.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(frame, (nw, nh), interpolation=interp)
    out = np.full((size, size, 3), -1.0, dtype=np.float32)
    x0, y0 = (size - nw) // 2, (size - nh) // 2
    out[y0:y0 + nh, x0:x0 + nw] = resized.astype(np.float32) / 127.5 - 1.0
    return out, (x0 / size, y0 / size, nw / size, nh / size)


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchor_xy: np.ndarray, size: int,
           min_score: float = MIN_SCORE) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (K, 4) x0, y0, x1, y1 in the model's [0, 1] square and scores (K,) above ``min_score``.

    raw_boxes (A, 16): dx, dy, w, h (+ 6 keypoints) in input pixels relative to each anchor centre;
    raw_scores (A,) logits.
    """
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores, -_RAW_SCORE_CLIP, _RAW_SCORE_CLIP)))
    keep = scores >= min_score
    reg = raw_boxes[keep, :4] / size
    centre = reg[:, :2] + anchor_xy[keep]
    half = reg[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return boxes[valid], scores[keep][valid]


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one (4,) box with each of (K, 4) boxes (x0, y0, x1, y1)."""
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float = NMS_IOU) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's weighted NMS: each cluster (IoU > threshold with its best box) becomes the
    score-weighted mean box, scored by its best member. Returns [(box (4,), score), ...] best first."""
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    out = []
    remaining = np.arange(len(scores))
    while remaining.size:
        top = remaining[0]
        overlap = iou(boxes[top], boxes[remaining]) > threshold
        overlap[0] = True
        members = remaining[overlap]
        w = scores[members][:, None]
        out.append(((boxes[members] * w).sum(axis=0) / w.sum(), float(scores[top])))
        remaining = remaining[~overlap]
    return out


class FaceDetector:
    """BlazeFace on LiteRT: ``detector(frames) -> [[Face, ...] per frame]``.

    ``variant`` "full" (default: faces down to ~8% of the frame width, wide shots included) or "short"
    (3x cheaper, faces above ~20% of the frame width only). ``model_path`` overrides the store.
    """

    def __init__(self, variant: str = DEFAULT_VARIANT, *, min_score: float = MIN_SCORE,
                 model_path: Path | str | None = None, num_threads: int | None = None) -> None:
        if variant not in VARIANTS:
            raise ParameterError(f"variant must be one of {sorted(VARIANTS)}; Received: variant={variant!r}")
        if not 0.0 < min_score < 1.0:
            raise ParameterError(f"min_score must be in (0, 1); Received: min_score={min_score}")
        from ai_edge_litert.interpreter import Interpreter  # heavy: only when a detector is built

        self.variant = VARIANTS[variant]
        self.variant_name = variant
        self.min_score = min_score
        if model_path is None:
            from mmvideo.models.store import model_path as store_path

            model_path = store_path(MODEL, self.variant.file)
        self._interpreter: Any = Interpreter(model_path=str(model_path), num_threads=num_threads)
        self._interpreter.allocate_tensors()
        inp = self._interpreter.get_input_details()[0]
        if tuple(inp["shape"][1:]) != (self.variant.size, self.variant.size, 3):
            raise ParameterError(f"{model_path} takes {tuple(inp['shape'])}, not a {variant} BlazeFace input")
        self._input = inp["index"]
        outs = sorted(self._interpreter.get_output_details(), key=lambda d: -int(d["shape"][-1]))
        self._boxes, self._scores = outs[0]["index"], outs[1]["index"]  # (1, A, 16), (1, A, 1)
        self._anchors = anchors(self.variant)
        if int(outs[0]["shape"][1]) != self._anchors.shape[0]:
            raise ParameterError(f"{model_path}: {outs[0]['shape'][1]} anchors, expected {self._anchors.shape[0]}")

    def __call__(self, frames: np.ndarray) -> list[list[Face]]:
        """Faces of each (N, H, W, 3) uint8 RGB frame, best first; boxes in [0, 1] of the frame."""
        frames = check_frames(frames)
        return [self._detect(frame) for frame in frames]

    def _detect(self, frame: np.ndarray) -> list[Face]:
        size = self.variant.size
        tensor, (ox, oy, sx, sy) = letterbox(frame, size)
        self._interpreter.set_tensor(self._input, tensor[None])
        self._interpreter.invoke()
        raw_boxes = self._interpreter.get_tensor(self._boxes)[0]
        raw_scores = self._interpreter.get_tensor(self._scores)[0, :, 0]
        boxes, scores = decode(raw_boxes, raw_scores, self._anchors, size, self.min_score)
        faces = []
        for box, score in weighted_nms(boxes, scores):
            x0, x1 = (np.array([box[0], box[2]]) - ox) / sx  # undo the letterbox
            y0, y1 = (np.array([box[1], box[3]]) - oy) / sy
            clipped = np.clip([x0, y0, x1, y1], 0.0, 1.0)
            if clipped[2] > clipped[0] and clipped[3] > clipped[1]:
                faces.append(Face(tuple(float(v) for v in clipped), score))
        return faces


_DETECTORS: dict[str, FaceDetector] = {}


def detect_faces(frames: np.ndarray, *, variant: str = DEFAULT_VARIANT) -> list[list[Face]]:
    """Faces of each (N, H, W, 3) uint8 RGB frame (a :class:`Face` per face, best first).

    The detector is built once per variant and process (model from the store).
    """
    detector = _DETECTORS.get(variant)
    if detector is None:
        detector = _DETECTORS[variant] = FaceDetector(variant)
    return detector(frames)


def face_summary(faces: Sequence[Sequence[Face]]) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: (N,) int32 face count and (N,) float32 highest face score (0 where no face)."""
    counts = np.array([len(f) for f in faces], dtype=np.int32)
    best = np.array([max((x.score for x in f), default=0.0) for f in faces], dtype=np.float32)
    return counts, best
