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


def _status(out) -> dict:
    import json

    from click.testing import CliRunner

    from mmvideo.cli import cli

    result = CliRunner().invoke(cli, ["status", str(out), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _part_names(out, fmt, table):
    ext = ".parquet" if fmt == "parquet" else ".jsonl"
    return sorted(p.name[:-len(ext)] for p in (out / fmt / table).glob(f"*{ext}") if not p.name.startswith("."))


def test_a_copy_and_an_empty_file_each_get_their_own_record(tmp_path):
    src = _files(tmp_path / "in", ["a.mp4", "c.mp4"])
    (src / "sub").mkdir()
    (src / "sub" / "copy of a.mp4").write_bytes((src / "a.mp4").read_bytes())
    (src / "empty.mp4").write_bytes(b"")
    (src / "empty2.mp4").write_bytes(b"")
    out = tmp_path / "out"
    an = FakeAnalyzer()
    s = run_local([src], out, RunConfig(format="both"), an, Reporter(quiet=True))
    assert sorted(p.rsplit("/", 1)[-1] for p in an.calls) == ["a.mp4", "c.mp4"]  # a copy is not analyzed again
    assert (s.done, s.duplicates, s.failed, s.skipped, s.exit_code) == (2, 1, 2, 0, 1)
    videos = {r["path"].rsplit("/", 1)[-1]: r for r in read_table(out, "videos").to_pylist()}
    assert set(videos) == {"a.mp4", "c.mp4", "copy of a.mp4", "empty.mp4", "empty2.mp4"}
    a, copy = videos["a.mp4"], videos["copy of a.mp4"]
    assert (a["status"], a["duplicate_of"]) == ("done", None)
    assert (copy["status"], copy["duplicate_of"]) == ("duplicate", a["video_id"])
    assert copy["path"] == str(src / "sub" / "copy of a.mp4") and copy["video_id"].startswith("dup-")
    for name in ("empty.mp4", "empty2.mp4"):
        row = videos[name]
        assert (row["status"], row["stage"], row["error"]) == ("failed", "discover", "empty file")
        assert row["video_id"].startswith("err-")
    # every file has its own parts, named by its row's video_id, in both formats; none overwrote another's
    ids = sorted(v["video_id"] for v in videos.values())
    assert len(set(ids)) == 5
    for fmt in ("parquet", "jsonl"):
        assert _part_names(out, fmt, "videos") == ids and _part_names(out, fmt, "segments") == ids
    assert sorted(r["video_id"] for r in read_table(out).to_pylist()) == sorted([a["video_id"],
                                                                                  videos["c.mp4"]["video_id"]])
    st = _status(out)
    assert (st["done"], st["failed"], st["duplicate"], st["missing"]) == (2, 2, 1, 0)
    assert sorted(f["path"].rsplit("/", 1)[-1] for f in st["failures"]) == ["empty.mp4", "empty2.mp4"]
    # the state store remembers them: a rerun has nothing to do
    again = FakeAnalyzer()
    s = run_local([src], out, RunConfig(format="both"), again, Reporter(quiet=True))
    assert again.calls == [] and (s.skipped, s.duplicates, s.failed, s.exit_code) == (5, 0, 0, 0)


def test_a_copy_of_a_video_recorded_by_an_earlier_run_is_a_duplicate(tmp_path):
    first = _files(tmp_path / "first", ["a.mp4"])
    out = tmp_path / "out"
    run_local([first], out, RunConfig(), FakeAnalyzer(), Reporter(quiet=True))
    later = tmp_path / "later"
    later.mkdir()
    (later / "a again.mp4").write_bytes((first / "a.mp4").read_bytes())
    an = FakeAnalyzer()
    s = run_local([later], out, RunConfig(), an, Reporter(quiet=True))
    assert an.calls == [] and s.duplicates == 1
    rows = {r["path"]: r for r in read_table(out, "videos").to_pylist()}
    assert rows[str(later / "a again.mp4")]["duplicate_of"] == rows[str(first / "a.mp4")]["video_id"]


def test_a_moved_file_keeps_its_results_and_gone_files_are_listed_then_pruned(tmp_path):
    src = _files(tmp_path / "in", ["a.mp4", "b.mp4", "c.mp4"])
    (src / "d copy of c.mp4").write_bytes((src / "c.mp4").read_bytes())
    out = tmp_path / "out"
    run_local([src], out, RunConfig(format="both"), FakeAnalyzer(), Reporter(quiet=True))
    before = {r["path"].rsplit("/", 1)[-1]: r for r in read_table(out, "videos").to_pylist()}
    (src / "a.mp4").rename(src / "moved.mp4")
    (src / "b.mp4").unlink()
    (src / "d copy of c.mp4").unlink()
    st = _status(out)
    assert st["missing"] == 3
    assert sorted(m["path"].rsplit("/", 1)[-1] for m in st["missing_files"]) == ["a.mp4", "b.mp4", "d copy of c.mp4"]

    # a run sees the moved file: same content id, not analyzed again, its new path recorded everywhere
    an = FakeAnalyzer()
    s = run_local([src], out, RunConfig(format="both"), an, Reporter(quiet=True))
    assert an.calls == [] and s.skipped == 2 and s.pruned == 0
    a_id = before["a.mp4"]["video_id"]
    assert State(out).get(a_id).path == str(src / "moved.mp4")
    for table in ("videos", "segments"):
        assert {r["path"] for r in read_table(out, table).to_pylist() if r["video_id"] == a_id} == {
            str(src / "moved.mp4")}
    st = _status(out)
    assert sorted(m["path"].rsplit("/", 1)[-1] for m in st["missing_files"]) == ["b.mp4", "d copy of c.mp4"]

    # --prune removes the results of the gone files in every format, and their state rows
    s = run_local([src], out, RunConfig(format="both"), FakeAnalyzer(), Reporter(quiet=True), prune=True)
    assert s.pruned == 2 and s.exit_code == 0
    kept = sorted([a_id, before["c.mp4"]["video_id"]])
    for fmt in ("parquet", "jsonl"):
        for table in ("videos", "segments"):
            assert _part_names(out, fmt, table) == kept
    st = _status(out)
    assert (st["done"], st["duplicate"], st["missing"], st["missing_files"]) == (2, 0, 0, [])
    assert (st["last_run"]["pruned"], st["last_run"]["skipped"]) == (2, 2)
    assert State(out).get(before["b.mp4"]["video_id"]) is None


def test_the_copy_of_a_gone_video_becomes_the_video(tmp_path):
    src = _files(tmp_path / "in", ["a.mp4"])
    (src / "b copy of a.mp4").write_bytes((src / "a.mp4").read_bytes())
    out = tmp_path / "out"
    run_local([src], out, RunConfig(), FakeAnalyzer(), Reporter(quiet=True))
    (src / "a.mp4").unlink()
    an = FakeAnalyzer()
    s = run_local([src], out, RunConfig(), an, Reporter(quiet=True), prune=True)
    assert an.calls == [] and s.pruned == 0 and s.skipped == 1
    rows = read_table(out, "videos").to_pylist()
    assert [(r["path"], r["status"], r["duplicate_of"]) for r in rows] == [(str(src / "b copy of a.mp4"), "done", None)]
    assert _status(out)["duplicate"] == 0
