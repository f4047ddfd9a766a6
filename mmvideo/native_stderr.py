"""Keep native libraries' start-up chatter off the user's terminal while models load.

TensorFlow 2.21 logs through absl (``WARNING: All log messages before absl::InitializeLog() ...``, oneDNN's
notice) and LiteRT prints ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.``, straight to file
descriptor 2 and regardless of ``TF_CPP_MIN_LOG_LEVEL``: every nightly run would mail those lines. While
:func:`native_stderr_captured` is active, fd 2 goes to a temporary file; afterwards mmvideo's own lines
are written back, the rest goes to the debug log. If the block raises, everything captured is written
back (it may explain the error). ``MMVIDEO_DEBUG`` turns the capture off.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator

from mmvideo.errors import debug_enabled

_LOCK = threading.Lock()
_OWN_PREFIX = "mmvideo:"


@contextlib.contextmanager
def native_stderr_captured() -> Iterator[None]:
    """Redirect file descriptor 2 for the duration of the block (see the module docstring)."""
    if debug_enabled() or not _LOCK.acquire(blocking=False):  # nested or concurrent: leave fd 2 alone
        yield
        return
    try:
        with tempfile.TemporaryFile() as sink:
            _flush_streams()
            saved = os.dup(2)
            os.dup2(sink.fileno(), 2)
            failed = False
            try:
                yield
            except BaseException:
                failed = True
                raise
            finally:
                _flush_streams()
                os.dup2(saved, 2)
                os.close(saved)
                sink.seek(0)
                _replay(sink.read().decode("utf-8", "replace"), everything=failed)
    finally:
        _LOCK.release()


def _flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _replay(text: str, everything: bool) -> None:
    """Write captured text back to stderr: all of it, or only mmvideo's own lines (the rest to debug)."""
    log = logging.getLogger("mmvideo")
    for line in text.splitlines():
        if everything or line.startswith(_OWN_PREFIX):
            print(line, file=sys.stderr)
        elif line.strip():
            log.debug("native: %s", line)
