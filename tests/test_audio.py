"""iter_audio: 16 kHz mono float32 chunks, contiguous, on the same timeline as the frames."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from mmvideo.errors import ParameterError
from mmvideo.media.audio import iter_audio
from mmvideo.media.ffmpeg import ffmpeg_binary
from mmvideo.media.frames import iter_frames
from mmvideo.media.probe import probe
from test_frames import _ffmpeg_children

SR = 16000


def samples_of(stream) -> tuple[list, np.ndarray]:
    chunks = list(stream)
    return chunks, np.concatenate([c.samples for c in chunks])


def make_flash_beep_clip(path: Path, *, audio_delay: float, event: float = 3.0) -> None:
    """6 s of black video that turns white at ``event`` s, and a 440 Hz tone starting at ``event`` s
    on an audio stream that itself starts ``audio_delay`` s after the video."""
    argv = [ffmpeg_binary(), "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-i", "color=c=black:s=64x48:r=25:d=6,"
                                 f"drawbox=x=0:y=0:w=64:h=48:color=white:t=fill:enable='gte(t,{event})'",
            "-itsoffset", str(audio_delay),
            "-f", "lavfi", "-i", f"aevalsrc='0.5*sin(2*PI*440*t)*gte(t,{event - audio_delay})':s=44100:d=5",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(argv, check=True)


@pytest.mark.parametrize("suffix", [".ts", ".mp4"])
def test_audio_and_frames_share_the_presentation_timeline(tmp_path, suffix):
    path = tmp_path / f"flash-beep{suffix}"
    make_flash_beep_clip(path, audio_delay=0.5)
    info = probe(path)
    if suffix == ".ts":
        assert info.start_time > 1.0  # the MPEG-TS muxer starts its clock at 1.4 s

    chunks, audio = samples_of(iter_audio(path, info, chunk_seconds=1.0))
    onset = np.flatnonzero(np.abs(audio) > 0.1)[0] / SR
    assert onset == pytest.approx(3.0, abs=0.01)
    assert np.abs(audio[: int(0.45 * SR)]).max() < 1e-3  # silence padded before the audio starts
    assert len(audio) / SR == pytest.approx(5.5, abs=0.05)

    stamps = np.concatenate([c.timestamps for c in iter_frames(path, info, fps=25.0, size=(8, 8))])
    pictures = np.concatenate([c.frames for c in iter_frames(path, info, fps=25.0, size=(8, 8))])
    flash = stamps[np.flatnonzero(pictures.mean(axis=(1, 2, 3)) > 128)[0]]
    assert flash == pytest.approx(onset, abs=0.041)  # within one 25 fps video frame


def test_friday_whole_track_in_contiguous_chunks(shared_media):
    path = shared_media / "mdn/friday.mp4"  # AAC stereo 44.1 kHz, 6.17 s
    info = probe(path)
    stream = iter_audio(path, info, chunk_seconds=2.0)
    chunks, audio = samples_of(stream)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) / SR == pytest.approx(6.17, abs=0.03)
    assert [len(c.samples) for c in chunks[:-1]] == [2 * SR] * (len(chunks) - 1)
    assert all(c.sample_rate == SR for c in chunks)
    assert [c.start for c in chunks] == [0.0] + [c.end for c in chunks[:-1]]
    assert np.abs(audio).max() <= 1.0 and np.sqrt(np.mean(audio ** 2)) > 0.01  # speech, not silence
    assert stream.warnings == []


def test_audio_only_flac(shared_media):
    path = shared_media / "whisper/jfk.flac"
    _, audio = samples_of(iter_audio(path, probe(path), sample_rate=8000))
    assert len(audio) / 8000 == pytest.approx(11.0, abs=0.03)


def test_no_audio_stream_gives_none(tmp_path):
    path = tmp_path / "silent.mp4"
    subprocess.run([ffmpeg_binary(), "-v", "error", "-f", "lavfi", "-i", "color=s=32x32:d=1",
                    "-c:v", "libx264", str(path)], check=True)
    assert iter_audio(path, probe(path)) is None


def test_stopping_early_ends_ffmpeg(shared_media):
    path = shared_media / "whisper/jfk.flac"
    stream = iter_audio(path, probe(path), chunk_seconds=0.05)
    first = next(stream)
    assert first.start == 0.0 and len(first.samples) == 800
    assert _ffmpeg_children()
    stream.close()
    assert _ffmpeg_children() == []


@pytest.mark.parametrize("kwargs", [dict(sample_rate=0), dict(sample_rate=16000.0),
                                    dict(chunk_seconds=0), dict(chunk_seconds=float("inf"))])
def test_bad_arguments(shared_media, kwargs):
    path = shared_media / "whisper/jfk.flac"
    with pytest.raises(ParameterError, match="Received"):
        iter_audio(path, probe(path), **kwargs)


class _EndedPipe:
    """What finish_stream reads of a finished FfmpegPipe: its error lines and the error it raises."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors

    def error(self):
        from mmvideo.errors import FfmpegError

        return FfmpegError("clip.mp4", self.errors[-1] if self.errors else "ffmpeg failed")


def test_end_of_stream_rule_raises_warns_or_passes(caplog):
    """One rule for frames and audio: a failure with nothing read raises, after some output warns."""
    from mmvideo.errors import FfmpegError
    from mmvideo.media.stream_end import finish_stream

    with pytest.raises(FfmpegError, match="moov atom not found"):
        finish_stream(_EndedPipe(["moov atom not found"]), 1, [], "clip.mp4", produced=None, damaged="x")
    warnings: list[str] = []
    with caplog.at_level("WARNING", logger="mmvideo.media"):
        finish_stream(_EndedPipe(["Invalid data"]), 1, warnings, "clip.mp4", produced="3 frames", damaged="x")
        finish_stream(_EndedPipe(["bad NAL"]), 0, warnings, "clip.mp4", produced="3 frames",
                      damaged="decode errors, some frames may be missing")
        finish_stream(_EndedPipe([]), 0, warnings, "clip.mp4", produced="3 frames", damaged="x")
    assert warnings == ["ffmpeg stopped after 3 frames: Invalid data",
                        "decode errors, some frames may be missing: bad NAL"]
    assert [r.getMessage() for r in caplog.records] == [f"clip.mp4: {w}" for w in warnings]
