"""Read an output folder's rows (through ``read_table``) into the plain data the report page shows."""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from mmvideo.errors import SetupError
from mmvideo.write.read import read_table

DIGITS = 3  # scores and weights are shown to 2 decimals; 3 keeps the data file small and sorting stable


@dataclass
class ReportData:
    """Videos (sorted by path) with their segments, the tag vocabulary seen and the modality names."""

    videos: list[dict[str, Any]]
    segments: dict[str, list[dict[str, Any]]]  # video_id -> segment rows in segment order
    modalities: list[str]
    labels: list[str] = field(default_factory=list)  # every tag label seen, most frequent first


def _read(out: Path, table: str) -> pa.Table:
    try:
        return read_table(out, table)
    except SetupError:
        raise
    except Exception as exc:  # a corrupt part: pyarrow / json errors
        cause = " ".join(str(exc).split()) or type(exc).__name__
        raise SetupError(f"{out}: cannot read the {table} results: {cause}") from None


def attention_fields(segments: pa.Table) -> list[str]:
    """The modality names of the ``tags.attention`` struct, in schema order (never hard-coded)."""
    try:
        tag_type = segments.schema.field("tags").type.value_type
        att = tag_type.field("attention").type
        return [att.field(i).name for i in range(att.num_fields)]
    except (KeyError, AttributeError):
        return []


def load(out_dir: os.PathLike | str) -> ReportData:
    """All rows of ``out_dir``; ``SetupError`` (one line) when it holds no mmvideo results."""
    out = Path(out_dir)
    if not out.is_dir():
        raise SetupError(f"{out}: no such folder")
    videos = _read(out, "videos").to_pylist()
    try:
        seg_table = _read(out, "segments")
    except SetupError:
        seg_table = None  # every video failed: no segment parts at all
    modalities = attention_fields(seg_table) if seg_table is not None else []
    by_video: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if seg_table is not None:
        keep = [c for c in seg_table.column_names if not c.endswith("embedding")]
        for row in seg_table.select(keep).to_pylist():
            by_video[row["video_id"]].append(row)
    for rows in by_video.values():
        rows.sort(key=lambda r: r["segment"])
    videos.sort(key=lambda v: (v.get("path") or "", v.get("video_id") or ""))
    counts = Counter(t["label"] for rows in by_video.values() for r in rows for t in (r.get("tags") or []))
    labels = [label for label, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return ReportData(videos=videos, segments=dict(by_video), modalities=modalities, labels=labels)
