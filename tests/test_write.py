"""Output round trips: Parquet and JSON Lines with the documented schema, read by pyarrow, DuckDB, pandas."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from mmvideo.config import RunConfig
from mmvideo.pipeline.analyze import Pipeline
from mmvideo.records import SegmentRecord, TagCoverage, TagScore, VideoRecord
from mmvideo.write.read import read_table
from mmvideo.write.schema import EMBEDDING_SIZE
from mmvideo.write.writer import parse_formats, part_path, write_video


def _schema(modality_embeddings=False):
    """The schema a default run writes (the built-in modalities' columns); building a Pipeline loads no model."""
    return Pipeline(RunConfig(modality_embeddings=modality_embeddings)).segment_schema


def _segments(video_id="abc123", n=3, modality_embeddings=False):
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        emb = rng.standard_normal(EMBEDDING_SIZE).astype(np.float32)
        columns = {"text": "" if i else "hello", "image_classes": [{"name": "golden retriever", "score": 0.6}],
                   "audio_classes": [{"name": "Dog", "score": 0.5}],
                   "faces": None if i else 1, "face_confidence": None if i else 0.9}
        if modality_embeddings:
            columns.update(image_embedding=np.ones(1280, np.float32), audio_embedding=np.ones(1024, np.float32),
                           text_embedding=np.ones(384, np.float32))
        out.append(SegmentRecord(
            video_id=video_id, path=f"/videos/clip é {video_id}.mp4", segment=i, start=5.0 * i, end=5.0 * i + 5,
            tags=(TagScore("dog", 0.8, {"image": 0.7, "audio": 0.3, "text": 0.0, "faces": 0.0}),
                  TagScore("speech", 0.4, {"image": 0.1, "audio": 0.9, "text": 0.0, "faces": 0.0})),
            embedding=emb / np.linalg.norm(emb), modalities=("image", "audio"), fingerprint="fp1", columns=columns))
    return out


def _video(video_id="abc123"):
    return VideoRecord(video_id=video_id, path=f"/videos/{video_id}.mp4", status="done", fingerprint="fp1",
                       duration=15.0, container="mp4", has_video=True, has_audio=True, segments=3,
                       warnings=("w1",), top_tags=(TagCoverage("dog", 15.0, 1.0, 0.8),),
                       processed_at="2026-11-29T00:00:00Z")


def test_parquet_round_trip_keeps_schema_and_values(tmp_path):
    segs = _segments()
    files = write_video(tmp_path, _video(), segs, formats=("parquet",), schema=_schema())
    assert all(f.exists() for f in files)
    table = pq.read_table(part_path(tmp_path, "parquet", "segments", "abc123"))
    assert table.schema.equals(_schema(), check_metadata=False)
    assert table.schema.field("embedding").type.list_size == EMBEDDING_SIZE
    rows = table.to_pylist()
    assert [r["segment"] for r in rows] == [0, 1, 2]
    np.testing.assert_allclose(rows[1]["embedding"], segs[1].embedding, rtol=0, atol=0)
    assert rows[0]["tags"][0]["attention"]["image"] == pytest.approx(0.7)
    assert rows[0]["faces"] == 1 and rows[1]["faces"] is None
    assert rows[0]["path"].endswith("clip é abc123.mp4")


def test_jsonl_has_the_same_fields_as_parquet(tmp_path):
    write_video(tmp_path, _video(), _segments(), formats=parse_formats("both"), schema=_schema())
    lines = part_path(tmp_path, "jsonl", "segments", "abc123").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3
    row = json.loads(lines[0])
    assert list(row) == _schema().names
    assert len(row["embedding"]) == EMBEDDING_SIZE
    from_parquet = pq.read_table(part_path(tmp_path, "parquet", "segments", "abc123")).to_pylist()[0]
    assert [t["label"] for t in row["tags"]] == [t["label"] for t in from_parquet["tags"]]
    assert row["tags"][0]["score"] == pytest.approx(from_parquet["tags"][0]["score"])
    np.testing.assert_allclose(row["embedding"], from_parquet["embedding"], atol=1e-7)


def test_duckdb_and_pandas_read_the_folder_as_is(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    pd = pytest.importorskip("pandas")
    write_video(tmp_path, _video("v1"), _segments("v1"), formats=("parquet",), schema=_schema())
    write_video(tmp_path, _video("v2"), _segments("v2", n=2), formats=("parquet",), schema=_schema())
    seg_glob = str(tmp_path / "parquet" / "segments" / "*.parquet")
    con = duckdb.connect()
    n, dim = con.execute(f"SELECT count(*), max(len(embedding)) FROM read_parquet('{seg_glob}')").fetchone()
    assert (n, dim) == (5, EMBEDDING_SIZE)
    top = con.execute(f"SELECT tags[1].label FROM read_parquet('{seg_glob}') LIMIT 1").fetchone()[0]
    assert top == "dog"
    df = pd.read_parquet(tmp_path / "parquet" / "segments")
    assert len(df) == 5 and set(df["video_id"]) == {"v1", "v2"}
    videos = pd.read_parquet(tmp_path / "parquet" / "videos")
    assert videos["top_tags"].iloc[0][0]["label"] == "dog"


def test_rewriting_a_video_replaces_its_rows(tmp_path):
    write_video(tmp_path, _video(), _segments(n=3))
    write_video(tmp_path, _video(), _segments(n=2))
    assert read_table(tmp_path).num_rows == 2
    assert not [p for p in tmp_path.rglob(".*tmp*")]


def test_read_table_falls_back_to_jsonl_and_modality_embeddings(tmp_path):
    write_video(tmp_path, _video(), _segments(modality_embeddings=True), formats=("jsonl",),
                schema=_schema(modality_embeddings=True))
    table = read_table(tmp_path)
    assert table.num_rows == 3 and "image_embedding" in table.schema.names
    assert table.schema.field("image_embedding").type.list_size == 1280


def test_jsonl_reads_back_frame_hashes_past_int64(tmp_path):
    """The signature's hashes are uint64: half of them exceed int64, which JSON inference cannot hold."""
    segments = _segments()
    big = [2**64 - 1, 2**63, 5]
    segments[0].columns["frame_hashes"] = big
    write_video(tmp_path, _video(), segments, formats=("jsonl",), schema=_schema())
    table = read_table(tmp_path)
    assert table.column("frame_hashes").to_pylist()[0] == big
    assert read_table(tmp_path, columns=["path", "embedding"]).column_names == ["path", "embedding"]


def test_failed_write_leaves_no_part(tmp_path, monkeypatch):
    import mmvideo.write.writer as writer

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(writer.pq, "write_table", boom)
    with pytest.raises(OSError):
        write_video(tmp_path, _video(), _segments())
    assert not list(tmp_path.rglob("*.parquet")) and not list(tmp_path.rglob(".*"))
