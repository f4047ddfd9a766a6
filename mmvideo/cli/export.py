"""`mmvideo export OUT --format csv|edl|chapters|srt|vtt`: the results for spreadsheets, editors and players."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

FORMATS = {"csv": ".csv", "edl": ".edl", "chapters": ".chapters.vtt", "srt": ".tags.srt", "vtt": ".tags.vtt"}


@click.command(epilog="Exit codes: 0 written; 2 usage or setup error (no results in OUT, unwritable --out).")
@click.argument("out_dir", metavar="OUT", type=click.Path(exists=True, file_okay=False))
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), required=True,
              help="csv: a row per segment and tag; edl: a CMX3600 EDL per video (events at tagged segments); "
                   "chapters: WebVTT chapters per video; srt / vtt: tag captions per video")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="keep only these tags (repeat it)")
@click.option("--min-score", type=click.FloatRange(-10, 1), default=None, help="leave out tags scoring below this")
@click.option("--fps", type=click.FloatRange(min=1, max=240), default=None,
              help="timecode rate for EDLs when a video's own rate is unknown [default: the video's, else 25]")
@click.option("--out", "dest", type=click.Path(), default=None,
              help="csv: a file ('-' or none: standard output); others: a folder [default: OUT/export]")
def export(out_dir: str, fmt: str, tags: tuple[str, ...], min_score: float | None, fps: float | None,
           dest: str | None) -> int:
    """Export OUT's tagged segments as CSV, EDLs, chapters or captions."""
    from mmvideo.export import formats
    from mmvideo.export.rows import read_videos
    from mmvideo.export.timecode import rate_of
    from mmvideo.write.writer import write_atomic as atomic

    def _atomic(path: Path, write) -> None:
        try:
            atomic(path, write)
        except OSError as exc:
            from mmvideo.errors import SetupError

            raise SetupError(f"{path}: cannot write ({exc.strerror or exc})") from None

    videos = read_videos(out_dir, tags=tags, min_score=min_score)
    if fmt == "csv":
        text = formats.csv_text(videos)
        if dest in (None, "-"):
            sys.stdout.write(text)
        else:
            _atomic(Path(dest), lambda fh: fh.write(text.encode("utf-8")))
        return 0
    folder = Path(dest) if dest else Path(out_dir) / "export"
    stems: dict[str, int] = {}
    for v in videos:
        stem = Path(v.path).stem
        stems[stem] = stems.get(stem, 0) + 1
    for v in videos:
        stem = Path(v.path).stem
        name = (stem if stems[stem] == 1 else f"{stem}-{v.video_id[:8]}") + FORMATS[fmt]
        if fmt == "edl":
            text = formats.edl_text(v, rate_of(v.frame_rate or fps))
        elif fmt == "chapters":
            text = formats.chapters_text(v)
        else:
            text = formats.captions_text(v, fmt)
        _atomic(folder / name, lambda fh, t=text: fh.write(t.encode("utf-8")))
        click.echo(os.fspath(folder / name))
    return 0
