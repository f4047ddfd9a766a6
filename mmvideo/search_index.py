"""The search cache: every segment's fused embedding as one memory-mapped float32 matrix, plus its keys.

``OUT/.mmvideo/search/index.json`` names a ``vectors-<token>.f32`` file (N x D float32, L2-normalised rows, so
a cosine is a dot product), a ``meta-<token>.parquet`` (path, video_id, segment, start, end, tag labels;
small row groups, read only for the hits) and the Parquet files they were built from (name, size, mtime,
and for a compacted file the keys it had to drop). Each search lists the segments folder (as ``read_table``
does) and compares: an unchanged folder costs a listing and a ``stat`` per file; a changed one is rebuilt
reading only the embedding and key columns of the files that changed, the rows of the others copied from
the old cache. New files get new names and ``index.json`` is replaced last, so concurrent searches always
see a whole cache. A folder that cannot be written gets the same index in memory. Rows are in the order
``read_table`` gives, so ties rank as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mmvideo.write.compact import drop_superseded_rows, parts_of
from mmvideo.write.read import parquet_snapshot

CACHE = Path(".mmvideo") / "search"
META_SCHEMA = pa.schema([("path", pa.string()), ("video_id", pa.string()), ("segment", pa.int32()),
                         ("start", pa.float64()), ("end", pa.float64()), ("tags", pa.list_(pa.string()))])
META_ROW_GROUP = 4096
COLUMNS = ["embedding", "path", "video_id", "segment", "start", "end", "tags"]


@dataclass
class Index:
    """The cached matrix (N x D, memory-mapped or in memory) and where each row's keys are."""

    vectors: np.ndarray
    meta: pa.Table | Path  # the meta rows, or the Parquet file holding them

    def rows(self, indices: np.ndarray) -> list[dict]:
        """The meta rows at ``indices``, in that order (scalar access: ``take`` would import pandas, ~1 s)."""
        if isinstance(self.meta, pa.Table):
            table, where = self.meta, [int(i) for i in indices]
        else:
            groups = sorted({int(i) // META_ROW_GROUP for i in indices})
            table = pq.ParquetFile(self.meta).read_row_groups(groups)
            base = {g: n * META_ROW_GROUP for n, g in enumerate(groups)}
            where = [base[int(i) // META_ROW_GROUP] + int(i) % META_ROW_GROUP for i in indices]
        columns = {name: table.column(name) for name in table.column_names}
        return [{name: col[j].as_py() for name, col in columns.items()} for j in where]


def _sources(out: Path) -> list[dict]:
    """The segments folder's Parquet files as of one moment: name, path, size, mtime and dropped keys."""
    def describe(path: Path, loose: set[str] | None) -> dict:
        st = os.stat(path)
        drop = sorted(loose.intersection(k for k, _ in parts_of(path))) if loose is not None else []
        return {"name": path.name, "path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                "drop": hashlib.blake2b("\n".join(drop).encode(), digest_size=8).hexdigest() if drop else "",
                "drop_keys": drop}

    return parquet_snapshot(out, "segments", describe)


def _signature(src: dict) -> tuple:
    return src["name"], src["size"], src["mtime_ns"], src["drop"]


def _labels(tags: pa.ChunkedArray) -> pa.Array:
    """list<struct<label, ...>> -> list<string> of the labels (null lists -> empty)."""
    arr = tags.combine_chunks() if isinstance(tags, pa.ChunkedArray) else tags
    if len(arr) == 0:
        return pa.array([], pa.list_(pa.string()))
    arr = arr.fill_null([]) if arr.null_count else arr
    return pa.ListArray.from_arrays(arr.offsets, arr.values.field("label"))


def _read_source(src: dict) -> tuple[np.ndarray, pa.Table]:
    """One Parquet file's normalised embeddings and meta rows (superseded rows dropped)."""
    path = Path(src["path"])
    data = pq.read_table(path, columns=COLUMNS)
    if src["drop_keys"]:
        data = drop_superseded_rows(data, parts_of(path), set(src["drop_keys"]))
    emb = data.column("embedding").combine_chunks()
    dim = emb.type.list_size
    matrix = emb.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim).astype(np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    meta = pa.table([data.column("path").cast(pa.string()), data.column("video_id").cast(pa.string()),
                     data.column("segment").cast(pa.int32()), data.column("start").cast(pa.float64()),
                     data.column("end").cast(pa.float64()), _labels(data.column("tags"))], schema=META_SCHEMA)
    return matrix / norms, meta


def _load(cache: Path) -> tuple[dict, np.ndarray | None]:
    try:
        with open(cache / "index.json", encoding="utf-8") as fh:
            index = json.load(fh)
        n, dim = index["rows"], index["dim"]
        vectors = (np.memmap(cache / index["vectors"], np.float32, "r", shape=(n, dim)) if n
                   else np.zeros((0, dim), np.float32))
        return index, vectors
    except (OSError, ValueError, KeyError):
        return {}, None


def open_index(out_dir: os.PathLike | str) -> Index | None:
    """The up-to-date search index of ``out_dir`` (built or refreshed as needed); None without Parquet results."""
    out = Path(out_dir)
    sources = _sources(out)
    if not sources:
        return None
    cache = out / CACHE
    old, old_vectors = _load(cache)
    if old and [tuple(s) for s in old["sources"]] == [_signature(s) for s in sources]:
        return Index(old_vectors, cache / old["meta"])
    try:
        return _rebuild(cache, sources, old, old_vectors)
    except OSError:  # a folder we may not write: the same index, in memory
        return _in_memory(sources)


def _in_memory(sources: list[dict]) -> Index:
    parts = [_read_source(s) for s in sources]
    return Index(np.concatenate([m for m, _ in parts]), pa.concat_tables([t for _, t in parts]))


def _rebuild(cache: Path, sources: list[dict], old: dict, old_vectors: np.ndarray | None) -> Index:
    """Write a new cache: unchanged sources' rows copied from the old one, the others read; returns it."""
    cache.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    vec_name, meta_name = f"vectors-{token}.f32", f"meta-{token}.parquet"
    reuse = {}
    if old and old_vectors is not None:
        offset = 0
        for sig, rows in zip(old["sources"], old["source_rows"]):
            reuse[tuple(sig)] = (offset, rows)
            offset += rows
    old_meta = pq.read_table(cache / old["meta"]) if old and any(_signature(s) in reuse for s in sources) else None
    total, dim = 0, None
    source_rows = []
    with open(cache / f".{vec_name}.tmp", "wb") as vf, \
            pq.ParquetWriter(cache / f".{meta_name}.tmp", META_SCHEMA, compression="zstd") as mw:
        buffer = _RowGroups(mw)
        for src in sources:
            hit = reuse.get(_signature(src))
            if hit is not None and old_meta is not None:
                start, rows = hit
                matrix, meta = np.asarray(old_vectors[start:start + rows]), old_meta.slice(start, rows)
            else:
                matrix, meta = _read_source(src)
            if dim is None and matrix.size:
                dim = matrix.shape[1]
            vf.write(np.ascontiguousarray(matrix, np.float32).tobytes())
            buffer.add(meta)
            source_rows.append(len(meta))
            total += len(meta)
        buffer.close()
        vf.flush()
        os.fsync(vf.fileno())
    os.replace(cache / f".{vec_name}.tmp", cache / vec_name)
    os.replace(cache / f".{meta_name}.tmp", cache / meta_name)
    index = {"rows": total, "dim": dim or 384, "vectors": vec_name, "meta": meta_name,
             "sources": [list(_signature(s)) for s in sources], "source_rows": source_rows}
    tmp = cache / f".index.json.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(index, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, cache / "index.json")
    for stale in cache.iterdir():  # earlier caches (a search still reading one keeps its open mapping)
        if stale.name not in (vec_name, meta_name, "index.json") and not stale.name.startswith("."):
            stale.unlink(missing_ok=True)
    return Index(_load(cache)[1], cache / meta_name)


class _RowGroups:
    """Writes meta rows in row groups of exactly ``META_ROW_GROUP`` rows (the last one fewer), whatever the
    sources' sizes, so row ``i`` is in group ``i // META_ROW_GROUP``."""

    def __init__(self, writer: pq.ParquetWriter) -> None:
        self.writer, self.pending, self.rows = writer, [], 0

    def add(self, meta: pa.Table) -> None:
        self.pending.append(meta)
        self.rows += len(meta)
        if self.rows >= META_ROW_GROUP:
            table = pa.concat_tables(self.pending)
            full = len(table) // META_ROW_GROUP * META_ROW_GROUP
            self.writer.write_table(table.slice(0, full), row_group_size=META_ROW_GROUP)
            rest = table.slice(full)
            self.pending, self.rows = [rest], len(rest)

    def close(self) -> None:
        if self.rows:
            self.writer.write_table(pa.concat_tables(self.pending), row_group_size=META_ROW_GROUP)
