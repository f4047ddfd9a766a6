"""Write one video's results as whole files: temp name in the same folder, fsync, then rename.

Layout under the output folder (one part per video, so a video's rows appear whole or not at all and
a rerun replaces them instead of duplicating them)::

    OUT/parquet/segments/<video_id>.parquet   OUT/parquet/videos/<video_id>.parquet
    OUT/jsonl/segments/<video_id>.jsonl       OUT/jsonl/videos/<video_id>.jsonl

Parts are named by the video record's ``video_id``: the content id, or for a copy of another file and a
file with no usable content a key derived from its path (``dup-...``, ``err-...``), so no input file's
parts overwrite another's. Temp files start with '.', which pyarrow, pandas, polars and DuckDB globs skip.
The segments part is written before the video part, so a video row always has its segments beside it.
The same layout goes to an object store (``s3://...``, ``write/target.py``): each part uploaded once to its
final key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mmvideo.errors import ParameterError
from mmvideo.records import SegmentRecord, VideoRecord
from mmvideo.write.schema import VIDEO_SCHEMA, segment_row, segment_schema, video_row
from mmvideo.write.target import delete_part, read_part, write_part

FORMATS = ("jsonl", "parquet")
EXTENSIONS = {"parquet": ".parquet", "jsonl": ".jsonl"}
TABLES = ("segments", "videos")
EVIDENCE_DIR = "evidence"


def parse_formats(value: str) -> tuple[str, ...]:
    """``jsonl``, ``parquet`` or ``both`` -> the formats to write."""
    if value == "both":
        return FORMATS
    if value not in FORMATS:
        raise ParameterError(f"format must be jsonl, parquet or both. Received: format={value!r}")
    return (value,)


def part_path(out_dir: os.PathLike | str, fmt: str, table: str, video_id: str) -> Path:
    """Where one video's part of one table lives (a local output folder)."""
    return Path(out_dir) / part_rel(fmt, table, video_id)


def part_rel(fmt: str, table: str, video_id: str) -> str:
    """One video's part of one table, relative to the output root ('/'-separated: local or object store)."""
    return f"{fmt}/{table}/{video_id}{EXTENSIONS[fmt]}"


def write_atomic(path: Path, write) -> None:
    """Write ``path`` whole or not at all: ``write(fh)`` into a hidden temp file beside it, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_parquet(out_dir: os.PathLike | str, rel: str, rows: list[dict], schema: pa.Schema) -> Path | str:
    table = pa.Table.from_pylist(rows, schema=schema)
    return write_part(out_dir, rel, lambda fh: pq.write_table(table, fh, compression="zstd"))


def _write_jsonl(out_dir: os.PathLike | str, rel: str, rows: list[dict]) -> Path | str:
    def write(fh) -> None:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, allow_nan=False).encode("utf-8"))
            fh.write(b"\n")

    return write_part(out_dir, rel, write)


def write_video(out_dir: os.PathLike | str, video: VideoRecord, segments: Sequence[SegmentRecord],
                formats: Sequence[str] = ("parquet",), *, schema: pa.Schema | None = None) -> list[Path | str]:
    """Write (or replace) one video's segment rows and video row in each format; returns where they went.

    schema: the segments table's schema (the pipeline's ``segment_schema``: its modalities' columns); default:
    the fixed fields, attention over the modalities the records name."""
    if schema is None:
        names = dict.fromkeys(m for s in segments for t in s.tags for m in t.attention)
        schema = segment_schema(list(names) or ["none"])
    seg_rows = [segment_row(s, schema) for s in segments]
    vid_rows = [video_row(video)]
    written = []
    for fmt in formats:
        if fmt not in FORMATS:
            raise ParameterError(f"unknown format. Received: format={fmt!r}")
        seg_rel = part_rel(fmt, "segments", video.video_id)
        vid_rel = part_rel(fmt, "videos", video.video_id)
        if fmt == "parquet":
            written.append(_write_parquet(out_dir, seg_rel, seg_rows, schema))
            written.append(_write_parquet(out_dir, vid_rel, vid_rows, VIDEO_SCHEMA))
        else:
            written.append(_write_jsonl(out_dir, seg_rel, seg_rows))
            written.append(_write_jsonl(out_dir, vid_rel, vid_rows))
    return written


def remove_parts(out_dir: os.PathLike | str, key: str) -> list[str]:
    """Delete one video's parts in every format and its ``evidence/<key>.parquet``; returns what was removed."""
    candidates = [part_rel(fmt, table, key) for fmt in FORMATS for table in TABLES]
    candidates.append(f"{EVIDENCE_DIR}/{key}.parquet")
    return [rel for rel in candidates if delete_part(out_dir, rel)]


def relocate(out_dir: os.PathLike | str, key: str, new_path: str) -> list[str]:
    """Rewrite the ``path`` of one video's rows (a moved file) in every part it has; returns the parts."""
    rewritten = []
    for fmt in FORMATS:
        for table in TABLES:
            rel = part_rel(fmt, table, key)
            data = read_part(out_dir, rel)
            if data is None:
                continue
            if fmt == "parquet":
                table_ = pq.read_table(pa.BufferReader(data))
                if "path" in table_.column_names:
                    i = table_.column_names.index("path")
                    table_ = table_.set_column(i, table_.schema.field(i),
                                               pa.array([new_path] * table_.num_rows, pa.string()))
                write_part(out_dir, rel, lambda fh, t=table_: pq.write_table(t, fh, compression="zstd"))
            else:
                rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
                _write_jsonl(out_dir, rel, [{**row, "path": new_path} for row in rows])
            rewritten.append(rel)
    return rewritten

