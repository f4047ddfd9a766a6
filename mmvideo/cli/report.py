"""`mmvideo report OUT`: a static HTML report of an output folder (summary, per-video timelines, filters)."""

from __future__ import annotations

import click


@click.command()
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--out", "dest", type=click.Path(file_okay=False), default=None,
              help="folder to write the report into  [default: OUT/report]")
@click.option("--open", "open_it", is_flag=True, help="open the report in the default browser")
@click.option("--thumbnails/--no-thumbnails", default=True, show_default=True,
              help="make missing segment thumbnails from the source files with ffmpeg")
@click.option("--thumbnail-seconds", type=click.FloatRange(min=0), default=60.0, show_default=True,
              help="time budget for making thumbnails; videos left over get them on the next report")
def report(out, dest, open_it, thumbnails, thumbnail_seconds) -> int:
    """Write OUT/report/index.html: what was found, per video and segment; opens from disk, no server."""
    from mmvideo.report import build_report

    result = build_report(out, dest, thumbnails=thumbnails, thumbnail_seconds=thumbnail_seconds)
    p = result.pictures
    click.echo(f"report: {result.index}  ({result.videos} videos, {result.segments} segments)")
    notes = [f"{n} {what}" for n, what in ((p.made, "thumbnails made"), (p.reused + p.from_run, "reused"),
                                           (p.no_source, "videos without their source file"),
                                           (p.failed, "videos ffmpeg could not read"),
                                           (p.deferred, "videos left for the next report (time budget)")) if n]
    if notes:
        click.echo("thumbnails: " + ", ".join(notes))
    if open_it:
        import webbrowser

        webbrowser.open(result.index.as_uri())
    return 0
