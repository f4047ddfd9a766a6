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
from mmvideo.write.schema import VIDEO_SCHEMA, segment_schema


def _parts(out_dir: Path, fmt: str, table: str) -> list[Path]:
    folder = out_dir / fmt / table
    ext = ".parquet" if fmt == "parquet" else ".jsonl"
    return sorted(p for p in folder.glob(f"*{ext}") if not p.name.startswith(".")) if folder.is_dir() else []


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
        schema = segment_schema() if table == "segments" else VIDEO_SCHEMA
        if table == "segments" and rows and "image_embedding" in rows[0]:
            schema = segment_schema(modality_embeddings=True)
        return pa.Table.from_pylist(rows, schema=schema)
    raise SetupError(f"{out}: no mmvideo results found (expected {out}/parquet/{table} or {out}/jsonl/{table})")
