"""Training throughput of a fusion head, and what `--head` costs beside zero-shot fusion.

Clips: `mmvideo.train.synthetic` (3 s, 64 px; every colour x sound pair COPIES times), their evidence made once
and cached in `$MMVIDEO_BENCH_CACHE/train` (default /tmp/mmvideo-bench). Figures:

- training segments/s per fusion (training segments x epochs run / seconds, first-step tracing included, and the
  seconds of a whole `fit_head`);
- fusion from evidence (`Pipeline.fuse_evidence`, the `mmvideo fuse` path, models loaded) per video with the
  zero-shot tagger and with a head, interleaved, medians.

    .venv/bin/python benchmarks/bench_train.py [--copies 6] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=6)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    from mmvideo.config import RunConfig
    from mmvideo.engines.local import run_local
    from mmvideo.pipeline.analyze import Pipeline
    from mmvideo.progress import make_reporter
    from mmvideo.train.fit import Hyperparameters, fit_head
    from mmvideo.train.split import split_videos
    from mmvideo.train.synthetic import make_clips
    from mmvideo.train.workflow import labelled_dataset, train
    from mmvideo.write.evidence import evidence_files, read_evidence

    root = Path(os.environ.get("MMVIDEO_BENCH_CACHE", "/tmp/mmvideo-bench")) / f"train-{args.copies}"
    clips, out = root / "clips", root / "out"
    if not (clips / "labels.csv").is_file():
        make_clips(clips, copies=args.copies)
    if len(evidence_files(out)) < 9 * args.copies:
        cfg = RunConfig(evidence=True)
        run_local([str(clips)], out, cfg, Pipeline(cfg), make_reporter("plain", True))
    got = labelled_dataset(clips / "labels.csv", [out], run_missing=False)
    split = split_videos(got.video_labels)
    tr, va = got.data.take(split["train"]), got.data.take(split["validation"])
    print(f"{len(got.data)} segments, {len(got.data.labels)} labels; train {len(tr)}, validation {len(va)}")
    print("| fusion | epochs | fit s | training segments/s |\n|---|---:|---:|---:|")
    for fusion in ("attention", "concat", "sum"):
        fit = fit_head(tr, va, Hyperparameters(fusion=fusion))
        print(f"| {fusion} | {fit.epochs_run} | {fit.seconds:.1f} | "
              f"{fit.train_segments * fit.epochs_run / fit.seconds:.0f} |")

    head = root / "head"
    if not (head / "head.json").is_file():
        train(clips / "labels.csv", [out], head, Hyperparameters(), labelled=got)
    evidences = [read_evidence(f) for f in evidence_files(out)]
    zero, with_head = Pipeline(RunConfig()), Pipeline(RunConfig(head=str(head)))
    zero.models(), with_head.models()
    for p in (zero, with_head):  # warm-up: traced shapes, cached text embeddings
        p.fuse_evidence(evidences[0])
    times: dict[str, list[float]] = {"zero-shot": [], "head": []}
    for _ in range(args.repeat):
        for name, p in (("zero-shot", zero), ("head", with_head)):
            t0 = time.perf_counter()
            for ev in evidences:
                p.fuse_evidence(ev)
            times[name].append((time.perf_counter() - t0) / len(evidences) * 1000)
    z, h = statistics.median(times["zero-shot"]), statistics.median(times["head"])
    print(f"\nfuse_evidence per video ({len(evidences)} videos, median of {args.repeat}): zero-shot {z:.1f} ms, "
          f"--head {h:.1f} ms ({h / z:.2f}x; the head runs the zero-shot tagger too, for the text-space embedding)")


if __name__ == "__main__":
    main()
