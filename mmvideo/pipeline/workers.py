"""Model work on long-lived, lower-priority threads, so decoding (the pipeline's floor) is never starved.

On two cores ffmpeg and the encoders compete; ffmpeg's decode is the critical path, the encoders have
slack. Each ``ModelWorker`` is one thread, niced once at start (an unprivileged process may lower a
thread's priority but never raise it back, so the threads live as long as the pipeline and the ffmpeg
processes, started from normal-priority threads, keep normal priority). Work submitted to one worker
runs in order.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

log = logging.getLogger("mmvideo.pipeline")

MODEL_NICENESS = 10


def _lower_priority(niceness: int) -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError) as exc:  # not Linux, or not allowed: run at normal priority
        log.debug("could not lower model thread priority: %s", exc)


class ModelWorker:
    """A single niced thread that runs model calls in submission order."""

    def __init__(self, name: str, niceness: int = MODEL_NICENESS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"mmvideo-{name}",
                                        initializer=_lower_priority, initargs=(niceness,))

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self._pool.submit(fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class Ordered:
    """Futures collected in submission order with at most ``limit`` outstanding (bounded memory)."""

    def __init__(self, worker: ModelWorker, on_result: Callable[[Any], None], limit: int = 2) -> None:
        self.worker, self.on_result, self.limit = worker, on_result, limit
        self._pending: deque[Future] = deque()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self._pending.append(self.worker.submit(fn, *args))
        while len(self._pending) > self.limit:
            self.on_result(self._pending.popleft().result())

    def drain(self) -> None:
        while self._pending:
            self.on_result(self._pending.popleft().result())

    def cancel(self) -> None:
        for f in self._pending:
            f.cancel()
        self._pending.clear()
