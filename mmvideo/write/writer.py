"""Write one video's results as whole files: temp name in the same folder, fsync, then rename.

Layout under the output folder (one part per video, so a video's rows appear whole or not at all and
a rerun replaces them instead of duplicating them)::

    OUT/parquet/segments/<video_id>.parquet   OUT/parquet/videos/<video_id>.parquet
    OUT/jsonl/segments/<video_id>.jsonl       OUT/jsonl/videos/<video_id>.jsonl

Parts are named by the video record's ``video_id``: the content id, or for a copy of another file and a
file with no usable content a key derived from its path (``dup-...``, ``err-...``), so no input file's
parts overwrite another's. Temp files start with '.', which pyarrow, pandas, polars and DuckDB globs skip.
The segments part is written before the video part, so a video row always has its segments beside it.
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
    """Where one video's part of one table lives."""
    return Path(out_dir) / fmt / table / f"{video_id}{EXTENSIONS[fmt]}"


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


def _write_parquet(path: Path, rows: list[dict], schema: pa.Schema) -> None:
    table = pa.Table.from_pylist(rows, schema=schema)
    write_atomic(path, lambda fh: pq.write_table(table, fh, compression="zstd"))


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    def write(fh) -> None:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, allow_nan=False).encode("utf-8"))
            fh.write(b"\n")

    write_atomic(path, write)


def write_video(out_dir: os.PathLike | str, video: VideoRecord, segments: Sequence[SegmentRecord],
                formats: Sequence[str] = ("parquet",), *, schema: pa.Schema | None = None) -> list[Path]:
    """Write (or replace) one video's segment rows and video row in each format; returns the files.

    schema: the segments table's schema (the pipeline's ``segment_schema``: its modalities' columns); default:
    the fixed fields, attention over the modalities the records name."""
    if schema is None:
        names = dict.fromkeys(m for s in segments for t in s.tags for m in t.attention)
        schema = segment_schema(list(names) or ["none"])
    seg_rows = [segment_row(s, schema) for s in segments]
    vid_rows = [video_row(video)]
    written = []
    for fmt in formats:
        seg_path = part_path(out_dir, fmt, "segments", video.video_id)
        vid_path = part_path(out_dir, fmt, "videos", video.video_id)
        if fmt == "parquet":
            _write_parquet(seg_path, seg_rows, schema)
            _write_parquet(vid_path, vid_rows, VIDEO_SCHEMA)
        elif fmt == "jsonl":
            _write_jsonl(seg_path, seg_rows)
            _write_jsonl(vid_path, vid_rows)
        else:
            raise ParameterError(f"unknown format. Received: format={fmt!r}")
        written += [seg_path, vid_path]
    return written


def remove_parts(out_dir: os.PathLike | str, key: str) -> list[Path]:
    """Delete one video's parts in every format and its ``evidence/<key>.parquet``; returns what was removed."""
    candidates = [part_path(out_dir, fmt, table, key) for fmt in FORMATS for table in TABLES]
    candidates.append(Path(out_dir) / EVIDENCE_DIR / f"{key}.parquet")
    removed = []
    for path in candidates:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
    return removed


def relocate(out_dir: os.PathLike | str, key: str, new_path: str) -> list[Path]:
    """Rewrite the ``path`` of one video's rows (a moved file) in every part it has; returns the parts."""
    rewritten = []
    for fmt in FORMATS:
        for table in TABLES:
            part = part_path(out_dir, fmt, table, key)
            if not part.exists():
                continue
            if fmt == "parquet":
                data = pq.read_table(part)
                if "path" in data.column_names:
                    i = data.column_names.index("path")
                    data = data.set_column(i, data.schema.field(i), pa.array([new_path] * data.num_rows,
                                                                            pa.string()))
                write_atomic(part, lambda fh, data=data: pq.write_table(data, fh, compression="zstd"))
            else:
                with open(part, encoding="utf-8") as fh:
                    rows = [json.loads(line) for line in fh if line.strip()]
                _write_jsonl(part, [{**row, "path": new_path} for row in rows])
            rewritten.append(part)
    return rewritten
