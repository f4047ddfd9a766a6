"""Silero VAD: speech regions on real speech, nothing on silence, tones or noise; streaming == one shot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmvideo.errors import ParameterError
from mmvideo.extras.vad import SAMPLE_RATE, SileroModel, VoiceActivity, chunk_regions, speech_regions
from mmvideo.media.audio import iter_audio
from mmvideo.media.probe import probe
from mmvideo.models import store
from mmvideo.records import AudioChunk

SR = SAMPLE_RATE


def decode_16k(path: Path) -> np.ndarray:
    """All audio of ``path`` as (n,) float32 16 kHz mono, through the media layer."""
    with iter_audio(str(path), probe(path)) as chunks:
        return np.concatenate([c.samples for c in chunks])


@pytest.fixture(scope="module")
def vad_model() -> SileroModel:
    results = store.fetch(["silero_vad"])
    assert all(r.ok for r in results), [r.error for r in results]
    return SileroModel()


@pytest.fixture(scope="module")
def jfk(shared_media: Path) -> np.ndarray:
    return decode_16k(shared_media / "whisper" / "jfk.flac")


def regions_of(samples: np.ndarray, model: SileroModel, **kw) -> list[tuple[float, float]]:
    vad = VoiceActivity(model=model, **kw)
    return vad.push(samples) + vad.finish()


def check_well_formed(regions, lo: float, hi: float) -> None:
    for (a0, a1), (b0, _) in zip(regions, regions[1:]):
        assert a1 <= b0, regions  # in order, never overlapping
    for r0, r1 in regions:
        assert lo <= r0 < r1 <= hi + 1e-6, regions


def test_real_speech_has_regions_with_pauses(jfk, vad_model):
    assert jfk.shape[0] == pytest.approx(11.0 * SR, abs=SR // 100)
    regions = regions_of(jfk, vad_model)
    check_well_formed(regions, 0.0, 11.0)
    # JFK speaks from ~0.3 s to ~10.6 s with audible pauses between phrases
    assert len(regions) >= 2
    assert regions[0][0] < 1.0 and regions[-1][1] > 9.5
    speech = sum(r1 - r0 for r0, r1 in regions)
    assert 6.0 < speech < 10.5


def test_speech_placed_in_silence_is_found_where_it_was_put(jfk, vad_model):
    audio = np.zeros(30 * SR, dtype=np.float32)
    audio[12 * SR: 12 * SR + jfk.shape[0]] = jfk
    regions = regions_of(audio, vad_model, start=100.0)  # timeline starts at 100 s
    assert regions
    check_well_formed(regions, 112.0 - 0.1, 123.0 + 0.1)
    shifted = np.array(regions) - 112.0
    alone = np.array(regions_of(jfk, vad_model))
    assert shifted.shape == alone.shape
    assert np.abs(shifted - alone).max() < 0.07  # same regions, shifted (window grid: 32 ms)


@pytest.mark.parametrize("kind", ["silence", "tone", "noise", "quiet_noise"])
def test_no_speech_in_non_speech(kind, vad_model):
    t = np.arange(8 * SR) / SR
    rng = np.random.default_rng(0)
    audio = {
        "silence": np.zeros_like(t),
        "tone": 0.5 * np.sin(2 * np.pi * 440.0 * t),
        "noise": 0.2 * rng.standard_normal(t.shape[0]),
        "quiet_noise": 0.002 * rng.standard_normal(t.shape[0]),
    }[kind].astype(np.float32)
    vad = VoiceActivity(model=vad_model)
    assert vad.push(audio) + vad.finish() == []
    assert vad.windows == int(np.ceil(audio.shape[0] / 512))  # it did look at all of it


def test_streaming_in_odd_chunks_matches_one_shot(jfk, vad_model):
    one_shot = regions_of(jfk, vad_model)
    vad = VoiceActivity(model=vad_model)
    streamed = []
    sizes = [1, 511, 513, 7000, 16000, 333]
    i = k = 0
    while i < jfk.shape[0]:
        n = sizes[k % len(sizes)]
        streamed += vad.push(jfk[i:i + n])
        i += n
        k += 1
    streamed += vad.finish()
    assert streamed == one_shot


def test_regions_come_out_before_the_stream_ends(jfk, vad_model):
    audio = np.concatenate([jfk, np.zeros(3 * SR, dtype=np.float32)])
    vad = VoiceActivity(model=vad_model)
    early = vad.push(audio)
    assert early and early == regions_of(audio, vad_model)  # the trailing silence closed every region
    assert vad.finish() == []
    assert vad.keep_from > 11.0  # nothing before the silence needs keeping


def test_max_speech_cuts_long_speech(jfk, vad_model):
    regions = regions_of(np.concatenate([jfk, jfk, jfk]), vad_model, max_speech=4.0, min_silence=2.0)
    check_well_formed(regions, 0.0, 33.0)
    assert len(regions) >= 6
    assert max(r1 - r0 for r0, r1 in regions) <= 4.0 + 0.05


def test_chunk_regions_and_function_agree(jfk, vad_model):
    chunks = [AudioChunk(50.0 + i / SR, jfk[i:i + 4 * SR]) for i in range(0, jfk.shape[0], 4 * SR)]
    via_chunks = chunk_regions(chunks)
    via_samples = speech_regions(jfk, 50.0)
    assert via_chunks == via_samples
    assert np.allclose(np.array(via_samples) - 50.0, regions_of(jfk, vad_model), atol=1e-6)


def test_bad_input_is_a_parameter_error(vad_model):
    vad = VoiceActivity(model=vad_model)
    with pytest.raises(ParameterError, match="1-D"):
        vad.push(np.zeros((2, 512), np.float32))
    with pytest.raises(ParameterError, match="float"):
        vad.push(np.zeros(512, np.int16))
    with pytest.raises(ParameterError, match="threshold"):
        VoiceActivity(model=vad_model, threshold=1.5)
    with pytest.raises(ParameterError, match="16000"):
        chunk_regions([AudioChunk(0.0, np.zeros(512, np.float32), sample_rate=44100)])
