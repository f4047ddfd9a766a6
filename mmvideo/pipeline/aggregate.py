"""Gather per-item encoder outputs (frames, audio patches, cues) into per-segment evidence. Pure numpy.

Frames belong to the segment holding their timestamp; an audio patch to the segment holding its centre;
a cue to every segment it overlaps. Means are taken over the items of a segment; a segment without
items of a modality has ``None`` for it (fusion masks it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmvideo.records import Cue
from mmvideo.segment import Segment, overlaps, segment_of_times

MAX_TEXT_CHARS = 2000
"""A segment's text is cut here: enough for the text encoder (256 tokens) and readable output rows."""


@dataclass(frozen=True)
class SegmentEvidence:
    """What the encoders saw in one segment (means over its items); None where a modality is absent."""

    segment: Segment
    image_probs: np.ndarray | None = None  # (C_img,) float32 mean ImageNet probabilities
    image_embedding: np.ndarray | None = None  # (1280,) float32 mean
    audio_scores: np.ndarray | None = None  # (C_aud,) float32 mean AudioSet scores
    audio_embedding: np.ndarray | None = None  # (1024,) float32 mean
    text: str = ""
    faces: int | None = None  # max faces in one frame; None when face detection did not run
    face_confidence: float | None = None  # max confidence over the segment's frames


@dataclass
class VideoItems:
    """Everything the encoders produced for one video, item by item (the pipeline appends to it)."""

    frame_times: list[np.ndarray]
    frame_probs: list[np.ndarray]
    frame_embeddings: list[np.ndarray]
    frame_faces: list[np.ndarray]  # per frame: (count, max confidence); -1 where detection was skipped
    patch_times: list[np.ndarray]
    patch_scores: list[np.ndarray]
    patch_embeddings: list[np.ndarray]
    cues: list[Cue]

    @classmethod
    def empty(cls) -> "VideoItems":
        return cls([], [], [], [], [], [], [], [])


def _cat(parts: list[np.ndarray]) -> np.ndarray | None:
    if not parts:
        return None
    return np.concatenate(parts, axis=0)


def aggregate(items: VideoItems, segments: list[Segment]) -> list[SegmentEvidence]:
    """One ``SegmentEvidence`` per segment from a video's items."""
    ft, fp, fe = _cat(items.frame_times), _cat(items.frame_probs), _cat(items.frame_embeddings)
    ff = _cat(items.frame_faces)
    pt, ps, pe = _cat(items.patch_times), _cat(items.patch_scores), _cat(items.patch_embeddings)
    frame_seg = segment_of_times(ft, segments) if ft is not None else None
    patch_seg = segment_of_times(pt.mean(axis=1), segments) if pt is not None and len(pt) else None
    cue_iv = np.array([[c.start, c.end] for c in items.cues], dtype=np.float64).reshape(-1, 2)
    cue_sets = overlaps(cue_iv, segments)
    out = []
    for k, seg in enumerate(segments):
        kw: dict = {}
        if frame_seg is not None:
            sel = frame_seg == k
            if sel.any():
                if fp is not None:
                    kw["image_probs"] = fp[sel].astype(np.float32).mean(axis=0)
                if fe is not None:
                    kw["image_embedding"] = fe[sel].astype(np.float32).mean(axis=0)
                if ff is not None:
                    looked = ff[sel & (ff[:, 0] >= 0)]  # frames the face detector examined
                    if len(looked):
                        kw["faces"] = int(looked[:, 0].max())
                        kw["face_confidence"] = float(looked[:, 1].max())
        if patch_seg is not None:
            sel = patch_seg == k
            if sel.any():
                kw["audio_scores"] = ps[sel].astype(np.float32).mean(axis=0)
                if pe is not None:
                    kw["audio_embedding"] = pe[sel].astype(np.float32).mean(axis=0)
        texts: list[str] = []
        length = 0
        for i in cue_sets[k]:
            t = " ".join(items.cues[i].text.split())
            if t and (not texts or texts[-1] != t):
                texts.append(t)
                length += len(t) + 1
                if length >= MAX_TEXT_CHARS:
                    break
        kw["text"] = " ".join(texts)[:MAX_TEXT_CHARS]
        out.append(SegmentEvidence(segment=seg, **kw))
    return out
