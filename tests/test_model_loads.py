"""Models load once per run, not once per video: speech-to-text on a three-video folder."""

from __future__ import annotations

import subprocess

import pytest

from mmvideo.config import RunConfig
from mmvideo.engines.local import run_local
from mmvideo.media.ffmpeg import ffmpeg_binary
from mmvideo.pipeline.analyze import Pipeline
from mmvideo.progress import Reporter
from mmvideo.write.read import read_table

pytestmark = pytest.mark.slow


def test_speech_loads_whisper_and_the_vad_once_for_three_videos(real_models, shared_media, tmp_path, monkeypatch):
    from mmvideo.extras import speech, vad
    from mmvideo.models.store import fetch

    fetch(["whisper_tiny_en", "silero_vad"])
    folder = tmp_path / "talks"
    folder.mkdir()
    for i, start in enumerate((0.0, 3.0, 6.0)):  # three different clips of real speech, no subtitles
        subprocess.run([ffmpeg_binary(), "-nostdin", "-v", "error", "-ss", str(start), "-t", "4", "-i",
                        str(shared_media / "whisper" / "jfk.flac"), "-ac", "1", str(folder / f"talk{i}.wav")],
                       check=True)
    loads = {"whisper": 0, "vad": 0}
    real_load, real_init = speech.load_whisper, vad.SileroModel.__init__

    def counting_load(*args, **kwargs):
        loads["whisper"] += 1
        return real_load(*args, **kwargs)

    def counting_init(self, *args, **kwargs):
        loads["vad"] += 1
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(speech, "load_whisper", counting_load)
    monkeypatch.setattr(vad.SileroModel, "__init__", counting_init)
    config = RunConfig(speech=True)
    summary = run_local([folder], tmp_path / "out", config, Pipeline(config), Reporter(quiet=True))
    assert summary.done == 3
    assert loads == {"whisper": 1, "vad": 1}
    texts = [r["text"] for r in read_table(tmp_path / "out").to_pylist()]
    assert sum(bool(t) for t in texts) >= 3  # every clip was transcribed
