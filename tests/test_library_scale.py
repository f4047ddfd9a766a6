"""Libraries at scale: content ids reused from the state store, compacted results, the search cache."""

import os
import time

import numpy as np
import pytest

import mmvideo.discover as discover_mod
from mmvideo.config import RunConfig
from mmvideo.discover import discover
from mmvideo.engines.local import run_local
from mmvideo.errors import MediaError
from mmvideo.progress import Reporter
from mmvideo.records import Analysis, SegmentRecord, VideoRecord
from mmvideo.state import ContentIds, State
from mmvideo.write.read import read_table

OLD = time.time() - 3600  # files older than state.HOT_NS, so their ids are remembered


class FakeAnalyzer:
    """One segment per file (``bad`` in the name: fails at probe); no models."""

    def __init__(self, fingerprint="fp1"):
        self.fingerprint = fingerprint
        self.calls = []

    def analyze(self, video, on_stage):
        self.calls.append(os.path.basename(video.path))
        if "bad" in video.path:
            raise MediaError(video.path, "not a media file", stage="probe")
        rng = np.random.default_rng(int(video.content_id[:8], 16))
        emb = rng.standard_normal(384).astype(np.float32)
        emb /= np.linalg.norm(emb)
        segs = tuple(SegmentRecord(video.content_id, video.path, i, float(i), i + 1.0, (), emb, ("image",))
                     for i in range(2))
        return Analysis(VideoRecord(video.content_id, video.path, "done", duration=2.0, segments=2), segs)


def make_files(folder, names, when=OLD):
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        p = folder / n
        p.write_bytes(n.encode() * 50)
        os.utime(p, (when, when))
    return folder


@pytest.fixture
def count_hashes(monkeypatch):
    """The names of the files discovery hashes."""
    hashed = []
    real = discover_mod.content_id

    def counting(path):
        hashed.append(os.path.basename(path))
        return real(path)

    monkeypatch.setattr(discover_mod, "content_id", counting)
    return hashed


def run(src, out, analyzer=None, **kw):
    return run_local([src], out, RunConfig(), analyzer or FakeAnalyzer(), Reporter(quiet=True), **kw)


# --- content ids reused ---------------------------------------------------------------------------

def test_rerun_hashes_only_touched_files(tmp_path, count_hashes):
    src = make_files(tmp_path / "in", ["a.mp4", "b.mp4", "bad.mp4", "c.mp4"])
    out = tmp_path / "out"
    run(src, out)
    assert sorted(count_hashes) == ["a.mp4", "b.mp4", "bad.mp4", "c.mp4"]
    count_hashes.clear()
    again = FakeAnalyzer()
    assert run(src, out, again).skipped == 4
    assert count_hashes == [] and again.calls == []
    os.utime(src / "b.mp4", (OLD + 5, OLD + 5))  # touched: same content, new mtime
    (src / "c.mp4").write_bytes(b"C.MP4" * 50)  # rewritten in place: same size...
    os.utime(src / "c.mp4", (OLD, OLD))  # ...and its old mtime back: the ctime moved
    third = FakeAnalyzer()
    summary = run(src, out, third)
    assert sorted(count_hashes) == ["b.mp4", "c.mp4"]
    assert third.calls == ["c.mp4"] and summary.skipped == 3  # b's content id is unchanged: not re-processed
    count_hashes.clear()
    run(src, out, FakeAnalyzer(), rehash=True)
    assert sorted(count_hashes) == ["a.mp4", "b.mp4", "bad.mp4", "c.mp4"]


def test_ids_are_rechecked_against_the_file_not_trusted_blindly(tmp_path):
    src = make_files(tmp_path / "in", ["a.mp4"])
    state = State(tmp_path / "out")
    ids = ContentIds(state)
    first = list(discover([src], ids=ids))
    ids.flush()
    assert ids.misses == 1 and ids.lookup(first[0].path, os.stat(first[0].path)) == first[0].content_id
    os.replace(make_files(tmp_path / "other", ["a.mp4"]) / "a.mp4", src / "a.mp4")  # same name, new inode
    (src / "a.mp4").write_bytes(b"x" * 5000)
    os.utime(src / "a.mp4", (OLD, OLD))
    again = list(discover([src], ids=ContentIds(state)))
    assert again[0].content_id == discover_mod.content_id(src / "a.mp4") != first[0].content_id
    state.close()


def test_recently_modified_files_are_not_remembered(tmp_path):
    src = make_files(tmp_path / "in", ["a.mp4"], when=time.time())
    state = State(tmp_path / "out")
    ids = ContentIds(state)
    list(discover([src], ids=ids))
    ids.flush()
    assert state.db.execute("SELECT count(*) FROM file_ids").fetchone()[0] == 0
    state.close()


def test_schema2_store_gains_the_id_table_in_place(tmp_path):
    state = State(tmp_path)
    state.mark_done("v1", "/x.mp4", "fp", 1.0)
    state.db.execute("DROP TABLE file_ids")
    state.db.execute("PRAGMA user_version = 2")
    state.close()
    state = State(tmp_path)
    assert state.get("v1").path == "/x.mp4"
    assert state.db.execute("SELECT count(*) FROM file_ids").fetchone()[0] == 0
    assert state.db.execute("PRAGMA user_version").fetchone()[0] == 3
    state.close()
