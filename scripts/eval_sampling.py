"""Does keyframe sampling tag like fps sampling? The evaluation behind ``--sample auto`` (issue 12).

1. Agreement: the 30 labelled clips of ``../shared/eval`` re-encoded into a temporary folder with a keyframe
   every 2 s (libx264 crf 18, no scene-cut keyframes, audio kept), tagged with ``--sample fps`` and with
   ``--sample auto``; on the segments ``auto`` sampled from keyframes, the share whose first tag is the same.
   Goal: >= 90 % over >= 40 segments.
2. Quality: ``score.py`` on the original clips with ``--sample fps`` and with the defaults (``auto`` where it
   is the default); the default must score no worse.

    .venv/bin/python scripts/eval_sampling.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mmvideo.config import RunConfig  # noqa: E402
from mmvideo.media.ffmpeg import ffmpeg_binary  # noqa: E402
from mmvideo.media.keyframes import plan_sampling  # noqa: E402
from mmvideo.media.probe import probe  # noqa: E402

EVAL = REPO.parent / "shared" / "eval"
MMVIDEO = str(Path(sys.executable).with_name("mmvideo"))


def reencode(src: Path, dest: Path, every: float = 2.0) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg_binary(), "-nostdin", "-v", "error", "-y", "-i", str(src), "-map", "0:v:0", "-map", "0:a?",
                    "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
                    "-force_key_frames", f"expr:gte(t,n_forced*{every:g})", "-g", "100000", "-sc_threshold", "0",
                    "-c:a", "aac", str(dest)], check=True)


def run(folder: Path, out: Path, *extra: str) -> None:
    proc = subprocess.run([MMVIDEO, "run", str(folder), "--out", str(out), "--format", "both", "--log-format",
                           "plain", "--quiet", *extra], capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"mmvideo run failed ({proc.returncode}): {proc.stderr[-2000:]}")


def first_tags(out: Path) -> dict[tuple[str, int], str | None]:
    """(path, segment) -> first tag (None when untagged)."""
    tags = {}
    for part in (out / "jsonl" / "segments").glob("*.jsonl"):
        for line in part.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            tags[(row["path"], row["segment"])] = row["tags"][0]["label"] if row["tags"] else None
    return tags


def score(out: Path) -> str:
    proc = subprocess.run([sys.executable, str(EVAL / "score.py"), str(out), "--mmvideo", MMVIDEO],
                          capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep", type=Path, help="work in this folder instead of a temporary one")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mmvideo-eval-sampling-") as tmp:
        work = args.keep or Path(tmp)
        clips = work / "keyframes-2s"
        with open(EVAL / "MANIFEST.tsv", newline="") as fh:
            names = [r["file"] for r in csv.DictReader(fh, delimiter="\t")]
        for name in names:
            dest = (clips / name).with_suffix(".mp4")
            if not dest.exists():
                reencode(EVAL / name, dest)
        segment, fps = RunConfig().segment, RunConfig().fps
        plans = {str(p): plan_sampling(p, probe(p), "auto", segment, fps) for p in sorted(clips.rglob("*.mp4"))}
        on_keyframes = {p for p, plan in plans.items() if plan.mode == "keyframes"}
        print(f"1. agreement: {len(plans)} clips re-encoded with a keyframe every 2 s; auto samples keyframes in "
              f"{len(on_keyframes)}")
        for p, plan in plans.items():
            if plan.mode != "keyframes":
                print(f"   fps: {Path(p).relative_to(clips)}: {plan.reason}")
        run(clips, work / "k-fps", "--sample", "fps")
        run(clips, work / "k-auto", "--sample", "auto")
        by_fps, by_auto = first_tags(work / "k-fps"), first_tags(work / "k-auto")
        keys = sorted(k for k in by_fps if k[0] in on_keyframes and k in by_auto)
        same = sum(by_fps[k] == by_auto[k] for k in keys)
        changed: dict[str, int] = defaultdict(int)
        for k in keys:
            if by_fps[k] != by_auto[k]:
                changed[f"{by_fps[k]} -> {by_auto[k]}"] += 1
        share = same / len(keys) if keys else 0.0
        print(f"   first tag the same on {same}/{len(keys)} keyframe-sampled segments ({share:.1%}; goal >= 90 % "
              f"over >= 40): {'met' if share >= 0.9 and len(keys) >= 40 else 'NOT met'}")
        if changed:
            print("   changed: " + ", ".join(f"{k} ({n})" for k, n in sorted(changed.items(), key=lambda x: -x[1])))

        originals = {str(p): plan_sampling(p, probe(p), "auto", segment, fps).mode
                     for p in (EVAL / n for n in names)}
        print(f"2. quality on the original clips (auto samples keyframes in "
              f"{sum(m == 'keyframes' for m in originals.values())} of {len(originals)}; default sample="
              f"{RunConfig().sample!r})")
        for label, extra in (("--sample fps", ("--sample", "fps")), ("defaults", ()),
                             ("--sample auto", ("--sample", "auto"))):
            out = work / f"orig-{label.strip('-').replace(' ', '-')}"
            run(EVAL, out, *extra)
            print(f"   {label}:\n" + "\n".join("     " + line for line in score(out).splitlines()))


if __name__ == "__main__":
    main()
