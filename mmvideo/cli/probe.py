"""``mmvideo probe PATH...``: find media files and describe each one (table, or JSON Lines with ``--json``).

JSON Lines: one object per file, in discovery order. A probed file gives ``MediaInfo`` as a dict (field names
as in ``mmvideo.records``) plus ``content_id`` and ``size`` from discovery and ``video.display_size``;
``Fraction`` values (``avg_fps``, ``sample_aspect_ratio``) are exact strings ``"num/den"`` (``"30/1"``,
``"30000/1001"``), tuples are lists, unknown values ``null``. A file that fails gives
``{"path": ..., "content_id": ..., "size": ..., "error": "one-line cause"}`` on stdout and the line
``path: cause`` on stderr. Exit code 0 when every file was probed, 1 when some failed, 2 when no media
file was found or a path does not exist.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import click

from mmvideo.errors import EXIT_OK, EXIT_SOME_FAILED, MediaError, debug_enabled
from mmvideo.records import MediaInfo, VideoFile


@dataclass(frozen=True)
class ProbeConfig:
    """What ``mmvideo probe`` was asked to do."""

    paths: tuple[str, ...]
    as_json: bool = False
    follow_symlinks: bool = True
    probe_unknown: bool = True


@click.command("probe")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=True, dir_okay=True, readable=False))
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object per file (JSON Lines) instead of a table.")
@click.option("--follow-symlinks/--no-follow-symlinks", default=True, show_default=True,
              help="Follow symbolic links met while walking folders.")
@click.option("--probe-unknown/--no-probe-unknown", default=True, show_default=True,
              help="Open files with an unknown extension to see whether they are media.")
@click.pass_context
def probe(ctx: click.Context, paths: tuple[str, ...], as_json: bool, follow_symlinks: bool,
          probe_unknown: bool) -> None:
    """Describe the media files in PATHS (files or folders, walked recursively).

    Exit codes: 0 all probed; 1 some files failed (one `file: cause` line each on stderr);
    2 no media file found or bad arguments.
    """
    config = ProbeConfig(paths=tuple(paths), as_json=as_json, follow_symlinks=follow_symlinks,
                         probe_unknown=probe_unknown)
    ctx.exit(run_probe(config))


def run_probe(config: ProbeConfig) -> int:
    """Probe every file discovery finds in ``config.paths``; print the results; return the exit code."""
    from mmvideo.discover import discover
    from mmvideo.media.probe import probe as probe_file

    emit: Callable[[VideoFile, MediaInfo | None, str | None], None]
    rows: list[tuple[VideoFile, MediaInfo]] = []
    if config.as_json:
        emit = _emit_json
    else:
        def emit(found: VideoFile, info: MediaInfo | None, error: str | None) -> None:
            if info is not None:
                rows.append((found, info))

    total = failed = 0
    for found in discover(config.paths, follow_symlinks=config.follow_symlinks,
                          probe_unknown=config.probe_unknown):
        total += 1
        try:
            info = probe_file(found.path)
        except MediaError as exc:
            failed += 1
            click.echo(f"{_shown(found.path)}: {exc.cause}", err=True)
            emit(found, None, exc.cause)
            continue
        except Exception as exc:  # a bug must not stop the other files; MMVIDEO_DEBUG shows it
            if debug_enabled():
                raise
            failed += 1
            cause = f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())}"
            click.echo(f"{_shown(found.path)}: {cause}", err=True)
            emit(found, None, cause)
            continue
        emit(found, info, None)
    if total == 0:
        raise click.UsageError("no media files found in: " + ", ".join(config.paths))
    if not config.as_json and rows:
        _print_table(rows)
    return EXIT_SOME_FAILED if failed else EXIT_OK


# --- JSON ----------------------------------------------------------------------------------------

def media_info_dict(info: MediaInfo) -> dict[str, Any]:
    """``info`` as JSON-ready data: Fractions as ``"num/den"`` strings, tuples as lists."""
    data = _jsonable(dataclasses.asdict(info))
    if info.video is not None:
        data["video"]["display_size"] = list(info.video.display_size)
    return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _emit_json(found: VideoFile, info: MediaInfo | None, error: str | None) -> None:
    if info is not None:
        record = {"path": info.path, "content_id": found.content_id, "size": found.size,
                  **media_info_dict(info)}
    else:
        record = {"path": found.path, "content_id": found.content_id, "size": found.size, "error": error}
    click.echo(json.dumps(record, ensure_ascii=False))


# --- table ---------------------------------------------------------------------------------------

def _print_table(rows: list[tuple[VideoFile, MediaInfo]]) -> None:
    """A rich table, file names relative to the folder all files share (named in the title)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    paths = [found.path for found, _ in rows]
    common = os.path.commonpath([os.path.dirname(p) for p in paths])
    table = Table(title=Text(f"{len(rows)} file(s) in {common}"), title_justify="left")
    for name in ("file", "container", "duration", "video", "audio", "subtitles", "warnings"):
        table.add_column(name, overflow="fold", no_wrap=name in ("container", "duration"))
    for found, info in rows:
        cells = (os.path.relpath(found.path, common), info.container.split(",")[0], _duration(info),
                 _video(info), _audio(info), _subtitles(info), "; ".join(info.warnings))
        table.add_row(*(Text(c) for c in cells))  # Text: a "[" in a file name is not rich markup
    out = sys.stdout  # Click swaps it in tests
    width = None if out.isatty() else int(os.environ.get("COLUMNS", 0) or 200)
    Console(file=out, width=width, emoji=False, highlight=False).print(table)


def _shown(path: str) -> str:
    """``path`` relative to the working folder when it is inside it, else absolute."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if rel.startswith(os.pardir) else rel


def _duration(info: MediaInfo) -> str:
    if info.duration is None:
        return "?"
    text = f"{info.duration:.2f} s"
    return text if info.duration_source == "container" else f"{text} ({info.duration_source})"


def _video(info: MediaInfo) -> str:
    v = info.video
    if v is None:
        return "-" if not info.attached_pictures else "- (cover art)"
    parts = [v.codec, f"{v.width}x{v.height}"]
    if v.avg_fps:
        fps = f"{float(v.avg_fps):.2f}".rstrip("0").rstrip(".")
        parts.append(f"{fps} fps" + (" vfr" if v.variable_frame_rate else ""))
    if v.rotation:
        parts.append(f"rot {v.rotation}")
    if v.interlaced:
        parts.append("interlaced" + (f" {v.field_order}" if v.field_order else ""))
    return " ".join(parts)


def _audio(info: MediaInfo) -> str:
    return ", ".join(f"{a.codec} {a.sample_rate / 1000:g} kHz {a.channels}ch"
                     + (f" {a.language}" if a.language else "") for a in info.audio) or "-"


def _subtitles(info: MediaInfo) -> str:
    return ", ".join(s.codec + (f" {s.language}" if s.language else "") + ("" if s.is_text else " (bitmap)")
                     for s in info.subtitles) or "-"

