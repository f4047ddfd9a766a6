"""`mmvideo search OUT QUERY`: segments (or videos) ranked by how well the query matches what any modality saw;
`--like VIDEO@SECONDS` (a segment of OUT) or `--image FILE` (a picture) instead of a text query: more like this."""

from __future__ import annotations

import json

import click


@click.command()
@click.argument("out", type=click.Path(exists=True, file_okay=False))
@click.argument("query", required=False)
@click.option("--top", "-k", type=click.IntRange(1, 100_000), default=10, show_default=True, help="results to show")
@click.option("--modality", "-m", default="any", show_default=True, metavar="any|fused|image|audio|text",
              help="rank by the best of every embedding (any), the fused one, or one modality's concepts")
@click.option("--videos", is_flag=True, help="one result per video: its best segment")
@click.option("--like", metavar="VIDEO@SECONDS", default=None,
              help="more like this segment of OUT (VIDEO: its path, file name or video id)")
@click.option("--image", "picture", type=click.Path(exists=True, dir_okay=False), default=None,
              help="more like this picture (run through the image encoder)")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per result")
def search(out, query, top, modality, videos, like, picture, as_json) -> int:
    """Find the segments in OUT that best match QUERY (e.g. "a dog on a beach"), --like a segment or --image."""
    from mmvideo.search import search as run_search
    from mmvideo.search import search_vectors

    if sum(x is not None for x in (query, like, picture)) != 1:
        raise click.UsageError("give exactly one of QUERY, --like VIDEO@SECONDS or --image FILE")
    if query is not None:
        hits = run_search(out, query, k=top, modality=modality, videos=videos)
    else:
        from mmvideo import similar

        vectors = similar.segment_queries(out, *similar.parse_like(like)) if like else \
            similar.picture_queries(picture)
        hits = search_vectors(out, vectors, k=top, modality=modality, videos=videos)
    if as_json:
        for h in hits:
            click.echo(json.dumps({"path": h.path, "video_id": h.video_id, "segment": h.segment, "start": h.start,
                                   "end": h.end, "score": round(h.score, 4), "matched": h.matched,
                                   "tags": list(h.tags)}))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("score", "matched", "video", "time", "tags")
    for h in hits:
        table.add_row(f"{h.score:.3f}", h.matched, h.path, f"{h.start:.1f}-{h.end:.1f} s", ", ".join(h.tags[:5]))
    Console().print(table)
    return 0
