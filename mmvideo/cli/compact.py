"""`mmvideo compact OUT`: merge the per-video Parquet parts into large files, so big folders stay quick to read."""

from __future__ import annotations

import click


@click.command()
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.option("--target-rows", type=click.IntRange(min=1), default=None,
              help="rows per compacted file [default: 65536]")
def compact(out, target_rows) -> int:
    """Merge OUT's per-video Parquet parts into compacted files (safe to interrupt; runs keep working)."""
    from pathlib import Path

    from mmvideo.errors import SetupError
    from mmvideo.state import STATE_DIR, RunLock, check_writable
    from mmvideo.write import compact as compaction

    if not (Path(out) / STATE_DIR / "state.sqlite").exists() and not (Path(out) / "parquet").is_dir():
        raise SetupError(f"{out}: not an mmvideo output folder (no {STATE_DIR}/state.sqlite, no parquet/)")
    check_writable(out)
    with RunLock(out):
        try:
            done = compaction.compact(out, target_rows=target_rows or compaction.TARGET_ROWS)
        except OSError as exc:
            raise SetupError(f"{out}: cannot compact ({exc.strerror or exc})") from exc
    click.echo(f"{out}: merged {done.parts} per-video parts and {done.replaced} small compacted files into "
               f"{len(done.files)} files ({done.rows} segment rows)")
    return 0
