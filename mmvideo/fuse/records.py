"""The fusion stage's records: what ``ZeroShotTagger.tag`` reads per segment and what it returns.

``SegmentInput`` is a plain segment with the built-in modalities' fields (each reads its own, see
``Modality.from_fields``); the pipeline's ``SegmentEvidence`` carries every modality's pooled value instead.
``FusedSegment`` is the result; its ``tags`` use the cross-stage ``TagScore`` of ``mmvideo.records`` and its
``columns`` are plain values, so writers need nothing from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from typing import Any

from mmvideo.records import ClassScore, TagScore

__all__ = ["SegmentInput", "FusedSegment", "ClassScore", "TagScore"]


@dataclass(frozen=True)
class SegmentInput:
    """One segment's evidence, each part optional (None / "" = the modality is absent).

    image_probs: (C_img,) mean or (F, C_img) per-frame ImageNet softmax probabilities, float32 in [0, 1].
    audio_scores: (C_aud,) mean or (P, C_aud) per-patch AudioSet sigmoid scores, float32 in [0, 1].
    text: the segment's subtitles / transcript / OCR text; text_embedding: its (384,) embedding when the caller
    already has it (else the tagger embeds ``text``). face_confidence: best face score in [0, 1] over the
    segment's frames (None: detection did not run); faces: the most faces in one frame.
    """

    image_probs: np.ndarray | None = None
    audio_scores: np.ndarray | None = None
    text: str = ""
    text_embedding: np.ndarray | None = None
    face_confidence: float | None = None
    faces: int | None = None


@dataclass(frozen=True)
class FusedSegment:
    """Fusion's result for one segment.

    tags: the top-k tags, best first; each ``TagScore.attention`` maps every fusing modality's name to its
    weight (0 for absent modalities; present ones sum to 1). Scores are calibrated similarities (``"peak"``
    normalisation: <= 1, about 0 for an average tag). Empty when no modality is present; fewer than top-k
    when the tagger's ``min_score`` cuts weak ones.
    embedding: (384,) float32 fused embedding in the text encoder's space: the attention-weighted mean of the
    present tokens' directions, L2-normalised (all zeros when no modality is present), for text search.
    modalities: the present modalities, in the tagger's order.
    columns: every modality's output columns for this segment (raw top classes, text, faces...; plain values).
    modality_weights: the attention per modality averaged over the returned tags (0 for absent ones).
    concepts: each modality's concept embedding (``Modality.concepts``: unit (384,) of what it saw in its own
    terms, or None), by modality name.
    """

    tags: tuple[TagScore, ...]
    embedding: np.ndarray
    modalities: tuple[str, ...]
    columns: dict[str, Any] = field(default_factory=dict)
    modality_weights: dict[str, float] = field(default_factory=dict)
    concepts: dict[str, Any] = field(default_factory=dict)
