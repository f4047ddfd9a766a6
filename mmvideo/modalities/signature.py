"""The signature modality: a 64-bit difference hash (dHash) of every sampled frame, for near-duplicate search.

dHash (Krawetz): the frame in grey, shrunk to 9x8, one bit per pair of horizontal neighbours (left brighter
than right). Re-encoding, resizing and other audio leave it within a few bits; other pictures differ in about
half. Flat frames (black or blank: grey standard deviation below ``FLAT_STD``) carry no signature (hash 0), so
clips that share only a black intro never look alike. No fusion token: the column ``frame_hashes`` (one uint64 per
sampled frame of the segment, in time order) is read by ``mmvideo duplicates``. Costs microseconds a frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from mmvideo.modalities.base import Modality, ModalityStream, concat_items
from mmvideo.modalities.pooling import item_segments
from mmvideo.records import FrameChunk, ItemEvidence, MediaInfo
from mmvideo.segment import Segment

FLAT_STD = 6.0  # grey levels (0-255): below this a frame is flat (black, blank) and has no signature
_BITS = (1 << np.arange(64, dtype=np.uint64)).astype(np.uint64)


def dhash(frames: np.ndarray) -> np.ndarray:
    """(N,) uint64 difference hashes of (N, H, W, 3) uint8 RGB frames (H, W >= 9); 0 for flat frames."""
    import cv2

    out = np.zeros(len(frames), dtype=np.uint64)
    for i, frame in enumerate(frames):
        grey = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
        if float(grey.std()) < FLAT_STD:
            continue
        small = cv2.resize(grey, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
        bits = (small[:, :-1] > small[:, 1:]).reshape(-1)  # (64,)
        out[i] = np.bitwise_or.reduce(np.where(bits, _BITS, np.uint64(0)))
    return out


def split(hashes: np.ndarray) -> np.ndarray:
    """(N,) uint64 -> (N, 4) float32 16-bit parts (evidence ``values`` are float32, exact below 2**24)."""
    parts = [(hashes >> np.uint64(16 * k)) & np.uint64(0xFFFF) for k in range(4)]
    return np.stack(parts, axis=1).astype(np.float32)


def join(parts: np.ndarray) -> np.ndarray:
    """Inverse of ``split``: (N, 4) float32 -> (N,) uint64."""
    p = np.asarray(parts).astype(np.uint64)
    return p[:, 0] | (p[:, 1] << np.uint64(16)) | (p[:, 2] << np.uint64(32)) | (p[:, 3] << np.uint64(48))


class SignatureModality(Modality):
    """Frames -> one dHash each; the segment's column lists them in time order."""

    name = "signature"
    feed = "frames"
    fuses = False

    def start(self, path: str, info: MediaInfo) -> ModalityStream | None:
        return _SignatureStream() if info.video is not None else None

    def pool(self, items: ItemEvidence, segments: Sequence[Segment]) -> list[np.ndarray | None]:
        out: list[np.ndarray | None] = [None] * len(segments)
        if len(items) == 0:
            return out
        seg = item_segments(items, segments)
        hashes = join(items.values)
        for k in range(len(segments)):
            sel = seg == k
            if sel.any():
                out[k] = hashes[sel]
        return out

    def columns(self) -> list[tuple[str, pa.DataType]]:
        return [("frame_hashes", pa.list_(pa.uint64()))]

    def row(self, pooled: np.ndarray | None, token: np.ndarray | None) -> dict[str, Any]:
        return {"frame_hashes": None if pooled is None else [int(h) for h in pooled]}


class _SignatureStream(ModalityStream):
    def __init__(self) -> None:
        self.parts: list[ItemEvidence] = []

    def push(self, chunk: FrameChunk) -> None:
        t = np.asarray(chunk.timestamps, dtype=np.float64)
        self.parts.append(ItemEvidence("signature", t, t, values=split(dhash(chunk.frames))))

    def finish(self) -> ItemEvidence:
        return concat_items("signature", self.parts)
