"""`mmvideo status OUT`: what an output folder holds: done, failed (with causes), duplicates, pending, files
that are gone (missing: `mmvideo run --prune` removes their results), the last run."""

from __future__ import annotations

import json

import click

from mmvideo.errors import SetupError

SHOWN = 20  # failures and missing files listed in the text output (``--json`` lists them all)


@click.command()
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def status(out, as_json) -> int:
    """Show done / failed / duplicate / pending / missing counts, each failure's cause, the files no longer
    there, and the last run's summary."""
    from pathlib import Path

    from mmvideo.state import STATE_DIR, State

    if not (Path(out) / STATE_DIR / "state.sqlite").exists():
        raise SetupError(f"{out}: not an mmvideo output folder (no {STATE_DIR}/state.sqlite)")
    st = State(out)
    try:
        counts = st.counts()
        last = st.last_run()
        failures = st.failures(limit=None if as_json else SHOWN)
        missing = st.missing()
    finally:
        st.close()
    pending = (last or {}).get("pending", 0) or 0
    if as_json:
        click.echo(json.dumps({"done": counts["done"], "failed": counts["failed"],
                               "duplicate": counts["duplicate"], "pending": pending, "missing": len(missing),
                               "failures": [{"path": f.path, "stage": f.stage, "error": f.error,
                                             "attempts": f.attempts} for f in failures],
                               "missing_files": [{"path": m.path, "status": m.status, "video_id": m.part_key}
                                                 for m in missing],
                               "last_run": last}))
        return 0
    click.echo(f"done: {counts['done']}  failed: {counts['failed']}  duplicate: {counts['duplicate']}  "
               f"pending: {pending}  missing: {len(missing)}")
    lines = [f"  failed  {f.path}: [{f.stage}] {f.error}" for f in failures[:SHOWN]]
    if counts["failed"] > len(failures):
        lines.append(f"  ... and {counts['failed'] - len(failures)} more failed (`mmvideo status --json` lists every one)")
    lines += [f"  missing {m.path} ({m.status}; `mmvideo run --prune` removes its results)" for m in missing[:SHOWN]]
    if len(missing) > SHOWN:
        lines.append(f"  ... and {len(missing) - SHOWN} more missing (`mmvideo status --json` lists every one)")
    if lines:
        click.echo("\n".join(lines))
    if last:
        click.echo(f"last run: {last['started_at']} -> {last['ended_at'] or '(running or killed)'}  "
                   f"status {last['status']}: {last['done']} done, {last['skipped']} skipped, {last['failed']} "
                   f"failed, {last['pending']} pending, {last.get('duplicates') or 0} duplicates, "
                   f"{last.get('pruned') or 0} pruned, {last['seconds'] or 0:.1f} s")
    return 0
