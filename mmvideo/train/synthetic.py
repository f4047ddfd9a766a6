"""Generated clips whose labels are known: a colour, a sound and a subtitle each (ffmpeg lavfi, no downloads).

``make_clips(folder, copies)`` writes ``copies`` clips of every (colour, sound) pair, each with a sidecar
``.srt`` (an advert line, a weather line or none, in turn) and a ``labels.csv`` of ``video,start,end,label``
rows, so the training loop (``mmvideo run --evidence`` -> ``train`` -> ``evaluate``) can be shown and tested
on data whose truth is known. Six labels:

- ``goal``: red picture AND a 1 kHz beep (shades and pitches vary a little from clip to clip) (picture and sound together: red + silence and blue + beep are not);
- ``calm blue``: blue picture AND silence;
- ``red``: the picture alone; ``beep``: the sound alone;
- ``advert``, ``weather``: the subtitles alone.

``python -m mmvideo.train.synthetic DIR [COPIES]`` writes them from the command line.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

COLOURS = {"red": (230, 20, 20), "blue": (20, 30, 220), "green": (30, 200, 40)}  # RGB, varied a little per clip
SOUNDS = {"beep": 1000.0, "hum": 220.0, "silence": 0.0}  # Hz, varied a little per clip (0: silence)
TEXTS = {"advert": "Buy now! Big sale on shoes, only this week in our shop.",
         "weather": "Tomorrow brings rain in the north and sunshine in the south.",
         "": ""}
LABELS = ("goal", "calm blue", "red", "beep", "advert", "weather")


@dataclass(frozen=True)
class Clip:
    """One generated clip: its file, what it shows, sounds and says, and its labels."""

    path: Path
    colour: str
    sound: str
    text: str  # "advert", "weather" or "" (no subtitles)

    @property
    def labels(self) -> tuple[str, ...]:
        out = []
        if self.colour == "red" and self.sound == "beep":
            out.append("goal")
        if self.colour == "blue" and self.sound == "silence":
            out.append("calm blue")
        if self.colour == "red":
            out.append("red")
        if self.sound == "beep":
            out.append("beep")
        if self.text:
            out.append(self.text)
        return tuple(out)


def _srt(text: str, seconds: float) -> str:
    end = f"00:00:{int(seconds):02d},{int(round((seconds % 1) * 1000)):03d}"
    return f"1\n00:00:00,000 --> {end}\n{text}\n"


def make_clip(path: Path, colour: str, sound: str, text: str, *, seconds: float = 3.0, size: int = 64,
              variant: int = 0) -> Clip:
    """Write one clip (H.264 + AAC in MP4, ``size`` px square, 4 fps) and its sidecar ``.srt`` when ``text``.

    ``variant`` shifts the shade (up to +-20 per channel) and the pitch (up to +-3 %), so copies of one
    (colour, sound) pair are different videos (equal files would be one content id)."""
    from mmvideo.media.ffmpeg import ffmpeg_binary

    path.parent.mkdir(parents=True, exist_ok=True)
    shift = (variant * 7) % 41 - 20
    r, g, b = (min(255, max(0, c + shift)) for c in COLOURS[colour])
    hz = SOUNDS[sound] * (1 + ((variant * 3) % 13 - 6) / 200)
    audio = (f"sine=frequency={hz:.1f}:sample_rate=16000:duration={seconds}" if hz
             else "anullsrc=channel_layout=mono:sample_rate=16000")
    cmd = [ffmpeg_binary(), "-nostdin", "-v", "error", "-y",
           "-f", "lavfi", "-i", f"color=c=0x{r:02x}{g:02x}{b:02x}:s={size}x{size}:r=4:d={seconds}",
           "-f", "lavfi", "-i", audio,
           "-t", str(seconds), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "32k",
           "-shortest", str(path)]
    subprocess.run(cmd, check=True, capture_output=True)
    if text:
        path.with_suffix(".srt").write_text(_srt(TEXTS[text], seconds), encoding="utf-8")
    return Clip(path, colour, sound, text)


def make_clips(folder: Path | str, copies: int = 5, *, seconds: float = 3.0, prefix: str = "clip") -> list[Clip]:
    """``copies`` clips of each colour x sound pair (9 pairs) into ``folder``, texts in turn, and
    ``folder/labels.csv`` (one row per clip and label, spanning the whole clip). Returns the clips."""
    folder = Path(folder)
    clips = []
    texts = list(TEXTS)
    n = 0
    for copy in range(copies):
        for colour in COLOURS:
            for sound in SOUNDS:
                text = texts[(n + copy) % len(texts)]
                clips.append(make_clip(folder / f"{prefix}{n:03d}_{colour}_{sound}.mp4", colour, sound, text,
                                       seconds=seconds, variant=copy))
                n += 1
    with open(folder / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["video", "start", "end", "label"])
        for c in clips:
            for label in c.labels:
                out.writerow([c.path.name, 0.0, seconds, label])
    return clips


if __name__ == "__main__":  # pragma: no cover - a convenience for the README's example
    made = make_clips(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 5)
    print(f"{len(made)} clips and labels.csv in {sys.argv[1]}")
