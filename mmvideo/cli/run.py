"""`mmvideo run`: parse options (and a config file) into a frozen RunConfig, then hand it to an engine.

The settings' options come from RunConfig's table (``mmvideo.cli.options``); precedence: command-line
option > ``--config`` file > default. The config is built, and so checked, before any video is looked at.
``--engine ray`` hands the same run to ``engines/ray_engine.py`` (``--address``: an existing cluster).
"""

from __future__ import annotations

import shlex
import sys
from typing import Any

import click

from mmvideo.cli.options import explicit_settings, setting_options
from mmvideo.config import RunConfig


def build_config(ctx: click.Context, config_file: str | None, params: dict[str, Any]) -> RunConfig:
    """RunConfig from the defaults, then ``config_file``'s values, then the options given on the command line."""
    values: dict[str, Any] = {}
    if config_file:
        from mmvideo.config_file import read_config_file

        values.update(read_config_file(config_file))
    values.update(explicit_settings(ctx, params))
    return RunConfig(**values)


@click.command(epilog="Exit codes: 0 all done; 1 some files failed (see `mmvideo status OUT`); "
                      "2 usage or setup error (bad option, missing model, unwritable output, locked output).")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help="output folder")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), default=None,
              metavar="FILE", help="settings from a TOML file (keys: the option names); options given here win")
@setting_options()
@click.option("--settle", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="skip files modified less than this many seconds ago (still being copied)")
@click.option("--log-format", type=click.Choice(["auto", "plain", "json"]), default="auto", show_default=True,
              help="auto: progress bars on a terminal, plain lines otherwise")
@click.option("--quiet", "-q", is_flag=True, help="print only failures")
@click.option("--prune", is_flag=True, help="remove from --out the results of recorded files whose path no longer "
                                            "exists (see `mmvideo status OUT`)")
@click.option("--rehash", is_flag=True, help="hash every file again instead of trusting an unchanged device, inode, "
                                             "size and modification time")
@click.pass_context
def run(ctx: click.Context, inputs: tuple[str, ...], out: str, config_file: str | None, settle: float,
        log_format: str, quiet: bool, prune: bool, rehash: bool, **settings: Any) -> int:
    """Tag every video under INPUTS: timestamped tags and embeddings per segment into --out."""
    config = build_config(ctx, config_file, settings)
    from mmvideo.pipeline.analyze import Pipeline

    if config.engine == "ray":
        from mmvideo.engines.ray_engine import run_ray as engine
    else:
        from mmvideo.engines.local import run_local as engine
    from mmvideo.progress import make_reporter

    pipeline = Pipeline(config)
    reporter = make_reporter(log_format, quiet)
    command = "mmvideo " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        summary = engine(inputs, out, config, pipeline, reporter, command=command, settle=settle, prune=prune,
                         rehash=rehash)
    finally:
        reporter.close()
    return summary.exit_code
