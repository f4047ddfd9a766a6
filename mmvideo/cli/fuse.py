"""`mmvideo fuse OUT --out OUT2`: fuse again from OUT's evidence files (no decoding), e.g. with new --labels."""

from __future__ import annotations

import shlex
import sys

import click

from mmvideo.config import default, help_text


@click.command(epilog="Exit codes: 0 all done; 1 some evidence files were refused (made with other models or "
                      "settings); 2 usage or setup error (no evidence, unwritable output).")
@click.argument("src", metavar="OUT", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "-o", "dst", required=True, type=click.Path(file_okay=False), help="output folder")
@click.option("--labels", default=None, metavar="FILE|a,b,c",
              help="zero-shot tag vocabulary: a file or a comma-separated list [default: the built-in everyday tags]")
@click.option("--top-k", type=click.IntRange(1, 100), default=default("top_k"), show_default=True,
              help=help_text("top_k"))
@click.option("--min-score", type=click.FloatRange(-10, 1), default=default("min_score"), show_default=True,
              help=help_text("min_score"))
@click.option("--format", "fmt", type=click.Choice(["jsonl", "parquet", "both"]), default=default("format"),
              show_default=True, help="output format")
@click.option("--modality-embeddings", is_flag=True, default=False, help=help_text("modality_embeddings"))
@click.option("--quiet", "-q", is_flag=True, help="print only failures")
def fuse(src, dst, labels, top_k, min_score, fmt, modality_embeddings, quiet) -> int:
    """Fuse OUT's evidence (from `mmvideo run --evidence`) again into --out, without decoding any video."""
    from mmvideo.engines.fuse import fuse_folder
    from mmvideo.fuse.vocab import load_labels
    from mmvideo.progress import make_reporter

    settings = {"labels": tuple(load_labels(labels)) if labels else (), "top_k": top_k, "min_score": min_score,
                "format": fmt, "modality_embeddings": modality_embeddings}
    reporter = make_reporter("auto", quiet)
    command = "mmvideo " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        summary = fuse_folder(src, dst, settings, reporter, command=command)
    finally:
        reporter.close()
    return summary.exit_code
