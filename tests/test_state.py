"""Output-folder state and the run lock: one run at a time, stale locks taken over."""

import os
import signal
import subprocess
import sys

import pytest

from mmvideo.errors import SetupError
from mmvideo.state import RunLock, State, check_writable

HOLD = """
import sys, time
from mmvideo.state import RunLock
lock = RunLock(sys.argv[1]).acquire()
print('locked', flush=True)
time.sleep(60)
"""


def _holder(out):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_run_is_refused_naming_the_holder(tmp_path):
    proc = _holder(tmp_path)
    try:
        with pytest.raises(SetupError, match=rf"another mmvideo run .*pid {proc.pid}"):
            RunLock(tmp_path).acquire()
    finally:
        proc.kill()
        proc.wait()


def test_lock_of_a_killed_run_is_taken_over(tmp_path):
    proc = _holder(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    lock = RunLock(tmp_path).acquire()
    try:
        assert lock.took_over_from and lock.took_over_from["pid"] == proc.pid
    finally:
        lock.release()
    # a cleanly released lock is not reported as stale
    with RunLock(tmp_path) as again:
        assert again.took_over_from is None


def test_state_records_done_and_failed_and_survives_reopen(tmp_path):
    st = State(tmp_path)
    st.mark_failed("v1", "/a.mp4", "fp", "probe", "not a media file")
    st.mark_done("v2", "/b.mp4", "fp", 3.0)
    st.mark_done("v1", "/a.mp4", "fp", 2.0)
    st.close()
    st = State(tmp_path)
    assert st.counts() == {"done": 2, "failed": 0, "duplicate": 0}
    assert st.get("v1").attempts == 2 and st.get("v1").error is None
    run = st.start_run("mmvideo run x", "fp", 2)
    st.end_run(run, done=1, skipped=1, failed=0, pending=0, seconds=1.0, video_seconds=5.0, status="ok")
    assert st.last_run()["skipped"] == 1


def test_unwritable_output_is_a_setup_error(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(SetupError, match="not writable"):
        check_writable(target / "out")


def test_missing_files_match_os_path_exists_with_one_listing_per_folder(tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    (lib / "a").mkdir(parents=True)
    for name in ("kept.mp4", "target.mp4"):
        (lib / "a" / name).write_bytes(b"x")
    (lib / "a" / "link.mp4").symlink_to(lib / "a" / "target.mp4")
    (lib / "a" / "dangling.mp4").symlink_to(lib / "a" / "nowhere.mp4")
    paths = [lib / "a" / n for n in ("kept.mp4", "link.mp4", "dangling.mp4", "deleted.mp4")] + \
        [lib / "gone" / "x.mp4"]
    st = State(tmp_path / "out")
    for i, p in enumerate(paths):
        st.mark_failed(f"id{i}", str(p), "fp", "probe", "bad")
    st.mark_file(str(lib / "a" / "copy.mp4"), "dup-1", "id0", "duplicate", "fp", duplicate_of="id0")
    expected = sorted(str(p) for p in paths + [lib / "a" / "copy.mp4"] if not os.path.exists(p))
    stats = []
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: stats.append(p) or real_stat(p, *a, **k))
    gone = st.missing()
    monkeypatch.undo()
    assert [e.path for e in gone] == expected
    assert {e.video_id for e in gone if e.status == "failed"} == {"id2", "id3", "id4"}
    assert len(stats) <= 2  # only the two symbolic links are followed; plain files are found in the listing
    st.close()
