"""On-screen text with PaddleOCR PP-OCRv4 (ONNX Runtime): find text lines (DB), then read each (CTC).

Detection: the frame (BGR, as PaddleOCR was trained) is shrunk so its longer side is at most ``det_side``
and both sides are multiples of 32, the model gives a per-pixel text probability, and each connected region above
``det_thresh`` becomes a rotated rectangle, kept when its mean probability reaches ``box_thresh`` and
grown by DB's "unclip" distance (area x ``unclip_ratio`` / perimeter). For a rectangle the polygon
offset that PaddleOCR does with pyclipper, followed by its minimum-area rectangle, is exactly the
rectangle grown by that distance on each side, so no clipping library is needed. Recognition: each line
is straightened, scaled to 48 px high and decoded greedily (CTC) with the dictionary stored in the
model's metadata. Parameters follow PaddleOCR / RapidOCR defaults.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from mmvideo.arrays import check_rgb_frames
from mmvideo.errors import ParameterError
from mmvideo.records import Cue, FrameChunk

MODEL = "ppocr_v4"
SOURCE = "ocr"
REC_HEIGHT = 48
REC_MIN_WIDTH = 320  # PaddleOCR pads batches to at least 320 px (aspect 6.67)
REC_BATCH = 6


class TextLine(NamedTuple):
    """One line of text: ``box`` (x0, y0, x1, y1) in [0, 1] of the frame, ``score`` in [0, 1]."""

    text: str
    score: float
    box: tuple[float, float, float, float]


def check_frames(frames: np.ndarray) -> np.ndarray:
    """``frames`` unchanged; ``ParameterError`` unless (N, H, W, 3) uint8 RGB of at least 8x8 pixels."""
    return check_rgb_frames(frames, min_side=8)


def order_corners(pts: np.ndarray) -> np.ndarray:
    """(4, 2) corners as top-left, top-right, bottom-right, bottom-left."""
    by_x = pts[np.argsort(pts[:, 0], kind="stable")]
    left = by_x[:2][np.argsort(by_x[:2, 1], kind="stable")]
    right = by_x[2:][np.argsort(by_x[2:, 1], kind="stable")]
    return np.array([left[0], right[0], right[1], left[1]], dtype=np.float32)


def ctc_greedy(probs: np.ndarray, charset: list[str]) -> list[tuple[str, float]]:
    """(N, T, C) softmax outputs -> [(text, mean probability of its characters)] (index 0 is the blank)."""
    best = probs.argmax(axis=2)
    conf = probs.max(axis=2)
    out = []
    for idx, p in zip(best, conf):
        keep = idx != 0
        keep[1:] &= idx[1:] != idx[:-1]
        text = "".join(charset[i] for i in idx[keep])
        out.append((text, float(p[keep].mean()) if keep.any() else 0.0))
    return out


class TextReader:
    """PP-OCRv4 detection + recognition: ``reader(frames) -> [[TextLine, ...] per frame]`` in reading order."""

    def __init__(self, *, det_side: int = 960, det_thresh: float = 0.3, box_thresh: float = 0.5,
                 unclip_ratio: float = 1.6, min_score: float = 0.5, model_dir: Path | str | None = None,
                 num_threads: int = 0) -> None:
        import onnxruntime as ort  # heavy: only when a reader is built

        if det_side < 32 or det_side % 32:
            raise ParameterError(f"det_side must be a positive multiple of 32; Received: det_side={det_side}")
        for name, v in (("det_thresh", det_thresh), ("box_thresh", box_thresh), ("min_score", min_score)):
            if not 0.0 <= v < 1.0:
                raise ParameterError(f"{name} must be in [0, 1); Received: {name}={v}")
        if unclip_ratio <= 0:
            raise ParameterError(f"unclip_ratio must be > 0; Received: unclip_ratio={unclip_ratio}")
        self.det_side, self.det_thresh, self.box_thresh = det_side, det_thresh, box_thresh
        self.unclip_ratio, self.min_score = unclip_ratio, min_score
        if model_dir is None:
            from mmvideo.models.store import model_path

            det_path, rec_path = model_path(MODEL, "det.onnx"), model_path(MODEL, "rec.onnx")
        else:
            det_path, rec_path = Path(model_dir) / "det.onnx", Path(model_dir) / "rec.onnx"
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = num_threads
        providers = ["CPUExecutionProvider"]
        self._det: Any = ort.InferenceSession(str(det_path), sess_options=opts, providers=providers)
        self._rec: Any = ort.InferenceSession(str(rec_path), sess_options=opts, providers=providers)
        chars = self._rec.get_modelmeta().custom_metadata_map.get("character", "").splitlines()
        self.charset = ["<blank>", *chars, " "]
        n_classes = self._rec.get_outputs()[0].shape[-1]
        if len(self.charset) != n_classes:
            raise ParameterError(f"{rec_path}: dictionary has {len(self.charset)} symbols, model {n_classes}")

    def __call__(self, frames: np.ndarray) -> list[list[TextLine]]:
        """Text lines of each (N, H, W, 3) uint8 RGB frame, top to bottom, left to right."""
        frames = check_frames(frames)
        return [self._read(np.ascontiguousarray(frame[:, :, ::-1])) for frame in frames]

    # ------------------------------------------------------------------------------------ detection

    def detect(self, bgr: np.ndarray) -> list[np.ndarray]:
        """(4, 2) float32 corner arrays (tl, tr, br, bl) in pixels of the (H, W, 3) uint8 BGR image."""
        import cv2

        h, w = bgr.shape[:2]
        scale = min(1.0, self.det_side / max(h, w))  # shrink large frames only, as PaddleOCR does
        rh, rw = (max(32, int(round(v * scale / 32)) * 32) for v in (h, w))
        x = cv2.resize(bgr, (rw, rh)).astype(np.float32) / 127.5 - 1.0  # (x / 255 - 0.5) / 0.5
        pred = self._det.run(None, {"x": x.transpose(2, 0, 1)[None]})[0][0, 0]  # (rh, rw) in [0, 1]
        mask = cv2.dilate((pred > self.det_thresh).astype(np.uint8), np.ones((2, 2), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        sx, sy = w / rw, h / rh
        boxes = []
        for contour in contours[:1000]:
            (cx, cy), (bw, bh), angle = cv2.minAreaRect(contour)
            if min(bw, bh) < 3:
                continue
            corners = cv2.boxPoints(((cx, cy), (bw, bh), angle))
            if self._box_score(pred, corners) < self.box_thresh:
                continue
            grow = bw * bh * self.unclip_ratio / (2 * (bw + bh))  # DB unclip distance
            if min(bw, bh) + 2 * grow < 5:
                continue
            corners = cv2.boxPoints(((cx, cy), (bw + 2 * grow, bh + 2 * grow), angle))
            corners[:, 0] = np.clip(corners[:, 0] * sx, 0, w - 1)
            corners[:, 1] = np.clip(corners[:, 1] * sy, 0, h - 1)
            boxes.append(order_corners(corners))
        return boxes

    @staticmethod
    def _box_score(pred: np.ndarray, corners: np.ndarray) -> float:
        """Mean text probability inside the polygon ``corners`` (DB's "fast" box score)."""
        import cv2

        h, w = pred.shape
        x0, x1 = (int(np.clip(f(corners[:, 0]), 0, w - 1)) for f in (np.min, np.max))
        y0, y1 = (int(np.clip(f(corners[:, 1]), 0, h - 1)) for f in (np.min, np.max))
        mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
        cv2.fillPoly(mask, [np.round(corners - [x0, y0]).astype(np.int32)], 1)
        return float(cv2.mean(pred[y0:y1 + 1, x0:x1 + 1], mask)[0])

    # ---------------------------------------------------------------------------------- recognition

    @staticmethod
    def crop(bgr: np.ndarray, corners: np.ndarray) -> np.ndarray:
        """The quadrilateral ``corners`` (tl, tr, br, bl) warped upright; tall crops turned to lie flat."""
        import cv2

        cw = int(max(np.linalg.norm(corners[0] - corners[1]), np.linalg.norm(corners[2] - corners[3])))
        ch = int(max(np.linalg.norm(corners[0] - corners[3]), np.linalg.norm(corners[1] - corners[2])))
        cw, ch = max(cw, 1), max(ch, 1)
        target = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], np.float32)
        matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
        out = cv2.warpPerspective(bgr, matrix, (cw, ch), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)
        return np.rot90(out) if ch / cw >= 1.5 else out

    def recognise(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """(text, score) of each (h, w, 3) uint8 BGR line image; batched by similar aspect ratio."""
        import cv2

        results: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        order = np.argsort([c.shape[1] / c.shape[0] for c in crops], kind="stable")
        for b in range(0, len(order), REC_BATCH):
            idx = order[b:b + REC_BATCH]
            ratios = [crops[i].shape[1] / crops[i].shape[0] for i in idx]
            width = int(REC_HEIGHT * max(REC_MIN_WIDTH / REC_HEIGHT, *ratios))
            batch = np.zeros((len(idx), 3, REC_HEIGHT, width), np.float32)
            for k, (i, r) in enumerate(zip(idx, ratios)):
                rw = min(width, int(np.ceil(REC_HEIGHT * r)))
                line = cv2.resize(crops[i], (rw, REC_HEIGHT)).astype(np.float32) / 127.5 - 1.0
                batch[k, :, :, :rw] = line.transpose(2, 0, 1)
            probs = self._rec.run(None, {"x": batch})[0]
            for i, res in zip(idx, ctc_greedy(probs, self.charset)):
                results[i] = res
        return results

    def _read(self, bgr: np.ndarray) -> list[TextLine]:
        boxes = self.detect(bgr)
        if not boxes:
            return []
        h, w = bgr.shape[:2]
        lines = []
        for corners, (text, score) in zip(boxes, self.recognise([self.crop(bgr, c) for c in boxes])):
            text = " ".join(text.split())
            if text and score >= self.min_score:
                x0, y0 = corners.min(axis=0)
                x1, y1 = corners.max(axis=0)
                lines.append(TextLine(text, score, (float(x0 / w), float(y0 / h), float(x1 / w), float(y1 / h))))
        return reading_order(lines)


def reading_order(lines: list[TextLine]) -> list[TextLine]:
    """Lines top to bottom; lines whose vertical centres are within half a line height, left to right."""
    lines = sorted(lines, key=lambda t: (t.box[1] + t.box[3]) / 2)
    rows: list[list[TextLine]] = []
    for line in lines:
        cy, hh = (line.box[1] + line.box[3]) / 2, (line.box[3] - line.box[1]) / 2
        if rows:
            last = rows[-1][-1]
            if abs(cy - (last.box[1] + last.box[3]) / 2) <= max(hh, (last.box[3] - last.box[1]) / 2):
                rows[-1].append(line)
                continue
        rows.append([line])
    return [t for row in rows for t in sorted(row, key=lambda t: t.box[0])]


_READER: TextReader | None = None


def read_text(frames: np.ndarray) -> list[list[TextLine]]:
    """Text lines ``(text, score, box)`` of each (N, H, W, 3) uint8 RGB frame, in reading order.

    ``box`` is (x0, y0, x1, y1) in [0, 1] of the frame. The reader is built once per process.
    """
    global _READER
    if _READER is None:
        _READER = TextReader()
    return _READER(frames)


def _same_text(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def ocr_cues(chunks: Iterable[FrameChunk], *, every: float = 3.0, reader: TextReader | None = None) -> list[Cue]:
    """Cues (source "ocr") of the text on screen, reading the first frame of each ``every``-second bin.

    Bins count from 0 s, as :func:`mmvideo.media.frames.iter_frames` samples, so frames it samples at
    ``fps = 1 / every`` are all read even when their times jitter around the bin edges. Each cue is a
    frame's lines joined by newlines; it starts at the first frame read that shows it and ends at the first
    frame read that does not (case and spacing aside; one changed character, a new score on a scoreboard,
    is a new cue), or one frame step after the last frame of the stream.
    """
    if every <= 0:
        raise ParameterError(f"every must be > 0 s; Received: every={every}")
    reader = reader if reader is not None else TextReader()
    cues: list[Cue] = []
    open_cue: tuple[float, str] | None = None  # (start, text) of the text on screen
    last_bin: int | None = None
    last_t: float | None = None
    step = 0.0
    for chunk in chunks:
        ts = np.asarray(chunk.timestamps, dtype=np.float64)
        for i, t in enumerate(ts):
            t = float(t)
            if last_t is not None:
                step = t - last_t
            last_t = t
            bin_ = math.floor(t / every + 1e-9)
            if last_bin is not None and bin_ <= last_bin:
                continue
            last_bin = bin_
            lines = reader(chunk.frames[i:i + 1])[0]
            text = "\n".join(line.text for line in lines)
            if open_cue is not None and text and _same_text(open_cue[1], text):
                continue
            if open_cue is not None:
                cues.append(Cue(open_cue[0], t, open_cue[1], None, SOURCE))
            open_cue = (t, text) if text else None
    if open_cue is not None and last_t is not None:
        cues.append(Cue(open_cue[0], max(last_t + step, open_cue[0]), open_cue[1], None, SOURCE))
    return cues
