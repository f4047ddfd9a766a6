"""The local engine: one process, files in order, a loop over discover -> skip rules -> process -> commit.

Under the output folder's lock: discover every input file (empty ones too), settle copies and moved files
against what the folder recorded (``reconcile``), optionally prune the results of files that are gone, then
for each file apply the skip rules and run the shared policy (``policy.process`` then ``policy.commit``).
The state row is written after the parts, so a kill at any moment leaves at worst a file whose parts are
rewritten (replaced, not duplicated) by the next run. Compacted results (``write/compact.py``): a run first
finishes a compaction a killed process left half done, splits the videos it will process again out of their
compacted files, and ends with a compaction when it wrote parts and ``auto_compact`` per-video parts piled up.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

from mmvideo.config import RunConfig
from mmvideo.discover import discover
from mmvideo.engines.policy import Analyzer, already_handled, commit, previous, process, unsettled
from mmvideo.engines.reconcile import apply_moves, assign_roles, drop_superseded, prune_missing
from mmvideo.errors import SetupError
from mmvideo.progress import Reporter, RunSummary
from mmvideo.state import ContentIds, RunLock, State, check_writable
from mmvideo.write import compact as compaction

__all__ = ["Analyzer", "run_local"]


def run_local(inputs: Iterable[str | os.PathLike], out_dir: str | os.PathLike, config: RunConfig,
              analyzer: Analyzer, reporter: Reporter, *, command: str = "mmvideo run",
              settle: float = 0.0, prune: bool = False, rehash: bool = False,
              auto_compact: int | None = compaction.AUTO_COMPACT_PARTS) -> RunSummary:
    """Process every media file under ``inputs`` into ``out_dir``; returns the run's summary.

    ``prune`` first removes the results of recorded files whose path no longer exists. Content ids of files
    whose (device, inode, size, mtime, ctime) are unchanged since the last run are reused from the state
    store; ``rehash`` hashes every file again (a file rewritten in place with its old stat). ``auto_compact``:
    compact the Parquet results at the end when the run wrote parts and at least this many per-video parts
    exist (None: never). The analyzer's
    fingerprint must be known without loading models (it loads them on first use), so a run with nothing
    new to do loads none. Raises ``SetupError`` for problems that stop the whole run.
    """
    t0 = time.monotonic()
    inputs = list(inputs)
    out = check_writable(out_dir)
    formats = ("jsonl", "parquet") if config.format == "both" else (config.format,)
    summary = RunSummary()
    with RunLock(out) as lock:
        if lock.took_over_from:
            reporter.message(f"mmvideo: took over a stale lock left by pid {lock.took_over_from.get('pid')} "
                             f"(process no longer running)")
        state = State(out)
        try:
            compaction.recover(out)
            files = _settled_inputs(inputs, out, state, reporter, summary, prune, rehash)
            fp = analyzer.fingerprint
            if compaction.read_manifest(out)["files"]:  # videos to process again leave their compacted files
                compaction.evict(out, [v.key for v in files
                                       if not already_handled(v, previous(v, state), fp, config.retry_failed)])
            run_id = state.start_run(command, fp, len(files))
            reporter.run_started(len(files))
            for i, video in enumerate(files):
                if config.max_runtime is not None and time.monotonic() - t0 > config.max_runtime:
                    summary.pending += len(files) - i
                    summary.stopped_early = True
                    break
                if already_handled(video, previous(video, state), fp, config.retry_failed):
                    summary.skipped += 1
                    continue
                if unsettled(video, settle):
                    summary.pending += 1
                    reporter.message(f"{video.path}: still being written; left for the next run")
                    continue
                reporter.video_started(video.path, i)
                outcome = process(video, analyzer, config, out, formats,
                                  on_stage=lambda name, path=video.path: reporter.stage(path, name))
                commit(outcome, state, reporter, summary)
            wrote = summary.done + summary.failed + summary.duplicates
            if (auto_compact is not None and wrote and "parquet" in formats
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
