"""Demux benchmark: mmvideo's iter_frames + iter_audio against the same ffmpeg commands run bare.

Prints seconds per video-hour for (a) the plain ffmpeg commands mmvideo runs (same input options and
filter graphs, rgb24 frames and f32le audio drained to /dev/null) and (b) mmvideo consuming every chunk
through its pipes, and the ratio b/a (goal: within 1.15x). Then the peak RSS (this Python process plus
its largest ffmpeg child) while demuxing a clip of an hour or more (goal: under 500 MB), beside the
same figure for the bare ffmpeg commands and for an idle interpreter with mmvideo imported.

Clips are generated with ffmpeg and cached in ``$MMVIDEO_BENCH_CACHE`` (default: a folder in the system
temp dir), never in the repository:

* speed: 720p30 testsrc2 + a 440 Hz sine, libx264 ultrafast with 3 B-frames (so ``-skip_frame
  noref`` has B-frames to skip), AAC stereo 48 kHz; 180 s (``--quick``: 30 s).
* memory: 720p at 2 fps with audio, 5 min encoded once and remuxed with ``-stream_loop`` to 60 min
  (``--quick``: 10 min) without re-encoding.

Wall time is what the goal is about; CPU time (Python + ffmpeg children, from getrusage) is printed too
because it is far less sensitive to other work on a shared machine. Probing is outside both timings.

Runs interleave baseline and mmvideo, ``--repeat`` times (default 3), and report the median, since the
machine may be shared. Usage: ``python benchmarks/bench_demux.py [--quick] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mmvideo.media.audio import audio_args, iter_audio  # noqa: E402
from mmvideo.media.ffmpeg import BASE_ARGS, ffmpeg_binary  # noqa: E402
from mmvideo.media.frames import frame_args, iter_frames  # noqa: E402
from mmvideo.media.pipe import LOG_ARGS  # noqa: E402
from mmvideo.media.probe import probe  # noqa: E402
from mmvideo.records import MediaInfo  # noqa: E402

FPS, SIZE = 1.0, (224, 224)  # the pipeline's defaults


def cache_dir() -> Path:
    d = Path(os.environ.get("MMVIDEO_BENCH_CACHE", Path(tempfile.gettempdir()) / "mmvideo-bench"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_binary(), "-nostdin", "-v", "error", "-y", *args], check=True)


def make_speed_clip(seconds: int) -> Path:
    path = cache_dir() / f"speed-720p30-{seconds}s.mp4"
    if not path.exists():
        print(f"generating {path} ...", flush=True)
        tmp = path.with_suffix(".part.mp4")
        ffmpeg("-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={seconds}",
               "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
               "-c:v", "libx264", "-preset", "ultrafast", "-bf", "3", "-pix_fmt", "yuv420p",
               "-c:a", "aac", "-ac", "2", "-shortest", str(tmp))
        tmp.rename(path)
    return path


def make_long_clip(minutes: int) -> Path:
    base = cache_dir() / "long-base-720p2-300s.mp4"
    if not base.exists():
        print(f"generating {base} ...", flush=True)
        tmp = base.with_suffix(".part.mp4")
        ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=2:duration=300",
               "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=300",
               "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2",
               "-shortest", str(tmp))
        tmp.rename(base)
    path = cache_dir() / f"long-720p2-{minutes}min.mkv"
    if not path.exists():
        print(f"remuxing {path} ...", flush=True)
        tmp = path.with_suffix(".part.mkv")
        ffmpeg("-stream_loop", str(minutes // 5 - 1), "-i", str(base), "-c", "copy", str(tmp))
        tmp.rename(path)
    return path


def cpu_times() -> tuple[float, float]:
    """(CPU seconds of this process, CPU seconds of its waited-for children), user + system."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


class Timer:
    """Wall time and CPU time (Python + ffmpeg children) of a block."""

    def __enter__(self) -> Timer:
        self._cpu0, self._wall0 = cpu_times(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall0
        me, kids = cpu_times()
        self.py_cpu, self.ffmpeg_cpu = me - self._cpu0[0], kids - self._cpu0[1]
        self.cpu = self.py_cpu + self.ffmpeg_cpu


def run_plain(path: Path, info: MediaInfo) -> Timer:
    """The two ffmpeg commands mmvideo runs, output drained to /dev/null."""
    argvs = [[ffmpeg_binary(), *BASE_ARGS, *LOG_ARGS, *frame_args(path, info, fps=FPS, size=SIZE)],
             [ffmpeg_binary(), *BASE_ARGS, *LOG_ARGS, *audio_args(path, info)]]
    with Timer() as t:
        for argv in argvs:
            subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=True)
    return t


def run_mmvideo(path: Path, info: MediaInfo) -> tuple[Timer, int, int]:
    """iter_frames then iter_audio, every chunk consumed: (timer, frames, samples)."""
    frames = samples = 0
    with Timer() as t:
        for chunk in iter_frames(path, info, fps=FPS, size=SIZE):
            frames += len(chunk)
        for achunk in iter_audio(path, info) or ():
            samples += achunk.samples.shape[0]
    return t, frames, samples


def rss_child(mode: str, path: str) -> None:
    """Run one demux in this (fresh) process and print its peak RSS figures as JSON."""
    if mode == "mmvideo":
        run_mmvideo(Path(path), probe(path))
    elif mode == "plain":
        run_plain(Path(path), probe(path))
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"self_mb": self_mb, "child_mb": child_mb}))


def measure_rss(mode: str, path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--rss-child", mode, str(path)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="30 s speed clip, 10 min memory clip")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved runs per side (median reported)")
    ap.add_argument("--rss-child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_child:
        rss_child(*args.rss_child)
        return
    repeat = max(1, args.repeat)  # one run alone is noise on a shared machine (seen: 2.5x, then 0.95x)

    clip = make_speed_clip(30 if args.quick else 180)
    info = probe(clip)
    hours = info.duration / 3600
    print(f"speed clip: {clip.name}, {info.duration:.1f} s, fps={FPS}, size={SIZE}, "
          f"{repeat} interleaved run(s)")
    plain, mine = [], []
    for i in range(repeat):
        a = run_plain(clip, info)
        b, n_frames, n_samples = run_mmvideo(clip, info)
        plain.append(a)
        mine.append(b)
        print(f"  run {i + 1}: plain ffmpeg {a.wall:6.2f} s wall, {a.cpu:6.2f} s CPU | "
              f"mmvideo {b.wall:6.2f} s wall, {b.cpu:6.2f} s CPU ({b.py_cpu:.2f} Python) | "
              f"{n_frames} frames, {n_samples / 16000:.1f} s audio", flush=True)
    for what in ("wall", "cpu"):
        pa = statistics.median(getattr(t, what) for t in plain)
        mb = statistics.median(getattr(t, what) for t in mine)
        print(f"{what:>4} seconds per video-hour (median): plain ffmpeg {pa / hours:7.1f} | "
              f"mmvideo {mb / hours:7.1f} | ratio {mb / pa:.3f}x (goal <= 1.15x)")

    long_clip = make_long_clip(10 if args.quick else 60)
    long_info = probe(long_clip)
    print(f"memory clip: {long_clip.name}, {long_info.duration / 60:.1f} min")
    idle = measure_rss("idle", long_clip)
    plain_rss = measure_rss("plain", long_clip)
    mine_rss = measure_rss("mmvideo", long_clip)
    total = mine_rss["self_mb"] + mine_rss["child_mb"]
    print(f"peak RSS: idle interpreter {idle['self_mb']:.0f} MB | plain ffmpeg largest child "
          f"{plain_rss['child_mb']:.0f} MB | mmvideo python {mine_rss['self_mb']:.0f} MB "
          "+ largest ffmpeg child "
          f"{mine_rss['child_mb']:.0f} MB = {total:.0f} MB (goal < 500 MB)")


if __name__ == "__main__":
    main()
