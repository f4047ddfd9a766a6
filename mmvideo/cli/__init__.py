"""The ``mmvideo`` command: a thin Click layer over the stage functions.

Each subcommand lives in its own module and is imported only when invoked, so ``mmvideo --help``
loads neither TensorFlow nor Ray. ``main`` maps mmvideo errors to one line and a documented exit code.

Exit codes: 0 all done; 1 some files failed (one line each); 2 usage or setup error.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import click

from mmvideo import __version__
from mmvideo.errors import EXIT_USAGE, MmvideoError, debug_enabled

# command name -> "module:attribute"; modules are imported lazily.
COMMANDS: dict[str, str] = {
    "probe": "mmvideo.cli.probe:probe",
    "demux": "mmvideo.cli.demux:demux",
    "models": "mmvideo.cli.models:models",
    "run": "mmvideo.cli.run:run",
    "search": "mmvideo.cli.search:search",
    "status": "mmvideo.cli.status:status",
    "fuse": "mmvideo.cli.fuse:fuse",
    "export": "mmvideo.cli.export:export",
    "duplicates": "mmvideo.cli.duplicates:duplicates",
    "report": "mmvideo.cli.report:report",
    "compact": "mmvideo.cli.compact:compact",
    "train": "mmvideo.cli.train:train",
    "evaluate": "mmvideo.cli.evaluate:evaluate",
}

HELP_EPILOG = "Exit codes: 0 all done; 1 some files failed; 2 usage or setup error."


class LazyGroup(click.Group):
    """A Click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._spec_available(name))

    @staticmethod
    def _spec_available(name: str) -> bool:
        module = COMMANDS[name].split(":")[0]
        return importlib.util.find_spec(module) is not None

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or not self._spec_available(name):
            return None
        module, attr = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, epilog=HELP_EPILOG,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mmvideo")
def cli() -> None:
    """Tag and index video libraries: probe, demux, encode, fuse and write per-segment tags."""


def _setup_logging() -> None:
    """Warnings from the stages (skipped files, decode trouble) as ``mmvideo: ...`` lines on stderr."""
    logger = logging.getLogger("mmvideo")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("mmvideo: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if debug_enabled() else logging.WARNING)
        logger.propagate = False


def _quiet_native_logs() -> None:
    """Keep TensorFlow's and oneDNN's start-up chatter off the user's terminal (MMVIDEO_DEBUG shows it)."""
    if not debug_enabled():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ.setdefault("GLOG_minloglevel", "2")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning mmvideo errors into one line on stderr and an exit code."""
    _quiet_native_logs()
    _setup_logging()
    try:
        rv = cli.main(args=argv, prog_name="mmvideo", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("mmvideo: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if exc.exit_code not in (0, 1) else exc.exit_code)
    except MmvideoError as exc:
        if debug_enabled():
            raise
        click.echo(f"mmvideo: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("mmvideo: interrupted", err=True)
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)
