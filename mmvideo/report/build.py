"""Build the static report of an output folder: read rows, collect thumbnails, write data then index.html."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from mmvideo import __version__
from mmvideo.errors import SetupError
from mmvideo.report import data as report_data
from mmvideo.report.model import page_data
from mmvideo.report.page import data_script, index_html
from mmvideo.report.pictures import PictureStats, collect
from mmvideo.write.writer import write_atomic

DEFAULT_FOLDER = "report"  # OUT/report/: the only thing the report writes inside OUT


@dataclass
class ReportResult:
    """Where the report is and what went into it."""

    index: Path
    videos: int
    segments: int
    pictures: PictureStats


def _write_atomic(path: Path, content: bytes) -> None:
    write_atomic(path, lambda fh: fh.write(content))


def build_report(out_dir: os.PathLike | str, dest: os.PathLike | str | None = None, *, thumbnails: bool = True,
                 thumbnail_seconds: float = 60.0, workers: int = 2) -> ReportResult:
    """Write the report of ``out_dir`` into ``dest`` (default ``OUT/report``); ``SetupError`` if there is nothing."""
    out = Path(out_dir).absolute()
    rows = report_data.load(out)
    folder = Path(dest).absolute() if dest is not None else out / DEFAULT_FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SetupError(f"{folder}: cannot create the report folder: {exc.strerror or exc}") from None
    pictures, stats = collect(rows, out, folder, make=thumbnails, budget_s=thumbnail_seconds, workers=workers)
    name, content = data_script(page_data(rows, pictures, str(out)))
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        _write_atomic(folder / name, content)
        _write_atomic(folder / "index.html", index_html(name, out.name or str(out), made, __version__))
    except OSError as exc:
        raise SetupError(f"{folder}: cannot write the report: {exc.strerror or exc}") from None
    for old in folder.glob("data-*.js"):
        if old.name != name and re.fullmatch(r"data-[0-9a-f]{12}\.js", old.name):
            old.unlink(missing_ok=True)
    return ReportResult(index=folder / "index.html", videos=len(rows.videos),
                        segments=rows.segments.num_rows, pictures=stats)
