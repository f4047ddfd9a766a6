#!/usr/bin/env python3
"""Regenerate the demo clips in ``samples/`` (and ``samples/README.md``) from material packages ship.

Pictures: public-domain / CC0 photos inside the scikit-image wheel (``skimage.data``, no download).
Motion: a slow Ken Burns pan or zoom per photo (ffmpeg ``zoompan``), 640x360, 25 fps, H.264 + AAC.
Sound: narration spoken by eSpeak NG when ``espeak-ng`` is on PATH (``apt-get install -y espeak-ng``),
otherwise a synthesised tone melody in the same time slots. Subtitles carry the narration text with the
measured speech times: a sidecar for some clips, an embedded track (subrip in MKV, mov_text in MP4) for
others. The committed clips are what users get; this script is only for regeneration:

    .venv/bin/python scripts/make_samples.py            # writes samples/
    .venv/bin/python scripts/make_samples.py --out /tmp/s --no-speech
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mmvideo.media.ffmpeg import input_url, run_ffmpeg  # noqa: E402

WIDTH, HEIGHT, FPS = 640, 360, 25
SPEECH_RATE = 22050  # espeak-ng's native rate; AAC is encoded at 44.1 kHz mono
WORK_SCALE = 3  # zoompan works on a 3x larger picture so its integer crop steps do not jitter


@dataclass(frozen=True)
class Photo:
    """A picture from ``skimage.data`` with the facts samples/README.md needs."""

    loader: str  # skimage.data function
    shows: str
    credit: str
    licence: str
    focus_y: float = 0.5  # vertical centre of the 16:9 crop, as a fraction of the height


PHOTOS = {
    "chelsea": Photo("chelsea", "Chelsea the cat (tabby cat, close-up)", "Stefan van der Walt",
                     "CC0 (skimage.data.chelsea docstring)", 0.45),
    "coffee": Photo("coffee", "a cup of coffee on a saucer, wooden table", "Rachel Michetti, courtesy of "
                    "Pikolo Espresso Bar", "CC0 (skimage.data.coffee docstring)", 0.5),
    "rocket": Photo("rocket", "Falcon 9 rocket on the launch pad at dusk (DSCOVR launch)", "SpaceX",
                    "public domain (skimage.data.rocket docstring)", 0.5),
    "astronaut": Photo("astronaut", "astronaut Eileen Collins in a flight suit, US flag", "NASA",
                       "public domain (skimage.data.astronaut docstring)", 0.32),
    "hubble_deep_field": Photo("hubble_deep_field", "Hubble eXtreme Deep Field: galaxies on black",
                               "NASA/ESA HubbleSite", "public domain (skimage.data.hubble_deep_field "
                               "docstring)", 0.5),
}


@dataclass(frozen=True)
class Shot:
    photo: str
    seconds: float
    motion: str  # zoom_in, zoom_out, pan_right, pan_left, tilt_up
    lines: tuple[str, ...]  # narration, spoken one after the other from 0.4 s into the shot


@dataclass(frozen=True)
class Clip:
    name: str  # file stem
    container: str  # mp4 or mkv
    shots: tuple[Shot, ...]
    subtitles: str  # "sidecar-srt", "sidecar-vtt", "embedded" (subrip in mkv, mov_text in mp4) or "none"
    subtitle_language: str = "en"
    music_bed: bool = False  # a quiet synthesised melody under the narration

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.shots)


CLIPS = (
    Clip("cat", "mp4", (Shot("chelsea", 6.0, "zoom_in", ("This is a cat.", "Her name is Chelsea.")),),
         subtitles="sidecar-srt"),
    Clip("coffee", "mkv", (Shot("coffee", 6.0, "pan_right", ("A cup of coffee on a wooden table.",)),),
         subtitles="embedded", music_bed=True),
    Clip("rocket", "mp4", (Shot("rocket", 5.0, "tilt_up", ("A rocket waits on the launch pad.",)),),
         subtitles="embedded"),
    Clip("three_shots", "mp4", (Shot("astronaut", 2.4, "zoom_in", ("An astronaut.",)),
                                Shot("hubble_deep_field", 2.4, "zoom_out", ("Distant galaxies.",)),
                                Shot("chelsea", 2.4, "pan_left", ("And a cat.",))),
         subtitles="sidecar-vtt"),
)


# --- pictures -------------------------------------------------------------------------------------

def photo_png(name: str, folder: Path) -> Path:
    """The photo cropped to 16:9 and enlarged ``WORK_SCALE`` x 640x360, saved as PNG."""
    import skimage.data
    from skimage.io import imsave
    from skimage.transform import resize

    photo = PHOTOS[name]
    img = getattr(skimage.data, photo.loader)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    h, w = img.shape[:2]
    ch = min(h, round(w * 9 / 16))
    cw = min(w, round(ch * 16 / 9))
    top = int(np.clip(photo.focus_y * h - ch / 2, 0, h - ch))
    left = (w - cw) // 2
    crop = img[top:top + ch, left:left + cw, :3]
    big = resize(crop, (HEIGHT * WORK_SCALE, WIDTH * WORK_SCALE, 3), order=3, anti_aliasing=False)
    out = folder / f"{name}.png"
    imsave(out, (np.clip(big, 0, 1) * 255).round().astype(np.uint8), check_contrast=False)
    return out


def zoompan_args(motion: str, frames: int) -> dict[str, str]:
    """zoompan expressions for one still: ``on`` is the output frame number, 0..frames-1."""
    t = f"(on/{max(frames - 1, 1)})"
    centre_x, centre_y = "(iw-iw/zoom)/2", "(ih-ih/zoom)/2"
    table = {
        "zoom_in": (f"1+0.25*{t}", centre_x, centre_y),
        "zoom_out": (f"1.25-0.25*{t}", centre_x, centre_y),
        "pan_right": ("1.3", f"(iw-iw/zoom)*{t}", centre_y),
        "pan_left": ("1.3", f"(iw-iw/zoom)*(1-{t})", centre_y),
        "tilt_up": ("1.3", centre_x, f"(ih-ih/zoom)*(1-{t})"),
    }
    z, x, y = table[motion]
    return {"z": z, "x": x, "y": y, "d": str(frames), "s": f"{WIDTH}x{HEIGHT}", "fps": str(FPS)}


# --- sound ----------------------------------------------------------------------------------------

def speak(text: str, folder: Path, index: int) -> np.ndarray | None:
    """Speech for ``text`` as float32 mono at SPEECH_RATE, silence trimmed; None without espeak-ng."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    wav = folder / f"line{index}.wav"
    subprocess.run([exe, "-v", "en-us", "-s", "150", "-w", str(wav), text], check=True, capture_output=True)
    with wave.open(str(wav)) as w:
        assert w.getframerate() == SPEECH_RATE and w.getnchannels() == 1 and w.getsampwidth() == 2
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    loud = np.flatnonzero(np.abs(pcm) > 0.01)
    return pcm[loud[0]:loud[-1] + 1] if loud.size else pcm


def melody(seconds: float, seed: int, gain: float = 0.3) -> np.ndarray:
    """A few plucked notes of a pentatonic scale (the fallback 'voice' and the coffee clip's bed)."""
    rng = np.random.default_rng(seed)
    scale = 440.0 * 2 ** (np.array([0, 2, 4, 7, 9, 12]) / 12)
    note = 0.25
    out = np.zeros(int(seconds * SPEECH_RATE), np.float32)
    t = np.arange(int(note * SPEECH_RATE)) / SPEECH_RATE
    env = np.exp(-t * 8).astype(np.float32)
    for k in range(int(seconds / note)):
        f = rng.choice(scale)
        tone = (np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t)).astype(np.float32) * env
        start = k * len(t)
        out[start:start + len(t)] = tone[: len(out) - start]
    return out * gain / 1.3


def narration(clip: Clip, folder: Path, speech: bool) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """The clip's audio track and its cues ``(start, end, text)`` in seconds, from the measured speech."""
    audio = np.zeros(int(round(clip.seconds * SPEECH_RATE)), np.float32)
    cues: list[tuple[float, float, str]] = []
    shot_start = 0.0
    n = 0
    for shot in clip.shots:
        at = shot_start + 0.4
        for line in shot.lines:
            voice = speak(line, folder, n) if speech else None
            if voice is None:
                voice = melody(0.5 + 0.3 * len(line.split()), seed=n)
            i = int(round(at * SPEECH_RATE))
            end = at + len(voice) / SPEECH_RATE
            if end > shot_start + shot.seconds:
                raise SystemExit(f"{clip.name}: narration '{line}' does not fit its {shot.seconds} s shot")
            audio[i:i + len(voice)] += voice
            cues.append((round(at, 3), round(end, 3), line))
            at = end + 0.3
            n += 1
        shot_start += shot.seconds
    if clip.music_bed:
        audio += melody(clip.seconds, seed=99, gain=0.06)[: len(audio)]
    return np.clip(audio, -1, 1), cues


def write_wav(samples: np.ndarray, path: Path) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SPEECH_RATE)
        w.writeframes((samples * 32767).round().astype("<i2").tobytes())


def write_subtitles(cues: list[tuple[float, float, str]], path: Path) -> None:
    import pysubs2

    subs = pysubs2.SSAFile()
    for start, end, text in cues:
        subs.append(pysubs2.SSAEvent(start=round(start * 1000), end=round(end * 1000), text=text))
    subs.save(str(path), format_="vtt" if path.suffix == ".vtt" else "srt")


# --- clips ----------------------------------------------------------------------------------------

def make_clip(clip: Clip, out_dir: Path, work: Path, speech: bool
              ) -> tuple[list[Path], list[tuple[float, float, str]]]:
    """Encode one clip (and its sidecar); returns the files written to ``out_dir`` and the cues."""
    import ffmpeg

    audio, cues = narration(clip, work, speech)
    wav = work / f"{clip.name}.wav"
    write_wav(audio, wav)
    srt = work / f"{clip.name}.srt"
    write_subtitles(cues, srt)

    parts = []
    for k, shot in enumerate(clip.shots):
        frames = int(round(shot.seconds * FPS))
        if abs(frames - shot.seconds * FPS) > 1e-9:
            raise SystemExit(f"{clip.name}: a {shot.seconds} s shot is not a whole number of frames at {FPS} fps")
        png = photo_png(shot.photo, work)
        parts.append(ffmpeg.input(input_url(png)).video
                     .filter("zoompan", **zoompan_args(shot.motion, frames))
                     .filter("setsar", "1"))
    video = parts[0] if len(parts) == 1 else ffmpeg.concat(*parts, v=1, a=0)
    video = video.filter("format", "yuv420p")
    streams = [video, ffmpeg.input(input_url(wav)).audio]
    lang3 = {"en": "eng"}.get(clip.subtitle_language, clip.subtitle_language)
    extra: dict[str, str] = {}
    if clip.subtitles == "embedded":
        streams.append(ffmpeg.input(input_url(srt))["s"])
        extra = {"c:s": "mov_text" if clip.container == "mp4" else "srt", "metadata:s:s:0": f"language={lang3}",
                 "disposition:s:0": "default"}
    target = out_dir / f"{clip.name}.{clip.container}"
    out = ffmpeg.output(
        *streams, input_url(target),
        **{"c:v": "libx264", "preset": "slow", "crf": "27", "profile:v": "main", "g": str(2 * FPS),
           "c:a": "aac", "b:a": "64k", "ar": "44100", "ac": "1", "metadata:s:a:0": f"language={lang3}",
           "map_metadata": "-1", "fflags": "+bitexact", "flags:v": "+bitexact", "flags:a": "+bitexact",
           "t": f"{clip.seconds:g}", **extra,
           **({"movflags": "+faststart"} if clip.container == "mp4" else {})},
    ).overwrite_output()
    argv = out.compile(cmd="ffmpeg")[1:]  # run_ffmpeg adds the binary and -nostdin -v error
    run_ffmpeg(argv, target, stage="samples")
    written = [target]
    if clip.subtitles == "sidecar-srt":
        written.append(out_dir / f"{clip.name}.{clip.subtitle_language}.srt")
        shutil.copyfile(srt, written[-1])
    elif clip.subtitles == "sidecar-vtt":
        written.append(out_dir / f"{clip.name}.{clip.subtitle_language}.vtt")
        write_subtitles(cues, written[-1])
    return written, cues


def readme(clips_and_cues: list[tuple[Clip, list[tuple[float, float, str]]]], sizes: dict[str, int],
           speech: bool) -> str:
    """samples/README.md: every file, what it shows and sounds like, its source and licence."""
    voice = ("speech synthesised with eSpeak NG (voice en-us, 150 words/min)" if speech
             else "a synthesised tone melody (no eSpeak NG on the machine that made them)")
    out = ["# Sample clips", "",
           "Short demo clips for `mmvideo` (`mmvideo probe samples`, the quick start, the demo).",
           "Made by `scripts/make_samples.py` (do not edit by hand: rerun it). Every clip is a slow pan or",
           f"zoom over still photos, {WIDTH}x{HEIGHT}, {FPS} fps, H.264 (main) + AAC mono 44.1 kHz, with {voice};",
           "the subtitles carry the narration text at the measured speech times.", "",
           "| file | size | what it shows | what it sounds like | subtitles |", "|---|---|---|---|---|"]
    for clip, cues in clips_and_cues:
        shows, t0 = [], 0.0
        for shot in clip.shots:
            shows.append(f"{t0:g}-{t0 + shot.seconds:g} s: {PHOTOS[shot.photo].shows} ({shot.motion.replace('_', ' ')})")
            t0 += shot.seconds
        hears = "; ".join(f'"{text}" ({a:.2f}-{b:.2f} s)' for a, b, text in cues)
        if clip.music_bed:
            hears += "; a quiet plucked melody underneath"
        fname = f"{clip.name}.{clip.container}"
        if clip.subtitles == "embedded":
            kind = "mov_text" if clip.container == "mp4" else "subrip"
            subs = f"embedded {kind} track (stream 2, language eng)"
        elif clip.subtitles.startswith("sidecar"):
            subs = f"sidecar `{clip.name}.{clip.subtitle_language}.{clip.subtitles[-3:]}`"
        else:
            subs = "none"
        out.append(f"| `{fname}` | {sizes[fname] / 1024:.0f} KB | {'<br>'.join(shows)} | {hears} | {subs} |")
        if clip.subtitles.startswith("sidecar"):
            side = f"{clip.name}.{clip.subtitle_language}.{clip.subtitles[-3:]}"
            out.append(f"| `{side}` | {sizes[side] / 1024:.1f} KB | subtitles of `{fname}` | | |")
    cuts = []
    for clip, _ in clips_and_cues:
        if len(clip.shots) > 1:
            t, at = 0.0, []
            for shot in clip.shots[:-1]:
                t += shot.seconds
                at.append(f"{t:g} s")
            cuts.append(f"`{clip.name}.{clip.container}` has hard cuts at {', '.join(at)} (ground truth for "
                        "shot detection).")
    out += ["", *cuts, "", "## Sources and licences", "",
            "Photos come from the scikit-image wheel (`skimage.data`, bundled files, no download); their",
            "licences are stated in each loader's docstring in `skimage/data/_fetchers.py`:", "",
            "| photo | credit | licence |", "|---|---|---|"]
    used = sorted({s.photo for c, _ in clips_and_cues for s in c.shots})
    for name in used:
        p = PHOTOS[name]
        out.append(f"| `skimage.data.{p.loader}()` | {p.credit} | {p.licence} |")
    out += ["", "The narration is synthesised by eSpeak NG (a GPL-3.0-or-later program used here as a tool; "
            "the generated audio is not part of it). The melodies are synthesised by the script.",
            "The clips, sidecars and this README are released under CC0 1.0: use them freely.", ""]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "samples")
    ap.add_argument("--no-speech", action="store_true", help="tone melody instead of eSpeak NG speech")
    args = ap.parse_args()
    speech = not args.no_speech and shutil.which("espeak-ng") is not None
    if not args.no_speech and not speech:
        print("espeak-ng not found: using tone melodies instead of speech", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    done = []
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="mmvideo-samples-") as tmp:
        for clip in CLIPS:
            work = Path(tmp) / clip.name
            work.mkdir()
            files, cues = make_clip(clip, args.out, work, speech)
            done.append((clip, cues))
            for f in files:
                sizes[f.name] = f.stat().st_size
                print(f"{f.relative_to(args.out.parent) if f.is_relative_to(args.out.parent) else f}: "
                      f"{f.stat().st_size / 1024:.0f} KB")
    (args.out / "README.md").write_text(readme(done, sizes, speech))
    print(f"total {sum(sizes.values()) / 2**20:.2f} MiB in {len(sizes)} files")


if __name__ == "__main__":
    main()
