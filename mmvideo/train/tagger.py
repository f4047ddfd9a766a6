"""``HeadTagger``: a trained head in place of zero-shot tags, with the same ``tag(segments)`` contract.

Tags are the head's labels whose score reaches the label's threshold (chosen on validation), best first, at
most ``top_k``; each carries the head's per-modality weights for that label. ``embedding`` stays the zero-shot
tagger's fused vector in the text encoder's space (so ``mmvideo search`` keeps working) and the head's own
segment vector goes into the ``head_embedding`` column. The head reads items, not pooled means, so ``tag`` also
takes the video's evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from mmvideo.fuse.records import FusedSegment, TagScore
from mmvideo.records import VideoEvidence
from mmvideo.train.dataset import video_inputs
from mmvideo.train.fit import predict
from mmvideo.train.head import EMBEDDING_COLUMN, HeadInfo, load_model


class HeadTagger:
    """head: the head's metadata (``read_head``); zero_shot: the run's ``ZeroShotTagger`` (embedding and the
    modalities' columns); embed: ``texts -> (N, 384)`` unit rows (the run's text encoder); top_k: tags at most."""

    def __init__(self, head: HeadInfo, zero_shot: Any, embed, top_k: int, model: Any = None) -> None:
        self.head = head
        self.zero_shot = zero_shot
        self.embed = embed
        self.top_k = int(top_k)
        self.model = model if model is not None else load_model(head)
        self.thresholds = np.asarray(head.thresholds, np.float32)

    def tag(self, segments: Sequence[Any], evidence: VideoEvidence | None = None) -> list[FusedSegment]:
        """Fuse a batch of one video's segments (``SegmentEvidence``: ``.segment``); ``evidence``: that video's
        items (required: the head reads items)."""
        if not segments:
            return []
        if evidence is None:
            raise ValueError("a head tags from a video's evidence: pass evidence=")
        base = self.zero_shot.tag(segments)
        inputs = video_inputs(evidence, self.head.specs, self.embed, [s.segment for s in segments])
        scores, weights, vectors = predict(self.model, inputs)
        names = self.head.modalities
        out = []
        for b, fused in enumerate(base):
            order = [int(j) for j in np.argsort(-scores[b], kind="stable") if scores[b, j] >= self.thresholds[j]]
            order = order[:self.top_k]
            tags = tuple(TagScore(self.head.labels[j], float(scores[b, j]),
                                  {m: float(weights[b, j, i]) for i, m in enumerate(names)}) for j in order)
            mean = weights[b, order].mean(axis=0) if order else weights[b].mean(axis=0)  # (M,)
            out.append(replace(fused, tags=tags, columns={**fused.columns, EMBEDDING_COLUMN: vectors[b].tolist()},
                               modality_weights={m: float(w) for m, w in zip(names, mean)}))
        return out
