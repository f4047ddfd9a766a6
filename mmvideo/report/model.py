"""Turn the rows of an output folder into the compact, column-wise JSON the page reads (``data-<hash>.js``).

Segments are columns over all videos (video ``i`` owns rows ``s0 .. s0+sn``); a row's tags are the slice
``to[r] .. to[r+1]`` of the flat tag columns. Scores and weights are integers in thousandths: a small file
that the browser parses fast, and filters that loop over flat arrays.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mmvideo.report.data import ReportData, list_parts

TOP_TAGS = 30  # most frequent tags listed in the summary
SCALE = 1000  # scores and weights as integer thousandths


def file_uri(path: str) -> str | None:
    """``file:///...`` for an absolute path (``#``, ``?`` and spaces percent-encoded), else None."""
    if not path or not os.path.isabs(path):
        return None
    try:
        return Path(path).as_uri()
    except ValueError:
        return None


def _milli(arr: pa.Array | np.ndarray) -> list[int]:
    x = arr.to_numpy(zero_copy_only=False) if isinstance(arr, (pa.Array, pa.ChunkedArray)) else arr
    return np.rint(np.nan_to_num(np.asarray(x, np.float64)) * SCALE).astype(np.int64).tolist()


def _coded(values: pa.Array, vocab: dict[str, int]) -> list[int]:
    """Strings as indices into ``vocab`` (extended in first-seen order)."""
    enc = pc.dictionary_encode(pc.fill_null(values, ""))
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    remap = np.array([vocab.setdefault(s, len(vocab)) for s in enc.dictionary.to_pylist()] or [0], np.int64)
    return remap[enc.indices.to_numpy(zero_copy_only=False)].tolist() if len(enc) else []


def _tags(data: ReportData) -> tuple[list[str], dict[str, Any], np.ndarray, np.ndarray]:
    """Labels (most frequent first) and the tag columns; also per tag its row and label index (for the summary)."""
    offsets, flat = list_parts(data.segments.column("tags"))
    labels_arr = pc.fill_null(flat.field("label"), "")
    enc = pc.dictionary_encode(labels_arr)
    codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    names = enc.dictionary.to_pylist()
    counts = np.bincount(codes, minlength=len(names)) if len(codes) else np.zeros(len(names), np.int64)
    by_freq = sorted(range(len(names)), key=lambda i: (-counts[i], names[i]))
    new_ix = np.empty(len(names), np.int64)
    new_ix[by_freq] = np.arange(len(names))
    label_ix = new_ix[codes] if len(codes) else codes
    att = flat.field("attention")
    weights = np.stack([att.field(m).to_numpy(zero_copy_only=False) for m in data.modalities], axis=1) \
        if data.modalities and len(flat) else np.zeros((len(flat), len(data.modalities)))
    cols = {"to": offsets.tolist(), "tl": label_ix.tolist(), "ts": _milli(flat.field("score")),
            "ta": _milli(weights.reshape(-1))}
    row_of_tag = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    return [names[i] for i in by_freq], cols, row_of_tag, label_ix


def _classes(data: ReportData, column: str, vocab: dict[str, int], prefix: str) -> dict[str, list]:
    offsets, flat = list_parts(data.segments.column(column))
    return {f"{prefix}o": offsets.tolist(), f"{prefix}n": _coded(flat.field("name"), vocab),
            f"{prefix}s": _milli(flat.field("score"))}


def _modality_masks(data: ReportData, names: list[str]) -> list[int]:
    offsets, flat = list_parts(data.segments.column("modalities"))
    codes = np.array(_coded(flat, {n: i for i, n in enumerate(names)}) or [], np.int64)
    bits = np.left_shift(1, codes) if len(codes) else codes
    rows = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    mask = np.zeros(len(offsets) - 1, np.int64)
    np.bitwise_or.at(mask, rows, bits)
    return mask.tolist()


def _summary(data: ReportData, labels: list[str], row_of_tag: np.ndarray, label_ix: np.ndarray) -> dict[str, Any]:
    statuses: dict[str, int] = defaultdict(int)
    problems = []
    duration = 0.0
    for v in data.videos:
        status = v.get("status") or "unknown"
        statuses[status] += 1
        if status == "done":
            duration += v.get("duration") or 0.0
        else:
            problems.append({"p": v.get("path") or "", "s": status, "g": v.get("stage"), "e": v.get("error")})
    seg = data.segments
    length = np.clip(seg.column("end").to_numpy(zero_copy_only=False).astype(np.float64)
                     - seg.column("start").to_numpy(zero_copy_only=False).astype(np.float64), 0, None)
    seconds = np.bincount(label_ix, weights=length[row_of_tag], minlength=len(labels)) if len(label_ix) else []
    video_of_row = np.repeat(np.arange(len(data.bounds)), [hi - lo for lo, hi in data.bounds])
    pairs = np.unique(np.stack([label_ix, video_of_row[row_of_tag]], axis=1), axis=0) if len(label_ix) else []
    n_videos = np.bincount(pairs[:, 0], minlength=len(labels)) if len(pairs) else []
    top = sorted(range(len(labels)), key=lambda i: (-seconds[i], labels[i]))[:TOP_TAGS]
    return {"videos": len(data.videos), "statuses": dict(sorted(statuses.items())), "problems": problems,
            "duration": round(duration, 3), "segments": seg.num_rows,
            "top": [[labels[i], round(float(seconds[i]), 1), int(n_videos[i])] for i in top]}


def page_data(data: ReportData, pictures: list[dict[str, Any]], out_dir: str) -> dict[str, Any]:
    """The page's data: summary, names (modalities, labels, classes), videos, and the segment columns.

    ``pictures`` has one entry per video: ``tb``/``rb`` (thumbnail folder URLs relative to the report, or
    None) and ``th`` (per segment: 0 no picture, 1 in ``tb``, 2 in ``rb``).
    """
    labels, tag_cols, row_of_tag, label_ix = _tags(data)
    classes: dict[str, int] = {}
    seg = data.segments
    names = list(dict.fromkeys(data.modalities + sorted(set(pc.list_flatten(seg.column("modalities"))
                                                              .to_pylist()) - set(data.modalities))))
    cols: dict[str, Any] = {
        "k": seg.column("segment").to_pylist(),
        "a": np.round(seg.column("start").to_numpy(zero_copy_only=False).astype(np.float64), 3).tolist(),
        "b": np.round(seg.column("end").to_numpy(zero_copy_only=False).astype(np.float64), 3).tolist(),
        "x": pc.fill_null(seg.column("text"), "").to_pylist(),
        "f": seg.column("faces").to_pylist(),
        "m": _modality_masks(data, names),
        "th": [code for p in pictures for code in p["th"]],
        **tag_cols, **_classes(data, "image_classes", classes, "i"), **_classes(data, "audio_classes", classes, "u"),
    }
    videos = []
    for v, (lo, hi), pic in zip(data.videos, data.bounds, pictures):
        path = v.get("path") or ""
        videos.append({"i": v.get("video_id") or "", "p": path, "n": PurePath(path).name or path,
                       "u": file_uri(path), "s": v.get("status") or "unknown", "d": v.get("duration"),
                       "c": v.get("container"), "g": v.get("stage"), "e": v.get("error"),
                       "w": list(v.get("warnings") or []), "t": [c["label"] for c in v.get("top_tags") or []],
                       "s0": lo, "sn": hi - lo, "tb": pic["tb"], "rb": pic["rb"]})
    return {"version": 2, "out": out_dir, "modalities": data.modalities, "present": names, "labels": labels,
            "classes": list(classes), "scale": 1000, "summary": _summary(data, labels, row_of_tag, label_ix),
            "videos": videos, "seg": cols}
