"""Read an output folder back as Arrow tables (Parquet parts preferred, else JSON Lines parts).

Folders written by earlier schema versions read too: a column a part lacks is null in its rows. Compacted
folders (``write/compact.py``) read the same: the files are listed through the compaction journal, a video's
own part wins over a compacted copy of it, and a read that overlapped a compaction is done again.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mmvideo.errors import SetupError
from mmvideo.write.compact import drop_superseded_rows, is_compacted, parts_of, read_manifest, visible_parts
from mmvideo.write.schema import VIDEO_SCHEMA


def _parts(out_dir: Path, fmt: str, table: str) -> list[Path]:
    folder = out_dir / fmt / table
    ext = ".parquet" if fmt == "parquet" else ".jsonl"
    return sorted(p for p in folder.glob(f"*{ext}") if not p.name.startswith(".")) if folder.is_dir() else []


def _typed_vectors(table: pa.Table) -> pa.Table:
    """JSON Lines carry vectors as lists of numbers: give ``embedding`` and ``*_embedding`` columns their
    fixed-size float32 type (the modalities' columns vary, so the rest of the schema is inferred)."""
    for i, f in enumerate(table.schema):
        if (f.name == "embedding" or f.name.endswith("_embedding")) and pa.types.is_list(f.type):
            sizes = {len(v) for v in table.column(i).to_pylist() if v is not None}
            if len(sizes) == 1:
                typed = pa.list_(pa.float32(), sizes.pop())
                table = table.set_column(i, pa.field(f.name, typed), table.column(i).cast(typed))
    return table


def _json_column(values: list) -> pa.Array:
    """One JSON Lines column as an Arrow array, typed by inference; integers past int64 (the signature's uint64
    frame hashes: half of them) are read as uint64 rather than failing."""
    try:
        return pa.array(values)
    except OverflowError:
        flat = any(isinstance(v, int) for v in values)
        return pa.array(values, type=pa.uint64() if flat else pa.list_(pa.uint64()))


def _rows_table(rows: list[dict], columns: Sequence[str] | None = None) -> pa.Table:
    """JSON Lines rows as a table (only ``columns`` when given), vectors typed (``_typed_vectors``)."""
    names = list(columns) if columns else list(dict.fromkeys(k for r in rows for k in r))
    return _typed_vectors(pa.table({n: _json_column([r.get(n) for r in rows]) for n in names}))


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with every field of ``schema`` it lacks added as nulls (older parts), others kept."""
    for field in schema:
        if field.name not in table.column_names:
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
    return table


RETRIES = 20


def parquet_snapshot(out_dir: os.PathLike | str, table: str, read) -> list:
    """``read(path, superseded_keys)`` for each Parquet file of ``table``, as of one moment: retried while a
    compaction changes the folder underneath. ``superseded_keys``: keys whose rows a compacted file must drop."""
    out = Path(out_dir)
    for _ in range(RETRIES):
        paths, manifest = visible_parts(out, table)
        if manifest["phase"] == "swapping" and _roll_forward(out):
            continue
        loose = {name[: -len(".parquet")] for name, _ in paths if not is_compacted(name)}
        try:
            results = [read(path, loose if is_compacted(name) else None) for name, path in paths]
        except FileNotFoundError:  # replaced while read
            time.sleep(0.05)
            continue
        if read_manifest(out) == manifest:
            return results
        time.sleep(0.05)
    raise SetupError(f"{out}: results kept changing while being read (a compaction running?); try again")


def _roll_forward(out: Path) -> bool:
    """Finish a compaction a killed process left half done, when no run holds the folder; True if done."""
    from mmvideo.state import RunLock
    from mmvideo.write.compact import recover

    try:
        with RunLock(out):
            return recover(out)
    except (SetupError, OSError):  # a run or compaction is working (it finishes the swap), or read-only
        return False


def _read_part(path: Path, loose: set[str] | None, columns: Sequence[str] | None) -> pa.Table:
    data = pq.read_table(path, columns=list(columns) if columns else None)
    return drop_superseded_rows(data, parts_of(path), loose) if loose is not None else data


def read_table(out_dir: os.PathLike | str, table: str = "segments", *, columns: Sequence[str] | None = None
               ) -> pa.Table:
    """All rows of ``segments`` or ``videos`` in an output folder (only ``columns`` when given); ``SetupError``
    if it holds none."""
    out = Path(out_dir)
    tables = parquet_snapshot(out, table, lambda p, loose: _read_part(p, loose, columns))
    if tables:
        if table == "videos" and not columns:  # schema-1 parts lack the schema-2 columns: null there
            tables = [_conform(t, VIDEO_SCHEMA) for t in tables]
        return pa.concat_tables(tables, promote_options="default")
    jsonl = _parts(out, "jsonl", table)
    if jsonl:
        rows = []
        for p in jsonl:
            with open(p, encoding="utf-8") as fh:
                rows += [json.loads(line) for line in fh if line.strip()]
        if table == "videos":
            data = pa.Table.from_pylist(rows, schema=VIDEO_SCHEMA)
            return data.select(list(columns)) if columns else data
        return _rows_table(rows, columns)
    raise SetupError(f"{out}: no mmvideo results found (expected {out}/parquet/{table} or {out}/jsonl/{table})")
