"""Read an output folder back as Arrow tables (Parquet parts preferred, else JSON Lines parts).

Folders written by earlier schema versions read too: a column a part lacks is null in its rows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mmvideo.errors import SetupError
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


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with every field of ``schema`` it lacks added as nulls (older parts), others kept."""
    for field in schema:
        if field.name not in table.column_names:
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
    return table


def read_table(out_dir: os.PathLike | str, table: str = "segments") -> pa.Table:
    """All rows of ``segments`` or ``videos`` in an output folder; ``SetupError`` if it holds none."""
    out = Path(out_dir)
    parquet = _parts(out, "parquet", table)
    if parquet:
        tables = [pq.read_table(p) for p in parquet]
        if table == "videos":  # schema-1 parts lack the schema-2 columns: null there
            tables = [_conform(t, VIDEO_SCHEMA) for t in tables]
        return pa.concat_tables(tables, promote_options="default")
    jsonl = _parts(out, "jsonl", table)
    if jsonl:
        rows = []
        for p in jsonl:
            with open(p, encoding="utf-8") as fh:
                rows += [json.loads(line) for line in fh if line.strip()]
        if table == "videos":
            return pa.Table.from_pylist(rows, schema=VIDEO_SCHEMA)
        return _typed_vectors(pa.Table.from_pylist(rows))
    raise SetupError(f"{out}: no mmvideo results found (expected {out}/parquet/{table} or {out}/jsonl/{table})")
