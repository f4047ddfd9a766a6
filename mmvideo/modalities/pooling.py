"""Pooling rules shared by the modalities: a video's items -> one value per segment. Pure numpy.

A frame belongs to the segment holding its timestamp (an image segment holding none takes the previous
segment's last frame: ``mean_classes``' ``hold``); an audio patch to the segment holding its centre; a cue
to every segment it overlaps. Means are float32 means over a segment's items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mmvideo.records import ItemEvidence
from mmvideo.segment import Segment, overlaps, segment_of_times

MAX_TEXT_CHARS = 2000
"""A segment's text is cut here: enough for the text encoder (256 tokens) and readable output rows."""


@dataclass(frozen=True)
class ClassPool:
    """A classifier modality in one segment: mean class ``scores`` (C,) float32, mean ``embedding`` (E,) or
    None when embeddings were not kept, ``count`` items, and ``peak`` (C,) float32: each class's highest score
    over the items (max-pooling; None: only the mean is known)."""

    scores: np.ndarray
    embedding: np.ndarray | None
    count: int
    peak: np.ndarray | None = None

    def pooled(self, how: str = "mean") -> np.ndarray:
        """(C,) scores pooled over the segment's items: "mean", "max" (each class's peak) or "mix" (the average
        of the two: a class seen clearly in one frame counts without one odd frame taking over)."""
        if how == "mean" or self.peak is None:
            return self.scores
        if how == "max":
            return self.peak
        if how == "mix":
            return (0.5 * (self.scores + self.peak)).astype(np.float32)
        raise ValueError(f"pooling must be mean, max or mix. Received: {how!r}")


def item_segments(items: ItemEvidence, segments: Sequence[Segment], *, by: str = "start") -> np.ndarray:
    """(N,) index of each item's segment (-1 outside all): by its ``start`` (frames) or ``centre`` (patches)."""
    if len(items) == 0:
        return np.zeros(0, dtype=np.int64)
    times = items.start if by == "start" else (items.start + items.end) / 2.0
    return segment_of_times(times, list(segments))


def mean_classes(items: ItemEvidence, segments: Sequence[Segment], *, by: str = "start",
                 hold: bool = False) -> list[ClassPool | None]:
    """Per segment, the mean scores and embedding of the items it holds (None where it holds none).

    ``hold``: a segment holding no item takes the last item of the segment before it (a sampled frame stays on
    screen until the next one), so a short tail between two keyframes keeps its picture as it would at fps.
    """
    out: list[ClassPool | None] = [None] * len(segments)
    if len(items) == 0 or items.scores is None:
        return out
    seg = item_segments(items, segments, by=by)
    for k in range(len(segments)):
        sel = seg == k
        if not sel.any() and hold and k > 0 and (seg == k - 1).any():
            last = np.flatnonzero(seg == k - 1)
            sel = np.zeros_like(sel)
            sel[last[np.argmax(items.start[last])]] = True
        if sel.any():
            emb = None if items.embeddings is None else items.embeddings[sel].astype(np.float32).mean(axis=0)
            scores = items.scores[sel].astype(np.float32)
            out[k] = ClassPool(scores.mean(axis=0), emb, int(sel.sum()), scores.max(axis=0))
    return out


def joined_text(items: ItemEvidence, segments: Sequence[Segment]) -> list[str]:
    """Per segment, the text of the cues overlapping it, in order, repeats and blank space collapsed, cut at
    ``MAX_TEXT_CHARS`` ("" where none)."""
    intervals = np.stack([items.start, items.end], axis=1) if len(items) else np.zeros((0, 2))
    sets = overlaps(intervals.astype(np.float64).reshape(-1, 2), list(segments))
    out = []
    for k in range(len(segments)):
        texts: list[str] = []
        length = 0
        for i in sets[k]:
            t = " ".join(items.texts[i].split())
            if t and (not texts or texts[-1] != t):
                texts.append(t)
                length += len(t) + 1
                if length >= MAX_TEXT_CHARS:
                    break
        out.append(" ".join(texts)[:MAX_TEXT_CHARS])
    return out
