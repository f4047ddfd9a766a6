"""Project exceptions and the exit codes the CLI maps them to.

Every user-facing failure is one line: ``<file>: <cause>``. Tracebacks only with ``MMVIDEO_DEBUG=1``.
"""

from __future__ import annotations

import os

EXIT_OK = 0
"""Everything asked for was done."""
EXIT_SOME_FAILED = 1
"""The run finished but some input files failed (each has an error line / record)."""
EXIT_USAGE = 2
"""Bad option, missing model, unwritable output: nothing (more) could be done."""


def debug_enabled() -> bool:
    """True when ``MMVIDEO_DEBUG`` asks for full tracebacks instead of one-line errors."""
    return os.environ.get("MMVIDEO_DEBUG", "") not in ("", "0", "false", "no")


class MmvideoError(Exception):
    """Base class of every error mmvideo raises on purpose."""

    exit_code = EXIT_USAGE


class ParameterError(MmvideoError, ValueError):
    """A function got an argument outside its documented contract (shape, dtype, range)."""


class SetupError(MmvideoError):
    """The environment is not ready (missing ffmpeg, missing model, unwritable output)."""


class MediaError(MmvideoError):
    """One input file could not be read; carries the path and a one-line cause."""

    exit_code = EXIT_SOME_FAILED

    def __init__(self, path: os.PathLike | str, cause: str, stage: str = "media") -> None:
        self.path = os.fspath(path)
        self.cause = " ".join(str(cause).split())  # always one line
        self.stage = stage
        super().__init__(f"{self.path}: {self.cause}")


class FfmpegError(MediaError):
    """An ffmpeg process failed; keeps the argv and the tail of its stderr for debugging."""

    def __init__(self, path: os.PathLike | str, cause: str, argv: list[str] | None = None,
                 stderr_tail: str = "", stage: str = "demux") -> None:
        super().__init__(path, cause, stage=stage)
        self.argv = list(argv or [])
        self.stderr_tail = stderr_tail
