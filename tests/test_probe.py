"""probe(): real clips for what only real cameras produce, generated clips for exact known answers."""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner

from mmvideo.cli import cli
from mmvideo.errors import MediaError
from mmvideo.media.probe import probe, sniff

SONY = "metadata-extractor/Sony ILCE-7M3 (A7M3).mts"


def make_clip(path: Path, *, frames: int = 10, fps: int = 10, size: tuple[int, int] = (64, 48),
              rotation: float | None = None, audio: bool = False) -> Path:
    """Encode a tiny MPEG-4 clip (grey ramp frames) with an optional display rotation and PCM audio."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        astream = out.add_stream("pcm_s16le", rate=16000, layout="mono") if audio else None
        for i in range(frames):
            img = np.full((size[1], size[0], 3), i * 20 % 256, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if astream is not None:
            samples = np.zeros((1, 16000 * frames // fps), dtype=np.int16)
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            frame.sample_rate = 16000
            for packet in astream.encode(frame):
                out.mux(packet)
            for packet in astream.encode():
                out.mux(packet)
    return path


# --- real clips ----------------------------------------------------------------------------------

def test_friday_mp4(shared_media):
    info = probe(shared_media / "mdn/friday.mp4")
    assert info.container.startswith("mov,mp4")
    assert info.duration == pytest.approx(6.17, abs=0.01)
    assert info.duration_source == "container"
    v = info.video
    assert (v.codec, v.width, v.height, v.avg_fps, v.rotation) == ("h264", 640, 480, Fraction(30), 0)
    assert v.frame_count == 185 and v.interlaced is False and not v.variable_frame_rate
    assert [(a.codec, a.sample_rate, a.channels) for a in info.audio] == [("aac", 44100, 2)]
    assert info.subtitles == () and info.attached_pictures == () and info.warnings == ()


def test_iphone_portrait_rotation_is_270_ccw(shared_media):
    info = probe(shared_media / "metadata-extractor/with-gps.mov")
    v = info.video
    assert (v.width, v.height) == (568, 320)
    assert v.rotation == 270  # ffprobe: rotation=-90
    assert v.display_size == (320, 568)  # portrait
    assert v.variable_frame_rate  # r_frame_rate 30000/1001, avg 72000/2401
    assert len(info.audio) == 1  # the two GPS data tracks are not audio/video


def test_fire2_rotation_180_and_vfr(shared_media):
    v = probe(shared_media / "moviepy/fire2.mp4").video
    assert v.rotation == 180
    assert v.display_size == (1280, 720)
    assert v.variable_frame_rate
    assert v.frame_count == 25
    assert float(v.avg_fps) == pytest.approx(25 / 2.38, rel=0.01)


def test_webm_without_header_duration_is_measured(shared_media):
    info = probe(shared_media / "moviepy/no_duration.webm")
    assert info.duration_source == "packets"
    assert info.duration == pytest.approx(4.94, abs=0.05)  # last video packet ends at 4.938 s
    assert any("packet scan" in w for w in info.warnings)
    assert info.video.codec == "vp9" and info.audio[0].codec == "opus"


def test_audio_only_flac(shared_media):
    info = probe(shared_media / "whisper/jfk.flac")
    assert info.video is None and not info.has_video and info.attached_pictures == ()
    assert [(a.codec, a.sample_rate, a.channels) for a in info.audio] == [("flac", 44100, 2)]
    assert info.duration == pytest.approx(11.0, abs=0.01)


def test_mp3_cover_art_is_not_video(shared_media):
    info = probe(shared_media / "moviepy/with-attached-pic.mp3")
    assert info.video is None
    assert [(p.codec, p.width, p.height) for p in info.attached_pictures] == [("mjpeg", 1618, 1381)]
    assert info.audio[0].codec == "mp3"  # codec name, not the decoder's "mp3float"


def test_sony_avchd_interlaced_with_bitmap_subtitles(shared_media):
    info = probe(shared_media / SONY)
    v = info.video
    assert (v.codec, v.width, v.height) == ("h264", 1920, 1080)
    assert v.interlaced is True and v.field_order == "tt"
    assert v.avg_fps == 25 and not v.variable_frame_rate  # r_frame_rate 50 is the field rate
    assert info.start_time == pytest.approx(1.04)
    assert info.duration == pytest.approx(0.544, abs=0.01)
    [sub] = info.subtitles
    assert (sub.codec, sub.is_text) == ("hdmv_pgs_subtitle", False)


def test_mkv_text_subtitles_with_languages(shared_media):
    info = probe(shared_media / "mediabunny/test-mkv-multi.mkv")
    assert [(s.codec, s.language, s.is_text) for s in info.subtitles] == [
        ("subrip", "eng", True), ("ass", "spa", True)]
    assert [s.title for s in info.subtitles] == ["English SRT", "Spanish ASS"]


def test_mov_text_subtitles(shared_media):
    [sub] = probe(shared_media / "mediabunny/test-mp4-tx3g.mp4").subtitles
    assert (sub.codec, sub.language, sub.is_text) == ("mov_text", "eng", True)


@pytest.mark.parametrize("name, words", [
    ("exiftool/Pentax.avi", ["truncated", "no decodable video frames", "600"]),
    ("exiftool/DV.dv", ["truncated", "144000 bytes"]),
    ("matroska/unknown_sized_non_master_element.mkv", ["invalid data", ".mkv"]),
])
def test_broken_files_give_one_line_media_error(shared_media, name, words):
    with pytest.raises(MediaError) as err:
        probe(shared_media / name)
    text = str(err.value)
    assert text.startswith(str(shared_media / name) + ": ")
    assert "\n" not in text
    for word in words:
        assert word in err.value.cause
    assert err.value.stage == "probe"


def test_mostly_decodable_corrupt_mp4_probes(shared_media):
    info = probe(shared_media / "decord/corrupted.mp4")
    assert (info.video.width, info.video.height, info.video.frame_count) == (1280, 720, 50)
    assert info.duration == pytest.approx(5.0)


def test_subtitle_file_is_not_media(shared_media):
    with pytest.raises(MediaError, match="no audio or video"):
        probe(shared_media / "mdn/friday.vtt")
    assert not sniff(shared_media / "mdn/friday.vtt")
    assert sniff(shared_media / "mdn/friday.mp4")


# --- generated clips -----------------------------------------------------------------------------

@pytest.mark.parametrize("written, expected", [(0, 0), (90, 90), (-90, 270), (180, 180), (270, 270)])
def test_rotation_is_normalised_counter_clockwise(tmp_path, written, expected):
    info = probe(make_clip(tmp_path / "r.mp4", rotation=written))
    assert info.video.rotation == expected
    assert info.video.display_size == ((48, 64) if expected in (90, 270) else (64, 48))


def test_generated_clip_known_answers(tmp_path):
    info = probe(make_clip(tmp_path / "c.mov", frames=20, fps=10, audio=True))
    v = info.video
    assert (v.codec, v.width, v.height, v.avg_fps, v.frame_count) == ("mpeg4", 64, 48, Fraction(10), 20)
    assert info.duration == pytest.approx(2.0, abs=0.05)
    assert [(a.codec, a.sample_rate, a.channels) for a in info.audio] == [("pcm_s16le", 16000, 1)]


@pytest.mark.parametrize("content, suffix, cause", [
    (b"", ".mp4", "empty file"),
    (bytes(range(256)) * 64, ".mp4", "invalid data: damaged .mp4 file"),
    (bytes(range(256)) * 64, ".xyz", "not a media file"),
])
def test_not_media_files(tmp_path, content, suffix, cause):
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(content)
    with pytest.raises(MediaError) as err:
        probe(path)
    assert cause in err.value.cause


def test_missing_and_directory(tmp_path):
    with pytest.raises(MediaError, match="file not found"):
        probe(tmp_path / "nope.mp4")
    with pytest.raises(MediaError, match="is a directory"):
        probe(tmp_path)


def test_truncated_mp4_is_probed_with_a_warning(tmp_path, shared_media):
    data = (shared_media / "mdn/friday.mp4").read_bytes()
    path = tmp_path / "half.mp4"
    path.write_bytes(data[: len(data) // 2])  # friday.mp4 has its index (moov) first: it still opens
    info = probe(path)
    assert info.duration == pytest.approx(6.166)  # what the header claims
    [warning] = info.warnings
    stop = float(warning.split("stops at ")[1].split(" s")[0])
    assert 2.0 < stop < 4.0 and warning.endswith("of 6.17 s")  # ~ half of the data
    assert probe(shared_media / "mdn/friday.mp4").warnings == ()


def test_latin1_tags_do_not_fail_the_file(tmp_path):
    path = tmp_path / "latin.mkv"
    with av.open(str(path), "w", metadata_encoding="latin-1") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        out.metadata["title"] = "café"
        for packet in stream.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), "rgb24")):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    assert probe(path).video.codec == "mpeg4"
    assert sniff(path)


def test_odd_names_are_opened_as_files(tmp_path):
    for name in ["-dash.mp4", "with space 'quote'.mp4", "colon:name.mp4", "ünï©ødé.mp4"]:
        assert probe(make_clip(tmp_path / name)).video.width == 64


# --- CLI -----------------------------------------------------------------------------------------

def _invoke(*args: str):
    return CliRunner().invoke(cli, ["probe", *args])


def test_cli_table(shared_media):
    result = _invoke(str(shared_media / "mdn/friday.mp4"), str(shared_media / "moviepy/fire2.mp4"))
    assert result.exit_code == 0, result.output
    assert "friday.mp4" in result.stdout and "fire2.mp4" in result.stdout
    assert "h264 640x480 30 fps" in result.stdout
    assert "rot 180" in result.stdout
    assert result.stderr == ""


def test_cli_json_lines(shared_media):
    result = _invoke("--json", str(shared_media / "mdn/friday.mp4"), str(shared_media / "whisper/jfk.flac"))
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(r["path"]).name for r in records] == ["friday.mp4", "jfk.flac"]
    friday, jfk = records
    assert friday["video"]["avg_fps"] == "30/1" and friday["video"]["display_size"] == [640, 480]
    assert friday["duration"] == pytest.approx(6.166) and len(friday["content_id"]) == 20
    assert jfk["video"] is None and jfk["audio"][0]["codec"] == "flac"


def test_cli_one_error_line_for_a_bad_file_among_good_ones(tmp_path, shared_media):
    shutil.copy(shared_media / "mdn/friday.mp4", tmp_path / "a.mp4")
    shutil.copy(shared_media / "exiftool/Pentax.avi", tmp_path / "b.avi")
    make_clip(tmp_path / "c.mp4")
    result = _invoke("--json", str(tmp_path))
    assert result.exit_code == 1
    cause = "file is truncated: no decodable video frames (the header promises 600)"
    assert result.stderr.splitlines() == [f"{tmp_path / 'b.avi'}: {cause}"]
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(r["path"]).name for r in records] == ["a.mp4", "b.avi", "c.mp4"]
    assert "error" in records[1] and "error" not in records[0]


def test_cli_usage_errors(tmp_path):
    result = _invoke(str(tmp_path / "missing"))
    assert result.exit_code == 2 and "does not exist" in result.stderr
    (tmp_path / "notes.txt").write_text("hello")
    result = _invoke(str(tmp_path))
    assert result.exit_code == 2 and "no media files found" in result.stderr
    assert "Traceback" not in result.output
    assert _invoke().exit_code == 2
