"""`mmvideo run`: parse options into a frozen RunConfig, then hand it to an engine. No work happens here."""

from __future__ import annotations

import shlex
import sys

import click

from mmvideo.config import RunConfig, default, help_text


def _opt_help(name: str) -> str:
    return f"{help_text(name)} [default: {default(name)}]"


@click.command(epilog="Exit codes: 0 all done; 1 some files failed (see `mmvideo status OUT`); "
                      "2 usage or setup error (bad option, missing model, unwritable output, locked output).")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help="output folder")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "parquet", "both"]), default=default("format"),
              show_default=True, help="output format")
@click.option("--segment", type=click.FloatRange(min=0.1), default=default("segment"), show_default=True,
              help=help_text("segment"))
@click.option("--shots/--no-shots", default=default("shots"), help=_opt_help("shots"))
@click.option("--fps", type=click.FloatRange(min=0.01, max=60), default=default("fps"), show_default=True,
              help=help_text("fps"))
@click.option("--frame-size", type=click.IntRange(32, 1024), default=default("frame_size"), show_default=True,
              help=help_text("frame_size"))
@click.option("--aspect", type=click.Choice(["squash", "pad"]), default=default("aspect"), show_default=True,
              help=help_text("aspect"))
@click.option("--labels", default=None, metavar="FILE|a,b,c",
              help="zero-shot tag vocabulary: a file (one tag per line, optional description after a tab) "
                   "or a comma-separated list [default: the built-in everyday tags]")
@click.option("--top-k", type=click.IntRange(1, 100), default=default("top_k"), show_default=True,
              help=help_text("top_k"))
@click.option("--min-score", type=click.FloatRange(-10, 1), default=default("min_score"), show_default=True,
              help=help_text("min_score"))
@click.option("--speech/--no-speech", default=default("speech"), help=_opt_help("speech"))
@click.option("--ocr/--no-ocr", default=default("ocr"), help=_opt_help("ocr"))
@click.option("--faces/--no-faces", default=default("faces"), help=_opt_help("faces"))
@click.option("--modality-embeddings", is_flag=True, default=False, help=help_text("modality_embeddings"))
@click.option("--evidence", is_flag=True, default=False, help=help_text("evidence"))
@click.option("--device", type=click.Choice(["auto", "cpu", "gpu"]), default=default("device"), show_default=True,
              help=help_text("device"))
@click.option("--image-backend", type=click.Choice(["auto", "litert", "litert-int8", "keras"]),
              default=default("image_backend"), show_default=True, help=help_text("image_backend"))
@click.option("--batch-size", type=click.IntRange(0, 1024), default=default("batch_size"), show_default=True,
              help=help_text("batch_size"))
@click.option("--timeout", type=click.FloatRange(min=0.1), default=None, help="seconds allowed per video")
@click.option("--retry-failed", is_flag=True, default=False, help="retry videos that failed in earlier runs")
@click.option("--max-runtime", type=click.FloatRange(min=0), default=None,
              help="stop starting new videos after this many seconds (the next run picks up the rest)")
@click.option("--settle", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="skip files modified less than this many seconds ago (still being copied)")
@click.option("--log-format", type=click.Choice(["auto", "plain", "json"]), default="auto", show_default=True,
              help="auto: progress bars on a terminal, plain lines otherwise")
@click.option("--quiet", "-q", is_flag=True, help="print only failures")
@click.option("--rehash", is_flag=True, help="hash every file again instead of trusting unchanged size/mtime/inode")
def run(inputs, out, fmt, segment, shots, fps, frame_size, aspect, labels, top_k, min_score, speech, ocr, faces,
        modality_embeddings, evidence, device, image_backend, batch_size, timeout, retry_failed, max_runtime, settle, log_format,
        quiet, rehash=False) -> int:
    """Tag every video under INPUTS: timestamped tags and embeddings per segment into --out."""
    from mmvideo.fuse.vocab import load_labels
    from mmvideo.pipeline.analyze import Pipeline
    from mmvideo.progress import make_reporter

    vocab = tuple(load_labels(labels)) if labels else ()
    config = RunConfig(fps=fps, frame_size=frame_size, aspect=aspect, segment=segment, shots=shots, labels=vocab,
                       top_k=top_k, min_score=min_score, speech=speech, ocr=ocr, faces=faces, format=fmt,
                       modality_embeddings=modality_embeddings, evidence=evidence, device=device, image_backend=image_backend,
                       batch_size=batch_size,
                       timeout=timeout, retry_failed=retry_failed, max_runtime=max_runtime)
    reporter = make_reporter(log_format, quiet)
    command = "mmvideo " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    pipeline = Pipeline(config)
    from mmvideo.engines.local import run_local

    try:
        summary = run_local(inputs, out, config, pipeline, reporter, command=command, settle=settle, rehash=rehash)
    finally:
        reporter.close()
    return summary.exit_code
