"""Reading results at library scale: 10,000 videos before and after `mmvideo compact`, and search over 1,000,000
segments.

Part 1 writes 10,000 videos' generated rows (10 segments each, random unit embeddings, 5 tags) through
``mmvideo.write.writer.write_video`` (fsync off while generating: not what is measured), then times reading
every segment with pandas (``pd.read_parquet(folder)``) and DuckDB (``read_parquet('.../*.parquet')``), and one
``mmvideo search``: the old code path (``_search_table``: every part read whole), the cached search's first
call (builds the cache) and a second one; then ``mmvideo compact`` and the same again.
Part 2 writes 1,000,000 generated segments (100 files of 10,000 rows) and times ``mmvideo search --json`` as a
fresh command (start-up and the text model included) with the cache built, the in-process search, the
cache's first build, and the old path. Goal: under 2 s.

    .venv/bin/python benchmarks/bench_outputs.py [--videos 10000] [--segments 1000000] [--dir /tmp/mmvideo-out]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mmvideo.records import SegmentRecord, TagScore, VideoRecord  # noqa: E402
from mmvideo.search import search  # noqa: E402


def _search_table(out, query, k, enc):
    """Every part read whole: the table path (modality \"any\")."""
    return search(out, query, k=k, encoder=enc, modality="any")
from mmvideo.write.schema import segment_schema  # noqa: E402

LABELS = [f"tag{i}" for i in range(50)]


class Encoder:
    """A fixed query vector (the text model is timed through the CLI)."""

    def __init__(self, dim: int = 384) -> None:
        v = np.random.default_rng(1).standard_normal(dim).astype(np.float32)
        self.v = v / np.linalg.norm(v)

    def encode(self, texts):
        class Out:
            embeddings = np.stack([self.v] * len(texts))
        return Out()


def timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def write_videos(out: Path, n: int, per_video: int = 10) -> float:
    """``n`` videos of generated rows through write_video (fsync off); seconds taken."""
    from mmvideo.write import writer

    rng = np.random.default_rng(0)
    real_fsync, os.fsync = os.fsync, (lambda fd: None)
    t0 = time.perf_counter()
    try:
        for v in range(n):
            vid = f"{v:020x}"
            emb = rng.standard_normal((per_video, 384)).astype(np.float32)
            emb /= np.linalg.norm(emb, axis=1, keepdims=True)
            segs = [SegmentRecord(vid, f"/lib/v{v}.mp4", i, 2.0 * i, 2.0 * i + 2, tuple(
                TagScore(LABELS[(v + i + j) % 50], 0.5 - 0.1 * j, {"image": 1.0}) for j in range(5)),
                emb[i], ("image",)) for i in range(per_video)]
            writer.write_video(out, VideoRecord(vid, f"/lib/v{v}.mp4", "done", duration=2.0 * per_video,
                                                segments=per_video), segs)
    finally:
        os.fsync = real_fsync
    return time.perf_counter() - t0


def read_figures(out: Path, label: str) -> None:
    import duckdb
    import pandas as pd

    seg = out / "parquet" / "segments"
    files = len([p for p in seg.iterdir() if not p.name.startswith(".")])
    t, df = timed(lambda: pd.read_parquet(seg))
    print(f"  [{label}, {files} files] pandas read_parquet(segments): {t:.2f} s ({len(df)} rows)", flush=True)
    del df
    t, n = timed(lambda: duckdb.sql(f"SELECT * FROM read_parquet('{seg}/*.parquet', union_by_name=true)")
                 .to_arrow_table().num_rows)
    print(f"  [{label}] DuckDB read_parquet('segments/*.parquet'), every column: {t:.2f} s ({n} rows)", flush=True)
    enc = Encoder()
    t, _ = timed(lambda: _search_table(out, "q", 10, enc))
    print(f"  [{label}] search, old code path (every part read whole): {t:.2f} s", flush=True)
    t, _ = timed(lambda: search(out, "q", k=10, encoder=enc, modality="fused"))
    print(f"  [{label}] search, cache built or refreshed: {t:.2f} s", flush=True)
    t, _ = timed(lambda: search(out, "q", k=10, encoder=enc, modality="fused"))
    print(f"  [{label}] search, cache up to date: {t:.3f} s", flush=True)


def write_segments(out: Path, n: int, per_file: int = 10_000) -> float:
    """``n`` generated segment rows in files of ``per_file`` rows (the segments schema); seconds taken."""
    schema = segment_schema(["image", "audio", "text", "faces"])
    seg = out / "parquet" / "segments"
    seg.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2)
    t0 = time.perf_counter()
    for f in range(n // per_file):
        emb = rng.standard_normal((per_file, 384)).astype(np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        videos = np.arange(per_file) // 20 + f * per_file // 20
        tag_type = schema.field("tags").type
        tags = pa.array([[{"label": LABELS[(v + j) % 50], "score": 0.3,
                           "attention": {"image": 1.0, "audio": 0.0, "text": 0.0, "faces": 0.0}} for j in range(3)]
                         for v in videos[:per_file]], tag_type)
        cols = {"video_id": pa.array([f"{v:020x}" for v in videos]),
                "path": pa.array([f"/lib/v{v}.mp4" for v in videos]),
                "segment": pa.array(np.arange(per_file) % 20, pa.int32()),
                "start": pa.array((np.arange(per_file) % 20) * 2.0), "end": pa.array((np.arange(per_file) % 20) * 2.0 + 2),
                "tags": tags,
                "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), 384)}
        table = pa.table({f.name: cols[f.name] if f.name in cols else pa.nulls(per_file, f.type) for f in schema},
                         schema=schema)
        pq.write_table(table, seg / f"gen-{f:04d}.parquet", compression="zstd", row_group_size=8192)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=10_000)
    ap.add_argument("--segments", type=int, default=1_000_000)
    ap.add_argument("--dir", default=os.environ.get("MMVIDEO_BENCH_OUT", "/tmp/mmvideo-out"))
    args = ap.parse_args()
    root = Path(args.dir)
    shutil.rmtree(root, ignore_errors=True)

    out = root / "videos"
    print(f"part 1: {args.videos} videos x 10 segments, written in {write_videos(out, args.videos):.1f} s", flush=True)
    read_figures(out, "per-video parts")
    from mmvideo.write.compact import compact

    t, done = timed(lambda: compact(out))
    print(f"  mmvideo compact: {t:.1f} s ({done.parts} parts -> {len(done.files)} files)", flush=True)
    read_figures(out, "compacted")

    out = root / "million"
    print(f"part 2: {args.segments} segments written in {write_segments(out, args.segments):.1f} s", flush=True)
    enc = Encoder()
    t, _ = timed(lambda: search(out, "q", k=10, encoder=enc, modality="fused"))
    print(f"  search, first call (builds the cache): {t:.1f} s", flush=True)
    t, hits = timed(lambda: search(out, "q", k=10, encoder=enc, modality="fused"))
    print(f"  search in process, cache up to date: {t:.3f} s", flush=True)
    walls = []
    for _ in range(3):
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "mmvideo", "search", str(out), "a dog on a beach", "--json"],
                              cwd=REPO, capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
    print(f"  mmvideo search --json (fresh command: start-up + text model + search), 3 runs: "
          f"{', '.join(f'{w:.2f}' for w in walls)} s; exit {proc.returncode}, {len(proc.stdout.splitlines())} lines",
          flush=True)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t, old = timed(lambda: _search_table(out, "q", 10, enc))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  baseline, old code path (every part read whole): {t:.1f} s, peak RSS {max(before, peak):.0f} MB; "
          f"same top 10: {[(h.video_id, h.segment) for h in old] == [(h.video_id, h.segment) for h in hits]}",
          flush=True)


if __name__ == "__main__":
    main()
