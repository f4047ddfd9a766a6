"""Which picture each segment shows: ``OUT/thumbnails`` (made by ``run``), one made by an earlier report, one
made now from the source (within a time budget), or none (the page shows a placeholder)."""

from __future__ import annotations

import hashlib
import logging
import os
import re
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
_OWN_FOLDER = re.compile(r"^[0-9a-zA-Z_]+-[0-9a-f]{10}$")  # only folders named like ours are ever removed


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


def _names(folder: Path) -> set[str]:
    try:
        return set(os.listdir(folder))
    except OSError:
        return set()


def collect(data: ReportData, out: Path, dest: Path, *, make: bool = True, budget_s: float = 60.0,
            workers: int = 2) -> tuple[list[dict], PictureStats]:
    """Per video: thumbnail folder URLs (``tb`` made by reports, ``rb`` made by the run, relative to ``dest``)
    and per segment a code (0 none, 1 in ``tb``, 2 in ``rb``); missing ones are made within ``budget_s``."""
    stats = PictureStats()
    run_root, own_root = out / RUN_THUMBNAILS, dest / REPORT_THUMBNAILS
    run_ids, own_dirs = _names(run_root), _names(own_root)
    seg = data.segments
    ks, starts, ends = (seg.column(c).to_pylist() for c in ("segment", "start", "end"))
    pictures: list[dict] = []
    todo: list[tuple[int, str, list[tuple[int, float, float]], Path]] = []
    keep: set[str] = set()
    for i, (v, (lo, hi)) in enumerate(zip(data.videos, data.bounds)):
        vid = v.get("video_id") or ""
        segs = [(int(ks[r]), float(starts[r]), float(ends[r])) for r in range(lo, hi)]
        folder = own_root / _folder_name(vid, segs)
        run_has = _names(run_root / vid) if vid in run_ids else set()
        own_has = _names(folder) if folder.name in own_dirs else set()
        codes, missing = [], []
        for k, a, b in segs:
            name = thumbnail_name(k)
            if name in run_has:
                codes.append(2)
                stats.from_run += 1
            elif name in own_has:
                codes.append(1)
                stats.reused += 1
            else:
                codes.append(0)
                missing.append((k, a, b))
        pictures.append({"tb": _url(folder, dest) + "/", "rb": _url(run_root / vid, dest) + "/" if run_has else None,
                         "th": codes, "k": [k for k, _, _ in segs]})
        if segs:
            keep.add(folder.name)
        if not missing or not v.get("has_video", True):
            continue
        path = v.get("path") or ""
        if not os.path.isfile(path):
            stats.no_source += 1
        elif make:
            todo.append((i, path, missing, folder))
    if todo:
        _make(todo, pictures, stats, budget_s, workers)
    _prune(own_root, keep)
    return pictures, stats


def _make(todo, pictures: list[dict], stats: PictureStats, budget_s: float, workers: int) -> None:
    deadline = time.monotonic() + budget_s
    pending: dict[Future, tuple[int, list[tuple[int, float, float]]]] = {}
    queue = list(todo)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        while queue or pending:
            while queue and len(pending) < workers and time.monotonic() < deadline:
                i, path, segs, folder = queue.pop(0)
                pending[pool.submit(write_segment_thumbnails, path, segs, folder)] = (i, segs)
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i, segs = pending.pop(fut)
                try:
                    made = {f.name for f in fut.result()}
                    codes = pictures[i]["th"]
                    for pos, k in enumerate(pictures[i]["k"]):
                        if thumbnail_name(k) in made:
                            codes[pos] = 1
                    stats.made += len(made)
                except MmvideoError as exc:
                    stats.failed += 1
                    log.warning("%s", exc)
    stats.deferred = len(queue)


def _prune(root: Path, keep: set[str]) -> None:
    """Remove report thumbnail folders no segment refers to any more (older segmentations, removed videos)."""
    if not root.is_dir():
        return
    for entry in root.iterdir():
        if entry.is_dir() and not entry.is_symlink() and entry.name not in keep and _OWN_FOLDER.match(entry.name):
            shutil.rmtree(entry, ignore_errors=True)
