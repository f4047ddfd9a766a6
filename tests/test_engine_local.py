"""The local engine's plumbing, with a stand-in analyzer (no models): skip, isolate, time out, resume."""

import time

import numpy as np
import pytest

from mmvideo.config import RunConfig
from mmvideo.engines.local import run_local
from mmvideo.errors import MediaError
from mmvideo.progress import Reporter
from mmvideo.records import Analysis, SegmentRecord, VideoRecord
from mmvideo.state import State
from mmvideo.write.read import read_table


class FakeAnalyzer:
    """Stands in for the model pipeline: one segment per file, behaviour chosen by the file's name."""

    def __init__(self, fingerprint="fp1"):
        self.fingerprint = fingerprint
        self.calls = []

    def analyze(self, video, on_stage):
        self.calls.append(video.path)
        on_stage("probe")
        if "bad" in video.path:
            raise MediaError(video.path, "not a media file", stage="probe")
        if "boom" in video.path:
            raise RuntimeError("unexpected\nmulti-line failure")
        if "slow" in video.path:
            time.sleep(5)
        emb = np.ones(384, np.float32) / np.sqrt(384)
        seg = SegmentRecord(video.content_id, video.path, 0, 0.0, 1.0, (), emb, ("image",))
        return Analysis(VideoRecord(video.content_id, video.path, "done", duration=1.0, segments=1), (seg,))


def _files(folder, names):
    folder.mkdir(exist_ok=True)
    for n in names:
        (folder / n).write_bytes(n.encode() * 10)
    return folder


def test_failures_are_isolated_and_recorded(tmp_path):
    src = _files(tmp_path / "in", ["a.mp4", "bad.mp4", "boom.mp4", "c.mp4"])
    an = FakeAnalyzer()
    summary = run_local([src], tmp_path / "out", RunConfig(), an, Reporter(quiet=True))
    assert (summary.done, summary.failed, summary.exit_code) == (2, 2, 1)
    videos = {r["path"].rsplit("/", 1)[-1]: r for r in read_table(tmp_path / "out", "videos").to_pylist()}
    assert videos["bad.mp4"]["error"] == "not a media file" and videos["bad.mp4"]["stage"] == "probe"
    assert "\n" not in videos["boom.mp4"]["error"] and "RuntimeError" in videos["boom.mp4"]["error"]
    assert read_table(tmp_path / "out").num_rows == 2


def test_rerun_skips_done_and_failed_unless_retry(tmp_path):
    src = _files(tmp_path / "in", ["a.mp4", "bad.mp4"])
    out = tmp_path / "out"
    run_local([src], out, RunConfig(), FakeAnalyzer(), Reporter(quiet=True))
    again = FakeAnalyzer()
    s = run_local([src], out, RunConfig(), again, Reporter(quiet=True))
    assert again.calls == [] and s.skipped == 2 and s.exit_code == 0
    retry = FakeAnalyzer()
    s = run_local([src], out, RunConfig(retry_failed=True), retry, Reporter(quiet=True))
    assert [p.rsplit("/", 1)[-1] for p in retry.calls] == ["bad.mp4"] and s.failed == 1


def test_changed_fingerprint_reprocesses_and_renamed_file_does_not(tmp_path):
    src = _files(tmp_path / "in", ["a.mp4"])
    out = tmp_path / "out"
    run_local([src], out, RunConfig(), FakeAnalyzer("fp1"), Reporter(quiet=True))
    (src / "a.mp4").rename(src / "renamed.mp4")
    same = FakeAnalyzer("fp1")
    run_local([src], out, RunConfig(), same, Reporter(quiet=True))
    assert same.calls == []
    changed = FakeAnalyzer("fp2")
    run_local([src], out, RunConfig(), changed, Reporter(quiet=True))
    assert len(changed.calls) == 1
    assert State(out).get(read_table(out).to_pylist()[0]["video_id"]).fingerprint == "fp2"


def test_timeout_fails_one_video_and_the_run_goes_on(tmp_path):
    src = _files(tmp_path / "in", ["a.mp4", "slow.mp4"])
    s = run_local([src], tmp_path / "out", RunConfig(timeout=0.5), FakeAnalyzer(), Reporter(quiet=True))
    assert (s.done, s.failed) == (1, 1)
    err = State(tmp_path / "out").failures()[0].error
    assert err == "timed out after 0.5 s"


def test_max_runtime_leaves_the_rest_pending(tmp_path):
    src = _files(tmp_path / "in", ["a.mp4", "b.mp4", "c.mp4"])
    s = run_local([src], tmp_path / "out", RunConfig(max_runtime=0.0), FakeAnalyzer(), Reporter(quiet=True))
    assert s.stopped_early and s.pending == 3 and s.done == 0


def test_a_full_disk_stops_the_run_with_a_setup_error(tmp_path, monkeypatch):
    import errno

    import mmvideo.engines.policy as policy
    from mmvideo.errors import SetupError

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(policy, "write_video", full)
    src = _files(tmp_path / "in", ["a.mp4"])
    with pytest.raises(SetupError, match="cannot write results .No space left on device"):
        run_local([src], tmp_path / "out", RunConfig(), FakeAnalyzer(), Reporter(quiet=True))
    assert State(tmp_path / "out").counts() == {"done": 0, "failed": 0, "duplicate": 0}  # nothing recorded
