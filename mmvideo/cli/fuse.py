"""`mmvideo fuse OUT --out OUT2`: fuse again from OUT's evidence files (no decoding), e.g. with new --labels."""

from __future__ import annotations

import shlex
import sys
from typing import Any

import click

from mmvideo.cli.options import setting_options

#: the run settings a re-fusion may change (the encoder settings come from the evidence itself)
FUSE_SETTINGS = ("labels", "head", "top_k", "min_score", "format", "modality_embeddings")


@click.command(epilog="Exit codes: 0 all done; 1 some evidence files were refused (made with other models or "
                      "settings); 2 usage or setup error (no evidence, unwritable output).")
@click.argument("src", metavar="OUT", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "-o", "dst", required=True, type=click.Path(file_okay=False), help="output folder")
@setting_options(*FUSE_SETTINGS)
@click.option("--quiet", "-q", is_flag=True, help="print only failures")
def fuse(src: str, dst: str, quiet: bool, **settings: Any) -> int:
    """Fuse OUT's evidence (from `mmvideo run --evidence`) again into --out, without decoding any video
    (with --head: a trained head's labels)."""
    from mmvideo.config import RunConfig
    from mmvideo.engines.fuse import fuse_folder
    from mmvideo.progress import make_reporter

    # the table's checks (labels file, ranges) before any file is read; an option not given (None) keeps its default
    checked = RunConfig(**{name: value for name, value in settings.items() if value is not None})
    settings = {name: getattr(checked, name) for name in FUSE_SETTINGS}
    reporter = make_reporter("auto", quiet)
    command = "mmvideo " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        summary = fuse_folder(src, dst, settings, reporter, command=command)
    finally:
        reporter.close()
    return summary.exit_code
