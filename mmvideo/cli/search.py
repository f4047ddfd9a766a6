"""`mmvideo search OUT QUERY`: segments ranked by similarity of the query to their fused embeddings."""

from __future__ import annotations

import json

import click


@click.command()
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.argument("query")
@click.option("--top", "-k", type=click.IntRange(1, 1000), default=10, show_default=True, help="results to show")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per result")
def search(out, query, top, as_json) -> int:
    """Find the segments in OUT that best match QUERY (e.g. "a dog on a beach")."""
    from mmvideo.search import search as run_search

    hits = run_search(out, query, k=top)
    if as_json:
        for h in hits:
            click.echo(json.dumps({"path": h.path, "video_id": h.video_id, "segment": h.segment, "start": h.start,
                                   "end": h.end, "score": round(h.score, 4), "tags": list(h.tags)}))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("score", "video", "time", "tags")
    for h in hits:
        table.add_row(f"{h.score:.3f}", h.path, f"{h.start:.1f}-{h.end:.1f} s", ", ".join(h.tags[:5]))
    Console().print(table)
    return 0
