"""Stream a raw pipe out of an ffmpeg process with bounded memory and clean process hygiene.

``FfmpegPipe`` runs one ffmpeg command with stdout as the raw data pipe and stderr read by a thread
(so neither pipe can fill up and deadlock). ffmpeg runs with ``-loglevel level+info`` so every stderr
line carries its level (``[error]``, ``[info]`` ...): error lines are kept as diagnostics, info lines
can be handed to a callback (frames.py reads ``showinfo`` timestamps that way). ``MediaStream`` is
the iterator the demux functions return: it closes the process when the consumer stops early and
carries the warnings of a run (a corrupt file yields what decodes, plus warnings).
"""

from __future__ import annotations

import collections
import logging
import re
import subprocess
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import BinaryIO, Generic, TypeVar

from mmvideo.errors import FfmpegError
from mmvideo.media import children
from mmvideo.media.ffmpeg import BASE_ARGS, ffmpeg_binary, stderr_summary

log = logging.getLogger("mmvideo.media")

T = TypeVar("T")

# After BASE_ARGS (which says -v error): tag each stderr line with its level, keep info lines for
# filters that report through the log (showinfo), and drop the progress line.
LOG_ARGS: tuple[str, ...] = ("-loglevel", "level+info", "-nostats")

_LEVELS = ("panic", "fatal", "error", "warning", "info", "verbose", "debug", "trace")
_LINE = re.compile(r"^(?P<prefix>(?:\[[^\]]*\] )*?)\[(?P<level>" + "|".join(_LEVELS) + r")\] ?(?P<msg>.*)$")
_ERROR_LEVELS = frozenset({"panic", "fatal", "error"})
_MAX_DIAGNOSTICS = 20  # distinct error messages kept per run
_TERMINATE_WAIT_S = 5.0


def parse_log_line(line: str) -> tuple[str, str, str]:
    """Split a ``-loglevel level+...`` stderr line into (source, level, message).

    ``source`` is the first ``[name @ 0x...]`` prefix without its address (``""`` if none); lines
    without a level tag are returned with level ``"info"``.
    """
    m = _LINE.match(line)
    if not m:
        return "", "info", line
    prefix = m.group("prefix")
    source = prefix[1:prefix.index("]")].split(" @ ")[0] if prefix else ""
    return source, m.group("level"), m.group("msg")


def _broken_pipe(exc: BaseException | None) -> bool:
    """True if ``exc`` is, or was raised while handling, a closed pipe (PyAV wraps its write errors)."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, BrokenPipeError):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


class FfmpegPipe:
    """One running ffmpeg command: ``read_exact`` from its stdout, diagnostics from its stderr.

    ``on_info(source, message)`` is called from the stderr thread for every info-level line. The process is
    registered under ``path`` while it runs (``children.kill_running(path)`` stops it from any thread).
    ``feed(stdin)``, if given, writes ffmpeg's input on a thread (stdin is closed after it); an exception it
    raises other than a closed pipe becomes one of ``errors`` (the input ended there).
    """

    def __init__(self, args: Sequence[str], path: str, *,
                 on_info: Callable[[str, str], None] | None = None,
                 feed: Callable[[BinaryIO], object] | None = None) -> None:
        self.path = path
        self.argv = [ffmpeg_binary(), *BASE_ARGS, *LOG_ARGS, *args]
        self._on_info = on_info
        self._errors: list[str] = []  # distinct error-level messages, in order
        self._tail: collections.deque[str] = collections.deque(maxlen=40)
        self.proc = children.spawn(self.argv, path, stdin=subprocess.DEVNULL if feed is None else subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._thread = threading.Thread(target=self._read_stderr, name="ffmpeg-stderr", daemon=True)
        self._thread.start()
        self._feeder: threading.Thread | None = None
        self._closing = False
        if feed is not None:
            self._feeder = threading.Thread(target=self._feed, args=(feed,), name="ffmpeg-stdin", daemon=True)
            self._feeder.start()

    def _feed(self, feed: Callable[[BinaryIO], object]) -> None:
        assert self.proc.stdin is not None
        try:
            feed(self.proc.stdin)
        except Exception as exc:  # noqa: BLE001 - a damaged file: ffmpeg decodes what came, a warning says so
            if self._closing or self.proc.poll() is not None or self.proc.stdin.closed or _broken_pipe(exc):
                return  # ffmpeg stopped reading (it ended, or close() stopped it): its exit status says why
            log.debug("%s: input ended early: %s", self.path, exc)
            self._errors.append(f"input ended early ({type(exc).__name__}: {exc})")
        finally:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line.strip():
                continue
            source, level, msg = parse_log_line(line)
            if level in _ERROR_LEVELS:
                self._tail.append(msg)
                if msg not in self._errors and len(self._errors) < _MAX_DIAGNOSTICS:
                    self._errors.append(msg)
            elif level == "info" and self._on_info is not None:
                try:
                    self._on_info(source, msg)
                except Exception:  # a parsing bug must not kill the drain thread (ffmpeg would block)
                    log.exception("mmvideo: could not parse ffmpeg line %r", line)

    @property
    def stderr_done(self) -> bool:
        """True once ffmpeg closed its stderr and every line was handled."""
        return not self._thread.is_alive()

    def read_exact(self, view: memoryview) -> int:
        """Fill ``view`` from stdout; returns the bytes read (less than ``len(view)`` only at EOF)."""
        assert self.proc.stdout is not None
        got = 0
        total = view.nbytes
        while got < total:
            n = self.proc.stdout.readinto(view[got:])
            if not n:
                break
            got += n
        return got

    def wait(self) -> int:
        """Wait for a normal end (stdout at EOF); returns the exit status, stderr fully read."""
        rc = self.proc.wait()
        if self._feeder is not None:
            self._feeder.join()
        self._thread.join()
        self._close_pipes()
        children.forget(self.path, self.proc)
        return rc

    def close(self) -> None:
        """Stop ffmpeg if it still runs (consumer stopped early): EPIPE, then SIGTERM, then SIGKILL."""
        self._closing = True
        if self.proc.poll() is None:
            self._close_pipes(stdout_only=True)  # a write blocked on a full pipe fails with EPIPE
            self.proc.terminate()
            try:
                self.proc.wait(timeout=_TERMINATE_WAIT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._thread.join(timeout=_TERMINATE_WAIT_S)
        if self._feeder is not None:
            self._feeder.join(timeout=_TERMINATE_WAIT_S)
        self._close_pipes()
        children.forget(self.path, self.proc)

    def _close_pipes(self, stdout_only: bool = False) -> None:
        pipes = (self.proc.stdout,) if stdout_only else (self.proc.stdout, self.proc.stderr)
        for pipe in pipes:
            if pipe is not None and not pipe.closed:
                try:
                    pipe.close()
                except OSError:
                    pass

    @property
    def errors(self) -> list[str]:
        """Distinct error-level messages ffmpeg printed so far (at most 20)."""
        return list(self._errors)

    def error(self, cause: str | None = None) -> FfmpegError:
        """An ``FfmpegError`` for this run: ``cause`` or the last error line ffmpeg printed."""
        tail = "\n".join(self._tail)
        return FfmpegError(self.path, cause or stderr_summary(tail), self.argv, tail)


class MediaStream(Iterator[T], Generic[T]):
    """An iterator over demuxed chunks that owns an ffmpeg process.

    ``warnings`` lists what went wrong without stopping the stream (corrupt packets, a retry);
    ``close()`` (also on ``with`` exit or garbage collection) terminates ffmpeg and reaps it.
    """

    def __init__(self, make: Callable[[list[str]], Generator[T, None, None]]) -> None:
        self.warnings: list[str] = []
        self._gen = make(self.warnings)

    def __iter__(self) -> MediaStream[T]:
        return self

    def __next__(self) -> T:
        return next(self._gen)

    def close(self) -> None:
        self._gen.close()

    def __enter__(self) -> MediaStream[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self._gen.close()
        except Exception:
            pass
