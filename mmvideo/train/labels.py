"""Labels in: ``video,start,end,label`` rows (CSV or Parquet) or a folder per class, mapped onto a run's segments.

Pure functions but for reading the file. A row's ``video`` is a path (relative to the labels file) or a content
id; ``start``/``end`` are seconds (both blank: the whole video); several rows may label the same span. A
folder ``DIR/<label>/*.mp4`` labels every segment of each video with its folder's name. Every bad row is one
``LabelError`` line naming the file and the row: ``labels.csv:7: end 2.0 is before start 3.0``.

A label span marks a segment when they overlap by at least half of the segment or half of the span
(``MIN_OVERLAP``), so spans drawn by hand need not match the run's segment boundaries.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmvideo.errors import ParameterError

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts", ".wmv", ".flv")
MIN_OVERLAP = 0.5
COLUMNS = ("video", "start", "end", "label")


class LabelError(ParameterError):
    """A labels file or folder that cannot be used: one line naming the file and the row (exit code 2)."""


@dataclass(frozen=True)
class LabelSpan:
    """One labelled span: ``video`` as written (path or content id), seconds ``start`` < ``end`` (``end`` may be
    ``inf``: to the end of the video), a non-empty ``label`` and ``where`` it came from ("file:row")."""

    video: str
    start: float
    end: float
    label: str
    where: str


def _time(value: object, name: str, where: str, default: float) -> float:
    if value is None or (isinstance(value, str) and not value.strip()) or (
            isinstance(value, float) and math.isnan(value)):
        return default
    try:
        t = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise LabelError(f"{where}: {name} {value!r} is not a number of seconds") from None
    if not math.isfinite(t) and not (name == "end" and t == math.inf) or t < 0:
        raise LabelError(f"{where}: {name} {value!r} must be a number of seconds >= 0")
    return t


def parse_row(row: dict, where: str) -> LabelSpan:
    """One row (``video``, ``start``, ``end``, ``label``) checked: ``LabelError`` naming ``where`` otherwise."""
    video = str(row.get("video") or "").strip()
    label = str(row.get("label") or "").strip() if row.get("label") is not None else ""
    if not video:
        raise LabelError(f"{where}: empty video")
    if not label:
        raise LabelError(f"{where}: empty label")
    start = _time(row.get("start"), "start", where, 0.0)
    end = _time(row.get("end"), "end", where, math.inf)
    if end <= start:
        raise LabelError(f"{where}: end {end:g} is not after start {start:g} (reversed or empty span)")
    return LabelSpan(video, start, end, label, where)


def read_labels(path: os.PathLike | str) -> list[LabelSpan]:
    """Every label span of a CSV or Parquet file (header ``video,start,end,label``) or a folder per class."""
    p = Path(path)
    if p.is_dir():
        return _folder_labels(p)
    if not p.is_file():
        raise LabelError(f"{p}: no such labels file or folder")
    if p.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            rows = pq.read_table(p).to_pylist()
        except Exception as exc:  # noqa: BLE001 - any reader failure is one line
            raise LabelError(f"{p}: not a readable Parquet file ({exc})") from None
        names = set(rows[0]) if rows else set(COLUMNS)
        _check_columns(p, names)
        spans = [parse_row(r, f"{p}: row {i + 1}") for i, r in enumerate(rows)]
    else:
        with open(p, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            _check_columns(p, set(reader.fieldnames or ()))
            spans = [parse_row(r, f"{p}:{reader.line_num}") for r in reader]
    if not spans:
        raise LabelError(f"{p}: no label rows")
    return spans


def _check_columns(path: Path, names: set[str]) -> None:
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise LabelError(f"{path}: missing column(s) {', '.join(missing)} (expected a header video,start,end,label)")


def _folder_labels(root: Path) -> list[LabelSpan]:
    spans = []
    for folder in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")):
        for f in sorted(folder.iterdir()):
            if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES:
                spans.append(LabelSpan(str(f.relative_to(root)), 0.0, math.inf, folder.name, str(f)))
    if not spans:
        raise LabelError(f"{root}: no videos in class folders (expected {root}/<label>/*.mp4)")
    return spans


def label_names(spans: Sequence[LabelSpan]) -> list[str]:
    """The labels in order of first appearance."""
    return list(dict.fromkeys(s.label for s in spans))


def resolve_videos(spans: Sequence[LabelSpan], base: os.PathLike | str, known_ids: set[str],
                   content_id=None) -> dict[str, str]:
    """``video`` as written -> content id: a known content id as is, else the file at ``base/video`` (or the
    absolute path), hashed with ``content_id`` (``mmvideo.discover.content_id``). ``LabelError`` naming the first
    row of a video that is neither."""
    if content_id is None:
        from mmvideo.discover import content_id
    base = Path(base)
    out: dict[str, str] = {}
    for s in spans:
        if s.video in out:
            continue
        if s.video in known_ids:
            out[s.video] = s.video
            continue
        path = Path(s.video) if os.path.isabs(s.video) else base / s.video
        if not path.is_file():
            raise LabelError(f"{s.where}: unknown video {s.video!r} (no file {path}, and no evidence with that "
                             f"content id)")
        out[s.video] = content_id(path)
    return out


def segment_targets(segments: Sequence[tuple[float, float]], spans: Sequence[LabelSpan],
                    labels: Sequence[str]) -> np.ndarray:
    """(S, L) float32 0/1: segment s carries label l when a span of l overlaps it by >= ``MIN_OVERLAP`` of the
    segment's or of the span's length. ``segments``: (start, end) seconds in order; spans of other labels are
    ignored."""
    index = {label: j for j, label in enumerate(labels)}
    out = np.zeros((len(segments), len(labels)), np.float32)
    for k, (s0, s1) in enumerate(segments):
        seg_len = max(s1 - s0, 1e-9)
        for sp in spans:
            j = index.get(sp.label)
            if j is None:
                continue
            inter = min(s1, sp.end) - max(s0, sp.start)
            if inter <= 0:
                continue
            if inter >= MIN_OVERLAP * seg_len or (math.isfinite(sp.end) and inter >= MIN_OVERLAP * (sp.end - sp.start)):
                out[k, j] = 1.0
    return out
