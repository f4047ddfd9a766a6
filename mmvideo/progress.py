"""What a run tells a person or a log shipper while it works: rich bars, plain lines, JSON lines, or nothing.

All reporters take the same events from the engine; the engine never prints. ``make_reporter`` picks rich
bars on a terminal and plain periodic lines otherwise (cron), JSON lines with ``--log-format json``.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from typing import TextIO


@dataclass
class RunSummary:
    """Counts and throughput of one run; ``exit_code`` 0 all done, 1 some failed.

    ``duplicates``: copies of another input recorded as such; ``pruned``: results removed for gone files.
    """

    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    pending: int = 0
    duplicates: int = 0
    pruned: int = 0
    seconds: float = 0.0
    video_seconds: float = 0.0
    stopped_early: bool = False

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    @property
    def video_hours_per_hour(self) -> float:
        return self.video_seconds / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        rate = f", {self.video_hours_per_hour:.1f} video-hours/hour" if self.video_seconds else ""
        stop = " (stopped at --max-runtime; rerun to continue)" if self.stopped_early else ""
        copies = f", {self.duplicates} duplicates" if self.duplicates else ""
        pruned = f"; {self.pruned} gone files pruned" if self.pruned else ""
        return (f"{self.done} done, {self.skipped} skipped, {self.failed} failed, {self.pending} pending{copies} "
                f"of {self.total} in {self.seconds:.1f} s{rate}{stop}{pruned}")


class Reporter:
    """Base reporter: ignores everything (``--quiet``), except failures and the summary go to stderr."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet

    def run_started(self, total: int) -> None: ...

    def video_started(self, path: str, index: int) -> None: ...

    def stage(self, path: str, stage: str) -> None: ...

    def video_finished(self, path: str, status: str, seconds: float, video_seconds: float,
                       error: str | None = None) -> None:
        if status == "failed":
            self.stream.write(f"{path}: {error}\n")

    def message(self, text: str) -> None:
        if not self.quiet:
            self.stream.write(text + "\n")

    def run_finished(self, summary: RunSummary) -> None:
        if not self.quiet:
            self.stream.write(f"mmvideo: {summary.line()}\n")

    def close(self) -> None: ...


class PlainReporter(Reporter):
    """Periodic plain lines for logs and cron mail: at most one progress line every ``every`` seconds."""

    def __init__(self, stream: TextIO | None = None, every: float = 30.0) -> None:
        super().__init__(stream)
        self.every = every
        self._t0 = time.monotonic()
        self._last = 0.0
        self.total = self.finished = 0
        self.video_seconds = 0.0

    def run_started(self, total: int) -> None:
        self.total = total
        self._t0 = time.monotonic()
        self.stream.write(f"mmvideo: {total} files to consider\n")

    def video_finished(self, path, status, seconds, video_seconds, error=None) -> None:
        super().video_finished(path, status, seconds, video_seconds, error)
        self.finished += 1
        self.video_seconds += video_seconds
        now = time.monotonic()
        if now - self._last >= self.every or self.finished == self.total:
            self._last = now
            elapsed = now - self._t0
            eta = elapsed / self.finished * (self.total - self.finished) if self.finished else 0
            self.stream.write(f"mmvideo: {self.finished}/{self.total} files, {elapsed:.0f} s elapsed, "
                              f"ETA {eta:.0f} s\n")
            self.stream.flush()


class JsonReporter(Reporter):
    """One JSON object per event on stderr, for log shippers (``--log-format json``)."""

    def _emit(self, event: str, **fields) -> None:
        self.stream.write(json.dumps({"ts": time.time(), "event": event, **fields}) + "\n")
        self.stream.flush()

    def run_started(self, total: int) -> None:
        self._emit("run_started", total=total)

    def video_started(self, path: str, index: int) -> None:
        self._emit("video_started", path=path, index=index)

    def video_finished(self, path, status, seconds, video_seconds, error=None) -> None:
        self._emit("video_finished", path=path, status=status, seconds=round(seconds, 3),
                   video_seconds=round(video_seconds, 3), error=error)

    def message(self, text: str) -> None:
        self._emit("message", text=text)

    def run_finished(self, summary: RunSummary) -> None:
        self._emit("run_finished", **asdict(summary), exit_code=summary.exit_code)


class RichReporter(Reporter):
    """Progress bars on a terminal: files done/total, current stage, video-hours per hour, ETA."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = Console(file=self.stream)
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                                 TextColumn("{task.fields[current]}"), console=self.console, transient=False)
        self.task = None
        self._t0 = time.monotonic()
        self.video_seconds = 0.0

    def run_started(self, total: int) -> None:
        self._t0 = time.monotonic()
        self.progress.start()
        self.task = self.progress.add_task("videos", total=total, rate="", current="")

    def stage(self, path: str, stage: str) -> None:
        if self.task is not None:
            name = path.rsplit("/", 1)[-1]
            self.progress.update(self.task, current=f"{stage}: {name[:40]}")

    def video_finished(self, path, status, seconds, video_seconds, error=None) -> None:
        if status == "failed":
            self.progress.console.print(f"[red]{path}: {error}[/red]", markup=True, highlight=False)
        self.video_seconds += video_seconds
        elapsed = time.monotonic() - self._t0
        rate = f"{self.video_seconds / elapsed:.1f} video-h/h" if elapsed > 0 and self.video_seconds else ""
        if self.task is not None:
            self.progress.update(self.task, advance=1, rate=rate)

    def message(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False)

    def run_finished(self, summary: RunSummary) -> None:
        self.close()
        self.stream.write(f"mmvideo: {summary.line()}\n")

    def close(self) -> None:
        if self.task is not None:
            self.progress.stop()
            self.task = None


def make_reporter(log_format: str = "auto", quiet: bool = False, stream: TextIO | None = None) -> Reporter:
    """The reporter for ``--log-format auto|plain|json`` and ``--quiet``."""
    stream = stream or sys.stderr
    if quiet:
        return Reporter(stream, quiet=True)
    if log_format == "json":
        return JsonReporter(stream)
    if log_format == "plain" or not stream.isatty():
        return PlainReporter(stream)
    return RichReporter(stream)
