"""Read an output folder's rows (through ``read_table``) into the sorted tables the report is made from."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mmvideo.errors import SetupError
from mmvideo.write.read import read_table

SEGMENT_COLUMNS = ("video_id", "path", "segment", "start", "end", "tags", "modalities", "text",
                   "image_classes", "audio_classes", "faces")


@dataclass
class ReportData:
    """Videos sorted by path; their segments as one Arrow table in that order (then by segment index)."""

    videos: list[dict[str, Any]]
    segments: pa.Table
    bounds: list[tuple[int, int]]  # per video: [first, last) row of its segments in ``segments``
    modalities: list[str]  # the attention struct's field names, in schema order


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
        att = segments.schema.field("tags").type.value_type.field("attention").type
        return [att.field(i).name for i in range(att.num_fields)]
    except (KeyError, AttributeError):
        return []


def _empty_segments() -> pa.Table:
    from mmvideo.write.schema import segment_schema

    schema = segment_schema()
    return schema.empty_table().select(list(SEGMENT_COLUMNS))


def load(out_dir: os.PathLike | str) -> ReportData:
    """All rows of ``out_dir``; ``SetupError`` (one line) when it holds no mmvideo results."""
    out = Path(out_dir)
    if not out.is_dir():
        raise SetupError(f"{out}: no such folder")
    videos = _read(out, "videos").to_pylist()
    try:
        segs = _read(out, "segments")
    except SetupError:
        segs = _empty_segments()  # every video failed: no segment parts at all
    segs = segs.select([c for c in SEGMENT_COLUMNS if c in segs.column_names])
    videos.sort(key=lambda v: (v.get("path") or "", v.get("video_id") or ""))
    order = {v["video_id"]: i for i, v in enumerate(videos)}
    ids = segs.column("video_id").to_pylist()
    rank = np.array([order.get(vid, -1) for vid in ids], dtype=np.int64)
    keep = np.flatnonzero(rank >= 0)  # segment rows without a video row (a part being replaced) are left out
    seg_no = segs.column("segment").to_numpy(zero_copy_only=False)
    idx = keep[np.lexsort((seg_no[keep], rank[keep]))]
    segs = segs.take(pa.array(idx, pa.int64()))
    counts = np.bincount(rank[idx], minlength=len(videos)) if len(idx) else np.zeros(len(videos), np.int64)
    ends = np.cumsum(counts)
    bounds = [(int(e - c), int(e)) for c, e in zip(counts, ends)]
    return ReportData(videos=videos, segments=segs, bounds=bounds, modalities=attention_fields(segs))


def list_parts(column: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """(offsets per row, flattened values) of a list column; null lists count as empty."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    lengths = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return offsets, pc.list_flatten(arr)
