"""Which picture each segment shows: ``OUT/thumbnails`` (made by ``run``), one made by an earlier report, one
made now from the source (within a time budget), or none (the page shows a placeholder)."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from mmvideo.errors import MmvideoError
from mmvideo.report.data import ReportData
from mmvideo.report.thumbnails import thumbnail_name, write_segment_thumbnails

log = logging.getLogger("mmvideo")

RUN_THUMBNAILS = "thumbnails"  # OUT/thumbnails/<video_id>/<segment>.jpg, written by `mmvideo run --thumbnails`
REPORT_THUMBNAILS = "thumbs"  # DEST/thumbs/<video_id>-<segments hash>/<segment>.jpg, made by the report


@dataclass
class PictureStats:
    """How the thumbnails were found: from the run, reused from an earlier report, made now, or missing."""

    from_run: int = 0
    reused: int = 0
    made: int = 0
    no_source: int = 0  # videos whose source file is gone (placeholders)
    failed: int = 0  # videos ffmpeg could not take pictures from
    deferred: int = 0  # videos left for the next report: the time budget ran out


def _url(path: Path, dest: Path) -> str:
    return quote(Path(os.path.relpath(path, dest)).as_posix())


def _folder_name(video_id: str, segments: list[tuple[int, float, float]]) -> str:
    """A report thumbnail folder per video and segmentation: a rerun with other segments gets new pictures."""
    key = ";".join(f"{k}:{a:.3f}:{b:.3f}" for k, a, b in segments)
    return f"{video_id}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def collect(data: ReportData, out: Path, dest: Path, *, make: bool = True, budget_s: float = 60.0,
            workers: int = 2) -> tuple[dict[tuple[str, int], str], PictureStats]:
    """Map (video_id, segment) to a thumbnail URL relative to ``dest``; make missing ones within ``budget_s``."""
    urls: dict[tuple[str, int], str] = {}
    stats = PictureStats()
    todo: list[tuple[str, str, list[tuple[int, float, float]], Path]] = []
    keep: set[str] = set()
    has_video = {v.get("video_id"): v.get("has_video", True) for v in data.videos}
    paths = {v.get("video_id"): v.get("path") or "" for v in data.videos}
    for vid, rows in data.segments.items():
        segs = [(int(r["segment"]), float(r["start"]), float(r["end"])) for r in rows]
        folder = dest / REPORT_THUMBNAILS / _folder_name(vid, segs)
        keep.add(folder.name)
        missing = []
        for k, a, b in segs:
            from_run = out / RUN_THUMBNAILS / vid / thumbnail_name(k)
            made = folder / thumbnail_name(k)
            if from_run.is_file():
                urls[(vid, k)] = _url(from_run, dest)
                stats.from_run += 1
            elif made.is_file():
                urls[(vid, k)] = _url(made, dest)
                stats.reused += 1
            else:
                missing.append((k, a, b))
        if not missing or not has_video.get(vid, True):
            continue
        path = paths.get(vid) or rows[0].get("path") or ""
        if not os.path.isfile(path):
            stats.no_source += 1
        elif make:
            todo.append((vid, path, missing, folder))
    if todo:
        _make(todo, dest, urls, stats, budget_s, workers)
    _prune(dest / REPORT_THUMBNAILS, keep)
    return urls, stats


def _make(todo, dest: Path, urls: dict, stats: PictureStats, budget_s: float, workers: int) -> None:
    deadline = time.monotonic() + budget_s
    pending: dict[Future, tuple[str, str]] = {}
    queue = list(todo)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        while queue or pending:
            while queue and len(pending) < workers and time.monotonic() < deadline:
                vid, path, segs, folder = queue.pop(0)
                pending[pool.submit(write_segment_thumbnails, path, segs, folder)] = (vid, path)
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                vid, path = pending.pop(fut)
                try:
                    for f in fut.result():
                        urls[(vid, int(f.stem))] = _url(f, dest)
                        stats.made += 1
                except MmvideoError as exc:
                    stats.failed += 1
                    log.warning("%s", exc)
    stats.deferred = len(queue)


def _prune(root: Path, keep: set[str]) -> None:
    """Remove report thumbnail folders no segment refers to any more (older segmentations, removed videos)."""
    if not root.is_dir():
        return
    for entry in root.iterdir():
        if entry.is_dir() and entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)
