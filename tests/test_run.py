"""`mmvideo run` end to end with the real models: segments, modalities, outputs, labels and search."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from mmvideo.config import RunConfig
from mmvideo.discover import discover
from mmvideo.engines.local import run_local
from mmvideo.media.ffmpeg import ffmpeg_binary
from mmvideo.pipeline.analyze import Pipeline
from mmvideo.progress import Reporter
from mmvideo.search import search
from mmvideo.write.read import read_table

pytestmark = pytest.mark.slow


def _analyze(pipeline: Pipeline, path: Path):
    video = next(iter(discover([path])))
    a = pipeline.analyze(video, lambda stage: None)
    return a.video, list(a.segments)


def _video_only_clip(folder: Path, seconds: float = 3.0) -> Path:
    out = folder / "video only.mp4"
    subprocess.run([ffmpeg_binary(), "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                    f"testsrc2=size=320x240:rate=25:duration={seconds}", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    str(out)], check=True)
    return out


def test_sample_clip_segments_and_evidence(pipeline, samples_dir):
    video, segs = _analyze(pipeline, samples_dir / "cat.mp4")
    assert video.status == "done" and video.duration == pytest.approx(6.0, abs=0.1)
    assert video.frame_rate == pytest.approx(25.0)  # for timecodes (exports)
    # 5 s windows: [0, 5) and the shorter tail [5, 6)
    assert [(s.start, s.end) for s in segs] == [(0.0, 5.0), (5.0, pytest.approx(video.duration))]
    first = segs[0]
    assert set(first.modalities) >= {"image", "audio", "text"}
    assert "cat" in first.columns["text"].lower()
    assert first.columns["image_classes"][0]["name"] in {"Egyptian cat", "tabby cat", "tiger cat"}
    labels = [t.label for t in first.tags]
    assert "cat" in labels and len(labels) == 5
    for t in first.tags:  # attention over present modalities sums to 1, absent ones get none
        assert sum(t.attention.values()) == pytest.approx(1.0, abs=1e-4)
        for m, w in t.attention.items():
            if m not in first.modalities:
                assert w == 0.0
    assert first.embedding.shape == (384,) and np.linalg.norm(first.embedding) == pytest.approx(1.0, abs=1e-4)
    assert video.top_tags and video.top_tags[0].seconds > 0


def test_audio_only_file_has_only_audio(pipeline, shared_media):
    video, segs = _analyze(pipeline, shared_media / "whisper" / "jfk.flac")
    assert not video.has_video and video.has_audio
    assert len(segs) == 3  # 11 s -> 5 + 5 + 1
    for s in segs:
        assert "image" not in s.modalities and "audio" in s.modalities
        assert all(t.attention["image"] == 0.0 for t in s.tags)
    assert segs[0].columns["audio_classes"][0]["name"] == "Speech"
    assert "speech" in [t.label for t in segs[0].tags][:3]


def test_video_only_clip_has_no_audio_and_one_short_segment(pipeline, tmp_path):
    clip = _video_only_clip(tmp_path, 3.0)
    video, segs = _analyze(pipeline, clip)
    assert video.has_video and not video.has_audio
    assert len(segs) == 1 and segs[0].end == pytest.approx(3.0, abs=0.05)
    assert "audio" not in segs[0].modalities and "image" in segs[0].modalities
    assert all(t.attention["audio"] == 0.0 for t in segs[0].tags)


def test_custom_labels_replace_the_vocabulary(real_models, samples_dir, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("# my tags\nkitten\ta small cat\nespresso\ncar\nrocket launch\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "mmvideo", "run", str(samples_dir / "cat.mp4"),
                           str(samples_dir / "coffee.mkv"), "--out", str(out), "--labels", str(labels),
                           "--top-k", "2", "--format", "both", "--quiet"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    rows = read_table(out).to_pylist()
    allowed = {"kitten", "espresso", "car", "rocket launch"}
    by_video = {}
    for r in rows:
        assert {t["label"] for t in r["tags"]} <= allowed and 1 <= len(r["tags"]) <= 2  # weak tags are dropped
        by_video.setdefault(Path(r["path"]).name, []).append(r["tags"][0]["label"])
    assert by_video["cat.mp4"][0] == "kitten" and by_video["coffee.mkv"][0] == "espresso"
    # JSON Lines carry the same rows as Parquet
    jsonl = [json.loads(line) for p in sorted((out / "jsonl" / "segments").glob("*.jsonl"))
             for line in p.read_text(encoding="utf-8").splitlines()]
    assert sorted((r["video_id"], r["segment"]) for r in jsonl) == sorted((r["video_id"], r["segment"]) for r in rows)


def test_outputs_read_back_with_pyarrow_and_duckdb_and_search_finds_the_cat(pipeline, samples_dir, tmp_path):
    out = tmp_path / "out"
    summary = run_local([samples_dir], out, pipeline.config, pipeline, Reporter(quiet=True))
    assert (summary.done, summary.failed) == (4, 0)
    table = pq.read_table(next((out / "parquet" / "segments").glob("*.parquet")))
    assert table.schema.field("embedding").type.list_size == 384
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    n = con.execute(f"SELECT count(*) FROM read_parquet('{out}/parquet/segments/*.parquet')").fetchone()[0]
    assert n == read_table(out).num_rows == 7  # 6 s, 5 s, 6 s and 7.2 s clips in 5 s windows
    hits = search(out, "a cat", k=3, encoder=pipeline.models()._encoder)
    assert Path(hits[0].path).name in {"cat.mp4", "three_shots.mp4"} and "cat" in hits[0].tags
    coffee = search(out, "a cup of coffee", k=1, encoder=pipeline.models()._encoder)[0]
    assert Path(coffee.path).name == "coffee.mkv"


def test_search_command_prints_ranked_segments(pipeline, samples_dir, tmp_path):
    out = tmp_path / "out"
    run_local([samples_dir / "rocket.mp4", samples_dir / "coffee.mkv"], out, pipeline.config, pipeline,
              Reporter(quiet=True))
    proc = subprocess.run([sys.executable, "-m", "mmvideo", "search", str(out), "coffee", "--json", "-k", "2"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    hits = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(hits) == 2 and Path(hits[0]["path"]).name == "coffee.mkv"
    assert hits[0]["score"] >= hits[1]["score"]


def test_shot_segments_follow_the_cuts(real_models, samples_dir):
    p = Pipeline(RunConfig(shots=True))
    video, segs = _analyze(p, samples_dir / "three_shots.mp4")
    starts = [s.start for s in segs]
    # cuts at 2.4 s and 4.8 s (samples/README.md); sampled at 1 fps, each is placed between two samples
    assert len(starts) == 3 and starts[0] == 0.0
    assert starts[1] == pytest.approx(2.4, abs=0.5) and starts[2] == pytest.approx(4.8, abs=0.5)


def test_min_score_zero_always_gives_top_k_tags(real_models, shared_media):
    p = Pipeline(RunConfig(min_score=0.0, top_k=4))
    # the silent creek: ImageNet is unsure (best class ~6 %), so the default 0.2 leaves it untagged
    video, segs = _analyze(p, shared_media / "mdn" / "stream-of-water-audioless.webm")
    assert segs and all(len(s.tags) == 4 for s in segs)
    assert p.fingerprint != Pipeline(RunConfig()).fingerprint  # a result setting: reprocesses
