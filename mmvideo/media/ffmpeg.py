"""Find the ffmpeg binary and run it safely: argv lists (never a shell), stderr captured, typed errors.

The binary is looked up on first use, not at import: ``$FFMPEG_BINARY``, then ``ffmpeg`` on ``PATH``,
then the binary shipped by the ``imageio-ffmpeg`` wheel (so no ``apt-get`` is ever required).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Sequence

from mmvideo.errors import FfmpegError, SetupError
from mmvideo.media import children

# Options every ffmpeg call starts with: never read stdin, print only errors.
BASE_ARGS: tuple[str, ...] = ("-nostdin", "-hide_banner", "-v", "error")


@functools.lru_cache(maxsize=1)
def ffmpeg_binary() -> str:
    """Path of the ffmpeg executable to use; raises ``SetupError`` with a fix when none is found."""
    env = os.environ.get("FFMPEG_BINARY")
    if env:
        found = shutil.which(env) or (env if os.path.isfile(env) else None)
        if not found:
            raise SetupError(f"FFMPEG_BINARY={env!r} does not point to an executable")
        return found
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - imageio-ffmpeg is a hard dependency
        raise SetupError("ffmpeg not found: set FFMPEG_BINARY, put ffmpeg on PATH, "
                         "or pip install imageio-ffmpeg") from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


def input_url(path: os.PathLike | str) -> str:
    """An ffmpeg input/output name that is always read as a local file.

    ``file:`` plus an absolute path: a leading ``-`` is never an option and a ``:`` in the name is never
    a protocol.
    """
    return "file:" + os.path.abspath(os.fspath(path))


def stderr_summary(stderr: str, limit: int = 1) -> str:
    """The most telling line(s) of ffmpeg's stderr, with ``[demuxer @ 0x...]`` prefixes removed."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    cleaned = []
    for ln in lines:
        if ln.startswith("[") and "] " in ln:
            ln = ln.split("] ", 1)[1]
        # ffmpeg repeats the input name in its final error; drop our file: prefix noise
        cleaned.append(ln.replace("file:", ""))
    # ffmpeg's closing lines ("Error opening output files: Invalid argument", "Conversion failed!") are
    # generic; the cause is the line before them.
    generic = ("Error opening output file", "Error opening input file", "Conversion failed",
               "Error while filtering", "Nothing was written")
    specific = [ln for ln in cleaned if not ln.startswith(generic)]
    chosen = specific or cleaned
    return "; ".join(chosen[-limit:]) if chosen else "ffmpeg failed without a message"


def run_ffmpeg(args: Sequence[str], path: os.PathLike | str, *, stage: str = "demux",
               timeout: float | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``ffmpeg BASE_ARGS + args`` to completion; raise ``FfmpegError`` naming ``path`` on failure.

    The process is registered under ``path`` while it runs, so a video's timeout stops it too.
    """
    argv = [ffmpeg_binary(), *BASE_ARGS, *args]
    child = children.spawn(argv, path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with child:
            try:
                stdout, stderr = child.communicate(timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                child.kill()
                child.communicate()
                raise FfmpegError(path, f"ffmpeg timed out after {timeout:g} s", argv, stage=stage) from exc
    finally:
        children.forget(path, child)
    proc = subprocess.CompletedProcess(argv, child.returncode, stdout, stderr)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace")
        raise FfmpegError(path, stderr_summary(err), argv, err[-4000:], stage=stage)
    return proc
