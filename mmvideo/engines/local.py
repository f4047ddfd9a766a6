"""The local engine: one process, a loop over discover -> skip rules -> process -> commit.

``--jobs N`` runs up to N ``process`` calls at once on a thread pool sharing one analyzer (its model calls
go through one worker thread per feed, see ``pipeline/analyze.py``); ``commit`` stays on the driver, as each
video finishes, so the rows are those of ``--jobs 1`` and a kill leaves every video done or redone once.

Under the output folder's lock: discover every input file (empty ones too), settle copies and moved files
against what the folder recorded (``reconcile``), optionally prune the results of files that are gone, then
for each file apply the skip rules and run the shared policy (``policy.process`` then ``policy.commit``).
The state row is written after the parts, so a kill at any moment leaves at worst a file whose parts are
rewritten (replaced, not duplicated) by the next run. Compacted results (``write/compact.py``): a run first
finishes a compaction a killed process left half done, splits the videos it will process again out of their
compacted files, and ends with a compaction when it wrote parts and ``auto_compact`` per-video parts piled up.

The results may go to an object store (``s3://...``, ``write/target.py``): then the state store and the lock
live in the local ``config.state`` folder and nothing is compacted. Another engine (``engines/ray_engine.py``) reuses
this driver with its own ``executor``: everything but how ``process`` calls are spread stays here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from mmvideo.config import RunConfig
from mmvideo.discover import discover
from mmvideo.engines.policy import Analyzer, already_handled, commit, previous, process, unsettled
from mmvideo.engines.reconcile import apply_moves, assign_roles, drop_superseded, prune_missing
from mmvideo.errors import SetupError
from mmvideo.media import children
from mmvideo.progress import Reporter, RunSummary
from mmvideo.state import ContentIds, RunLock, State, check_writable
from mmvideo.write import compact as compaction
from mmvideo.write.target import check_remote_writable, is_remote

__all__ = ["Analyzer", "Executor", "default_jobs", "output_home", "run_local"]

Executor = Callable[..., None]
"""How ``process`` calls are spread: ``(files, out, config, analyzer, reporter, summary, state, formats, t0,
settle, jobs)``; it takes the videos from ``next_videos`` and ``commit``s every outcome on the driver."""

MAX_DEFAULT_JOBS = 8
JOB_MEMORY_MB = 400
"""Memory one more video in flight may take: its ffmpeg decoders (about 90 MB each at 720p, two per video),
read-ahead chunks and per-item outputs; the models are shared. Measured peak (benchmarks/bench_sampling.py, 720p):
0.53 GB for one video at a time, models included, 0.55 GB for two (1.1 and 1.3 GB while Keras was imported for
fusion); kept at 400 MB for larger frames and longer read-ahead."""


def _available_mb() -> float | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def default_jobs() -> int:
    """``--jobs 0``: one video per core this process may use, as many as free memory holds after 1.5 GB for the
    models and the first video, at most ``MAX_DEFAULT_JOBS`` (the model threads are one per feed). Measured on
    2 cores (benchmarks/bench_sampling.py): 3 x 150 s with a keyframe every 10 s took 27.3 s with 2 jobs against
    37.7 s with 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    jobs = min(cores, MAX_DEFAULT_JOBS)
    free = _available_mb()
    if free is not None:
        jobs = min(jobs, 1 + int(max(0.0, free - 1500) // JOB_MEMORY_MB))
    return max(1, jobs)


def output_home(out_dir: str | os.PathLike, config: RunConfig) -> tuple[str | Path, Path]:
    """(where the results go, the local folder whose ``.mmvideo/`` holds the state store and the lock), both
    checked writable. An object-store ``out_dir`` needs ``config.state``; a local one keeps its own state."""
    if is_remote(out_dir):
        if not config.state:
            raise SetupError(f"{out_dir}: an object-store output needs --state DIR (a local folder for the state "
                             f"store and the run lock)")
        if config.thumbnails:
            raise SetupError(f"{out_dir}: --thumbnails needs a local output folder")
        return check_remote_writable(str(out_dir)), check_writable(config.state)
    if config.state:
        raise SetupError(f"{out_dir}: --state is for object-store outputs (s3://...); a local output folder keeps "
                         f"its state in {Path(out_dir) / '.mmvideo'}")
    out = check_writable(out_dir)
    return out, out


def run_local(inputs: Iterable[str | os.PathLike], out_dir: str | os.PathLike, config: RunConfig,
              analyzer: Analyzer, reporter: Reporter, *, command: str = "mmvideo run",
              settle: float = 0.0, prune: bool = False, rehash: bool = False,
              auto_compact: int | None = compaction.AUTO_COMPACT_PARTS,
              executor: Executor | None = None) -> RunSummary:
    """Process every media file under ``inputs`` into ``out_dir``; returns the run's summary.

    ``prune`` first removes the results of recorded files whose path no longer exists. Content ids of files
    whose (device, inode, size, mtime, ctime) are unchanged since the last run are reused from the state
    store; ``rehash`` hashes every file again (a file rewritten in place with its old stat). ``auto_compact``:
    compact the Parquet results at the end when the run wrote parts and at least this many per-video parts
    exist (None: never). ``executor``: how ``process`` calls are spread (default: this process, ``--jobs``).
    The analyzer's fingerprint must be known without loading models (it loads them on first use), so a run
    with nothing new to do loads none. Raises ``SetupError`` for problems that stop the whole run.
    """
    t0 = time.monotonic()
    inputs = list(inputs)
    out, home = output_home(out_dir, config)
    local = not is_remote(out)
    formats = ("jsonl", "parquet") if config.format == "both" else (config.format,)
    summary = RunSummary()
    with RunLock(home) as lock:
        if lock.took_over_from:
            reporter.message(f"mmvideo: took over a stale lock left by pid {lock.took_over_from.get('pid')} "
                             f"(process no longer running)")
        state = State(home)
        try:
            if local:
                compaction.recover(out)
            files = _settled_inputs(inputs, out, state, reporter, summary, prune, rehash)
            fp = analyzer.fingerprint
            if local and compaction.read_manifest(out)["files"]:  # videos to process again leave their compacted files
                compaction.evict(out, [v.key for v in files
                                       if not already_handled(v, previous(v, state), fp, config.retry_failed)])
            run_id = state.start_run(command, fp, len(files))
            reporter.run_started(len(files))
            jobs = config.jobs or (default_jobs() if executor is None else 0)
            work = executor or (_process_serial if jobs == 1 else _process_pool)
            work(files, out, config, analyzer, reporter, summary, state, formats, t0, settle, jobs)
            wrote = summary.done + summary.failed + summary.duplicates
            if (local and auto_compact is not None and wrote and "parquet" in formats
                    and compaction.loose_parts(out) >= auto_compact):
                reporter.message(f"{out}: compacting the Parquet results")
                compaction.compact(out)
            summary.seconds = time.monotonic() - t0
            state.end_run(run_id, done=summary.done, skipped=summary.skipped, failed=summary.failed,
                          pending=summary.pending, seconds=summary.seconds, video_seconds=summary.video_seconds,
                          status="stopped" if summary.stopped_early else ("failed" if summary.failed else "ok"),
                          duplicates=summary.duplicates, pruned=summary.pruned)
        finally:
            state.close()
    reporter.run_finished(summary)
    return summary


def next_videos(files: list, config: RunConfig, analyzer: Analyzer, reporter: Reporter, summary: RunSummary,
                 state: State, t0: float, settle: float):
    """The files to process, in order, after the skip rules; stops (counting the rest pending) at max_runtime."""
    fp = analyzer.fingerprint
    for i, video in enumerate(files):
        if config.max_runtime is not None and time.monotonic() - t0 > config.max_runtime:
            summary.pending += len(files) - i
            summary.stopped_early = True
            return
        if already_handled(video, previous(video, state), fp, config.retry_failed):
            summary.skipped += 1
            continue
        if unsettled(video, settle):
            summary.pending += 1
            reporter.message(f"{video.path}: still being written; left for the next run")
            continue
        yield i, video


def _process_serial(files, out, config, analyzer, reporter, summary, state, formats, t0, settle, jobs) -> None:
    """``--jobs 1``: each video processed and committed before the next starts."""
    for i, video in next_videos(files, config, analyzer, reporter, summary, state, t0, settle):
        reporter.video_started(video.path, i)
        outcome = process(video, analyzer, config, out, formats,
                          on_stage=lambda name, path=video.path: reporter.stage(path, name))
        commit(outcome, state, reporter, summary)


def _process_pool(files, out, config, analyzer, reporter, summary, state, formats, t0, settle, jobs) -> None:
    """Up to ``jobs`` videos in ``process`` at once on worker threads; each outcome committed here, on the
    driver, as it arrives. The skip rules and ``max_runtime`` are applied when a video would start."""
    running: dict[Future, object] = {}
    loaded = False

    def commit_finished(block_until_below: int) -> None:
        while len(running) >= block_until_below and running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: running[f][0]):  # the same order for the same timings
                running.pop(future)
                commit(future.result(), state, reporter, summary)

    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="mmvideo-job")
    try:
        videos = next_videos(files, config, analyzer, reporter, summary, state, t0, settle)
        while True:
            commit_finished(jobs)  # wait for a free slot first: memory stays bounded by `jobs` videos
            nxt = next(videos, None)
            if nxt is None:
                break
            i, video = nxt
            if not loaded and video.error is None and video.duplicate_of is None:
                # Models load with fd 2 captured (native start-up chatter): done here, before any other video is
                # in flight, so no line reported meanwhile is swallowed; a run with nothing to analyze loads none.
                getattr(analyzer, "models", lambda: None)()
                loaded = True
            reporter.video_started(video.path, i)
            future = pool.submit(process, video, analyzer, config, out, formats,
                                 on_stage=lambda name, path=video.path: reporter.stage(path, name))
            running[future] = (i, video)
        commit_finished(1)
    except BaseException:  # Ctrl-C, a full disk: stop the videos in flight, commit nothing more
        for _, video in running.values():
            children.cancel(video.path)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for _, video in running.values():
            children.release(video.path)


def _settled_inputs(inputs: list, out: Path, state: State, reporter: Reporter, summary: RunSummary,
                    prune: bool, rehash: bool = False) -> list:
    """The run's files with their roles (video, copy, error), after moves and (``prune``) gone files."""
    ids = ContentIds(state, rehash=rehash)
    files = list(discover(inputs, include_empty=True, ids=ids))
    ids.flush()
    summary.total = len(files)
    if not files and not prune:
        raise SetupError("no media files found in " + ", ".join(map(str, inputs)))
    files, moves = assign_roles(files, state.paths(f.content_id for f in files if f.error is None))
    apply_moves(out, state, moves)
    for move in moves:
        reporter.message(f"{move.new_path}: moved from {move.old_path}; its results now name the new path")
    drop_superseded(out, state, files)
    if prune:
        for gone in prune_missing(out, state):
            summary.pruned += 1
            reporter.message(f"{gone.path}: no longer exists; its results were removed (--prune)")
    return files
