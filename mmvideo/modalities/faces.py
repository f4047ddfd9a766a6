"""The faces modality: BlazeFace on the shared frame decode (every other second) -> people in the picture.

ImageNet has no person class, so faces are the picture's evidence of people: the token is the embedding of
``face_text`` ("person"; the vocabulary's own tag of that label when it has one) scaled by the best face
confidence of the segment. Faces change slowly and the detector is the costliest per-frame model after the
image encoder, so it looks at ``FACE_FPS`` frames per second of video.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from mmvideo.config import RunConfig
from mmvideo.fuse import tokens
from mmvideo.modalities.base import FusionContext, LoadContext, Modality, ModalityStream, concat_items
from mmvideo.modalities.pooling import item_segments
from mmvideo.records import FrameChunk, ItemEvidence, MediaInfo
from mmvideo.segment import Segment

FACE_FPS = 0.5  # face detection rate (frames per second of video)


@dataclass(frozen=True)
class FacePool:
    """The most faces in one examined frame of a segment and the best face confidence in [0, 1]."""

    count: int
    confidence: float


class FacesModality(Modality):
    """Frames -> (face count, best confidence) on the first frame of every ``round(fps / FACE_FPS)`` 1/fps bins
    (by time, so keyframe sampling, with frames only every few bins, examines as many frames as fps sampling)."""

    name = "faces"
    feed = "frames"
    version = "2"  # 2: face frames chosen by time bin, not by count (keyframe sampling examined half as many)

    @classmethod
    def enabled(cls, config: RunConfig) -> bool:
        return config.faces and super().enabled(config)

    def required_models(self) -> list[str]:
        return ["blazeface"]

    def load(self, ctx: LoadContext) -> None:
        from mmvideo.extras.faces import FaceDetector

        self.detector = FaceDetector(num_threads=ctx.threads or None)
        self.every = max(1, round(ctx.config.fps / FACE_FPS))
        self.fps = float(ctx.config.fps)
        self.frame_step = 1.0 / ctx.config.fps

    def start(self, path: str, info: MediaInfo) -> ModalityStream | None:
        return _FaceStream(self) if info.video is not None else None

    def pool(self, items: ItemEvidence, segments: Sequence[Segment]) -> list[FacePool | None]:
        out: list[FacePool | None] = [None] * len(segments)
        if len(items) == 0:
            return out
        seg = item_segments(items, segments)
        for k in range(len(segments)):
            sel = seg == k
            if sel.any():
                out[k] = FacePool(int(items.values[sel, 0].max()), float(items.values[sel, 1].max()))
        return out

    def from_fields(self, segment: Any) -> FacePool | None:
        conf = getattr(segment, "face_confidence", None)
        return None if conf is None else FacePool(int(getattr(segment, "faces", 0) or 0), float(conf))

    def prepare(self, ctx: FusionContext) -> np.ndarray:
        return ctx.text_embedding(ctx.settings.face_text)

    def tokens(self, pooled: Sequence[FacePool | None], prepared: Any, ctx: FusionContext) -> list:
        return [tokens.face_token(None if p is None else p.confidence, prepared, min_conf=ctx.settings.face_min_conf)
                for p in pooled]

    def support(self, pooled: Sequence[FacePool | None], prepared: Any, ctx: FusionContext) -> list:
        """Faces name ``face_text`` ("person") alone, when the vocabulary has that tag."""
        if ctx.settings.face_text not in ctx.labels:
            return [None] * len(pooled)
        named = np.array([label == ctx.settings.face_text for label in ctx.labels])
        return [named if p is not None else np.zeros_like(named) for p in pooled]

    def columns(self) -> list[tuple[str, pa.DataType]]:
        return [("faces", pa.int32()), ("face_confidence", pa.float32())]

    def row(self, pooled: FacePool | None, token: np.ndarray | None) -> dict[str, Any]:
        if pooled is None:
            return {"faces": None, "face_confidence": None}
        return {"faces": pooled.count, "face_confidence": pooled.confidence}


class _FaceStream(ModalityStream):
    def __init__(self, modality: FacesModality) -> None:
        self.m = modality
        self.last_group = -1
        self.parts: list[ItemEvidence] = []

    def push(self, chunk: FrameChunk) -> None:
        from mmvideo.extras.faces import face_summary

        times = np.asarray(chunk.timestamps, dtype=np.float64)
        # the frame's 1/fps bin (as frames.py's select, with round-off slack), then its group of `every` bins:
        # the first frame of each group is examined (with a frame in every bin: every `every`-th frame)
        groups = np.floor(times * self.m.fps + 1e-6).astype(np.int64) // self.m.every
        pick = []
        for i, g in enumerate(groups):
            if g > self.last_group:
                pick.append(i)
                self.last_group = int(g)
        if not pick:
            return
        counts, best = face_summary(self.m.detector(chunk.frames[pick]))
        t = times[pick]
        values = np.stack([np.asarray(counts, np.float32), np.asarray(best, np.float32)], axis=1)
        self.parts.append(ItemEvidence("faces", t, t + self.m.frame_step, values=values))

    def finish(self) -> ItemEvidence:
        return concat_items("faces", self.parts)
