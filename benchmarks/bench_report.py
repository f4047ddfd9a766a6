"""`mmvideo report` on a large output folder: build time, and navigation -> first filtered result painted.

1,000 generated videos (rows only, no media: written through ``write_video`` from generated records; ~90 %
done with 1-60 segments of 5 tags, the rest failed or duplicate) are reported with ``build_report`` (the
sources do not exist, so no picture is decoded: placeholders). Then headless Chromium (Debian's chromium +
chromedriver) opens ``index.html#tag=<tag>`` and the page's own ``performance.now()`` after the filtered list
is painted is read (milliseconds since navigation start), beside the same figure for a blank page.
Goals: build < 10 s; filtered result painted < 2 s.

    .venv/bin/python benchmarks/bench_report.py [--videos 1000] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mmvideo.records import SegmentRecord, TagCoverage, TagScore, VideoRecord  # noqa: E402

MODALITIES = ("image", "audio", "text", "faces")  # the built-in fusing modalities
from mmvideo.report import build_report  # noqa: E402
from mmvideo.report.browser import console_errors, find_browser, headless_chromium  # noqa: E402
from mmvideo.write.read import read_table  # noqa: E402
from mmvideo.write.writer import write_video  # noqa: E402
from mmvideo.config import RunConfig  # noqa: E402
from mmvideo.pipeline.analyze import Pipeline  # noqa: E402

SCHEMA = Pipeline(RunConfig()).segment_schema  # what a default run writes

WORDS = ("a cat on the sofa", "rain on the window", "the crowd cheers", "engine noise", "she laughs",
         "the train leaves the station", "music plays", "a dog barks twice")


def vocabulary() -> list[str]:
    tags = (REPO / "mmvideo" / "data" / "tags.tsv").read_text(encoding="utf-8").splitlines()
    return [ln.split("\t")[0] for ln in tags if ln.strip() and not ln.startswith("#")]


def generate(out: Path, n_videos: int, seed: int = 0) -> tuple[int, str]:
    """Write ``n_videos`` videos' rows into ``out``; returns (segments written, a mid-frequency tag)."""
    rng = random.Random(seed)
    labels = vocabulary()
    weights = [1.0 / (i + 1) for i in range(len(labels))]  # Zipf-like: a few tags are everywhere
    emb = np.zeros(384, np.float32)
    emb[0] = 1.0
    total = 0
    for i in range(n_videos):
        vid = f"{i:020x}"
        path = f"/srv/videos/2026/{i // 100:02d}/clip {i:04d}.mp4"
        r = rng.random()
        if r > 0.97:
            write_video(out, VideoRecord(vid, path, "duplicate", error=f"same content as {i - 1:020x}"), [], schema=SCHEMA)
            continue
        if r > 0.90:
            write_video(out, VideoRecord(vid, path, "failed", stage="demux", error="moov atom not found"), [], schema=SCHEMA)
            continue
        n = rng.randint(1, 60)
        segs = []
        for k in range(n):
            chosen = list(dict.fromkeys(rng.choices(labels, weights, k=7)))[:5]
            tags = []
            for j, lb in enumerate(chosen):
                w = np.array([rng.random() for _ in MODALITIES])
                w /= w.sum()
                tags.append(TagScore(lb, 0.9 - 0.1 * j, dict(zip(MODALITIES, w.tolist()))))
            columns = {"text": rng.choice(WORDS) if rng.random() < 0.3 else "",
                       "image_classes": [{"name": "tabby cat", "score": 0.4}, {"name": "sofa", "score": 0.2}],
                       "audio_classes": [{"name": "Speech", "score": 0.6}], "faces": 0, "face_confidence": 0.0}
            segs.append(SegmentRecord(vid, path, k, 5.0 * k, 5.0 * k + 5, tuple(tags), emb, ("image", "audio"),
                                      columns=columns))
        cover = tuple(TagCoverage(t.label, 5.0, 0.1, t.score) for t in segs[0].tags)
        write_video(out, VideoRecord(vid, path, "done", duration=5.0 * n, container="mov,mp4", has_video=True,
                                     has_audio=True, segments=n, top_tags=cover), segs, schema=SCHEMA)
        total += n
    return total, labels[len(labels) // 10]


def painted_ms(driver, url: str, timeout: float = 30.0) -> float:
    """Load ``url``; the page's performance.now() (ms since navigation start) once the filtered list is painted."""
    driver.get(url)
    end = time.monotonic() + timeout
    while True:
        ms = driver.execute_script("return (window.mmvideoReport || {}).paintedAt || null")
        if ms is not None:
            return float(ms)
        if time.monotonic() > end:
            raise RuntimeError(f"{url}: not painted in {timeout} s; console: {driver.get_log('browser')}")
        time.sleep(0.02)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="write the output folder here (kept) instead of a temp folder")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp) / "out"
        t = time.perf_counter()
        segments, tag = generate(out, args.videos)
        print(f"rows: {args.videos} videos, {segments} segments written in {time.perf_counter() - t:.1f} s")
        builds, cpus, reads = [], [], []
        for _ in range(args.repeat):
            t, c = time.perf_counter(), time.process_time()
            read_table(out, "videos"), read_table(out, "segments")
            reads.append(time.perf_counter() - t)
            t, c = time.perf_counter(), time.process_time()
            result = build_report(out)
            builds.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
        data = next(result.index.parent.glob("data-*.js"))
        print(f"build: median {statistics.median(builds):.2f} s wall ({', '.join(f'{b:.2f}' for b in builds)}), "
              f"{statistics.median(cpus):.2f} s CPU; of which read_table (both tables, alone) "
              f"{statistics.median(reads):.2f} s; data file {data.stat().st_size / 1e6:.1f} MB  [goal < 10 s]")
        if find_browser() is None:
            print("browser: no chromium + chromedriver installed (apt-get install chromium chromium-driver); skipped")
            return
        blank = Path(tmp) / "blank.html"
        blank.write_text("<!doctype html><script>requestAnimationFrame(() => setTimeout(() => "
                         "{window.mmvideoReport = {paintedAt: performance.now()}}, 0))</script>", encoding="utf-8")
        with headless_chromium() as drv:
            base, filt, first = [], [], []
            for _ in range(args.repeat):  # a blank page between loads: every report load is a new document
                base.append(painted_ms(drv, blank.as_uri()))
                first.append(painted_ms(drv, result.index.as_uri()))
                painted_ms(drv, blank.as_uri())
                filt.append(painted_ms(drv, result.index.as_uri() + f"#tag={tag}"))
            shown = drv.execute_script("var r = window.mmvideoReport; return [r.matchingVideos, r.matchingSegments,"
                                       " document.querySelectorAll('.seg').length]")
            t0 = drv.execute_script("return performance.now()")
            drv.execute_script("window.mmvideoReport.setFilter({q: 'train'})")
            retype = drv.execute_script("return window.mmvideoReport.renderedAt") - t0
            errors = console_errors(drv)
        print(f"browser, ms from navigation to painted (median of {args.repeat}): blank page "
              f"{statistics.median(base):.0f}; report unfiltered {statistics.median(first):.0f}; "
              f"report #tag={tag} {statistics.median(filt):.0f}  [goal < 2000]")
        print(f"  #tag={tag}: {shown[0]} videos / {shown[1]} segments match, {shown[2]} segment cards in the DOM "
              f"(one page); a new text filter over all {segments} segments re-rendered in {retype:.0f} ms")
        print(f"  console errors: {len(errors)}" + (f": {errors[:3]}" if errors else ""))


if __name__ == "__main__":
    main()
