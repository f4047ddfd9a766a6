"""Evidence files and `mmvideo fuse`: re-fusion from evidence alone equals a full run, and decodes nothing."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmvideo.write.evidence import evidence_files, read_evidence
from mmvideo.write.read import read_table

pytestmark = pytest.mark.slow

LABELS = "cat,coffee,rocket,galaxy,astronaut,speech,music"


def _mmvideo(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "mmvideo", *args], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    return result


def _rows(out: Path) -> list[dict]:
    return sorted(read_table(out).to_pylist(), key=lambda r: (r["path"], r["segment"]))


def _same_rows(a: list[dict], b: list[dict]) -> None:
    assert [(r["path"], r["segment"], r["start"], r["end"]) for r in a] == \
        [(r["path"], r["segment"], r["start"], r["end"]) for r in b]
    for x, y in zip(a, b):
        assert [t["label"] for t in x["tags"]] == [t["label"] for t in y["tags"]]
        assert [t["score"] for t in x["tags"]] == pytest.approx([t["score"] for t in y["tags"]], abs=1e-5)
        np.testing.assert_allclose(x["embedding"], y["embedding"], atol=1e-5)
        for key in ("modalities", "text", "image_classes", "audio_classes", "faces"):
            assert x[key] == y[key], key


@pytest.fixture(scope="module")
def evidence_run(real_models, samples_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    _mmvideo("run", str(samples_dir), "--out", str(out), "--evidence", "--quiet")
    return out


def test_evidence_files_hold_every_item_and_read_with_pandas_and_duckdb(evidence_run):
    pd = pytest.importorskip("pandas")
    duckdb = pytest.importorskip("duckdb")
    files = evidence_files(evidence_run)
    assert len(files) == 4  # one per sample video
    df = pd.read_parquet(evidence_run / "evidence")
    assert set(df["modality"]) == {"image", "audio", "text", "faces", "signature"}
    frames = df[df["modality"] == "image"]
    assert len(frames["scores"].iloc[0]) == 1000 and len(frames["embedding"].iloc[0]) == 1280
    assert df[df["modality"] == "text"]["text"].str.contains("cat", case=False).any()
    glob = str(evidence_run / "evidence" / "*.parquet")
    n, patches = duckdb.connect().execute(f"SELECT count(*), count(*) FILTER (WHERE modality = 'audio') "
                            f"FROM read_parquet('{glob}')").fetchone()
    assert n == len(df) and patches == (df["modality"] == "audio").sum() > 0
    ev = read_evidence(files[0])
    assert ev.segments and ev.encoder_fingerprint and ev.info["duration"] > 0
    assert ev.items[0].embeddings.dtype == np.float16


def test_fuse_from_evidence_equals_the_run(evidence_run, tmp_path):
    _mmvideo("fuse", str(evidence_run), "--out", str(tmp_path / "again"), "--quiet")
    _same_rows(_rows(tmp_path / "again"), _rows(evidence_run))
    videos = read_table(tmp_path / "again", "videos").to_pylist()
    assert len(videos) == 4 and all(v["status"] == "done" and v["duration"] > 0 for v in videos)


def test_a_new_vocabulary_refuses_without_decoding(evidence_run, samples_dir, tmp_path):
    marker = tmp_path / "ffmpeg-was-run"
    fake = tmp_path / "ffmpeg"
    fake.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "FFMPEG_BINARY": str(fake)}
    _mmvideo("fuse", str(evidence_run), "--out", str(tmp_path / "fused"), "--labels", LABELS, "--quiet", env=env)
    assert not marker.exists()  # no ffmpeg process was started
    fused = _rows(tmp_path / "fused")
    assert {t["label"] for r in fused for t in r["tags"]} <= set(LABELS.split(","))
    # the same as a full run with that vocabulary
    _mmvideo("run", str(samples_dir), "--out", str(tmp_path / "full"), "--labels", LABELS, "--quiet")
    _same_rows(fused, _rows(tmp_path / "full"))


def test_fuse_without_evidence_is_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mmvideo", "fuse", str(tmp_path), "--out", str(tmp_path / "o")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"mmvideo: {tmp_path}: no evidence found (expected {tmp_path}/evidence/*.parquet; run `mmvideo run "
        f"--evidence` first)"]
