"""Modality tokens from synthetic encoder outputs: known directions, lengths and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from mmvideo.errors import ParameterError
from mmvideo.fuse.tokens import audio_token, face_token, image_token, text_token, top_classes

D = 8


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def classes():
    """6 classes on the first 6 axes; class 5 carries no evidence (zero row)."""
    emb = np.eye(6, D, dtype=np.float32)
    emb[5] = 0.0
    return emb


def test_image_token_averages_frames_then_mixes_the_top_classes(classes):
    probs = np.array([[0.6, 0.2, 0.1, 0.05, 0.05, 0.0],
                      [0.2, 0.6, 0.1, 0.05, 0.05, 0.0]], np.float32)  # mean: 0.4, 0.4, 0.1, 0.05, 0.05
    tok = image_token(probs, classes, top_k=2)
    np.testing.assert_allclose(tok, unit([1, 1, 0, 0, 0, 0, 0, 0]) * 0.8, atol=1e-6)  # length = mass 0.8
    tok3 = image_token(probs, classes, top_k=3)
    np.testing.assert_allclose(np.linalg.norm(tok3), 0.9, atol=1e-6)
    np.testing.assert_allclose(unit(tok3), unit([0.4, 0.4, 0.1, 0, 0, 0, 0, 0]), atol=1e-6)
    np.testing.assert_allclose(image_token(probs.mean(axis=0), classes, top_k=2), tok, atol=1e-6)  # (C,) works


def test_image_token_skips_classes_without_evidence(classes):
    probs = np.array([0.0, 0.1, 0.0, 0.0, 0.0, 0.9], np.float32)  # the best class maps to nothing
    tok = image_token(probs, classes, top_k=1)
    np.testing.assert_allclose(tok, 0.1 * np.eye(D, dtype=np.float32)[1], atol=1e-6)
    assert image_token(probs, classes, top_k=1, min_mass=0.2) is None
    assert image_token(np.array([0, 0, 0, 0, 0, 1.0], np.float32), classes) is None
    assert image_token(np.zeros((0, 6), np.float32), classes) is None  # no frames


def test_audio_token_drops_silence_and_weak_classes(classes):
    names = ["Speech", "Music", "Dog", "Stream", "Wind", "Silence"]
    emb = np.eye(6, D, dtype=np.float32)  # here Silence has an embedding: the drop list removes it
    silent = np.array([[0.05, 0.02, 0, 0, 0.1, 0.97]] * 3, np.float32)
    assert audio_token(silent, emb, names) is None
    assert audio_token(silent, emb, names, drop=(), min_score=0.5) is not None  # only the drop list saved us
    speech = np.array([[0.9, 0.3, 0.0, 0.1, 0.0, 0.0], [0.7, 0.1, 0.0, 0.1, 0.0, 0.0]], np.float32)
    tok = audio_token(speech, emb, names, min_score=0.15)  # mean Speech 0.8, Music 0.2, Stream 0.1 (below)
    np.testing.assert_allclose(np.linalg.norm(tok), 0.8, atol=1e-6)  # length = best kept score
    np.testing.assert_allclose(unit(tok), unit([0.8, 0.2, 0, 0, 0, 0, 0, 0]), atol=1e-6)
    assert audio_token(speech, emb, names, min_score=0.85) is None


def test_text_and_face_tokens():
    assert text_token(None) is None
    v = np.arange(D, dtype=np.float32)
    np.testing.assert_allclose(text_token(v), unit(v))
    person = unit(np.ones(D))
    np.testing.assert_allclose(face_token(0.9, person), 0.9 * person, atol=1e-6)
    assert face_token(0.3, person) is None
    assert face_token(None, person) is None


def test_top_classes_are_raw_means_best_first():
    names = ["a", "b", "c", "Silence"]
    s = np.array([[0.1, 0.5, 0.2, 0.9], [0.3, 0.3, 0.2, 0.9]], np.float32)
    assert top_classes(s, names, k=3) == (("Silence", pytest.approx(0.9)), ("b", pytest.approx(0.4)),
                                          ("a", pytest.approx(0.2)))


@pytest.mark.parametrize("call, text", [
    (lambda e: image_token(np.ones((2, 5)) / 5, e),
     r"shape \(C,\) or \(N, C\) with C=6. Received: shape=\(2, 5\)"),
    (lambda e: image_token(np.full(6, 1.5), e), r"in \[0, 1\]"),
    (lambda e: image_token(np.full(6, np.nan), e), r"finite"),
    (lambda e: image_token(np.full(6, 0.1), e, top_k=0), r"Received: top_k=0"),
    (lambda e: audio_token(np.full(6, 0.1), e, ["x"] * 5), r"name the 6 classes. Received: 5"),
    (lambda e: audio_token(np.full(6, 0.1), e, min_score=2), r"min_score=2"),
    (lambda e: face_token(1.5, np.ones(D)), r"max_conf=1.5"),
    (lambda e: text_token(np.ones((2, D))), r"Received: shape=\(2, 8\)"),
])
def test_contract_violations_are_refused(classes, call, text):
    with pytest.raises(ParameterError, match=text):
        call(classes)
