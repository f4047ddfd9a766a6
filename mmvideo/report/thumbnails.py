"""Segment thumbnails: one small JPEG per segment, from the segment's middle, written atomically.

One ffmpeg process per video (per ``MAX_INPUTS`` segments): the file is opened once per wanted time with an
input ``-ss`` (a seek to the keyframe before, then decode to the exact time), so a thumbnail costs a seek and
a few frames, not a decode of the whole video. ffmpeg applies the display rotation when decoding (autorotate)
and the scale uses the display aspect ratio, so thumbnails look as the video does in a player.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from mmvideo.errors import ParameterError
from mmvideo.media.ffmpeg import input_url, run_ffmpeg

WIDTH = 160  # pixels; the height follows the display aspect ratio (even, at least 2)
MAX_INPUTS = 32  # seeks per ffmpeg process: bounds its open decoders (memory) on long videos
QUALITY = "5"  # mjpeg -q:v (2 best .. 31 worst); ~5 KB per 160x90 picture


def thumbnail_name(segment: int) -> str:
    """File name of a segment's thumbnail inside a video's thumbnail folder."""
    return f"{int(segment)}.jpg"


def _scale(width: int) -> str:
    # dar = display aspect ratio after autorotate; setsar=1 makes the pixels square
    return f"scale=w={width}:h='max(2,trunc({width}/dar/2)*2)':out_range=full,setsar=1,format=yuvj420p"


def _argv(url: str, times: Sequence[float], outputs: Sequence[Path], width: int) -> list[str]:
    args: list[str] = []
    for t in times:
        args += ["-threads", "1", "-ss", f"{t:.3f}", "-i", url]
    for j, out in enumerate(outputs):
        args += ["-map", f"{j}:v:0", "-frames:v", "1", "-vf", _scale(width), "-an", "-sn", "-dn",
                 "-c:v", "mjpeg", "-q:v", QUALITY, "-f", "image2", "-update", "1", "-y", str(out)]
    return args


def write_segment_thumbnails(video_path: str, segments: list[tuple[int, float, float]], dest_dir: Path,
                             width: int = WIDTH) -> list[Path]:
    """Write ``dest_dir/<segment>.jpg`` for each (segment, start, end) from its middle; returns the files made.

    Raises ``MediaError`` (``FfmpegError``) naming ``video_path`` when ffmpeg fails; a segment with no
    picture at its time (past the last frame) is left out of the result.
    """
    if width < 2:
        raise ParameterError(f"width must be at least 2. Received: width={width}")
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    url = input_url(video_path)
    written: list[Path] = []
    for i in range(0, len(segments), MAX_INPUTS):
        batch = segments[i:i + MAX_INPUTS]
        finals = [dest_dir / thumbnail_name(seg) for seg, _, _ in batch]
        temps = [d.with_name(f".{d.name}.tmp-{os.getpid()}.jpg") for d in finals]
        times = [max(0.0, (float(a) + float(b)) / 2) for _, a, b in batch]
        try:
            run_ffmpeg(_argv(url, times, temps, width), video_path, stage="thumbnails",
                       timeout=30 + 5 * len(batch))
            for tmp, final in zip(temps, finals):
                if tmp.is_file() and tmp.stat().st_size > 0:
                    os.replace(tmp, final)
                    written.append(final)
        finally:
            for tmp in temps:
                if tmp.exists():
                    tmp.unlink()
    return written
