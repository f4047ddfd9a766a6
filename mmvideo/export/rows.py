"""An output folder's results as ``VideoTags``: each done video with its segments and their tags, in time order."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from mmvideo.write.read import read_table


@dataclass(frozen=True)
class Tagged:
    """One segment: times in seconds and its tags (label, score, attention per modality), best first."""

    segment: int
    start: float
    end: float
    tags: tuple[tuple[str, float, dict], ...]

    def labels(self) -> list[str]:
        return [t[0] for t in self.tags]


@dataclass(frozen=True)
class VideoTags:
    """One done video: its id, path, duration (seconds), average frame rate (None when unknown) and segments."""

    video_id: str
    path: str
    duration: float
    frame_rate: float | None
    segments: tuple[Tagged, ...]


def read_videos(out_dir: os.PathLike | str, *, tags: Sequence[str] = (), min_score: float | None = None
                ) -> list[VideoTags]:
    """The done videos of ``out_dir`` by path; ``min_score`` drops weaker tags, ``tags`` keeps only those labels
    (a segment keeps its times with no tags left)."""
    wanted = set(tags)
    videos = {v["video_id"]: v for v in read_table(out_dir, "videos").to_pylist() if v["status"] == "done"}
    segs: dict[str, list[Tagged]] = {vid: [] for vid in videos}
    table = read_table(out_dir, "segments").select(["video_id", "segment", "start", "end", "tags"])
    for r in table.to_pylist():
        if r["video_id"] not in segs:
            continue
        kept = tuple((t["label"], float(t["score"]), dict(t["attention"] or {})) for t in r["tags"] or ()
                     if (not wanted or t["label"] in wanted) and (min_score is None or t["score"] >= min_score))
        segs[r["video_id"]].append(Tagged(r["segment"], float(r["start"]), float(r["end"]), kept))
    out = []
    for vid, v in videos.items():
        ordered = tuple(sorted(segs[vid], key=lambda s: s.start))
        duration = float(v.get("duration") or (ordered[-1].end if ordered else 0.0))
        out.append(VideoTags(vid, v["path"], duration, v.get("frame_rate"), ordered))
    return sorted(out, key=lambda v: v.path)
