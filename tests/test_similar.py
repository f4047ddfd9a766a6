"""More like this: `mmvideo search OUT --like VIDEO@SECONDS` and `--image FILE` on a real run of samples/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mmvideo.errors import ParameterError
from mmvideo.media.ffmpeg import ffmpeg_binary
from mmvideo.similar import parse_like

pytestmark = pytest.mark.slow


def _search(out: Path, *args: str) -> list[dict]:
    result = subprocess.run([sys.executable, "-m", "mmvideo", "search", str(out), *args, "--json", "-k", "20"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture(scope="module")
def samples_out(real_models, samples_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("like") / "out"
    result = subprocess.run([sys.executable, "-m", "mmvideo", "run", str(samples_dir), "--out", str(out),
                             "--segment", "2", "--quiet"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return out


def test_like_ranks_the_segment_and_its_neighbours_first(samples_out):
    hits = _search(samples_out, "--like", "coffee.mkv@2.5")
    assert (Path(hits[0]["path"]).name, hits[0]["segment"]) == ("coffee.mkv", 1)  # the segment itself
    assert hits[0]["score"] == pytest.approx(1.0, abs=1e-4)
    coffee = [h["segment"] for h in hits if Path(h["path"]).name == "coffee.mkv"]
    first = [Path(h["path"]).name for h in hits[:len(coffee)]]
    assert first == ["coffee.mkv"] * len(coffee)  # then its neighbours, before any other video
    videos = _search(samples_out, "--like", "coffee.mkv@2.5", "--videos")
    assert Path(videos[0]["path"]).name == "coffee.mkv" and len(videos) == 4


def test_image_ranks_the_clip_of_a_saved_frame_first(samples_out, samples_dir, tmp_path):
    frame = tmp_path / "frame.png"
    subprocess.run([ffmpeg_binary(), "-nostdin", "-v", "error", "-ss", "2", "-i", str(samples_dir / "rocket.mp4"),
                    "-frames:v", "1", str(frame)], check=True)
    hits = _search(samples_out, "--image", str(frame), "--videos")
    assert Path(hits[0]["path"]).name == "rocket.mp4", hits
    by_image = _search(samples_out, "--image", str(frame), "--modality", "image")
    assert Path(by_image[0]["path"]).name == "rocket.mp4" and by_image[0]["matched"] == "image"


def test_like_and_query_errors(samples_out):
    with pytest.raises(ParameterError, match="VIDEO@SECONDS"):
        parse_like("coffee.mkv")
    both = subprocess.run([sys.executable, "-m", "mmvideo", "search", str(samples_out), "a cup", "--like", "x@1"],
                          capture_output=True, text=True)
    assert both.returncode == 2 and "exactly one of" in both.stderr
    missing = subprocess.run([sys.executable, "-m", "mmvideo", "search", str(samples_out), "--like", "nope.mp4@1"],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr.strip().endswith(f"nope.mp4: no such video in {samples_out}")
