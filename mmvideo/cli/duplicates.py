"""`mmvideo duplicates OUT`: groups of videos showing the same content (re-encoded, resized, trimmed, other audio)."""

from __future__ import annotations

import json

import click


@click.command(epilog="Exit codes: 0 done (groups or none); 2 usage or setup error (no results in OUT).")
@click.argument("out_dir", metavar="OUT", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="one JSON object per group")
@click.option("--max-bits", type=click.IntRange(0, 32), default=10, show_default=True,
              help="frame hashes this many bits apart still match")
@click.option("--min-share", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="share of the shorter video's frames that must match")
def duplicates(out_dir: str, as_json: bool, max_bits: int, min_share: float) -> int:
    """List groups of near-duplicate videos in OUT with their similarity and overlapping time ranges."""
    from mmvideo.near_duplicates import find_groups

    groups = find_groups(out_dir, max_bits=max_bits, min_share=min_share)
    for n, (members, matches) in enumerate(groups, 1):
        if as_json:
            click.echo(json.dumps({
                "group": n, "videos": [{"video_id": v, "path": p} for v, p in members],
                "matches": [{"a": m.a, "b": m.b, "similarity": round(m.similarity, 3), "frames": m.frames,
                             "range_a": [round(x, 2) for x in m.range_a],
                             "range_b": [round(x, 2) for x in m.range_b]} for m in matches]}))
            continue
        names = {v: p for v, p in members}
        click.echo(f"group {n}: {len(members)} videos")
        for m in matches:
            if m.frames:
                click.echo(f"  {m.similarity:.2f}  {names[m.a]} [{m.range_a[0]:.1f}-{m.range_a[1]:.1f} s] ~ "
                           f"{names[m.b]} [{m.range_b[0]:.1f}-{m.range_b[1]:.1f} s]")
            else:
                click.echo(f"  1.00  {names[m.b]} is an exact copy of {names[m.a]}")
    if not groups and not as_json:
        click.echo("no near-duplicates found")
    return 0
