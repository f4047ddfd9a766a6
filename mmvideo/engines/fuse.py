"""Re-fusion from evidence: ``mmvideo fuse OUT --out OUT2`` pools and fuses every evidence file of OUT again.

No video is decoded or probed: the items, segments and probe facts come from ``OUT/evidence/``. Each file's
encoder settings (stored with it) plus the run settings asked for now (vocabulary, top-k, min-score, output
columns) make the pipeline that fuses it, so the rows equal a full run with those settings. Evidence whose
encoder fingerprint no longer matches (other models or model versions) is refused, one line per file.
"""

from __future__ import annotations

import os
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from mmvideo.config import RunConfig
from mmvideo.errors import SetupError
from mmvideo.progress import Reporter, RunSummary
from mmvideo.state import RunLock, State, check_writable
from mmvideo.write import compact as compaction
from mmvideo.write.evidence import evidence_files, read_evidence
from mmvideo.write.writer import write_video

_TUPLES = {f.name for f in fields(RunConfig) if str(f.type).startswith("tuple")}


def config_from_evidence(settings: dict[str, Any], run_settings: dict[str, Any]) -> RunConfig:
    """The run's settings: the evidence's encoder settings, then ``run_settings`` (vocabulary, top-k, ...)."""
    values = {k: tuple(v) if k in _TUPLES and isinstance(v, list) else v for k, v in settings.items()}
    return RunConfig(**{**values, **run_settings})


def fuse_folder(src: os.PathLike | str, dst: os.PathLike | str, run_settings: dict[str, Any],
                reporter: Reporter, *, command: str = "mmvideo fuse") -> RunSummary:
    """Fuse every evidence file of ``src`` into the output folder ``dst``; returns the summary."""
    t0 = time.monotonic()
    files = evidence_files(src)
    if not files:
        raise SetupError(f"{src}: no evidence found (expected {Path(src) / 'evidence'}/*.parquet; "
                         f"run `mmvideo run --evidence` first)")
    out = check_writable(dst)
    formats = ("jsonl", "parquet") if run_settings.get("format") == "both" else (run_settings.get("format",
                                                                                                  "parquet"),)
    pipelines: dict[str, Any] = {}
    summary = RunSummary(total=len(files))
    with RunLock(out):
        state = State(out)
        try:
            compaction.recover(out)
            if compaction.read_manifest(out)["files"]:  # re-fused videos leave their compacted files first
                compaction.evict(out, [p.stem for p in files])
            run_id = None
            reporter.run_started(len(files))
            for i, path in enumerate(files):
                evidence = read_evidence(path)
                key = repr(sorted(evidence.info.get("settings", {}).items()))
                if key not in pipelines:
                    from mmvideo.pipeline.analyze import Pipeline

                    pipelines[key] = Pipeline(config_from_evidence(evidence.info.get("settings", {}), run_settings))
                pipeline = pipelines[key]
                if run_id is None:
                    run_id = state.start_run(command, pipeline.fingerprint, len(files))
                reporter.video_started(evidence.path, i)
                started = time.monotonic()
                if pipeline.encoder_fingerprint != evidence.encoder_fingerprint:
                    summary.failed += 1
                    reporter.video_finished(evidence.path, "failed", 0.0, 0.0,
                                            f"{path.name}: evidence made with other models or settings; rerun "
                                            f"`mmvideo run --evidence` for it")
                    continue
                analysis = pipeline.fuse_evidence(evidence)
                try:
                    write_video(out, analysis.video, analysis.segments, formats, schema=pipeline.segment_schema)
                except OSError as exc:
                    raise SetupError(f"{out}: cannot write results ({exc.strerror or exc})") from exc
                state.mark_done(analysis.video.video_id, analysis.video.path, pipeline.fingerprint,
                                analysis.video.duration)
                summary.done += 1
                summary.video_seconds += float(analysis.video.duration or 0.0)
                reporter.video_finished(evidence.path, "done", time.monotonic() - started,
                                        float(analysis.video.duration or 0.0))
            summary.seconds = time.monotonic() - t0
            if run_id is not None:
                state.end_run(run_id, done=summary.done, skipped=0, failed=summary.failed, pending=0,
                              seconds=summary.seconds, video_seconds=summary.video_seconds,
                              status="failed" if summary.failed else "ok")
        finally:
            state.close()
    reporter.run_finished(summary)
    return summary
