"""End-to-end `mmvideo run` cost per video-hour beside the bare ffmpeg decode+sample commands, and peak RSS.

Speed: a generated 720p30 H.264 clip (the same one as bench_demux.py) goes through the whole per-video
pipeline (probe, frames + audio demux, image/audio/face encoders, subtitles, segments, fusion) with the
models already loaded, interleaved with the two ffmpeg commands the pipeline runs, drained to /dev/null
(decode is the floor). Goal: within 1.3x of the bare commands' wall time on a 2-core machine.
Fusion's share: the encode and fuse halves of the same analysis timed apart (goal: fusion < 5 %).
Memory: the pipeline on an hour-long clip in a fresh interpreter; peak RSS of Python plus its largest
ffmpeg child. Goal: under 1.5 GB.

    .venv/bin/python benchmarks/bench_run.py [--quick] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_demux import Timer, make_long_clip, make_speed_clip, run_plain  # noqa: E402

from mmvideo.config import RunConfig  # noqa: E402
from mmvideo.discover import discover  # noqa: E402
from mmvideo.media.probe import probe  # noqa: E402
from mmvideo.pipeline.analyze import Pipeline  # noqa: E402


def analyze(pipeline: Pipeline, path: Path):
    video = next(iter(discover([path])))
    a = pipeline.analyze(video, lambda stage: None)
    return a.video, list(a.segments)


def _rss_mb(pid: int | str) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children_rss_mb(parent: int) -> float:
    """Largest RSS among this process's live children (ffmpeg), read from /proc."""
    best = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == parent:
                best = max(best, _rss_mb(entry))
    return best


def rss_child(path: str) -> None:
    """Peak RSS of the pipeline on one long clip. ffmpeg's RSS is sampled from /proc: RUSAGE_CHILDREN would
    count the parent's pages that a forked child holds for an instant before exec."""
    peak_child = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak_child[0] = max(peak_child[0], _children_rss_mb(os.getpid()))

    threading.Thread(target=sample, daemon=True).start()
    t0 = time.perf_counter()
    pipeline = Pipeline(RunConfig())
    pipeline.models()
    record, segments = analyze(pipeline, Path(path))
    done.set()
    print(json.dumps({"self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "child_mb": peak_child[0], "segments": len(segments),
                      "seconds": time.perf_counter() - t0}))


def fusion_share(pipeline: Pipeline, clip: Path, repeat: int) -> None:
    """Fusion's share of a video's end-to-end time: the encode half (probe, decode, encoders, segments) and the
    fuse half (pooling, tags, concepts, records) of ``Pipeline.analyze`` timed apart. Goal: fusion < 5 %."""
    video = next(iter(discover([clip])))
    encoded, fused = [], []
    for _ in range(repeat):
        with Timer() as e:
            evidence = pipeline.encode(video)
        with Timer() as f:
            pipeline.fuse_evidence(evidence)
        encoded.append(e)
        fused.append(f)
    for what in ("wall", "cpu"):
        enc = statistics.median(getattr(t, what) for t in encoded)
        fus = statistics.median(getattr(t, what) for t in fused)
        first = getattr(fused[0], what)  # the first fuse embeds this video's tag sentences; later ones hit the cache
        print(f"fusion {what:>4} (median of {repeat}): encode {enc:6.2f} s, fuse {fus:5.3f} s (first {first:5.3f} s): "
              f"{100 * fus / (enc + fus):.1f} % of end to end, first {100 * first / (enc + first):.1f} % "
              f"(goal < 5 %)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="30 s speed clip, 10 min memory clip")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rss-child", metavar="PATH", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_child:
        rss_child(args.rss_child)
        return

    clip = make_speed_clip(30 if args.quick else 180)
    info = probe(clip)
    hours = info.duration / 3600
    t0 = time.perf_counter()
    pipeline = Pipeline(RunConfig())
    pipeline.models()
    analyze(pipeline, REPO / "samples" / "cat.mp4")  # warm-up: first calls trace/allocate
    print(f"models loaded and warmed up in {time.perf_counter() - t0:.1f} s (once per run, not per video)")
    print(f"speed clip: {clip.name}, {info.duration:.0f} s; {args.repeat} interleaved runs")
    plain, mine = [], []
    for i in range(args.repeat):
        a = run_plain(clip, info)
        with Timer() as b:
            record, segments = analyze(pipeline, clip)
        plain.append(a)
        mine.append(b)
        print(f"  run {i + 1}: ffmpeg decode+sample {a.wall:6.2f} s wall, {a.cpu:6.2f} s CPU | "
              f"mmvideo pipeline {b.wall:6.2f} s wall, {b.cpu:6.2f} s CPU | {len(segments)} segments", flush=True)
    fusion_share(pipeline, clip, args.repeat)
    for what in ("wall", "cpu"):
        pa = statistics.median(getattr(t, what) for t in plain)
        mb = statistics.median(getattr(t, what) for t in mine)
        goal = " (goal <= 1.3x)" if what == "wall" else ""
        print(f"{what:>4} seconds per video-hour (median): ffmpeg decode+sample {pa / hours:7.1f} | "
              f"mmvideo end to end {mb / hours:7.1f} | ratio {mb / pa:.2f}x{goal}")

    long_clip = make_long_clip(10 if args.quick else 60)
    out = subprocess.run([sys.executable, __file__, "--rss-child", str(long_clip)], check=True,
                         capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    print(f"memory clip: {long_clip.name}: {r['segments']} segments in {r['seconds']:.0f} s; peak RSS python "
          f"{r['self_mb']:.0f} MB + largest ffmpeg child {r['child_mb']:.0f} MB = "
          f"{r['self_mb'] + r['child_mb']:.0f} MB (goal < 1500 MB)")


if __name__ == "__main__":
    main()
