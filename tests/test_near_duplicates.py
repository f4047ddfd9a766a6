"""Near-duplicates on real clips: copies (re-encoded, half size, trimmed by 2 s, other audio) of clips of
../shared/eval are grouped with their source, and no two different clips are, even behind a common black intro."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmvideo.media.ffmpeg import ffmpeg_binary
from mmvideo.modalities.signature import dhash
from mmvideo.near_duplicates import Signature, match

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
SOURCES = ("sam2/01_dog.mp4", "face_recognition/short_hamilton_clip.mp4", "dvr-scan/traffic_camera.mp4",
           "video-llama/applausing.mp4")
COPIES = {  # name -> ffmpeg output options applied to the intro'd source
    "reencoded": ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "38"],
    "half": ["-vf", "scale=iw/2:ih/2", "-c:v", "libx264", "-preset", "ultrafast"],
    "trimmed": ["-ss", "2", "-c:v", "libx264", "-preset", "ultrafast"],
}


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_binary(), "-nostdin", "-v", "error", "-y", *args], check=True)


def _with_intro(src: Path, dst: Path) -> None:
    """A 3 s black intro, then the clip (picture only), at 320x240 25 fps."""
    _ffmpeg("-f", "lavfi", "-i", "color=black:s=320x240:r=25:d=3", "-i", str(src), "-filter_complex",
            "[1:v]scale=320:240,fps=25,setsar=1[c];[0:v][c]concat=n=2:v=1[v]", "-map", "[v]",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(dst))


def test_flat_frames_have_no_signature_and_one_frame_is_no_match():
    frames = np.zeros((3, 64, 64, 3), np.uint8)
    assert dhash(frames).tolist() == [0, 0, 0]
    rng = np.random.default_rng(1)
    one = Signature("a", "a", np.arange(5.0), np.array([0, 0, 0, 0, 7], np.uint64))
    other = Signature("b", "b", np.arange(5.0), np.array([0, 0, 0, 0, 7], np.uint64))
    assert match(one, other) is None  # a single shared frame (and black) is not a duplicate
    seq = rng.integers(1, 2**63, 12, dtype=np.int64).astype(np.uint64)
    a = Signature("a", "a", np.arange(12.0), seq)
    b = Signature("b", "b", np.arange(10.0), seq[2:] ^ np.uint64(0b101))  # trimmed by 2 s, 2 bits off
    m = match(a, b)
    assert m is not None and m.frames == 10 and m.range_a == (2.0, 11.0) and m.range_b == (0.0, 9.0)


@pytest.mark.slow
def test_copies_group_with_their_source_and_different_clips_stay_apart(tmp_path):
    if not EVAL.is_dir():
        pytest.skip(f"labelled clips not found at {EVAL}")
    folder = tmp_path / "library"
    folder.mkdir()
    clips = sorted(p for p in EVAL.rglob("*") if p.suffix in (".mp4", ".mkv", ".avi", ".webm"))
    names = {}
    for i, src in enumerate(clips):
        dst = folder / f"clip{i:02d}.mp4"
        _with_intro(src, dst)
        names[str(src.relative_to(EVAL))] = dst
    expected: dict[str, str] = {}
    for s, rel in enumerate(SOURCES):
        base = names[rel]
        for kind, options in COPIES.items():
            out = folder / f"copy{s}-{kind}.mp4"
            _ffmpeg("-i", str(base), *options, "-an", str(out))
            expected[out.name] = base.name
        out = folder / f"copy{s}-audio.mp4"  # the same picture with other sound
        _ffmpeg("-i", str(base), "-f", "lavfi", "-i", "sine=frequency=440:duration=60", "-map", "0:v", "-map", "1:a",
                "-c:v", "copy", "-c:a", "aac", "-shortest", str(out))
        expected[out.name] = base.name
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "mmvideo", "run", str(folder), "--out", str(out), "--quiet",
                          "--disable", "image,audio,text,faces"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    found = subprocess.run([sys.executable, "-m", "mmvideo", "duplicates", str(out), "--json"],
                           capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    groups = [{Path(v["path"]).name for v in json.loads(line)["videos"]} for line in found.stdout.splitlines()]
    for copy, source in expected.items():
        assert any({copy, source} <= g for g in groups), (copy, source, groups)
    for g in groups:
        sources = {n for n in g if n.startswith("clip")}
        assert len(sources) == 1, f"different clips grouped: {sorted(g)}"
