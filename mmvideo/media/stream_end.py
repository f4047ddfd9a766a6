"""The end-of-stream rule of the demux streams (frames, audio): what an ffmpeg exit status means for a stream.

Non-zero with nothing yielded: the file could not be read (``FfmpegError``). Non-zero after some output: the
output is kept and a warning says where ffmpeg stopped. Zero with decode errors: a warning that parts may be
missing. Warnings go to the stream's ``warnings`` and the ``mmvideo.media`` log.
"""

from __future__ import annotations

import logging

from mmvideo.media.pipe import FfmpegPipe

log = logging.getLogger("mmvideo.media")


def warn(warnings: list[str], path: str, message: str) -> None:
    """Record one demux warning of ``path`` on the stream and in the log."""
    warnings.append(message)
    log.warning("%s: %s", path, message)


def finish_stream(pipe: FfmpegPipe, rc: int, warnings: list[str], path: str, *, produced: str | None,
                  damaged: str) -> None:
    """Apply the end-of-stream rule to a finished ``pipe`` (exit status ``rc``): raise, warn or pass.

    produced: what was yielded ("12 frames"), None when nothing was; damaged: the warning when ffmpeg
    succeeded with decode errors ("decode errors, some frames may be missing").
    """
    if rc != 0:
        if produced is None:
            raise pipe.error()
        warn(warnings, path, f"ffmpeg stopped after {produced}: {pipe.error().cause}")
    elif pipe.errors:
        warn(warnings, path, f"{damaged}: {'; '.join(pipe.errors[:3])}")
