"""Turn the rows of an output folder into the compact JSON the page reads (``data-<hash>.js``)."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path, PurePath
from typing import Any

from mmvideo.report.data import DIGITS, ReportData

TOP_TAGS = 30  # most frequent tags listed in the summary


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), DIGITS)


def file_uri(path: str) -> str | None:
    """``file:///...`` for an absolute path (``#``, ``?`` and spaces percent-encoded), else None."""
    if not path or not os.path.isabs(path):
        return None
    try:
        return Path(path).as_uri()
    except ValueError:
        return None


def _classes(items: list[dict] | None) -> list[list]:
    return [[c["name"], _r(c["score"])] for c in items or []]


def _segment(row: dict, label_ix: dict[str, int], modalities: list[str], thumb: str | None) -> dict[str, Any]:
    tags = []
    for t in row.get("tags") or []:
        att = t.get("attention") or {}
        tags.append([label_ix[t["label"]], _r(t["score"]), [_r(att.get(m) or 0.0) for m in modalities]])
    return {"k": row["segment"], "a": _r(row["start"]), "b": _r(row["end"]), "x": row.get("text") or "",
            "t": tags, "ic": _classes(row.get("image_classes")), "ac": _classes(row.get("audio_classes")),
            "m": list(row.get("modalities") or []), "f": row.get("faces"), "th": thumb}


def _summary(data: ReportData) -> dict[str, Any]:
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
    seconds: dict[str, float] = defaultdict(float)
    videos: dict[str, set] = defaultdict(set)
    for vid, rows in data.segments.items():
        for r in rows:
            for t in r.get("tags") or []:
                seconds[t["label"]] += max(0.0, (r["end"] or 0.0) - (r["start"] or 0.0))
                videos[t["label"]].add(vid)
    top = sorted(seconds, key=lambda lb: (-seconds[lb], lb))[:TOP_TAGS]
    return {"videos": len(data.videos), "statuses": dict(sorted(statuses.items())), "problems": problems,
            "duration": round(duration, 3), "segments": sum(len(r) for r in data.segments.values()),
            "top": [[lb, round(seconds[lb], 1), len(videos[lb])] for lb in top]}


def page_data(data: ReportData, thumbs: dict[tuple[str, int], str], out_dir: str) -> dict[str, Any]:
    """The page's data: summary, modality names, label list and one entry per video with its segments.

    ``thumbs`` maps (video_id, segment) to a thumbnail URL relative to the report folder.
    """
    label_ix = {label: i for i, label in enumerate(data.labels)}
    videos = []
    for v in data.videos:
        vid = v.get("video_id") or ""
        path = v.get("path") or ""
        segs = [_segment(r, label_ix, data.modalities, thumbs.get((vid, r["segment"])))
                for r in data.segments.get(vid, [])]
        videos.append({"i": vid, "p": path, "n": PurePath(path).name or path, "u": file_uri(path),
                       "s": v.get("status") or "unknown", "d": _r(v.get("duration")), "c": v.get("container"),
                       "g": v.get("stage"), "e": v.get("error"), "w": list(v.get("warnings") or []),
                       "t": [c["label"] for c in v.get("top_tags") or []], "segs": segs})
    return {"version": 1, "out": out_dir, "modalities": data.modalities, "labels": data.labels,
            "summary": _summary(data), "videos": videos}
