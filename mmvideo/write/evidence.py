"""Evidence files: a video's fusion inputs item by item, so pooling and fusion can run again without decoding.

``OUT/evidence/<video_id>.parquet``, one row per item (a frame, an audio patch, a cue, ...) of every modality:

    video_id string, modality string, item int32 (index within the modality), start/end float64 seconds,
    scores list<float32> (class scores), embedding list<float16> (the encoder's vector), values list<float32>
    (small per-item numbers: face count and confidence), text string (cues)

Columns a modality does not produce are null. The file's metadata carries what is not per item: the encoder
fingerprint, the segments and the video's probe facts (``mmvideo.video``, JSON). Written like the other parts:
temp name, fsync, rename. pandas and DuckDB read the files as they are.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mmvideo.errors import SetupError
from mmvideo.records import ItemEvidence, VideoEvidence
from mmvideo.write.target import write_part

EVIDENCE_VERSION = "1"
FOLDER = "evidence"
EVIDENCE_SCHEMA = pa.schema([
    ("video_id", pa.string()), ("modality", pa.string()), ("item", pa.int32()),
    ("start", pa.float64()), ("end", pa.float64()),
    ("scores", pa.list_(pa.float32())), ("embedding", pa.list_(pa.float16())), ("values", pa.list_(pa.float32())),
    ("text", pa.string()),
])


def evidence_path(out_dir: os.PathLike | str, video_id: str) -> Path:
    """Where one video's evidence lives."""
    return Path(out_dir) / FOLDER / f"{video_id}.parquet"


def evidence_files(out_dir: os.PathLike | str) -> list[Path]:
    """Every evidence file of an output folder, by name (temp files, starting with '.', left out)."""
    folder = Path(out_dir) / FOLDER
    return sorted(p for p in folder.glob("*.parquet") if not p.name.startswith(".")) if folder.is_dir() else []


def _lists(matrix: np.ndarray | None, n: int, dtype: pa.DataType) -> pa.Array:
    """(n, k) rows as an Arrow list array of ``dtype`` (all null when ``matrix`` is None)."""
    if matrix is None:
        return pa.nulls(n, pa.list_(dtype))
    k = matrix.shape[1]
    offsets = pa.array(np.arange(n + 1, dtype=np.int64) * k, type=pa.int32())
    return pa.ListArray.from_arrays(offsets, pa.array(matrix.reshape(-1), type=dtype))


def _items_table(video_id: str, items: ItemEvidence) -> pa.Table:
    n = len(items)
    texts = pa.array(list(items.texts), pa.string()) if items.texts else pa.nulls(n, pa.string())
    emb = None if items.embeddings is None else np.asarray(items.embeddings, dtype=np.float16)
    return pa.table([
        pa.array([video_id] * n, pa.string()), pa.array([items.modality] * n, pa.string()),
        pa.array(np.arange(n, dtype=np.int32)), pa.array(items.start, pa.float64()), pa.array(items.end, pa.float64()),
        _lists(None if items.scores is None else np.asarray(items.scores, np.float32), n, pa.float32()),
        _lists(emb, n, pa.float16()),
        _lists(None if items.values is None else np.asarray(items.values, np.float32), n, pa.float32()),
        texts,
    ], schema=EVIDENCE_SCHEMA)


def write_evidence(out_dir: os.PathLike | str, evidence: VideoEvidence) -> Path | str:
    """Write (or replace) one video's evidence file (a local folder or an object store); returns where it went."""
    tables = [_items_table(evidence.video_id, it) for it in evidence.items]
    table = pa.concat_tables(tables) if tables else EVIDENCE_SCHEMA.empty_table()
    meta = {"path": evidence.path, "segments": [list(s) for s in evidence.segments], "info": evidence.info}
    table = table.replace_schema_metadata({
        "mmvideo.evidence_version": EVIDENCE_VERSION,
        "mmvideo.encoder_fingerprint": evidence.encoder_fingerprint,
        "mmvideo.video": json.dumps(meta, default=list),
    })
    rel = f"{FOLDER}/{evidence.video_id}.parquet"
    return write_part(out_dir, rel, lambda fh: pq.write_table(table, fh, compression="zstd"))


def _matrix(column: pa.ChunkedArray, dtype) -> np.ndarray | None:
    arr = column.combine_chunks()
    if arr.null_count == len(arr):
        return None
    values = arr.flatten().to_numpy(zero_copy_only=False).astype(dtype)
    return values.reshape(len(arr), -1) if len(arr) else values.reshape(0, 0)


def read_evidence(path: os.PathLike | str) -> VideoEvidence:
    """One evidence file back as a ``VideoEvidence`` (``SetupError`` naming the file when it is not one)."""
    try:
        table = pq.read_table(path)
        meta = table.schema.metadata or {}
        video = json.loads(meta[b"mmvideo.video"])
        fingerprint = meta[b"mmvideo.encoder_fingerprint"].decode()
    except (OSError, KeyError, ValueError, pa.ArrowException) as exc:
        raise SetupError(f"{path}: not a readable mmvideo evidence file ({type(exc).__name__}: {exc})") from None
    video_id = Path(path).stem
    items = []
    modalities = table.column("modality").to_pylist()
    for name in dict.fromkeys(modalities):
        part = table.filter(pc.equal(table.column("modality"), name)).sort_by("item")
        texts = part.column("text")
        items.append(ItemEvidence(
            modality=name, start=part.column("start").to_numpy(), end=part.column("end").to_numpy(),
            scores=_matrix(part.column("scores"), np.float32), embeddings=_matrix(part.column("embedding"), np.float16),
            values=_matrix(part.column("values"), np.float32),
            texts=tuple(t or "" for t in texts.to_pylist()) if texts.null_count < len(texts) else ()))
    return VideoEvidence(video_id=video_id, path=video["path"], encoder_fingerprint=fingerprint,
                         segments=tuple(tuple(s) for s in video["segments"]), items=tuple(items),
                         info=video["info"])
