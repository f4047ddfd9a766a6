"""Read an iterator ahead in a background thread, so a producer process keeps working while we compute.

ffmpeg writes frames into a 64 KiB pipe: if nobody reads while the encoder runs, ffmpeg blocks and decode
and encode take turns instead of overlapping. ``Prefetch`` keeps ``depth`` chunks read ahead.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_END = object()


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class Prefetch(Iterator[T], Generic[T]):
    """Iterate ``source`` in a daemon thread, at most ``depth`` items ahead; errors re-raise in the consumer.

    ``close()`` (or leaving a ``with`` block) stops the thread after its current item and closes the
    source from that thread (a generator can only be closed by the thread running it).
    """

    def __init__(self, source: Iterable[T], depth: int = 2) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._source = source
        self._thread = threading.Thread(target=self._run, name="mmvideo-prefetch", daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._source:
                if not self._put(item):
                    break
            self._put(_END)
        except BaseException as exc:  # handed to the consumer
            self._put(_Raised(exc))
        finally:
            close = getattr(self._source, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> "Prefetch[T]":
        return self

    def __next__(self) -> T:
        item = self._queue.get()
        if item is _END:
            self._queue.put(_END)  # stay exhausted
            raise StopIteration
        if isinstance(item, _Raised):
            raise item.exc
        return item  # type: ignore[return-value]

    def close(self, wait: float = 10.0) -> None:
        self._stop.set()
        while True:  # unblock a producer waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(wait)

    def __enter__(self) -> "Prefetch[T]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
