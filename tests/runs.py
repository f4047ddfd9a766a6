"""Test helpers for whole `mmvideo run` subprocesses (shared by the engine and batch-job tests)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable, Sequence


def kill_when(cmd: Sequence[str], predicate: Callable[[list[dict]], bool]) -> list[dict]:
    """Start ``cmd`` (a run with ``--log-format json``) and SIGKILL it as soon as ``predicate(events so far)``
    holds; returns the JSON log events read up to then."""
    proc = subprocess.Popen(list(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    events: list[dict] = []
    try:
        for line in proc.stderr:  # type: ignore[union-attr]
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
            if predicate(events):
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.kill()
        proc.wait(timeout=60)
    return events
