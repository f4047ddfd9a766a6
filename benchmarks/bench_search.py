"""`mmvideo search` over a 10,000-segment library, and fusion's share of a real run.

Search: writes an output folder of N segments (100 segments per video part, Parquet, the fused embedding and
three concept embeddings of 384 floats each, as `mmvideo run` writes them) once, then times the whole
`mmvideo search OUT QUERY` command (start-up and the text encoder included) and, in-process, `search()` with
the encoder already loaded (reading the folder + ranking). Goal: the command answers in under 1 s after
start-up, i.e. `search()` < 1 s.

Fusion: re-fuses an evidence folder (`mmvideo run ... --evidence`, e.g. of ../shared/eval) in-process and
reports the fusion seconds per video-second; compare with `bench_run.py`'s pipeline cost per video-second
(goal: fusion + search < 5 % of end to end).

    .venv/bin/python benchmarks/bench_search.py [--segments 10000] [--evidence OUT] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_library(out: Path, segments: int, per_video: int = 100) -> None:
    """An output folder of ``segments`` random unit-vector segments (skipped when it exists)."""
    folder = out / "parquet" / "segments"
    if folder.is_dir() and len(list(folder.glob("*.parquet"))) == -(-segments // per_video):
        return
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    vec = pa.list_(pa.float32(), 384)
    tag = pa.struct([("label", pa.string()), ("score", pa.float32())])
    for v in range(-(-segments // per_video)):
        n = min(per_video, segments - v * per_video)
        cols = {"video_id": pa.array([f"v{v:05d}"] * n), "path": pa.array([f"/videos/{v:05d}.mp4"] * n),
                "segment": pa.array(np.arange(n, dtype=np.int32)), "start": pa.array(np.arange(n) * 5.0),
                "end": pa.array(np.arange(n) * 5.0 + 5.0),
                "tags": pa.array([[{"label": "dog", "score": 0.5}]] * n, pa.list_(tag))}
        for name in ("embedding", "image_concept_embedding", "audio_concept_embedding", "text_concept_embedding"):
            m = rng.normal(size=(n, 384)).astype(np.float32)
            m /= np.linalg.norm(m, axis=1, keepdims=True)
            cols[name] = pa.FixedSizeListArray.from_arrays(pa.array(m.reshape(-1)), 384).cast(vec)
        pq.write_table(pa.table(cols), folder / f"v{v:05d}.parquet")


def bench_search(out: Path, repeat: int) -> None:
    from mmvideo.encode.text import TextEncoder
    from mmvideo.search import search

    encoder = TextEncoder()
    search(out, "warm up", k=10, encoder=encoder)
    inproc = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        hits = search(out, "geese on a lake", k=10, encoder=encoder, videos=True)
        inproc.append(time.perf_counter() - t0)
    assert len(hits) == 10
    mmvideo = str(Path(sys.executable).parent / "mmvideo")
    cli = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([mmvideo, "search", str(out), "geese on a lake", "-k", "10", "--json"], check=True,
                       capture_output=True)
        cli.append(time.perf_counter() - t0)
    import os

    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"search over {out}: in-process (encoder loaded) best {min(inproc):.3f} s, median "
          f"{statistics.median(inproc):.3f} s; whole command best {min(cli):.2f} s, median {statistics.median(cli):.2f} s "
          f"(start-up + model load included; load average {load})")


def bench_fusion(evidence: Path) -> None:
    from mmvideo.engines.fuse import config_from_evidence
    from mmvideo.pipeline.analyze import Pipeline
    from mmvideo.write.evidence import evidence_files, read_evidence

    files = [read_evidence(p) for p in evidence_files(evidence)]
    pipeline = Pipeline(config_from_evidence(files[0].info.get("settings", {}), {}))
    pipeline.models()
    pipeline.fuse_evidence(files[0])  # warm up (Keras traces the layer once)
    t0 = time.perf_counter()
    seconds = 0.0
    for ev in files:
        pipeline.fuse_evidence(ev)
        seconds += float(ev.info.get("duration") or 0.0)
    took = time.perf_counter() - t0
    print(f"fusion (pool + tag + concepts) of {len(files)} videos, {seconds:.0f} s of video: {took:.2f} s = "
          f"{1000 * took / max(seconds, 1e-9):.1f} ms per video-second")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--library", type=Path, default=Path("/tmp/mmvideo-bench/search-library"))
    parser.add_argument("--evidence", type=Path, help="an output folder with evidence files (fusion timing)")
    args = parser.parse_args(argv)
    make_library(args.library, args.segments)
    bench_search(args.library, args.repeat)
    if args.evidence:
        bench_fusion(args.evidence)
    return 0


if __name__ == "__main__":
    sys.exit(main())
