"""``mmvideo demux``: frames named by index and time, streamed WAV, cues, info; atomic output; exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner

from mmvideo.errors import MediaError
from test_frames import VFR, make_index_clip, read_index


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mmvideo", "demux", *args], capture_output=True, text=True)


def leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


def wav_seconds(path: Path) -> tuple[float, int, int]:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate(), w.getframerate(), w.getnchannels()


def test_friday_writes_frames_audio_cues_and_info(shared_media, tmp_path):
    out = tmp_path / "friday"
    proc = run_cli(str(shared_media / "mdn/friday.mp4"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr

    index = json.loads((out / "frames/index.json").read_text())
    assert [e["index"] for e in index] == list(range(1, 8))  # 6.17 s at 1 fps: one frame per second
    for e in index:
        assert int(e["timestamp"]) == e["index"] - 1
        assert e["file"] == f"frames/{e['index']:06d}_t{e['timestamp']:.3f}.jpg"
        picture = cv2.imread(str(out / e["file"]))
        assert picture.shape == (224, 224, 3)
    assert sorted(p.name for p in (out / "frames").iterdir()) == sorted(
        [Path(e["file"]).name for e in index] + ["index.json"])

    seconds, rate, channels = wav_seconds(out / "audio.wav")
    assert (rate, channels) == (16000, 1) and seconds == pytest.approx(6.17, abs=0.03)

    tracks = json.loads((out / "cues.json").read_text())
    assert [t["source"] for t in tracks] == ["sidecar:friday.vtt"]
    assert tracks[0]["cues"][0]["text"] == "Hildy!" and len(tracks[0]["cues"]) == 5

    info = json.loads((out / "info.json").read_text())
    assert info["path"].endswith("friday.mp4") and info["duration"] == pytest.approx(6.17, abs=0.01)
    assert info["demux_warnings"] == []
    assert leftovers(tmp_path) == []


def test_frame_files_show_the_frame_at_their_timestamp(tmp_path):
    clip = tmp_path / "vfr.mp4"
    times = make_index_clip(clip, VFR)
    out = tmp_path / "out"
    proc = run_cli(str(clip), "--out", str(out), "--fps", "2", "--size", "64", "--aspect", "pad",
                   "--image-format", "png")
    assert proc.returncode == 0, proc.stderr
    index = json.loads((out / "frames/index.json").read_text())
    assert len(index) == len({int(t * 2) for t in times})
    for e in index:
        bgr = cv2.imread(str(out / e["file"]))
        n = read_index(bgr[14:50])  # 160x96 padded into 64x64: picture rows 13..51
        assert float(times[n]) == pytest.approx(e["timestamp"], abs=1e-6)
    assert not (out / "audio.wav").exists()  # the clip has no audio


def test_audio_only_file(shared_media, tmp_path):
    out = tmp_path / "jfk"
    proc = run_cli(str(shared_media / "whisper/jfk.flac"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "frames/index.json").read_text()) == []
    assert wav_seconds(out / "audio.wav")[0] == pytest.approx(11.0, abs=0.03)


def test_bad_video_is_one_line_exit_1_and_no_output(shared_media, tmp_path):
    bad = shared_media / "matroska/unknown_sized_non_master_element.mkv"
    out = tmp_path / "bad"
    proc = run_cli(str(bad), "--out", str(out))
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{bad}: " in lines[0]
    assert not out.exists() and leftovers(tmp_path) == []


def test_failure_midway_leaves_nothing(shared_media, tmp_path, monkeypatch):
    """Frames and audio are written, then the cues fail: neither DIR nor the temporary folder remains."""
    import mmvideo.media.subtitles as subtitles
    from mmvideo.cli.demux import demux

    def broken(path, info):
        raise MediaError(path, "subtitle stream is damaged")

    monkeypatch.setattr(subtitles, "read_subtitles", broken)
    out = tmp_path / "out"
    result = CliRunner().invoke(demux, [str(shared_media / "mdn/friday.mp4"), "--out", str(out)])
    assert isinstance(result.exception, MediaError) and "subtitle stream is damaged" in str(result.exception)
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("args, message", [(["--aspect", "crop"], "--aspect"), (["--fps", "0"], "--fps"),
                                           (["--size", "8"], "--size"), ([], "--out")])
def test_usage_errors_exit_2(shared_media, tmp_path, args, message):
    argv = [str(shared_media / "mdn/friday.mp4"), *args]
    if args:
        argv += ["--out", str(tmp_path / "o")]
    proc = run_cli(*argv)
    assert proc.returncode == 2 and message in proc.stderr


def test_existing_output_needs_overwrite(shared_media, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("keep me unless --overwrite")
    video = str(shared_media / "moviepy/fire2.mp4")
    proc = run_cli(video, "--out", str(out))
    assert proc.returncode == 2 and "--overwrite" in proc.stderr
    assert (out / "old.txt").exists()

    proc = run_cli(video, "--out", str(out), "--overwrite", "--fps", "4")
    assert proc.returncode == 0, proc.stderr
    assert not (out / "old.txt").exists()
    assert len(json.loads((out / "frames/index.json").read_text())) == 10  # 2.38 s at 4 fps
    assert leftovers(tmp_path) == []


def test_demux_checks_the_settings_it_shares_with_run(tmp_path):
    """fps, frame size and aspect follow RunConfig's rules from the Python API too, not only from the CLI."""
    from mmvideo.cli.demux import DemuxConfig
    from mmvideo.errors import ParameterError

    with pytest.raises(ParameterError, match=r"^fps must be a number > 0 and <= 60\. Received: fps=0$"):
        DemuxConfig(video="v.mp4", out=str(tmp_path), fps=0)
    with pytest.raises(ParameterError, match=r"^frame_size must be an integer from 32 to 1024"):
        DemuxConfig(video="v.mp4", out=str(tmp_path), frame_size=4096)
    assert DemuxConfig(video="v.mp4", out=str(tmp_path), fps=2).fps == 2.0
