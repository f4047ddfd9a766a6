"""Reading results at library scale: 10,000 videos before and after `mmvideo compact`, and search over 1,000,000
segments.

Part 1 writes 10,000 videos' generated rows (10 segments each, random unit embeddings, 5 tags) through
``mmvideo.write.writer.write_video`` (fsync off while generating: not what is measured), then times reading
every segment with pandas (``pd.read_parquet(folder)``) and DuckDB (``read_parquet('.../*.parquet')``), and
``search``: the table path (``search_table``: every part read, the reference), the cached search's first
call (builds the cache) and later ones (same hits as the table path?); then ``mmvideo compact`` as a fresh
command (wall, peak RSS) and the same again.
Part 2 writes 1,000,000 generated segments (100 files of 10,000 rows) with a fused embedding each and concept
embeddings as a run writes them (image: every segment, audio: 80 %, text: 10 %), builds the cache, and times
``mmvideo search --json`` as a fresh command (start-up and the text model included; ``--modality any``, the
default, and ``fused``), the in-process search, and checks the top 10 against a streaming float32 scan of the
Parquet files. Goal: under 2 s. Every timing is run ``--repeat`` times (best and median), with the load average.

    .venv/bin/python benchmarks/bench_outputs.py [--videos 10000] [--segments 1000000] [--dir /tmp/mmvideo-out]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mmvideo.records import SegmentRecord, TagScore, VideoRecord  # noqa: E402
from mmvideo.search import search, search_table  # noqa: E402
from mmvideo.write.schema import segment_schema  # noqa: E402
from measure import PEAK, command, load  # noqa: E402

REPEAT = 3

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


def repeated(fn, repeat: int | None = None) -> tuple[str, object]:
    """``fn`` run ``repeat`` times: "best X s, median Y s (load ...)" and the last value."""
    times, value = [], None
    for _ in range(repeat or REPEAT):
        t, value = timed(fn)
        times.append(t)
    return f"best {min(times):.3f} s, median {statistics.median(times):.3f} s ({load()})", value


BASELINE_COMPACT = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("baseline_compact", {file!r})
module = importlib.util.module_from_spec(spec)
sys.modules["baseline_compact"] = module
spec.loader.exec_module(module)
done = module.compact({out!r})
print(done.parts, "parts ->", len(done.files), "files")
"""


def commands(args: list[str], repeat: int | None = None) -> str:
    walls, peaks = [], []
    for _ in range(repeat or REPEAT):
        wall, peak, rc, out = command(args, capture=True)
        walls.append(wall)
        peaks.append(peak)
    return (f"best {min(walls):.2f} s, median {statistics.median(walls):.2f} s wall, peak RSS {max(peaks):.0f} MB, "
            f"exit {rc}, {len(out.splitlines())} lines ({load()})")


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


def _keys(hits):
    return [(h.video_id, h.segment, h.matched) for h in hits]


def read_figures(out: Path, label: str) -> None:
    import duckdb
    import pandas as pd

    seg = out / "parquet" / "segments"
    files = len([p for p in seg.iterdir() if not p.name.startswith(".")])
    figure, df = repeated(lambda: len(pd.read_parquet(seg)))
    print(f"  [{label}, {files} files] pandas read_parquet(segments), every column: {figure} ({df} rows)", flush=True)
    figure, n = repeated(lambda: duckdb.sql(f"SELECT * FROM read_parquet('{seg}/*.parquet', union_by_name=true)")
                         .to_arrow_table().num_rows)
    print(f"  [{label}] DuckDB read_parquet('segments/*.parquet'), every column: {figure} ({n} rows)", flush=True)
    enc = Encoder()
    figure, ref = repeated(lambda: search_table(out, enc.v, k=10), 1)
    print(f"  [{label}] search, table path (every part read): {figure}", flush=True)
    t, _ = timed(lambda: search(out, "q", k=10, encoder=enc))
    print(f"  [{label}] search, cache built or refreshed: {t:.2f} s ({load()})", flush=True)
    figure, hits = repeated(lambda: search(out, "q", k=10, encoder=enc))
    print(f"  [{label}] search, cache up to date: {figure}; same hits as the table path: "
          f"{_keys(hits) == _keys(ref)}", flush=True)


CONCEPTS = {"image": 1.0, "audio": 0.8, "text": 0.1}  # share of segments with each modality's concepts


def write_segments(out: Path, n: int, per_file: int = 10_000) -> float:
    """``n`` generated segment rows in files of ``per_file`` rows (the segments schema); seconds taken."""
    schema = segment_schema(["image", "audio", "text", "faces"],
                            [(f"{name}_concept_embedding", pa.list_(pa.float32(), 384)) for name in CONCEPTS])
    seg = out / "parquet" / "segments"
    seg.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2)
    t0 = time.perf_counter()
    tag_type = schema.field("tags").type
    for f in range(n // per_file):
        videos = np.arange(per_file) // 20 + f * per_file // 20
        tags = pa.array([[{"label": LABELS[(v + j) % 50], "score": 0.3,
                           "attention": {"image": 1.0, "audio": 0.0, "text": 0.0, "faces": 0.0}} for j in range(3)]
                         for v in videos[:per_file]], tag_type)
        cols = {"video_id": pa.array([f"{v:020x}" for v in videos]),
                "path": pa.array([f"/lib/v{v}.mp4" for v in videos]),
                "segment": pa.array(np.arange(per_file) % 20, pa.int32()),
                "start": pa.array((np.arange(per_file) % 20) * 2.0), "end": pa.array((np.arange(per_file) % 20) * 2.0 + 2),
                "tags": tags, "embedding": _vectors(rng, per_file, 1.0, schema.field("embedding").type)}
        for name, share in CONCEPTS.items():
            column = f"{name}_concept_embedding"
            cols[column] = _vectors(rng, per_file, share, schema.field(column).type)
        table = pa.table({f.name: cols[f.name] if f.name in cols else pa.nulls(per_file, f.type) for f in schema},
                         schema=schema)
        pq.write_table(table, seg / f"gen-{f:04d}.parquet", compression="zstd", row_group_size=8192)
    return time.perf_counter() - t0


def _vectors(rng, n: int, share: float, typ: pa.DataType) -> pa.Array:
    """``n`` random unit vectors, null outside a random ``share`` of the rows."""
    emb = rng.standard_normal((n, 384)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    arr = pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), 384)
    if share < 1.0:
        mask = pa.array(rng.random(n) >= share)
        arr = pa.FixedSizeListArray.from_arrays(arr.values, 384, mask=mask)
    return arr.cast(typ)


def reference_top(out: Path, query: np.ndarray, k: int) -> list[tuple[str, int, str]]:
    """The top ``k`` of ``modality="any"`` by a streaming float32 scan of the Parquet files (per file: the pure
    ranking functions over that file's matrices; then the best of the files' bests)."""
    from mmvideo.search import CONCEPT_OFFSET, combine, embedding_matrices, similarities, top

    best = []
    for path in sorted((out / "parquet" / "segments").glob("*.parquet")):
        table = pq.read_table(path)
        matrices = embedding_matrices(table)
        which = tuple(matrices)
        offsets = {w: CONCEPT_OFFSET for w in which if w != "fused"}
        scores, winner = combine({w: similarities(query, m) for w, m in matrices.items()}, which, offsets)
        for i in top(scores, k):
            best.append((float(scores[i]), table.column("video_id")[int(i)].as_py(),
                         table.column("segment")[int(i)].as_py(), which[int(winner[i])]))
        del table, matrices
    best.sort(key=lambda b: -b[0])
    return [(v, s, m) for _, v, s, m in best[:k]]


def main() -> None:
    global REPEAT
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=10_000)
    ap.add_argument("--segments", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip", choices=("videos", "million"), action="append", default=[])
    ap.add_argument("--reuse", action="store_true", help="part 2: keep the generated segments of an earlier call")
    ap.add_argument("--baseline-compact", metavar="FILE", help="part 1: also time this older write/compact.py "
                    "(e.g. `git show main:mmvideo/write/compact.py > /tmp/old_compact.py`) on a copy of the folder")
    ap.add_argument("--no-reads", action="store_true", help="part 1: time only the compaction")
    ap.add_argument("--no-reference", action="store_true", help="part 2: skip the float32 scan of every file")
    ap.add_argument("--dir", default=os.environ.get("MMVIDEO_BENCH_OUT", "/tmp/mmvideo-out"))
    args = ap.parse_args()
    REPEAT = args.repeat
    root = Path(args.dir)

    if "videos" not in args.skip:
        out = root / "videos"
        shutil.rmtree(out, ignore_errors=True)
        print(f"part 1: {args.videos} videos x 10 segments, written in {write_videos(out, args.videos):.1f} s",
              flush=True)
        if not args.no_reads:
            read_figures(out, "per-video parts")
        if args.baseline_compact:
            copy = root / "videos-baseline"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(out, copy)
            wall, peak, rc, stdout = command([], PEAK + BASELINE_COMPACT.format(file=args.baseline_compact, out=str(copy)), capture=True)
            print(f"  baseline compaction ({args.baseline_compact}): {wall:.1f} s wall, peak RSS {peak:.0f} MB, exit {rc}, "
                  f"{stdout.strip()} ({load()})", flush=True)
            shutil.rmtree(copy, ignore_errors=True)
        wall, peak, rc, _ = command(["compact", str(out)])
        files = len([p for p in (out / "parquet" / "segments").iterdir() if not p.name.startswith(".")])
        print(f"  mmvideo compact: {wall:.1f} s wall, peak RSS {peak:.0f} MB, exit {rc} -> {files} files "
              f"({load()})", flush=True)
        if not args.no_reads:
            read_figures(out, "compacted")

    if "million" not in args.skip:
        out = root / "million"
        if not (args.reuse and (out / "parquet" / "segments").is_dir()):
            shutil.rmtree(out, ignore_errors=True)
            print(f"part 2: {args.segments} segments written in {write_segments(out, args.segments):.1f} s",
                  flush=True)
        enc = Encoder()
        t, _ = timed(lambda: search(out, "q", k=10, encoder=enc))
        cache = out / ".mmvideo" / "search"
        size = sum(p.stat().st_size for p in cache.iterdir()) / 2**20
        scanned = sum(p.stat().st_size for p in cache.glob("*.int8")) / 2**20
        print(f"  search, first call (builds the cache, {size:.0f} MiB, {scanned:.0f} MiB of it scanned per query): "
              f"{t:.1f} s ({load()})", flush=True)
        figure, hits = repeated(lambda: search(out, "q", k=10, encoder=enc))
        print(f"  search in process (modality any), cache up to date: {figure}", flush=True)
        figure, _ = repeated(lambda: search(out, "q", k=10, encoder=enc, modality="fused"))
        print(f"  search in process (modality fused): {figure}", flush=True)
        figure, _ = repeated(lambda: search(out, "q", k=10, encoder=enc, videos=True))
        print(f"  search in process (modality any, --videos): {figure}", flush=True)
        for extra in ([], ["--modality", "fused"], ["--videos"]):
            print(f"  mmvideo search --json {' '.join(extra)} (fresh command: start-up + text model + search): "
                  f"{commands(['search', str(out), 'a dog on a beach', '--json', *extra])}", flush=True)
        if args.no_reference:
            return
        t, ref = timed(lambda: reference_top(out, enc.v, 10))
        print(f"  reference: streaming float32 scan of the Parquet files {t:.1f} s; same top 10 as the cache: "
              f"{ref == _keys(hits)}", flush=True)


if __name__ == "__main__":
    main()
