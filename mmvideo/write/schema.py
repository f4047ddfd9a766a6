"""The documented, stable output schema (Parquet and JSON Lines carry the same fields).

Segments table: one row per segment: the fixed fields here, then each registered modality's own columns
(``Modality.columns``; the attention struct has a field per fusing modality). Videos table: one row per input
file. Embeddings are Arrow ``fixed_size_list<float32>[D]``, which pandas, polars and DuckDB read as is (DuckDB
as ``FLOAT[D]``). Bump ``SCHEMA_VERSION`` on any change and describe it in the README.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from mmvideo.records import SegmentRecord, VideoRecord

SCHEMA_VERSION = "2"  # 2: videos gain status "duplicate" and duplicate_of; copies/errors get own parts
EMBEDDING_SIZE = 384  # fused embedding: the text encoder's space (all-MiniLM-L6-v2)

COVERAGE = pa.struct([("label", pa.string()), ("seconds", pa.float64()), ("share", pa.float32()),
                      ("max_score", pa.float32())])


#: a fine-grained tag ("goose", "speedboat") of the default vocabulary, kept out of the five ``tags``
FINE_TAG = pa.struct([("label", pa.string()), ("score", pa.float32())])


def attention_struct(modalities: Sequence[str]) -> pa.DataType:
    """The ``attention`` struct of a tag: one float32 weight per fusing modality."""
    return pa.struct([(m, pa.float32()) for m in modalities])


def segment_schema(modalities: Sequence[str] = (), columns: Sequence[tuple[str, pa.DataType]] = ()) -> pa.Schema:
    """Arrow schema of the segments table for these fusing ``modalities`` and the modalities' ``columns``."""
    tag = pa.struct([("label", pa.string()), ("score", pa.float32()), ("attention", attention_struct(modalities))])
    fields = [
        ("video_id", pa.string()), ("path", pa.string()), ("segment", pa.int32()),
        ("start", pa.float64()), ("end", pa.float64()),
        ("tags", pa.list_(tag)),
        ("fine_tags", pa.list_(FINE_TAG)),
        ("embedding", pa.list_(pa.float32(), EMBEDDING_SIZE)),
        ("modalities", pa.list_(pa.string())),
        *columns,
        ("fingerprint", pa.string()),
    ]
    return pa.schema(fields, metadata={"mmvideo.schema_version": SCHEMA_VERSION})


VIDEO_SCHEMA = pa.schema([
    ("video_id", pa.string()), ("path", pa.string()), ("status", pa.string()),
    ("fingerprint", pa.string()), ("duration", pa.float64()), ("container", pa.string()),
    ("has_video", pa.bool_()), ("has_audio", pa.bool_()), ("subtitle_tracks", pa.int32()),
    ("segments", pa.int32()), ("warnings", pa.list_(pa.string())), ("top_tags", pa.list_(COVERAGE)),
    ("stage", pa.string()), ("error", pa.string()), ("processed_at", pa.string()),
    ("duplicate_of", pa.string()), ("frame_rate", pa.float64()), ("sampling", pa.string()),
], metadata={"mmvideo.schema_version": SCHEMA_VERSION})


def _vec(v: np.ndarray | None, size: int) -> list[float] | None:
    if v is None:
        return None
    v = np.asarray(v, dtype=np.float32).reshape(-1)
    if v.shape[0] != size:
        raise ValueError(f"embedding must have {size} values, got {v.shape[0]}")
    return v.tolist()


def _f(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def segment_row(rec: SegmentRecord, schema: pa.Schema | None = None) -> dict[str, Any]:
    """A segment record as a plain dict in ``schema``'s order (floats, lists, dicts; no numpy); a column the
    record lacks is null; an attention weight of a modality not in the record is 0."""
    schema = schema or segment_schema()
    names = [f.name for f in schema.field("tags").type.value_type.field("attention").type]
    row: dict[str, Any] = {
        "video_id": rec.video_id, "path": rec.path, "segment": int(rec.segment),
        "start": float(rec.start), "end": float(rec.end),
        "tags": [{"label": t.label, "score": float(t.score),
                  "attention": {m: float(t.attention.get(m, 0.0)) for m in names}} for t in rec.tags],
        "embedding": _vec(rec.embedding, EMBEDDING_SIZE),
        "modalities": list(rec.modalities),
    }
    for f in schema:
        if f.name not in row and f.name != "fingerprint":
            value = rec.columns.get(f.name)
            if pa.types.is_fixed_size_list(f.type):
                value = _vec(value, f.type.list_size)
            row[f.name] = value
    row["fingerprint"] = rec.fingerprint
    return {f.name: row[f.name] for f in schema}


def video_row(rec: VideoRecord) -> dict[str, Any]:
    """A video record as a plain dict in schema order."""
    return {
        "video_id": rec.video_id, "path": rec.path, "status": rec.status, "fingerprint": rec.fingerprint,
        "duration": _f(rec.duration), "container": rec.container, "has_video": bool(rec.has_video),
        "has_audio": bool(rec.has_audio), "subtitle_tracks": int(rec.subtitle_tracks),
        "segments": int(rec.segments), "warnings": list(rec.warnings),
        "top_tags": [{"label": c.label, "seconds": float(c.seconds), "share": float(c.share),
                      "max_score": float(c.max_score)} for c in rec.top_tags],
        "stage": rec.stage, "error": rec.error, "processed_at": rec.processed_at,
        "duplicate_of": rec.duplicate_of, "frame_rate": _f(rec.frame_rate), "sampling": rec.sampling,
    }
