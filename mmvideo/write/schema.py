"""The documented, stable output schema (Parquet and JSON Lines carry the same fields).

Segments table: one row per segment. Videos table: one row per input file. Embeddings are Arrow
``fixed_size_list<float32>[D]``, which pandas, polars and DuckDB read as is (DuckDB as ``FLOAT[D]``).
Bump ``SCHEMA_VERSION`` on any change and describe it in the README.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa

from mmvideo.records import MODALITIES, SegmentRecord, VideoRecord

SCHEMA_VERSION = "2"  # 2: videos gain status "duplicate" and duplicate_of; copies/errors get own parts
EMBEDDING_SIZE = 384  # fused embedding: the text encoder's space (all-MiniLM-L6-v2)
MODALITY_EMBEDDING_SIZES = {"image": 1280, "audio": 1024, "text": 384}

ATTENTION = pa.struct([(m, pa.float32()) for m in MODALITIES])
TAG = pa.struct([("label", pa.string()), ("score", pa.float32()), ("attention", ATTENTION)])
CLASS = pa.struct([("name", pa.string()), ("score", pa.float32())])
COVERAGE = pa.struct([("label", pa.string()), ("seconds", pa.float64()), ("share", pa.float32()),
                      ("max_score", pa.float32())])


def segment_schema(modality_embeddings: bool = False) -> pa.Schema:
    """Arrow schema of the segments table; ``modality_embeddings`` adds the per-modality vectors."""
    fields = [
        ("video_id", pa.string()), ("path", pa.string()), ("segment", pa.int32()),
        ("start", pa.float64()), ("end", pa.float64()),
        ("tags", pa.list_(TAG)),
        ("embedding", pa.list_(pa.float32(), EMBEDDING_SIZE)),
        ("modalities", pa.list_(pa.string())),
        ("text", pa.string()),
        ("image_classes", pa.list_(CLASS)), ("audio_classes", pa.list_(CLASS)),
        ("faces", pa.int32()), ("face_confidence", pa.float32()),
        ("fingerprint", pa.string()),
    ]
    if modality_embeddings:
        fields += [(f"{m}_embedding", pa.list_(pa.float32(), n)) for m, n in MODALITY_EMBEDDING_SIZES.items()]
    return pa.schema(fields, metadata={"mmvideo.schema_version": SCHEMA_VERSION})


VIDEO_SCHEMA = pa.schema([
    ("video_id", pa.string()), ("path", pa.string()), ("status", pa.string()),
    ("fingerprint", pa.string()), ("duration", pa.float64()), ("container", pa.string()),
    ("has_video", pa.bool_()), ("has_audio", pa.bool_()), ("subtitle_tracks", pa.int32()),
    ("segments", pa.int32()), ("warnings", pa.list_(pa.string())), ("top_tags", pa.list_(COVERAGE)),
    ("stage", pa.string()), ("error", pa.string()), ("processed_at", pa.string()),
    ("duplicate_of", pa.string()),
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


def segment_row(rec: SegmentRecord, modality_embeddings: bool = False) -> dict[str, Any]:
    """A segment record as a plain dict in schema order (floats, lists, dicts; no numpy)."""
    row: dict[str, Any] = {
        "video_id": rec.video_id, "path": rec.path, "segment": int(rec.segment),
        "start": float(rec.start), "end": float(rec.end),
        "tags": [{"label": t.label, "score": float(t.score),
                  "attention": {m: float(t.attention.get(m, 0.0)) for m in MODALITIES}} for t in rec.tags],
        "embedding": _vec(rec.embedding, EMBEDDING_SIZE),
        "modalities": list(rec.modalities), "text": rec.text,
        "image_classes": [{"name": c.name, "score": float(c.score)} for c in rec.image_classes],
        "audio_classes": [{"name": c.name, "score": float(c.score)} for c in rec.audio_classes],
        "faces": rec.faces, "face_confidence": _f(rec.face_confidence),
        "fingerprint": rec.fingerprint,
    }
    if modality_embeddings:
        embs = rec.modality_embeddings or {}
        for m, n in MODALITY_EMBEDDING_SIZES.items():
            row[f"{m}_embedding"] = _vec(embs.get(m), n)
    return row


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
        "duplicate_of": rec.duplicate_of,
    }
