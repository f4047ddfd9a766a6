"""Speech to text: Whisper tiny.en transcribes real speech onto the video timeline; silence never reaches it."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from mmvideo.errors import ParameterError
from mmvideo.extras import speech
from mmvideo.extras.speech import SpeechToText, transcribe
from mmvideo.models import store
from mmvideo.records import AudioChunk
from mmvideo.media.audio import iter_audio
from mmvideo.media.probe import probe

SR = 16000

PHRASE = "ask not what your country can do for you"


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", text.lower()).split())


@pytest.fixture(scope="module")
def models() -> None:
    results = store.fetch(["whisper_tiny_en"])  # silero_vad comes along (required)
    assert {r.name for r in results} == {"whisper_tiny_en", "silero_vad"}
    assert all(r.ok for r in results), [r.error for r in results]


@pytest.fixture(scope="module")
def jfk_path(shared_media: Path) -> Path:
    return shared_media / "whisper" / "jfk.flac"


@pytest.fixture(scope="module")
def jfk(jfk_path: Path) -> np.ndarray:
    """The speech as (n,) float32 16 kHz mono, through the media layer."""
    with iter_audio(str(jfk_path), probe(jfk_path)) as chunks:
        return np.concatenate([c.samples for c in chunks])


@pytest.fixture
def no_whisper(monkeypatch):
    """Whisper must not even be loaded."""
    def refuse(*args, **kwargs):
        raise AssertionError("Whisper was loaded for audio without speech")
    monkeypatch.setattr(speech, "load_whisper", refuse)


@pytest.mark.slow
def test_real_speech_is_transcribed(models, jfk_path):
    with iter_audio(str(jfk_path), probe(jfk_path), chunk_seconds=4.0) as chunks:  # as `mmvideo run` feeds it
        cues = transcribe(chunks)
    assert cues
    assert PHRASE in normalise(" ".join(c.text for c in cues))
    for c in cues:
        assert c.source == "asr" and c.language == "en"
        assert 0.0 <= c.start <= c.end <= 11.0


@pytest.mark.slow
def test_chunked_stream_lands_on_the_video_timeline(models, jfk):
    # 20 s of silence, then the speech, cut into 3 s chunks starting at 600 s: cues fall in 620..631 s
    audio = np.concatenate([np.zeros(20 * SR, np.float32), jfk])
    stt = SpeechToText()
    cues = []
    for i in range(0, audio.shape[0], 3 * SR):
        cues += stt.push(AudioChunk(600.0 + i / SR, audio[i:i + 3 * SR]))
    cues += stt.finish()
    assert PHRASE in normalise(" ".join(c.text for c in cues))
    assert all(619.9 <= c.start <= c.end <= 631.0 for c in cues), cues
    assert cues[0].start < 621.0  # "And so" starts ~0.3 s into the speech
    assert stt.model_calls == 1  # the short phrases shared one 30 s window
    assert all(619.9 <= r0 < r1 <= 631.0 for r0, r1 in stt.regions)


@pytest.mark.parametrize("kind", ["silence", "tone"])
def test_no_speech_no_cues_and_no_model(kind, no_whisper):
    store.fetch(["silero_vad"])
    t = np.arange(10 * SR) / SR
    audio = (np.zeros_like(t) if kind == "silence" else 0.4 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)
    stt = SpeechToText()
    cues = []
    for i in range(0, audio.shape[0], 4 * SR):
        cues += stt.push(AudioChunk(i / SR, audio[i:i + 4 * SR]))
    cues += stt.finish()
    assert cues == []
    assert stt.regions == [] and stt.model_calls == 0
    assert transcribe(audio) == []


def test_rejects_audio_the_model_cannot_take(no_whisper):
    stt = SpeechToText()
    with pytest.raises(ParameterError, match="16000"):
        stt.push(AudioChunk(0.0, np.zeros(16000, np.float32), sample_rate=44100))
    with pytest.raises(ParameterError, match="1-D"):
        transcribe(np.zeros((2, 16000), np.float32))
    with pytest.raises(ParameterError, match="beam_size"):
        SpeechToText(beam_size=0)


def test_missing_model_is_a_setup_error(tmp_path, monkeypatch):
    from mmvideo.errors import SetupError

    monkeypatch.setenv("MMVIDEO_HOME", str(tmp_path))
    with pytest.raises(SetupError, match="mmvideo models fetch whisper_tiny_en"):
        speech.load_whisper()


@pytest.mark.slow
def test_film_dialogue_matches_its_captions(models, shared_media: Path):
    # friday.mp4: five caption lines in 6 s of 1940 film sound; tiny.en gets the later ones
    path = shared_media / "mdn" / "friday.mp4"
    with iter_audio(str(path), probe(path)) as chunks:
        cues = transcribe(chunks)
    text = normalise(" ".join(c.text for c in cues))
    assert "bad humor" in text and "stolen the crown" in text
    assert "universe" in text
    assert all(0.0 <= c.start <= c.end <= 6.2 for c in cues)
