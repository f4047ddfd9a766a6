"""`mmvideo status OUT`: what an output folder holds: done, failed (with causes), pending, the last run."""

from __future__ import annotations

import json

import click

from mmvideo.errors import SetupError


@click.command()
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def status(out, as_json) -> int:
    """Show done / failed / pending counts, each failure's cause, and the last run's summary."""
    from pathlib import Path

    from mmvideo.state import STATE_DIR, State

    if not (Path(out) / STATE_DIR / "state.sqlite").exists():
        raise SetupError(f"{out}: not an mmvideo output folder (no {STATE_DIR}/state.sqlite)")
    st = State(out)
    try:
        counts = st.counts()
        last = st.last_run()
        failures = st.failures()
    finally:
        st.close()
    pending = (last or {}).get("pending", 0) or 0
    if as_json:
        click.echo(json.dumps({"done": counts["done"], "failed": counts["failed"], "pending": pending,
                               "failures": [{"path": f.path, "stage": f.stage, "error": f.error,
                                             "attempts": f.attempts} for f in failures],
                               "last_run": last}))
        return 0
    click.echo(f"done: {counts['done']}  failed: {counts['failed']}  pending: {pending}")
    for f in failures:
        click.echo(f"  failed  {f.path}: [{f.stage}] {f.error}")
    if last:
        click.echo(f"last run: {last['started_at']} -> {last['ended_at'] or '(running or killed)'}  "
                   f"status {last['status']}: {last['done']} done, {last['skipped']} skipped, {last['failed']} "
                   f"failed, {last['pending']} pending, {last['seconds'] or 0:.1f} s")
    return 0
