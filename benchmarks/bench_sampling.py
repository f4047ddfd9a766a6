"""Whole `mmvideo run` processes (start-up included) on real footage beside the ffmpeg decode+sample floor.

For each folder of ``benchmarks/footage.py`` (the eval clips scaled to 720p30, joined to about 150 s per file,
libx264 crf 23, AAC; a keyframe every 2 s, and every 10 s), in one process tree, one after another:

* floor: the two ffmpeg commands mmvideo's fps path builds (``-skip_frame noref -skip_loop_filter all``, 1 fps
  ``select``, 224x224 rgb24; 16 kHz mono f32le audio), output to /dev/null, file after file;
* ``before`` (with ``--base REF --base-runs``): `mmvideo run` of the code at git REF (its defaults), from an
  exported copy (REF's start-up figures come with ``--base`` alone);
* ``fps``: `mmvideo run --jobs 1 --sample fps` (one video at a time, the first decoded frame of every 1 s bin; for
  H.264 only the GOP prefixes those picks need are decoded, `mmvideo.media.chains`);
* ``defaults``: `mmvideo run` with no options (printed at the top: ``--sample``, and ``--jobs`` one per core);
* ``auto``: `mmvideo run --jobs 1 --sample auto`, and ``auto2`` the same with ``--jobs 2``.

Each mmvideo run starts from an empty output folder, so it pays the whole fixed cost (interpreter, imports,
model loading). Printed per run: wall, CPU (user + system of the whole tree, from RUSAGE_CHILDREN), peak of the
summed RSS of the process tree (sampled every 0.1 s from /proc) and the ratio to the floor's wall time. Then the
start-up figures: a no-op rerun's wall (everything done already), and the wall of a run on a 2 s clip (the
fixed cost with a video's work near zero), before -> after. Goal (issue 12): the default run <= 0.6x the floor's
wall on the keyframe-every-2-s folder, under 1.5 GB; on the 10 s folder the fallback no slower than ``fps``.

    .venv/bin/python benchmarks/bench_sampling.py [--base 732c521] [--repeat 1] [--preset medium]
        [--gop 2 --variants auto2 --repeat 3 --no-startup]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from footage import EVAL, cache_dir, make_folder  # noqa: E402
from measure import Measured, tree_rss_mb  # noqa: E402

from mmvideo.media.audio import audio_args  # noqa: E402
from mmvideo.media.ffmpeg import BASE_ARGS, ffmpeg_binary  # noqa: E402
from mmvideo.media.frames import frame_args  # noqa: E402
from mmvideo.media.pipe import LOG_ARGS  # noqa: E402
from mmvideo.media.probe import probe  # noqa: E402

MMVIDEO = [sys.executable, "-m", "mmvideo"]


def measure(argvs: list[list[str]], env: dict[str, str] | None = None, cwd: Path | None = None) -> Measured:
    """Run ``argvs`` one after another (in ``cwd``); wall, CPU of the whole tree, peak summed RSS of the tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = 0.0
    t0 = time.perf_counter()
    for argv in argvs:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=env, cwd=cwd)
        err: list[bytes] = []
        reader = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
        reader.start()
        while proc.poll() is None:
            peak = max(peak, tree_rss_mb(proc.pid))
            time.sleep(0.1)
        reader.join()
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"{argv[:4]}... exited {proc.returncode}: {b''.join(err).decode()[-2000:]}")
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measured(wall, cpu, peak)


def floor_argvs(folder: Path) -> list[list[str]]:
    out = []
    for path in sorted(folder.glob("*.mp4")):
        info = probe(path)
        out.append([ffmpeg_binary(), *BASE_ARGS, *LOG_ARGS, *frame_args(path, info, fps=1.0, size=(224, 224))])
        out.append([ffmpeg_binary(), *BASE_ARGS, *LOG_ARGS, *audio_args(path, info)])
    return out


def export_base(ref: str) -> Path:
    """The tree at git ``ref`` exported into the bench cache (never into the repository)."""
    dest = cache_dir() / f"base-{ref}"
    if not (dest / "mmvideo").is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", ref], check=True,
                                 capture_output=True).stdout
        with tempfile.TemporaryFile() as fh:
            fh.write(archive)
            fh.seek(0)
            with tarfile.open(fileobj=fh) as tar:
                tar.extractall(dest, filter="data")
    return dest


def env_for(tree: Path | None) -> dict[str, str]:
    """The environment that makes ``python -m mmvideo`` import ``tree``'s package (None: this tree's); run it
    with ``cwd=tree or REPO`` too: ``-m`` puts the working folder before PYTHONPATH (a run from this checkout
    imported this checkout's package whatever PYTHONPATH said)."""
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_argv(folder: Path, out: Path, *extra: str) -> list[str]:
    return [*MMVIDEO, "run", str(folder), "--out", str(out), "--log-format", "plain", *extra]


def bench_folder(folder: Path, base: Path | None, repeat: int, work: Path, with_base: bool = False,
                 only: list[str] | None = None) -> None:
    files = sorted(folder.glob("*.mp4"))
    seconds = sum(probe(p).duration or 0.0 for p in files)
    print(f"\n{folder.name}: {len(files)} files, {seconds:.0f} s of video", flush=True)
    variants: list[tuple[str, list[str], Path | None]] = [
        ("fps", ["--jobs", "1", "--sample", "fps"], None), ("defaults", [], None),
        ("auto", ["--jobs", "1", "--sample", "auto"], None), ("auto2", ["--jobs", "2", "--sample", "auto"], None)]
    if base is not None and with_base:
        variants.insert(0, ("before", [], base))
    if only:
        variants = [v for v in variants if v[0] in only]
    results: dict[str, list[Measured]] = {"floor": []}
    for r in range(repeat):  # interleaved: the machine may be shared
        results["floor"].append(measure([floor_argvs(folder)][0]))
        for name, extra, tree in variants:
            out = work / f"{folder.name}-{name}-{r}"
            shutil.rmtree(out, ignore_errors=True)
            results.setdefault(name, []).append(measure([run_argv(folder, out, *extra)], env_for(tree),
                                                        tree or REPO))
    floor = statistics.median(m.wall for m in results["floor"])
    print(f"  {'run':<34} {'wall s':>7} {'CPU s':>7} {'peak MB':>8} {'x floor':>8}")
    labels = {"floor": "ffmpeg decode+sample, file after file", "before": "mmvideo run at the base ref",
              "fps": "mmvideo run --jobs 1 --sample fps", "defaults": "mmvideo run (defaults)",
              "auto": "mmvideo run --jobs 1 --sample auto",
              "auto2": "mmvideo run --jobs 2 --sample auto"}
    for name, ms in results.items():
        wall = statistics.median(m.wall for m in ms)
        cpu = statistics.median(m.cpu for m in ms)
        peak = max(m.peak_mb for m in ms)
        pairs = "" if repeat == 1 or name == "floor" else "  pairs: " + ", ".join(
            f"{m.wall / f.wall:.2f}x" for m, f in zip(ms, results["floor"]))  # each run / the floor just before
        print(f"  {labels[name]:<38} {wall:7.1f} {cpu:7.1f} {peak:8.0f} {wall / floor:7.2f}x{pairs}", flush=True)


def bench_startup(base: Path | None, work: Path) -> None:
    """A no-op rerun and a run on a 2 s clip: the fixed cost, before -> after."""
    tiny = work / "tiny"
    tiny.mkdir(exist_ok=True)
    clip = tiny / "demo1_video.mp4"
    shutil.copy2(EVAL / "depth-anything" / "demo1_video.mp4", clip)
    print("\nstart-up (whole process):", flush=True)
    for name, tree in (("before", base), ("after", None)) if base is not None else (("after", None),):
        out = work / f"startup-{name}"
        shutil.rmtree(out, ignore_errors=True)
        first = measure([run_argv(tiny, out)], env_for(tree), tree or REPO)
        noop = measure([run_argv(tiny, out)], env_for(tree), tree or REPO)
        print(f"  {name:<7} run on a 2 s clip {first.wall:5.1f} s wall, {first.cpu:5.1f} s CPU, "
              f"{first.peak_mb:5.0f} MB | no-op rerun {noop.wall:4.1f} s wall", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", metavar="REF", help="also run the code at this git ref (the 'before' figures)")
    ap.add_argument("--base-runs", action="store_true", help="also run the base ref on the footage folders")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--preset", default="medium", help="libx264 preset of the generated footage")
    ap.add_argument("--gop", type=float, action="append", help="keyframe interval(s), s (default: 2 and 10)")
    ap.add_argument("--variants", help="comma list of the runs beside the floor (fps,defaults,auto,auto2; "
                                       "default: all), e.g. auto2 --repeat 3 for pairs under the same load")
    ap.add_argument("--no-startup", action="store_true", help="skip the start-up figures")
    args = ap.parse_args()
    base = export_base(args.base) if args.base else None
    work = cache_dir() / "bench-sampling-out"
    work.mkdir(parents=True, exist_ok=True)
    from mmvideo.config import RunConfig
    from mmvideo.engines.local import default_jobs

    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; defaults here: "
          f"--sample {RunConfig().sample} --jobs {default_jobs()}")
    for gop in args.gop or [2.0, 10.0]:
        bench_folder(make_folder(gop, preset=args.preset), base, args.repeat, work, args.base_runs,
                     args.variants.split(",") if args.variants else None)
    if not args.no_startup:
        bench_startup(base, work)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
