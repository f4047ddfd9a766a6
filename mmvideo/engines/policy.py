"""The per-video policy every engine shares, in two halves: ``process`` on any worker, ``commit`` on the driver.

``process`` analyzes one input file under its ``--timeout`` and writes its parts (atomically); it returns an
``Outcome``, failures included (stage and one-line cause), and raises only ``SetupError`` (a full or
unwritable disk stops the whole run). It touches no state store and no reporter, so it can run on a worker
thread or another host. ``commit`` records an outcome in the state store, counts it and reports it: the
driver alone calls it. The skip rules (``already_handled``, ``unsettled``) live here too.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, TypeVar

import pyarrow as pa

from mmvideo.config import RunConfig
from mmvideo.errors import MediaError, SetupError, debug_enabled
from mmvideo.media import children
from mmvideo.progress import Reporter, RunSummary
from mmvideo.records import Analysis, VideoFile, VideoRecord
from mmvideo.state import State, VideoState, utc_now
from mmvideo.write.target import is_remote
from mmvideo.write.writer import write_video

KILL_GRACE_S = 1.0
"""After a video's deadline: how long its analysis may take to stop once its ffmpeg children are killed."""

T = TypeVar("T")


class Analyzer(Protocol):
    """What an engine needs from the pipeline: fingerprints known without models, one call per video."""

    fingerprint: str
    encoder_fingerprint: str

    def analyze(self, video: VideoFile, on_stage: Callable[[str], None]) -> Analysis: ...


class VideoTimeout(Exception):
    """A video's ``--timeout`` expired (its ffmpeg children were killed)."""


@dataclass(frozen=True)
class Outcome:
    """What processing one input file gave: ``status`` done, failed, duplicate or pending (left for a later run).

    ``record`` is the video row written (None when pending); ``stage``/``error`` say why it failed or is
    pending; ``video_seconds`` is the duration analyzed (done only); ``seconds`` the wall time it took.
    """

    video: VideoFile
    status: str
    fingerprint: str
    record: VideoRecord | None = None
    stage: str | None = None
    error: str | None = None
    video_seconds: float = 0.0
    seconds: float = 0.0


# --- skip rules ------------------------------------------------------------------------------------

def previous(video: VideoFile, state: State) -> VideoState | None:
    """What the state store holds for ``video``: its content's row, or for a copy / error file its path's row."""
    if video.error is not None or video.duplicate_of is not None:
        return state.get_file(video.path)
    return state.get(video.content_id)


def already_handled(video: VideoFile, prev: VideoState | None, fingerprint: str, retry_failed: bool) -> bool:
    """True when ``prev`` already covers ``video`` with this run's fingerprint: done, a recorded copy of the
    same content, or failed (unless ``retry_failed``)."""
    if prev is None or prev.fingerprint != fingerprint:
        return False
    if video.error is not None or video.duplicate_of is not None:
        if prev.part_key != video.key or prev.video_id != video.content_id:
            return False
        if prev.status == "duplicate":
            return prev.duplicate_of == video.duplicate_of
    return prev.status == "done" or (prev.status == "failed" and not retry_failed)


def stat_key(path: str) -> tuple[int, float] | None:
    """(size, mtime) of ``path``, None if it is gone: a file that changes while read is left for later."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime


def unsettled(video: VideoFile, settle: float) -> bool:
    """True when ``video`` is gone or was modified less than ``settle`` seconds ago (still being copied)."""
    key = stat_key(video.path)
    return key is None or bool(settle and time.time() - key[1] < settle)


# --- process (any worker) --------------------------------------------------------------------------

def call_with_deadline(fn: Callable[[], T], path: str, seconds: float | None) -> T:
    """``fn()`` on a helper thread, given ``seconds``; then ``path``'s ffmpeg children are killed (and no new
    ones start until ``fn`` ends) and ``VideoTimeout`` is raised at most ``KILL_GRACE_S`` later.

    Works on any thread (no signals). Without ``seconds`` ``fn`` runs inline. ``fn``'s exceptions propagate.
    """
    if not seconds:
        return fn()
    box: dict[str, object] = {}
    finished = threading.Event()

    def work() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc
        finally:
            finished.set()
            children.release(path)  # no-op unless the deadline cancelled it

    helper = threading.Thread(target=work, name="mmvideo-analyze", daemon=True)
    helper.start()
    try:
        in_time = finished.wait(seconds)
    except BaseException:  # Ctrl-C while waiting: stop the video's ffmpeg too
        children.cancel(path)
        raise
    if not in_time:
        children.cancel(path)
        if finished.is_set():  # ended between the wait and the cancel: its release ran before the cancel
            children.release(path)
        finished.wait(KILL_GRACE_S)
        raise VideoTimeout(f"timed out after {seconds:g} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"]  # type: ignore[return-value]


def process(video: VideoFile, analyzer: Analyzer, config: RunConfig, out_dir: os.PathLike | str,
            formats: Sequence[str], *, on_stage: Callable[[str], None] | None = None) -> Outcome:
    """Analyze one input file under ``config.timeout`` and write its parts; failures are outcomes.

    A copy (``video.duplicate_of``) and a file discovery could not use (``video.error``) get their own
    record without analysis. Raises only ``SetupError`` (results cannot be written).
    """
    t0 = time.monotonic()
    out = out_dir if is_remote(out_dir) else Path(out_dir)  # an object store's URI stays a URI
    fp = analyzer.fingerprint
    schema = getattr(analyzer, "segment_schema", None)  # the modalities' columns: every part alike
    if video.error is not None:
        return _failed(video, fp, "discover", video.error, out, formats, t0, schema)
    if video.duplicate_of is not None:
        record = VideoRecord(video_id=video.key, path=video.path, status="duplicate", fingerprint=fp,
                             duplicate_of=video.duplicate_of, processed_at=utc_now())
        _write(out, record, [], formats, schema)
        return Outcome(video, "duplicate", fp, record, seconds=time.monotonic() - t0)
    before = stat_key(video.path)
    if before is None:
        return Outcome(video, "pending", fp, error="file disappeared before it was read",
                       seconds=time.monotonic() - t0)
    stage = ["probe"]

    def stage_changed(name: str) -> None:
        stage[0] = name
        if on_stage is not None:
            on_stage(name)

    try:
        analysis = call_with_deadline(lambda: analyzer.analyze(video, stage_changed), video.path, config.timeout)
    except VideoTimeout as exc:
        return _failed(video, fp, stage[0], str(exc), out, formats, t0, schema)
    except MediaError as exc:
        return _failed(video, fp, exc.stage or stage[0], exc.cause, out, formats, t0, schema)
    except SetupError:
        raise
    except MemoryError:
        return _failed(video, fp, stage[0], "out of memory", out, formats, t0, schema)
    except Exception as exc:  # one bad file never stops the others
        if debug_enabled():
            raise
        cause = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        return _failed(video, fp, stage[0], f"internal error: {cause}", out, formats, t0, schema)
    if stat_key(video.path) != before:
        return Outcome(video, "pending", fp, error="file changed while being read", seconds=time.monotonic() - t0)
    record = replace(analysis.video, fingerprint=fp)
    if analysis.evidence is not None:
        _write_evidence(out, analysis.evidence)
    if config.thumbnails and analysis.segments:
        try:
            _write_thumbnails(out, video, analysis)
        except MediaError as exc:  # the rows are good; a picture that cannot be made is a warning
            record = replace(record, warnings=(*record.warnings, f"thumbnails: {exc.cause}"))
    _write(out, record, analysis.segments, formats, schema)
    seconds_of_video = float(record.duration or 0.0)
    return Outcome(video, "done", fp, record, video_seconds=seconds_of_video, seconds=time.monotonic() - t0)


def failed_record(video: VideoFile, fingerprint: str, stage: str, error: str) -> VideoRecord:
    """The video row of a file that failed at ``stage`` with a one-line ``error``."""
    return VideoRecord(video_id=video.key, path=video.path, status="failed", fingerprint=fingerprint,
                       stage=stage, error=error, processed_at=utc_now())


def give_up(video: VideoFile, analyzer: Analyzer, out_dir: os.PathLike | str, formats: Sequence[str], stage: str,
            error: str) -> Outcome:
    """A failure outcome (its record written) for a video an engine will not analyze again, e.g. one that killed
    its workers too often."""
    out = out_dir if is_remote(out_dir) else Path(out_dir)
    return _failed(video, analyzer.fingerprint, stage, error, out, formats, time.monotonic(),
                   getattr(analyzer, "segment_schema", None))


def _failed(video: VideoFile, fp: str, stage: str, error: str, out: Path, formats: Sequence[str],
            t0: float, schema: pa.Schema | None = None) -> Outcome:
    record = failed_record(video, fp, stage, error)
    _write(out, record, [], formats, schema)
    return Outcome(video, "failed", fp, record, stage=stage, error=error, seconds=time.monotonic() - t0)


def _write(out: Path, record: VideoRecord, segments, formats: Sequence[str], schema: pa.Schema | None = None
           ) -> None:
    """Write one file's parts; a full or unwritable disk stops the run (exit 2), it is no file's fault."""
    try:
        write_video(out, record, list(segments), formats, schema=schema)
    except OSError as exc:
        raise SetupError(f"{out}: cannot write results ({exc.strerror or exc})") from exc


def _write_thumbnails(out: Path, video: VideoFile, analysis: Analysis) -> None:
    """``OUT/thumbnails/<video_id>/<segment>.jpg`` from each segment's middle (each file written atomically)."""
    from mmvideo.report.thumbnails import write_segment_thumbnails

    segments = [(s.segment, s.start, s.end) for s in analysis.segments]
    try:
        write_segment_thumbnails(video.path, segments, out / "thumbnails" / analysis.video.video_id)
    except OSError as exc:
        raise SetupError(f"{out}: cannot write results ({exc.strerror or exc})") from exc


def _write_evidence(out: Path, evidence) -> None:
    from mmvideo.write.evidence import write_evidence  # only runs that keep evidence need its writer

    try:
        write_evidence(out, evidence)
    except OSError as exc:
        raise SetupError(f"{out}: cannot write results ({exc.strerror or exc})") from exc


# --- commit (the driver) ---------------------------------------------------------------------------

def commit(outcome: Outcome, state: State, reporter: Reporter, summary: RunSummary) -> None:
    """Record ``outcome`` in the state store (after its parts were written), count it and report it."""
    video = outcome.video
    if outcome.status == "pending":
        summary.pending += 1
        reporter.message(f"{video.path}: {outcome.error}; left for the next run")
        return
    if video.error is not None or video.duplicate_of is not None:
        state.mark_file(video.path, video.key, video.content_id, outcome.status, outcome.fingerprint,
                        duplicate_of=video.duplicate_of, stage=outcome.stage, error=outcome.error)
    elif outcome.status == "done":
        state.mark_done(video.content_id, video.path, outcome.fingerprint,
                        outcome.record.duration if outcome.record else None)
    else:
        state.mark_failed(video.content_id, video.path, outcome.fingerprint, outcome.stage or "", outcome.error or "")
    if outcome.status == "done":
        summary.done += 1
        summary.video_seconds += outcome.video_seconds
    elif outcome.status == "duplicate":
        summary.duplicates += 1
    else:
        summary.failed += 1
    reporter.video_finished(video.path, outcome.status, outcome.seconds, outcome.video_seconds, outcome.error)
