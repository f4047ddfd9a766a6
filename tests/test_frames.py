"""iter_frames: sampled frames carry the presentation time of the frame actually shown.

Synthetic clips whose pixels encode the source frame index (8 black/white stripes = 8 bits) are
encoded with libx264 defaults (B-frames on); each sampled frame's decoded index must be the frame the
clip shows at the reported timestamp. Real clips cover rotation, corruption and audio-only files.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from mmvideo.errors import FfmpegError, ParameterError
from mmvideo.media import frames as frames_mod
from mmvideo.media.ffmpeg import ffmpeg_binary
from mmvideo.media.frames import iter_frames
from mmvideo.media.probe import probe
from mmvideo.records import MediaInfo, VideoStreamInfo

BITS = 8
SRC_W, SRC_H = 160, 96


def index_picture(n: int) -> np.ndarray:
    """(SRC_H, SRC_W, 3) uint8: stripe i white when bit i of ``n`` is set."""
    bits = (n >> np.arange(BITS)) & 1
    row = np.repeat(bits * 255, SRC_W // BITS).astype(np.uint8)
    return np.broadcast_to(row[None, :, None], (SRC_H, SRC_W, 3)).copy()


def read_index(frame: np.ndarray) -> int:
    """The frame index a (H, W, 3) picture of ``index_picture`` shows, at any size."""
    h, w, _ = frame.shape
    centres = ((np.arange(BITS) + 0.5) * w / BITS).astype(int)
    band = frame[h // 4: 3 * h // 4, :, :].mean(axis=(0, 2))
    return int(sum(1 << i for i, x in enumerate(centres) if band[x] > 127))


Segments = list[tuple[int, Fraction, int]]  # (frames, start seconds, frames per second)


def segment_times(segments: Segments) -> list[Fraction]:
    """Presentation time of every frame of a clip made of constant-rate segments."""
    return [start + Fraction(n, rate) for count, start, rate in segments for n in range(count)]


def make_index_clip(path: Path, segments: Segments) -> list[Fraction]:
    """Encode frame n at ``segment_times(segments)[n]`` with libx264 defaults (B-frames on, CRF 23)."""
    tb = 3000  # every time used here is a multiple of 1/3000 s
    expr, first = "", 0
    for count, start, rate in segments:
        value = f"{int(start * tb)}+(N-{first})*{tb // rate}"
        expr = value if not expr else f"if(gte(N,{first}),{value},{expr})"
        first += count
    argv = [ffmpeg_binary(), "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
            "-s", f"{SRC_W}x{SRC_H}", "-r", "30", "-i", "pipe:",
            "-vf", f"settb=1/{tb},setpts='{expr}'", "-fps_mode", "passthrough", "-enc_time_base", f"1/{tb}",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-video_track_timescale", str(tb), str(path)]
    times = segment_times(segments)
    data = b"".join(index_picture(n).tobytes() for n in range(len(times)))
    subprocess.run(argv, input=data, check=True)
    return times


CFR: Segments = [(210, Fraction(0), 30)]  # 7 s at 30 fps
# 2 s at 30 fps, 2 s at 10 fps, 1.48 s at 25 fps, a 1.12 s gap, 1 s at 15 fps (ends 7.53 s)
VFR: Segments = [(60, Fraction(0), 30), (20, Fraction(2), 10), (37, Fraction(4), 25),
                 (15, Fraction(33, 5), 15)]


def test_index_picture_round_trip():
    assert [read_index(index_picture(n)) for n in (0, 1, 77, 128, 255)] == [0, 1, 77, 128, 255]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, tuple[Path, list[Fraction]]]:
    root = tmp_path_factory.mktemp("clips")
    out = {}
    for name, segments in (("cfr", CFR), ("vfr", VFR)):
        path = root / f"{name}.mp4"
        out[name] = (path, make_index_clip(path, segments))
    return out


def collect(stream) -> tuple[np.ndarray, np.ndarray]:
    chunks = list(stream)
    if not chunks:
        return np.zeros(0), np.zeros((0, 1, 1, 3), np.uint8)
    return (np.concatenate([c.timestamps for c in chunks]), np.concatenate([c.frames for c in chunks]))


@pytest.mark.parametrize("kind", ["cfr", "vfr"])
@pytest.mark.parametrize("fps", [1.0, 2.0])
def test_timestamps_are_the_times_of_the_frames_shown(clips, kind, fps):
    path, times = clips[kind]
    info = probe(path)
    stamps, pictures = collect(iter_frames(path, info, fps=fps, size=(64, 48), chunk_frames=5))

    assert stamps.dtype == np.float64 and pictures.dtype == np.uint8
    assert pictures.shape[1:] == (48, 64, 3)
    # one frame per 1/fps bin that holds a source frame, in order
    bins = np.floor(stamps * fps).astype(int)
    expected_bins = sorted({math.floor(t * fps) for t in times})
    assert bins.tolist() == expected_bins
    for ts, picture in zip(stamps, pictures):
        n = read_index(picture)
        shown = float(times[n])
        nxt = float(times[n + 1]) if n + 1 < len(times) else shown + 1 / 30
        # the picture is the frame shown at ts: exact pts, well inside one source frame
        assert abs(ts - shown) < 1e-6, (kind, fps, ts, n, shown)
        assert ts < nxt
        # it is (one of) the first frames of its bin: at most the 3 B-frames of x264's default are skipped
        skipped = [t for t in times if math.floor(t * fps) == math.floor(ts * fps) and t < shown]
        assert len(skipped) <= 3


def test_fps_above_the_source_rate_keeps_every_frame(clips):
    path, times = clips["vfr"]
    stamps, pictures = collect(iter_frames(path, probe(path), fps=1000.0, size=(32, 16)))
    # -skip_frame noref drops non-reference frames, but every kept one is the frame at its time
    assert 0.5 * len(times) < len(stamps) <= len(times)
    assert all(abs(float(times[read_index(p)]) - t) < 1e-6 for t, p in zip(stamps, pictures))


def test_chunks_hold_chunk_frames_each(clips):
    path, _ = clips["cfr"]
    chunks = list(iter_frames(path, probe(path), fps=2.0, size=(32, 32), chunk_frames=4))
    assert [len(c) for c in chunks] == [4, 4, 4, 2]
    assert all(c.frames.shape == (len(c), 32, 32, 3) for c in chunks)


def test_retry_without_skip_frame_when_no_frame_survives(clips, monkeypatch):
    """Encoders that mark every frame non-reference: stand in with -skip_frame all (no frame decodes)."""
    path, times = clips["cfr"]
    real = frames_mod.frame_args

    def nothing_survives(path, info, **kw):  # the GOP-prefix path (chain=) decodes noref too: it yields nothing
        args = real(path, info, **kw)
        if kw.get("skip_nonref", True):
            args[args.index("noref")] = "all"
        return args

    monkeypatch.setattr(frames_mod, "frame_args", nothing_survives)
    stream = iter_frames(path, probe(path), fps=1.0, size=(32, 32))
    stamps, pictures = collect(stream)
    assert len(stamps) == 7
    assert [read_index(p) for p in pictures] == [30 * k for k in range(7)]  # every frame decodes now
    assert any("skip_frame" in w for w in stream.warnings)


def test_pad_keeps_proportions_and_squash_fills(clips):
    path, _ = clips["cfr"]  # 160x96 = 5:3
    info = probe(path)
    _, padded = collect(iter_frames(path, info, fps=1.0, size=(100, 100), aspect="pad"))
    _, squashed = collect(iter_frames(path, info, fps=1.0, size=(100, 100)))
    rows = padded[-1].max(axis=(1, 2)) > 0  # frame 180 has white stripes: content rows are not black
    lit = np.flatnonzero(padded[1:].max(axis=(0, 2, 3)) > 0)
    assert rows.sum() == pytest.approx(60, abs=2)  # 100 * 3/5 rows of picture, centred
    assert abs(np.flatnonzero(rows)[0] - (100 - rows.sum()) // 2) <= 1
    assert lit.size > 0
    assert squashed.shape == padded.shape == (7, 100, 100, 3)
    assert [read_index(p) for p in squashed] == [read_index(p[20:80]) for p in padded]


def upright_reference(path: Path, size: tuple[int, int]) -> np.ndarray:
    """The first frame as ffmpeg shows it by default (autorotate on), squashed to ``size``."""
    w, h = size
    argv = [ffmpeg_binary(), "-nostdin", "-v", "error", "-i", str(path), "-frames:v", "1",
            "-vf", f"scale={w}:{h}", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:"]
    raw = subprocess.run(argv, capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3)


@pytest.mark.parametrize("name, rotation", [("metadata-extractor/with-gps.mov", 270),
                                            ("moviepy/fire2.mp4", 180)])
def test_rotation_matches_ffmpeg_autorotate(shared_media, name, rotation):
    path = shared_media / name
    info = probe(path)
    assert info.video.rotation == rotation
    size = (90, 160) if rotation == 270 else (160, 90)
    first = next(iter(iter_frames(path, info, fps=1.0, size=size))).frames[0].astype(float)
    ref = upright_reference(path, size).astype(float)
    diff = np.abs(first - ref).mean()
    assert diff < 12  # same picture (our decode skips the loop filter)
    wrong = np.abs(np.rot90(first, 2) - ref).mean()  # upside down would look this different
    assert wrong > 2 * diff


def test_portrait_phone_clip_is_portrait_when_padded(shared_media):
    path = shared_media / "metadata-extractor/with-gps.mov"  # 568x320 coded, rotation -90
    frame = next(iter(iter_frames(path, probe(path), fps=1.0, aspect="pad"))).frames[0]
    cols = np.flatnonzero(frame.max(axis=(0, 2)) > 16)
    rows = np.flatnonzero(frame.max(axis=(1, 2)) > 16)
    width, height = cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1
    assert height == 224 and width == pytest.approx(224 * 320 / 568, abs=3)


def test_audio_only_file_yields_no_frames(shared_media):
    path = shared_media / "whisper/jfk.flac"
    info = probe(path)
    assert info.video is None
    assert list(iter_frames(path, info)) == []


def test_corrupt_file_yields_decodable_frames_and_warns(shared_media, caplog):
    path = shared_media / "decord/corrupted.mp4"
    stream = iter_frames(path, probe(path), fps=2.0)
    with caplog.at_level("WARNING", logger="mmvideo.media"):
        stamps, _ = collect(stream)
    assert 8 <= len(stamps) <= 10 and 4.0 <= stamps[-1] < 5.0
    assert np.all(np.diff(stamps) > 0)
    assert stream.warnings and "Invalid NAL unit size" in stream.warnings[0]
    assert any("Invalid NAL unit size" in r.getMessage() for r in caplog.records)


def test_interlaced_camera_clip_starts_after_the_presentation_start(shared_media):
    path = shared_media / "metadata-extractor/Sony ILCE-7M3 (A7M3).mts"
    info = probe(path)  # container starts at 1.04 s (audio), video at 1.12 s
    assert info.start_time == pytest.approx(1.04) and info.video.interlaced
    args = frames_mod.frame_args(path, info)
    assert any("yadif" in a for a in args)
    stamps, pictures = collect(iter_frames(path, info, fps=25.0, size=(64, 36)))
    assert stamps[0] == pytest.approx(0.08)
    assert np.all(np.diff(stamps) > 0) and stamps[-1] < info.duration
    assert pictures.std() > 10  # a real picture, not a blank


def comb_score(frame: np.ndarray) -> float:
    """How much each line differs from its neighbours relative to lines two apart (combing: > 1)."""
    y = frame.astype(float).mean(axis=-1)
    odd_even = np.abs(y[1:-1] - (y[:-2] + y[2:]) / 2).mean()
    same_field = np.abs(y[2:-2] - (y[:-4] + y[4:]) / 2).mean()
    return odd_even / same_field


def test_interlaced_frames_are_deinterlaced(shared_media):
    path = shared_media / "metadata-extractor/Sony ILCE-7M3 (A7M3).mts"  # 1080i50, camera moving
    info = probe(path)
    as_progressive = dataclasses.replace(
        info, video=dataclasses.replace(info.video, interlaced=False, field_order="progressive"))
    _, woven = collect(iter_frames(path, as_progressive, fps=25.0, size=(480, 1080)))
    _, clean = collect(iter_frames(path, info, fps=25.0, size=(480, 1080)))
    assert len(woven) == len(clean) > 3
    combed = [comb_score(f) for f in woven]
    smooth = [comb_score(f) for f in clean]
    assert np.mean(combed) > 0.95 and max(smooth) < 0.7  # ~1.1 woven fields vs ~0.63 deinterlaced
    assert all(s < c for s, c in zip(smooth, combed))


def test_ffmpeg_failure_is_one_line_error(tmp_path):
    bad = tmp_path / "not-a-video.mp4"
    bad.write_bytes(b"this is not a video\n" * 100)
    info = MediaInfo(path=str(bad), container="mp4", duration=1.0, duration_source="container",
                     video=VideoStreamInfo(index=0, codec="h264", width=64, height=64,
                                           avg_fps=Fraction(25)))
    with pytest.raises(FfmpegError) as err:
        list(iter_frames(bad, info))
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    assert "Invalid data" in err.value.cause


def test_awkward_file_name(clips, tmp_path):
    src, _ = clips["cfr"]
    odd = tmp_path / "-leading dash 'single' \"double\" ünïcödé 日本.mp4"
    shutil.copy(src, odd)
    stamps, _ = collect(iter_frames(odd, probe(odd), fps=1.0, size=(32, 32)))
    assert len(stamps) == 7


def _ffmpeg_children() -> list[str]:
    """State letters of this process's ffmpeg children (zombies included)."""
    states = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        comm_end = stat.rindex(")")
        comm = stat[stat.index("(") + 1:comm_end]
        state, ppid = stat[comm_end + 2:].split()[:2]
        if int(ppid) == os.getpid() and comm.startswith("ffmpeg"):
            states.append(state)
    return states


@pytest.mark.parametrize("how", ["close", "with", "drop"])
def test_stopping_early_ends_ffmpeg(clips, how):
    path, _ = clips["vfr"]
    info = probe(path)
    assert _ffmpeg_children() == []
    stream = iter_frames(path, info, fps=1000.0, size=(64, 64), chunk_frames=1)
    if how == "with":
        with stream:
            next(stream)
            assert _ffmpeg_children()  # still running, blocked on the full pipe
    else:
        next(stream)
        assert _ffmpeg_children()
        if how == "close":
            stream.close()
        else:
            del stream
    assert _ffmpeg_children() == []


@pytest.mark.parametrize("kwargs", [dict(fps=0), dict(fps=float("nan")), dict(size=(0, 10)),
                                    dict(size=(10.5, 10)), dict(chunk_frames=0), dict(aspect="crop")])
def test_bad_arguments(clips, kwargs):
    path, _ = clips["cfr"]
    with pytest.raises(ParameterError, match="Received"):
        iter_frames(path, probe(path), **kwargs)
