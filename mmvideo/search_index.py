"""The search cache: every searchable embedding column as memory-mapped matrices, plus each segment's keys.

``OUT/.mmvideo/search/index.json`` names, per searchable column (``embedding`` -> "fused", each
``<name>_concept_embedding`` -> name), four files holding only the rows that have a vector:

* ``<key>-<token>.i8``: the L2-normalised rows quantised to int8 with one scale per row (N_c x D): what a
  query scans (a quarter of float32's bytes to read and to keep in the page cache);
* ``<key>-<token>.aux``: float32 (N_c x 2): each row's scale and its quantisation error ``||x - x_q||``, so a
  scanned cosine is known to within that error (Cauchy-Schwarz) and the ranking can be made exact;
* ``<key>-<token>.f32``: the same rows as written (float32, N_c x D), read only for the few candidate rows
  whose bounds reach the top k and scored by ``search.similarities``: the scores and order of a full read;
* ``<key>-<token>.rows``: int32 segment numbers of those rows (absent when every segment has one).

Beside them ``videos-<token>.i32`` (each segment's video number, for one result per video) and
``meta-<token>.parquet`` (path, video_id, segment, start, end, tag labels; small row groups, read only for the
hits), and the Parquet files they were built from (name, size, mtime, and for a compacted file the keys it
had to drop). Each search lists the segments folder (as ``read_table`` does) and compares: an unchanged
folder costs a listing and a ``stat`` per file; a changed one is rebuilt reading only the embedding and key
columns of the files that changed, the rows of the others copied from the old cache. New files get new names
and ``index.json`` is replaced last, so concurrent searches always see a whole cache. A folder that cannot be
written gets the same index built in a temporary folder. Rows are in the order ``read_table`` gives.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mmvideo.write.compact import drop_superseded_rows, parts_of
from mmvideo.write.read import parquet_snapshot

CACHE = Path(".mmvideo") / "search"
VERSION = 2
META_SCHEMA = pa.schema([("path", pa.string()), ("video_id", pa.string()), ("segment", pa.int32()),
                         ("start", pa.float64()), ("end", pa.float64()), ("tags", pa.list_(pa.string()))])
META_ROW_GROUP = 4096
KEY_COLUMNS = ["path", "video_id", "segment", "start", "end", "tags"]
FUSED = "fused"
BLOCK = 2048  # int8 rows widened to float32 at a time: the block stays in the CPU's cache
SLACK = 1e-4  # float32 rounding of a scanned cosine (<= D * 2^-24 for unit rows), added to each bound


def key_of(column: str) -> str | None:
    """The search key of a segments column: "fused" for ``embedding``, the modality for a concept column."""
    if column == "embedding":
        return FUSED
    if column.endswith("_concept_embedding"):
        return column[:-len("_concept_embedding")]
    return None


@dataclass
class Column:
    """One searchable column: the rows with a vector (``rows``: their segment numbers; None: all)."""

    int8: np.ndarray  # (N_c, D) int8
    aux: np.ndarray  # (N_c, 2) float32: scale, error bound
    f32: np.ndarray  # (N_c, D) float32, as written
    rows: np.ndarray | None  # (N_c,) int32, ascending

    def bounds(self, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N_c,) lower and upper bounds of each row's cosine with ``query`` (D,), from the int8 rows."""
        q = _unit(query)
        n, dim = self.int8.shape
        approx = np.empty(n, np.float32)
        buf = np.empty((min(BLOCK, max(n, 1)), dim), np.float32)
        for start in range(0, n, BLOCK):
            block = buf[:min(BLOCK, n - start)]
            np.copyto(block, self.int8[start:start + BLOCK], casting="unsafe")
            np.matmul(block, q, out=approx[start:start + len(block)])
        approx *= self.aux[:, 0]
        err = self.aux[:, 1] + SLACK
        return approx - err, approx + err

    def exact(self, query: np.ndarray, segments: np.ndarray) -> np.ndarray:
        """(len(segments),) ``search.similarities`` of those segments' float32 rows with ``query``; -1 where
        they have none (as it gives for a missing embedding)."""
        from mmvideo.search import similarities

        out = np.full(len(segments), -1.0, np.float32)
        pos, have = self._positions(segments)
        if have.any():
            out[have] = similarities(query, np.asarray(self.f32[pos[have]], np.float32))
        return out

    def at(self, segment: int) -> np.ndarray | None:
        """Segment ``segment``'s vector, or None when it has none."""
        pos, have = self._positions(np.array([segment]))
        return np.array(self.f32[pos[0]], np.float32) if have[0] else None

    def _positions(self, segments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row positions of ``segments`` in this column, and whether each has a row."""
        if self.rows is None:
            return segments, np.ones(len(segments), bool)
        pos = np.searchsorted(self.rows, segments)
        have = pos < len(self.rows)
        have[have] = self.rows[pos[have]] == segments[have]
        return pos, have


@dataclass
class Index:
    """The cached columns, each segment's video number, and where each segment's keys are."""

    size: int
    columns: dict[str, Column]
    videos: np.ndarray  # (N,) int32 video numbers (equal for the segments of one video)
    meta: pa.Table | Path  # the meta rows, or the Parquet file holding them

    def rows(self, indices) -> list[dict]:
        """The meta rows at ``indices``, in that order (scalar access: ``take`` would import pandas, ~1 s)."""
        if isinstance(self.meta, pa.Table):
            table, where = self.meta, [int(i) for i in indices]
        else:
            groups = sorted({int(i) // META_ROW_GROUP for i in indices})
            table = pq.ParquetFile(self.meta).read_row_groups(groups) if groups else META_SCHEMA.empty_table()
            base = {g: n * META_ROW_GROUP for n, g in enumerate(groups)}
            where = [base[int(i) // META_ROW_GROUP] + int(i) % META_ROW_GROUP for i in indices]
        columns = {name: table.column(name) for name in table.column_names}
        return [{name: col[j].as_py() for name, col in columns.items()} for j in where]

    def segments_of(self, match) -> list[int]:
        """Segment numbers whose meta row satisfies ``match(row)`` (reads the key columns once)."""
        table = self.meta if isinstance(self.meta, pa.Table) else pq.ParquetFile(self.meta).read(
            columns=["path", "video_id", "start", "end"])
        rows = table.select(["path", "video_id", "start", "end"]).to_pylist()
        return [i for i, r in enumerate(rows) if match(r)]


def _unit_rows(m: np.ndarray) -> np.ndarray:
    return m / np.linalg.norm(m, axis=1, keepdims=True) if len(m) else m


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float32)
    return v / (np.linalg.norm(v) or 1.0)


# --- sources -----------------------------------------------------------------------------------------

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
    if len(arr) == 0 or pa.types.is_null(arr.type):
        return pa.array([[]] * len(arr), pa.list_(pa.string()))
    arr = arr.fill_null([]) if arr.null_count else arr
    return pa.ListArray.from_arrays(arr.offsets, arr.values.field("label"))


def quantise(unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalised rows (n, D) -> int8 rows and (n, 2) float32 [scale, ||unit - int8 * scale||]."""
    scale = np.abs(unit).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q8 = np.rint(unit / scale[:, None]).astype(np.int8)
    err = np.linalg.norm(unit - q8.astype(np.float32) * scale[:, None], axis=1)
    return q8, np.stack([scale, err], axis=1).astype(np.float32)


def _read_source(src: dict) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], pa.Table]:
    """One Parquet file's searchable columns (key -> (local row numbers, rows as written)) and meta rows
    (superseded rows dropped)."""
    path = Path(src["path"])
    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    wanted = [c for c in names if key_of(c)] + [c for c in KEY_COLUMNS if c in names]
    data = pf.read(columns=wanted)
    if src["drop_keys"]:
        data = drop_superseded_rows(data, parts_of(path), set(src["drop_keys"]))
    n = data.num_rows
    out = {}
    for name in data.column_names:
        key = key_of(name)
        if key is None:
            continue
        matrix = _matrix(data.column(name))
        if matrix is None:
            continue
        norms = np.linalg.norm(matrix, axis=1)
        keep = np.nonzero(norms > 1e-8)[0]
        out[key] = (keep.astype(np.int64), matrix[keep])
    def col(name, typ, default):
        return data.column(name).cast(typ) if name in data.column_names else pa.array([default] * n, typ)
    meta = pa.table([col("path", pa.string(), ""), col("video_id", pa.string(), ""),
                     col("segment", pa.int32(), 0), col("start", pa.float64(), 0.0), col("end", pa.float64(), 0.0),
                     _labels(data.column("tags")) if "tags" in data.column_names
                     else pa.array([[]] * n, pa.list_(pa.string()))], schema=META_SCHEMA)
    return out, meta


def _matrix(column: pa.ChunkedArray) -> np.ndarray | None:
    from mmvideo.search import vectors  # the one reader of embedding columns (zero rows for nulls)

    return vectors(column)


# --- loading -----------------------------------------------------------------------------------------

def _load(cache: Path) -> tuple[dict, Index | None]:
    try:
        with open(cache / "index.json", encoding="utf-8") as fh:
            index = json.load(fh)
        if index.get("version") != VERSION:
            return {}, None
        n = index["rows"]
        columns = {}
        for key, c in index["columns"].items():
            count, dim = c["count"], c["dim"]
            if not count:
                continue
            columns[key] = Column(
                np.memmap(cache / c["int8"], np.int8, "r", shape=(count, dim)),
                np.memmap(cache / c["aux"], np.float32, "r", shape=(count, 2)),
                np.memmap(cache / c["f32"], np.float32, "r", shape=(count, dim)),
                np.fromfile(cache / c["rows"], np.int32) if c.get("rows") else None)
        videos = np.fromfile(cache / index["videos"], np.int32) if n else np.zeros(0, np.int32)
        return index, Index(n, columns, videos, cache / index["meta"])
    except (OSError, ValueError, KeyError, TypeError):
        return {}, None


def open_index(out_dir: os.PathLike | str) -> Index | None:
    """The up-to-date search index of ``out_dir`` (built or refreshed as needed); None without Parquet results."""
    out = Path(out_dir)
    sources = _sources(out)
    if not sources:
        return None
    cache = out / CACHE
    old, old_index = _load(cache)
    if old_index is not None and [tuple(s) for s in old["sources"]] == [_signature(s) for s in sources]:
        return old_index
    try:
        _rebuild(cache, sources, old, old_index)
        return _load(cache)[1]
    except OSError:  # a folder we may not write: the same index, built in a temporary folder
        tmp = Path(tempfile.mkdtemp(prefix="mmvideo-search-"))
        try:
            _rebuild(tmp, sources, {}, None)
            return _in_memory(_load(tmp)[1])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _in_memory(index: Index) -> Index:
    """``index`` with every array read into memory (its files are about to go)."""
    cols = {k: Column(np.array(c.int8), np.array(c.aux), np.array(c.f32), c.rows) for k, c in index.columns.items()}
    return Index(index.size, cols, index.videos, pq.read_table(index.meta))


# --- building ----------------------------------------------------------------------------------------

class _ColumnWriter:
    """Appends one key's rows to its four files."""

    def __init__(self, cache: Path, key: str, token: str, dim: int) -> None:
        self.names = {kind: f"{key}-{token}.{kind}" for kind in ("int8", "aux", "f32", "rows")}
        self.files = {kind: open(cache / f".{name}.tmp", "wb") for kind, name in self.names.items()}
        self.cache, self.dim, self.count, self.dense = cache, dim, 0, True

    def add(self, rows: np.ndarray, q8: np.ndarray, aux: np.ndarray, f32: np.ndarray) -> None:
        if len(rows) != q8.shape[0] or q8.shape[1] != self.dim:
            raise ValueError("column rows disagree")
        if self.dense and not np.array_equal(rows, np.arange(self.count, self.count + len(rows))):
            self.dense = False
        self.files["int8"].write(np.ascontiguousarray(q8, np.int8).tobytes())
        self.files["aux"].write(np.ascontiguousarray(aux, np.float32).tobytes())
        self.files["f32"].write(np.ascontiguousarray(f32, np.float32).tobytes())
        self.files["rows"].write(np.asarray(rows, np.int32).tobytes())
        self.count += len(rows)

    def close(self, total: int) -> dict:
        """Finish the files (fsynced, renamed); the column's entry in ``index.json``."""
        dense = self.dense and self.count == total
        entry = {"count": self.count, "dim": self.dim}
        for kind, fh in self.files.items():
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()
            tmp = self.cache / f".{self.names[kind]}.tmp"
            if kind == "rows" and dense:
                tmp.unlink()
                continue
            os.replace(tmp, self.cache / self.names[kind])
            entry[kind] = self.names[kind]
        return entry

    def abort(self) -> None:
        for kind, fh in self.files.items():
            fh.close()
            (self.cache / f".{self.names[kind]}.tmp").unlink(missing_ok=True)


def _rebuild(cache: Path, sources: list[dict], old: dict, old_index: Index | None) -> None:
    """Write a new cache: unchanged sources' rows copied from the old one, the others read."""
    cache.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    meta_name, videos_name = f"meta-{token}.parquet", f"videos-{token}.i32"
    reuse = {}
    if old and old_index is not None:
        offset = 0
        for sig, rows in zip(old["sources"], old["source_rows"]):
            reuse[tuple(sig)] = (offset, rows)
            offset += rows
    old_meta = pq.read_table(old_index.meta) if old_index is not None and any(
        _signature(s) in reuse for s in sources) else None
    writers: dict[str, _ColumnWriter] = {}
    total, source_rows, video_numbers = 0, [], {}
    try:
        with pq.ParquetWriter(cache / f".{meta_name}.tmp", META_SCHEMA, compression="zstd") as mw, \
                open(cache / f".{videos_name}.tmp", "wb") as vf:
            buffer = _RowGroups(mw)
            for src in sources:
                hit = reuse.get(_signature(src))
                if hit is not None and old_meta is not None:
                    start, n = hit
                    meta = old_meta.slice(start, n)
                    columns = {}
                    for key, col in old_index.columns.items():
                        lo, hi = (start, start + n) if col.rows is None else \
                            np.searchsorted(col.rows, [start, start + n])
                        rows = np.arange(lo, hi) if col.rows is None else col.rows[lo:hi].astype(np.int64)
                        if hi > lo:
                            columns[key] = (rows - start, (col.int8[lo:hi], col.aux[lo:hi], col.f32[lo:hi]))
                else:
                    read, meta = _read_source(src)
                    columns = {key: (rows, (*quantise(_unit_rows(m)), m)) for key, (rows, m) in read.items()}
                for key, (rows, (q8, aux, f32)) in columns.items():
                    if key not in writers:
                        writers[key] = _ColumnWriter(cache, key, token, q8.shape[1])
                    writers[key].add(rows + total, q8, aux, f32)
                ids = meta.column("video_id").to_pylist()
                vf.write(np.array([video_numbers.setdefault(v, len(video_numbers)) for v in ids],
                                  np.int32).tobytes())
                buffer.add(meta)
                source_rows.append(len(meta))
                total += len(meta)
            buffer.close()
            vf.flush()
            os.fsync(vf.fileno())
        entries = {key: w.close(total) for key, w in writers.items()}
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    os.replace(cache / f".{meta_name}.tmp", cache / meta_name)
    os.replace(cache / f".{videos_name}.tmp", cache / videos_name)
    index = {"version": VERSION, "rows": total, "columns": entries, "videos": videos_name, "meta": meta_name,
             "sources": [list(_signature(s)) for s in sources], "source_rows": source_rows}
    tmp = cache / f".index.json.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(index, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, cache / "index.json")
    keep = {meta_name, videos_name, "index.json"} | {n for e in entries.values() for k, n in e.items()
                                                      if k in ("int8", "aux", "f32", "rows")}
    for stale in cache.iterdir():  # earlier caches (a search still reading one keeps its open mapping)
        if stale.name not in keep and not stale.name.startswith("."):
            stale.unlink(missing_ok=True)


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
