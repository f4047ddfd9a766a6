"""Per-item evidence of every modality -> per-segment evidence, by each modality's own pooling rule.

The pipeline (after a full decode) and ``mmvideo fuse`` (from evidence files) both come through here, so a
re-fusion pools exactly as the run did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmvideo.records import ItemEvidence
from mmvideo.segment import Segment


@dataclass(frozen=True)
class SegmentEvidence:
    """One segment and each modality's pooled value on it (``pooled[name]``; missing or None = absent)."""

    segment: Segment
    pooled: dict[str, Any] = field(default_factory=dict)


def aggregate(modalities: Sequence[Any], items: Mapping[str, ItemEvidence],
              segments: Sequence[Segment]) -> list[SegmentEvidence]:
    """One ``SegmentEvidence`` per segment: each modality pools its items (none: an empty item list)."""
    pooled: dict[str, list[Any]] = {}
    for m in modalities:
        found = items.get(m.name)
        if found is None:
            found = ItemEvidence(m.name, np.zeros(0), np.zeros(0))
        pooled[m.name] = m.pool(found, segments)
    return [SegmentEvidence(seg, {name: values[k] for name, values in pooled.items()})
            for k, seg in enumerate(segments)]
