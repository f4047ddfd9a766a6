"""Real footage for the sampling benchmarks: the clips of ``../shared/eval`` scaled to 720p30 and joined.

``make_folder(gop_s)`` writes (once, cached in ``$MMVIDEO_BENCH_CACHE``, default ``/tmp/mmvideo-bench``) a
folder of ``files`` MP4s of about ``seconds`` each: the eval clips, each scaled to fit 1280x720 (black bars,
display aspect kept) at 30 fps, joined in turn from a different starting clip per file, libx264 ``medium``
crf 23 (``preset``) with a keyframe exactly every ``gop_s`` seconds (``-force_key_frames`` by time, no scene-cut keyframes) and
AAC 128 kb/s stereo (clips without sound get silence). Nothing is written into the repository.

    .venv/bin/python benchmarks/footage.py --gop 2 --gop 10     # build both folders ahead of a run
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mmvideo.media.ffmpeg import ffmpeg_binary  # noqa: E402
from mmvideo.media.probe import probe  # noqa: E402

EVAL = REPO.parent / "shared" / "eval"


def cache_dir() -> Path:
    d = Path(os.environ.get("MMVIDEO_BENCH_CACHE", Path(tempfile.gettempdir()) / "mmvideo-bench"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_binary(), "-nostdin", "-v", "error", "-y", *args], check=True)


def eval_clips() -> list[Path]:
    """The labelled clips, in manifest order."""
    with open(EVAL / "MANIFEST.tsv", newline="") as fh:
        return [EVAL / r["file"] for r in csv.DictReader(fh, delimiter="\t")]


def _video_seconds(clip: Path) -> float | None:
    """The end of the video stream's last packet (s from its start), read with PyAV."""
    import av

    with av.open(str(clip)) as c:
        v = c.streams.video[0]
        ends = [float((p.pts + (p.duration or 0)) * v.time_base) for p in c.demux(v) if p.pts is not None]
        start = float(v.start_time * v.time_base) if v.start_time is not None else 0.0
    return max(ends) - start if ends else None


def _normalised(clip: Path) -> Path:
    """``clip`` as 1280x720 30 fps (near-lossless, fast) with a 48 kHz stereo track: parts that concat joins."""
    out = cache_dir() / "parts2" / (clip.parent.name + "__" + clip.stem + ".mkv")
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    info = probe(clip)
    vf = ("scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2,"
          "setsar=1,fps=30,format=yuv420p")
    video = ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "12"]
    audio = ["-c:a", "pcm_s16le", "-ar", "48000", "-ac", "2"]
    tmp = out.with_suffix(".part.mkv")
    # both streams end with the video: concat then joins the parts without holes in the video's timeline
    end = ["-t", f"{_video_seconds(clip) or info.duration:.3f}"]
    if info.audio:
        _ffmpeg("-i", str(clip), "-map", "0:v:0", "-map", "0:a:0", "-vf", vf, "-af", "aresample=48000,apad",
                *end, *video, *audio, str(tmp))
    else:
        _ffmpeg("-i", str(clip), "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-map", "0:v:0", "-map", "1:a",
                "-vf", vf, *end, *video, *audio, str(tmp))
    tmp.rename(out)
    return out


def make_folder(gop_s: float, *, files: int = 3, seconds: float = 150.0, preset: str = "medium") -> Path:
    """The folder of ``files`` joined clips of ``seconds`` each with a keyframe every ``gop_s`` seconds."""
    folder = cache_dir() / f"footage3-720p30-gop{gop_s:g}s-{files}x{seconds:g}s-{preset}"
    if folder.exists() and len(list(folder.glob("*.mp4"))) == files:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    parts = [(p, probe(p).duration or 0.0) for p in map(_normalised, eval_clips())]
    gop = round(gop_s * 30)
    for i in range(files):
        out = folder / f"joined-{i + 1}.mp4"
        if out.exists():
            continue
        order, total, k = [], 0.0, i * len(parts) // files  # each file starts at another clip
        while total < seconds:
            path, dur = parts[k % len(parts)]
            order.append(path)
            total += dur
            k += 1
        listing = folder / f".joined-{i + 1}.txt"
        listing.write_text("".join(f"file '{p}'\n" for p in order))
        tmp = out.with_name("." + out.name)
        print(f"encoding {out} (keyframe every {gop_s:g} s) ...", flush=True)
        # the parts' audio and video need not end together, so concat leaves holes in the video's timeline:
        # fps=30 fills them (constant rate), and keyframes are forced by time, not by frame count
        _ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-t", f"{seconds:g}", "-vf", "fps=30",
                "-c:v", "libx264", "-preset", preset, "-crf", "23", "-pix_fmt", "yuv420p",
                "-force_key_frames", f"expr:gte(t,n_forced*{gop_s:g})", "-g", str(gop + 1), "-sc_threshold", "0",
                "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-f", "mp4", str(tmp))
        tmp.rename(out)
        listing.unlink()
    return folder


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gop", type=float, action="append", default=None, help="keyframe interval, s (repeatable)")
    ap.add_argument("--files", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=150.0)
    ap.add_argument("--preset", default="medium", help="libx264 preset (medium; veryfast builds ~5x sooner)")
    a = ap.parse_args()
    for g in a.gop or [2.0]:
        print(make_folder(g, files=a.files, seconds=a.seconds, preset=a.preset))
