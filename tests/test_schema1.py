"""Output folders written with schema version 1 (tests/data/schema1_out, the release at 347b9f0) keep working:
`status` and `search` read them, a new run migrates their state store in place and adds schema-2 parts."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from mmvideo.cli import cli
from mmvideo.config import RunConfig
from mmvideo.engines.local import run_local
from mmvideo.progress import Reporter
from mmvideo.state import STATE_VERSION
from mmvideo.write.read import read_table

SCHEMA1 = Path(__file__).parent / "data" / "schema1_out"
CAT_ID = "9ddac07afa91a59574df"  # content id of samples/cat.mp4
RECORDED_PATH = "/tmp/v1src/cat.mp4"  # where the release run read it
V1_FINGERPRINT = "102390c4697e0c64"  # the release run's settings


@pytest.fixture()
def v1_out(tmp_path) -> Path:
    out = tmp_path / "v1out"
    shutil.copytree(SCHEMA1, out)
    return out


def _status(out: Path) -> dict:
    result = CliRunner().invoke(cli, ["status", str(out), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_status_reads_a_schema1_folder_and_migrates_its_store(v1_out):
    assert sqlite3.connect(v1_out / ".mmvideo" / "state.sqlite").execute("PRAGMA user_version").fetchone()[0] == 0
    st = _status(v1_out)
    assert (st["done"], st["failed"], st["duplicate"], st["failures"]) == (1, 0, 0, [])
    assert st["last_run"]["done"] == 1 and st["last_run"]["command"].startswith("mmvideo run")
    gone = not os.path.exists(RECORDED_PATH)
    assert st["missing"] == int(gone)
    assert [m["path"] for m in st["missing_files"]] == ([RECORDED_PATH] if gone else [])
    db = sqlite3.connect(v1_out / ".mmvideo" / "state.sqlite")
    assert db.execute("PRAGMA user_version").fetchone()[0] == STATE_VERSION  # every migration ran
    assert db.execute("SELECT count(*) FROM files").fetchone()[0] == 0
    assert db.execute("SELECT duplicates, pruned FROM runs").fetchall() == [(0, 0)]  # columns added in place
    text = CliRunner().invoke(cli, ["status", str(v1_out)])
    assert "done: 1  failed: 0  duplicate: 0" in text.output


def test_search_and_read_table_read_a_schema1_folder(real_models, v1_out):
    from mmvideo.search import search

    hits = search(v1_out, "a cat", k=3)
    assert hits and {h.video_id for h in hits} == {CAT_ID} and hits[0].path == RECORDED_PATH
    assert any("cat" in " ".join(h.tags) for h in hits)
    videos = read_table(v1_out, "videos").to_pylist()
    assert [(v["video_id"], v["status"], v["duplicate_of"]) for v in videos] == [(CAT_ID, "done", None)]
    shutil.rmtree(v1_out / "parquet")  # JSON Lines parts of schema 1 read the same
    assert [(v["video_id"], v["duplicate_of"]) for v in read_table(v1_out, "videos").to_pylist()] == [(CAT_ID, None)]


def test_a_new_run_into_a_schema1_folder_adds_schema2_parts_beside_the_old(real_models, v1_out, tmp_path,
                                                                           samples_dir):
    from mmvideo.search import search
    from test_engine_local import FakeAnalyzer

    src = tmp_path / "in"
    src.mkdir()
    shutil.copy2(samples_dir / "cat.mp4", src / "cat moved.mp4")
    (src / "new.mp4").write_bytes(b"not really a video" * 10)
    (src / "empty.mp4").write_bytes(b"")
    same_settings = FakeAnalyzer(fingerprint=V1_FINGERPRINT)
    s = run_local([src], v1_out, RunConfig(format="both"), same_settings, Reporter(quiet=True))
    assert [Path(p).name for p in same_settings.calls] == ["new.mp4"] and (s.done, s.failed) == (1, 1)
    rows = {r["video_id"]: r for r in read_table(v1_out, "videos").to_pylist()}
    assert len(rows) == 3
    cat = rows[CAT_ID]
    if os.path.exists(RECORDED_PATH):  # the release's file is still there: this is a copy of it
        assert s.duplicates == 1 and cat["path"] == RECORDED_PATH
    else:  # a move: the schema-1 rows now name the new path, their tags kept
        assert s.skipped == 1 and cat["path"] == str(src / "cat moved.mp4") and cat["top_tags"]
        assert search(v1_out, "a cat", k=1)[0].path == str(src / "cat moved.mp4")
    others = {Path(r["path"]).name: r for r in rows.values() if r["video_id"] != CAT_ID}
    assert others["new.mp4"]["status"] == "done" and others["new.mp4"]["duplicate_of"] is None
    assert others["empty.mp4"]["error"] == "empty file"
