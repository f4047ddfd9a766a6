"""The local engine: one process, videos in order, incremental, failure-isolated, resumable.

For each discovered file: skip it when the output folder already holds it with the same pipeline
fingerprint (done, or failed unless ``retry_failed``); otherwise analyze it under a per-video timeout,
write its parts atomically, then record it in the state store. The state row is written last, so a
kill at any moment leaves at worst a video whose parts are rewritten (replaced, not duplicated) by the
next run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from mmvideo.config import RunConfig
from mmvideo.discover import discover
from mmvideo.errors import MediaError, SetupError
from mmvideo.progress import Reporter, RunSummary
from mmvideo.records import Analysis, VideoFile, VideoRecord
from mmvideo.state import RunLock, State, check_writable, utc_now
from mmvideo.write.writer import write_video


class Analyzer(Protocol):
    """What the engine needs from the pipeline: a fingerprint and one call per video."""

    fingerprint: str

    def analyze(self, video: VideoFile, on_stage: Callable[[str], None]) -> Analysis: ...


class VideoTimeout(Exception):
    """Raised inside a video's analysis when its ``--timeout`` expires."""


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise ``VideoTimeout`` in the main thread after ``seconds`` (no-op off the main thread or if None).

    SIGALRM interrupts blocking pipe reads too; the media iterators' cleanup kills their ffmpeg.
    """
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise VideoTimeout(f"timed out after {seconds:g} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _stat_key(path: str) -> tuple[int, float] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime


def failed_record(video: VideoFile, fingerprint: str, stage: str, error: str) -> VideoRecord:
    return VideoRecord(video_id=video.content_id, path=video.path, status="failed", fingerprint=fingerprint,
                       stage=stage, error=error, processed_at=utc_now())


def run_local(inputs: Iterable[str | os.PathLike], out_dir: str | os.PathLike, config: RunConfig,
              analyzer: Analyzer, reporter: Reporter, *, command: str = "mmvideo run",
              settle: float = 0.0) -> RunSummary:
    """Process every media file under ``inputs`` into ``out_dir``; returns the run's summary.

    The analyzer's fingerprint must be known without loading models (it loads them on first use), so
    a run with nothing new to do loads none. Raises ``SetupError`` for problems that stop the whole run.
    """
    t0 = time.monotonic()
    out = check_writable(out_dir)
    formats = ("jsonl", "parquet") if config.format == "both" else (config.format,)
    summary = RunSummary()
    with RunLock(out) as lock:
        if lock.took_over_from:
            reporter.message(f"mmvideo: took over a stale lock left by pid {lock.took_over_from.get('pid')} "
                             f"(process no longer running)")
        state = State(out)
        try:
            files = list(discover(inputs))
            summary.total = len(files)
            if not files:
                raise SetupError("no media files found in " + ", ".join(map(str, inputs)))
            fp = analyzer.fingerprint
            run_id = state.start_run(command, fp, len(files))
            reporter.run_started(len(files))
            for i, video in enumerate(files):
                if config.max_runtime is not None and time.monotonic() - t0 > config.max_runtime:
                    summary.pending += len(files) - i
                    summary.stopped_early = True
                    break
                if _already_handled(state.get(video.content_id), fp, config.retry_failed):
                    summary.skipped += 1
                    continue
                before = _stat_key(video.path)
                if before is None or (settle and time.time() - before[1] < settle):
                    summary.pending += 1
                    reporter.message(f"{video.path}: still being written; left for the next run")
                    continue
                reporter.video_started(video.path, i)
                started = time.monotonic()
                status, error, seconds_of_video = _process(analyzer, video, config, out, formats, state, reporter,
                                                           before)
                if status == "pending":
                    summary.pending += 1
                    reporter.message(f"{video.path}: {error}; left for the next run")
                    continue
                if status == "done":
                    summary.done += 1
                    summary.video_seconds += seconds_of_video
                else:
                    summary.failed += 1
                reporter.video_finished(video.path, status, time.monotonic() - started, seconds_of_video, error)
            summary.seconds = time.monotonic() - t0
            state.end_run(run_id, done=summary.done, skipped=summary.skipped, failed=summary.failed,
                          pending=summary.pending, seconds=summary.seconds, video_seconds=summary.video_seconds,
                          status="stopped" if summary.stopped_early else ("failed" if summary.failed else "ok"))
        finally:
            state.close()
    reporter.run_finished(summary)
    return summary


def _already_handled(prev, fingerprint: str, retry_failed: bool) -> bool:
    if prev is None or prev.fingerprint != fingerprint:
        return False
    return prev.status == "done" or (prev.status == "failed" and not retry_failed)


def _process(analyzer: Analyzer, video: VideoFile, config: RunConfig, out: Path, formats, state: State,
             reporter: Reporter, before) -> tuple[str, str | None, float]:
    """Analyze, write and record one video; returns (status, one-line error or None, video seconds)."""
    fp = analyzer.fingerprint
    stage = ["probe"]

    def on_stage(name: str) -> None:
        stage[0] = name
        reporter.stage(video.path, name)

    try:
        with deadline(config.timeout):
            analysis = analyzer.analyze(video, on_stage)
        record, segments = analysis.video, list(analysis.segments)
    except VideoTimeout as exc:
        return _fail(video, fp, stage[0], str(exc), out, formats, state)
    except MediaError as exc:
        return _fail(video, fp, exc.stage or stage[0], exc.cause, out, formats, state)
    except SetupError:
        raise
    except MemoryError:
        return _fail(video, fp, stage[0], "out of memory", out, formats, state)
    except Exception as exc:  # one bad file never stops the others
        if os.environ.get("MMVIDEO_DEBUG"):
            raise
        cause = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        return _fail(video, fp, stage[0], f"internal error: {cause}", out, formats, state)
    if _stat_key(video.path) != before:
        return "pending", "file changed while being read", 0.0
    record = replace(record, fingerprint=fp)
    _write(out, record, segments, formats, getattr(analyzer, "segment_schema", None))
    if analysis.evidence is not None:
        from mmvideo.write.evidence import write_evidence

        try:
            write_evidence(out, analysis.evidence)
        except OSError as exc:
            raise SetupError(f"{out}: cannot write results ({exc.strerror or exc})") from exc
    state.mark_done(video.content_id, video.path, fp, record.duration)
    return "done", None, float(record.duration or 0.0)


def _write(out: Path, record: VideoRecord, segments, formats, schema=None) -> None:
    """Write one video's parts; a full or unwritable disk stops the run (exit 2), it is no file's fault."""
    try:
        write_video(out, record, segments, formats, schema=schema)
    except OSError as exc:
        raise SetupError(f"{out}: cannot write results ({exc.strerror or exc})") from exc


def _fail(video: VideoFile, fp: str, stage: str, error: str, out: Path, formats, state: State):
    _write(out, failed_record(video, fp, stage, error), [], formats)
    state.mark_failed(video.content_id, video.path, fp, stage, error)
    return "failed", error, 0.0
