"""`mmvideo run --jobs N`: several videos at once write the same rows as one at a time, and a run killed with
videos in flight resumes to every video done once. Real `mmvideo run` processes and real models."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runs import kill_when
from mmvideo.config import RunConfig
from mmvideo.engines.local import default_jobs
from mmvideo.errors import ParameterError
from mmvideo.state import State
from mmvideo.write.read import read_table
from test_batch_jobs import CLIPS, _cmd, _copy_samples, _rows, _run, _same_rows

pytestmark = pytest.mark.slow


def test_jobs_setting_is_checked_and_defaults_from_the_machine():
    assert RunConfig().jobs == 0 and RunConfig(jobs=3).jobs == 3
    with pytest.raises(ParameterError, match="jobs"):
        RunConfig(jobs=-1)
    assert 1 <= default_jobs() <= len(os.sched_getaffinity(0))
    assert "jobs" not in RunConfig().result_settings()  # no fingerprint: same rows whatever N


@pytest.fixture(scope="module")
def reference(real_models, samples_dir, tmp_path_factory) -> tuple[Path, list[dict]]:
    """The sample clips and the rows of `--jobs 1`."""
    root = tmp_path_factory.mktemp("jobs")
    src = _copy_samples(samples_dir, root / "videos")
    ref = _run(src, root / "reference", "--jobs", "1")
    assert ref.returncode == 0, ref.stderr
    return src, _rows(root / "reference")


def test_two_jobs_write_the_same_rows_as_one(reference, tmp_path):
    src, expected = reference
    proc = _run(src, tmp_path / "out", "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    started = [e["index"] for e in events if e["event"] == "video_started"]
    finished = [e for e in events if e["event"] == "video_finished"]
    assert sorted(started) == list(range(len(CLIPS))) and len(finished) == len(CLIPS)
    # two videos were in flight at once: the second started before the first finished
    order = [e["event"] for e in events if e["event"] in ("video_started", "video_finished")]
    assert order[:2] == ["video_started", "video_started"]
    _same_rows(_rows(tmp_path / "out"), expected)


def _kill_after(src: Path, out: Path, started: int) -> list[dict]:
    """Run with `--jobs 2` and SIGKILL it once ``started`` videos have started (two are then in flight)."""
    return kill_when(_cmd(src, out, "--jobs", "2"),
                     lambda events: sum(e.get("event") == "video_started" for e in events) >= started)


def test_a_kill_with_two_videos_in_flight_then_a_rerun_does_every_video_once(reference, tmp_path):
    src, expected = reference
    out = tmp_path / "out"
    for started in (2, 4):  # both first videos in flight; then the last two (the first two committed or not)
        events = _kill_after(src, out, started)
        assert events, "the run printed no events before it was killed"
        if list(out.rglob("*.parquet")):
            keys = [(r["video_id"], r["segment"]) for r in read_table(out, "segments").to_pylist()]
            assert len(keys) == len(set(keys)), "duplicate rows after a kill"
    final = _run(src, out, "--jobs", "2")
    assert final.returncode == 0, final.stderr
    summary = [json.loads(line) for line in final.stderr.splitlines() if line.startswith("{")][-1]
    assert summary["done"] + summary["skipped"] == len(CLIPS)
    _same_rows(_rows(out), expected)
    state = State(out)
    try:
        videos = read_table(out, "videos").to_pylist()
        assert sorted(r["status"] for r in videos) == ["done"] * len(CLIPS)
        assert len({r["video_id"] for r in videos}) == len(CLIPS)
        assert all(state.get(r["video_id"]).status == "done" for r in videos)
    finally:
        state.close()
    again = _run(src, out, "--jobs", "2")
    last = [json.loads(line) for line in again.stderr.splitlines() if line.startswith("{")][-1]
    assert last["event"] == "run_finished" and last["skipped"] == len(CLIPS) and last["done"] == 0
