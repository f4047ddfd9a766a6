"""The ffmpeg processes running for each input file, so a timeout on any thread can stop a video's children.

Every ffmpeg that mmvideo starts for a file is registered under that file's absolute path while it runs.
``cancel(path)`` kills them (SIGKILL, reaped) and refuses new ones for the path until ``release(path)``:
a demux that retries after its ffmpeg died cannot start another decode of a video that timed out.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Sequence

from mmvideo.errors import FfmpegError

_REAP_WAIT_S = 1.0

_lock = threading.Lock()
_running: dict[str, set[subprocess.Popen]] = {}
_cancelled: set[str] = set()


def _key(path: os.PathLike | str) -> str:
    return os.path.abspath(os.fspath(path))


def spawn(argv: Sequence[str], path: os.PathLike | str, **popen_kwargs) -> subprocess.Popen:
    """Start ``argv`` for input ``path`` and register it; ``FfmpegError`` if the path's work was cancelled."""
    key = _key(path)
    with _lock:  # check, start and register together: a cancel cannot slip between them
        if key in _cancelled:
            raise FfmpegError(os.fspath(path), "stopped: the video's time ran out", list(argv))
        proc = subprocess.Popen(list(argv), **popen_kwargs)
        _running.setdefault(key, set()).add(proc)
    return proc


def forget(path: os.PathLike | str, proc: subprocess.Popen) -> None:
    """Unregister ``proc`` (it ended or was closed)."""
    key = _key(path)
    with _lock:
        procs = _running.get(key)
        if procs is not None:
            procs.discard(proc)
            if not procs:
                del _running[key]


def running(path: os.PathLike | str) -> list[int]:
    """Process ids of the ffmpeg processes still running for ``path``."""
    with _lock:
        return [p.pid for p in _running.get(_key(path), ()) if p.poll() is None]


def kill_running(path: os.PathLike | str) -> int:
    """SIGKILL and reap every process running for ``path``; returns how many were still running."""
    with _lock:
        procs = list(_running.get(_key(path), ()))
    killed = 0
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            killed += 1
        try:
            proc.wait(timeout=_REAP_WAIT_S)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
            pass
    return killed


def cancel(path: os.PathLike | str) -> int:
    """Refuse new processes for ``path`` and kill the running ones; returns how many were killed."""
    with _lock:
        _cancelled.add(_key(path))
    return kill_running(path)


def release(path: os.PathLike | str) -> None:
    """Allow processes for ``path`` again (its cancelled work has ended)."""
    with _lock:
        _cancelled.discard(_key(path))
