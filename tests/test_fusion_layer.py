"""LabelQueryAttention: masking, calibration against crowding out, config round trip, .keras save/load."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from mmvideo.errors import ParameterError  # noqa: E402
from mmvideo.fuse.layer import LabelQueryAttention  # noqa: E402

D = 16


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def run(layer, queries, tokens, mask):
    scores, attention = layer(queries, tokens, mask)
    return keras.ops.convert_to_numpy(scores), keras.ops.convert_to_numpy(attention)


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    queries = unit(rng.normal(size=(9, D)))
    tokens = unit(rng.normal(size=(3, 4, D))) * rng.uniform(0.3, 1.0, size=(3, 4, 1)).astype(np.float32)
    mask = np.array([[True, True, False, True], [True, False, False, False], [False, True, True, True]])
    return queries, tokens, mask


def test_masked_modality_gets_exactly_zero_attention_and_changes_nothing(data):
    queries, tokens, mask = data
    layer = LabelQueryAttention()
    scores, attention = run(layer, queries, tokens, mask)
    assert scores.shape == (3, 9) and attention.shape == (3, 9, 4)
    assert np.all(attention[~mask[:, None, :].repeat(9, axis=1)] == 0.0)
    np.testing.assert_allclose(attention.sum(axis=-1), 1.0, atol=1e-5)
    changed = tokens.copy()
    changed[0, 2] = np.nan  # a masked slot may hold garbage
    changed[1, 1:] = 1e6
    changed[2, 0] = -changed[2, 1]
    scores2, attention2 = run(layer, queries, changed, mask)
    np.testing.assert_array_equal(scores2, scores)
    np.testing.assert_array_equal(attention2, attention)


def test_a_segment_with_one_present_modality_is_that_modality_alone(data):
    queries, tokens, mask = data
    layer = LabelQueryAttention()
    scores, attention = run(layer, queries, tokens, mask)
    single = LabelQueryAttention(num_modalities=1)
    alone, _ = run(single, queries, tokens[1:2, :1], np.ones((1, 1), bool))
    np.testing.assert_allclose(scores[1], alone[0], atol=1e-5)
    np.testing.assert_allclose(attention[1, :, 0], 1.0)


def test_no_modality_present_gives_zero_scores_and_attention(data):
    queries, tokens, _ = data
    scores, attention = run(LabelQueryAttention(), queries, tokens, np.zeros((3, 4), bool))
    assert np.all(scores == 0) and np.all(attention == 0)


def test_batched_queries_equal_shared_queries(data):
    queries, tokens, mask = data
    layer = LabelQueryAttention()
    shared, _ = run(layer, queries, tokens, mask)
    batched, _ = run(layer, np.stack([queries] * 3), tokens, mask)
    np.testing.assert_allclose(batched, shared, atol=1e-6)


def crowding_case():
    """Tags 0-3 are voice tags close to each other (cos 0.89), 4-7 animal tags, 8-15 unrelated. The audio
    token *is* tag 0 ("speech"), the image token a mix close to every animal tag (cos 0.80, like an ImageNet
    token): raw similarities rank every voice tag above every animal tag."""
    e = np.eye(D, dtype=np.float32)
    tags = np.stack([e[0]] + [unit(e[0] + 0.5 * e[k]) for k in (1, 2, 3)]
                    + [unit(e[4] + 0.2 * e[k]) for k in (5, 6, 7, 8)] + [e[k] for k in range(8, 16)])
    image = unit(e[4] + 0.5 * e[9] + 0.5 * e[10])
    tokens = np.stack([image, tags[0]])[None]  # (1, 2, D): image, audio
    return tags.astype(np.float32), tokens.astype(np.float32), np.ones((1, 2), bool)


def test_calibration_keeps_a_confident_modality_from_crowding_out_another():
    tags, tokens, mask = crowding_case()
    raw, _ = run(LabelQueryAttention(num_modalities=2, normalize="none"), tags, tokens, mask)
    raw_top = set(np.argsort(-raw[0])[:3])
    assert raw_top <= {0, 1, 2, 3}, "the constructed case must crowd out the image without calibration"
    fused, attention = run(LabelQueryAttention(num_modalities=2), tags, tokens, mask)  # "peak" normalisation
    top = list(np.argsort(-fused[0])[:2])
    assert 0 in top and set(top) & {4, 5, 6, 7}, top  # each modality's best tag, side by side
    assert attention[0, 4, 0] > 0.9 and attention[0, 0, 1] > 0.9  # each tag listens to its own modality


def test_a_weaker_token_counts_less():
    tags, tokens, mask = crowding_case()
    layer = LabelQueryAttention(num_modalities=2)
    full, _ = run(layer, tags, tokens, mask)
    weak = tokens.copy()
    weak[0, 0] *= 0.3
    weaker, _ = run(layer, tags, weak, mask)
    assert weaker[0, 4] < 0.5 * full[0, 4]
    assert weaker[0, 0] == pytest.approx(full[0, 0], abs=0.05)  # the audio tag hardly moves


def test_peak_floor_keeps_an_unrelated_token_from_looking_confident():
    rng = np.random.default_rng(5)
    dim = 384  # like the text space: unrelated vectors are nearly orthogonal
    tags = unit(rng.normal(size=(50, dim)))
    vague = unit(rng.normal(size=dim))[None, None]  # related to no tag in particular
    loose, _ = run(LabelQueryAttention(num_modalities=1, min_spread=0.0), tags, vague, np.ones((1, 1), bool))
    floored, _ = run(LabelQueryAttention(num_modalities=1, min_spread=0.5), tags, vague, np.ones((1, 1), bool))
    assert loose.max() == pytest.approx(1.0, abs=1e-4)
    assert floored.max() < 0.6


def test_min_spread_defaults_follow_the_normalisation():
    assert LabelQueryAttention().min_spread == 0.5
    assert LabelQueryAttention(normalize="zscore").min_spread == 0.05
    assert LabelQueryAttention(normalize="none").get_config()["min_spread"] == 0.0


def test_get_config_round_trip(data):
    queries, tokens, mask = data
    layer = LabelQueryAttention(num_modalities=4, temperature=0.35, normalize="zscore", use_projections=False,
                                scale=[1.0, 0.5, 2.0, 1.5], bias=0.1, min_spread=0.07, epsilon=1e-5,
                                name="fusion")
    config = layer.get_config()
    for key in ("num_modalities", "temperature", "normalize", "use_projections", "scale", "bias", "min_spread",
                "epsilon"):
        assert key in config
    clone = LabelQueryAttention.from_config(config)
    assert clone.get_config() == config
    np.testing.assert_allclose(run(clone, queries, tokens, mask)[0], run(layer, queries, tokens, mask)[0],
                               atol=1e-6)


def test_saved_and_loaded_like_any_keras_layer(tmp_path, data):
    queries, tokens, mask = data
    q_in = keras.Input(shape=(9, D), name="queries")
    t_in = keras.Input(shape=(4, D), name="tokens")
    m_in = keras.Input(shape=(4,), dtype="bool", name="mask")
    scores, attention = LabelQueryAttention(temperature=0.3, name="fusion")(q_in, t_in, m_in)
    model = keras.Model([q_in, t_in, m_in], [scores, attention])
    layer = model.get_layer("fusion")
    rng = np.random.default_rng(1)
    for w in layer.weights:  # not the initial values: loading must restore trained weights
        w.assign(w.numpy() + 0.05 * rng.normal(size=w.shape).astype(np.float32))
    inputs = [np.stack([queries] * 3), tokens, mask]
    before = model.predict(inputs, verbose=0)
    path = tmp_path / "fusion.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    after = loaded.predict(inputs, verbose=0)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    assert loaded.get_layer("fusion").get_config() == layer.get_config()


def test_trainable_with_masked_slots(data):
    """Projections, temperature and calibration train (``mmvideo train``) without NaNs from zero-filled slots."""
    queries, tokens, mask = data
    q_in = keras.Input(shape=(9, D))
    t_in = keras.Input(shape=(4, D))
    m_in = keras.Input(shape=(4,), dtype="bool")
    scores, _ = LabelQueryAttention(name="fusion")(q_in, t_in, m_in)
    model = keras.Model([q_in, t_in, m_in], scores)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [w.numpy().copy() for w in model.get_layer("fusion").weights]
    targets = np.random.default_rng(2).uniform(size=(3, 9)).astype(np.float32)
    model.fit([np.stack([queries] * 3), tokens, mask], targets, epochs=2, batch_size=3, verbose=0)
    after = [w.numpy() for w in model.get_layer("fusion").weights]
    assert all(np.all(np.isfinite(w)) for w in after)
    assert any(not np.allclose(a, b) for a, b in zip(after, before))


@pytest.mark.parametrize("kwargs, text", [
    ({"temperature": 0}, "Received: temperature=0"),
    ({"num_modalities": 0}, "Received: num_modalities=0"),
    ({"normalize": "max"}, "Received: normalize='max'"),
    ({"scale": [1.0, 2.0]}, "Received: scale=[1.0, 2.0]"),
    ({"min_spread": -1}, "Received: min_spread=-1"),
    ({"use_projections": "yes"}, "Received: use_projections='yes'"),
])
def test_bad_arguments_are_refused_with_the_value(kwargs, text):
    with pytest.raises(ParameterError, match=text.replace("[", r"\[").replace("]", r"\]")):
        LabelQueryAttention(**kwargs)


def test_shapes_are_checked_when_built():
    layer = LabelQueryAttention(num_modalities=4)
    with pytest.raises(ParameterError, match=r"Received: tokens.shape=\(2, 3, 16\)"):
        layer(np.zeros((5, D), np.float32), np.zeros((2, 3, D), np.float32))
    with pytest.raises(ParameterError, match=r"Received: queries.shape=\(5, 8\)"):
        LabelQueryAttention()(np.zeros((5, 8), np.float32), np.zeros((2, 4, D), np.float32))


_BACKEND_SCRIPT = """
import sys
import numpy as np
import keras
from mmvideo.fuse.layer import LabelQueryAttention
data = np.load(sys.argv[1])
s, a = LabelQueryAttention(temperature=0.3)(data["queries"], data["tokens"], data["mask"])
np.savez(sys.argv[2], scores=keras.ops.convert_to_numpy(s), attention=keras.ops.convert_to_numpy(a),
         backend=keras.backend.backend())
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_same_results_on_other_keras_backends(tmp_path, data, backend):
    import importlib.util
    import os
    import subprocess
    import sys

    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"Keras backend {backend!r} is not installed")
    queries, tokens, mask = data
    np.savez(tmp_path / "in.npz", queries=queries, tokens=tokens, mask=mask)
    env = {**os.environ, "KERAS_BACKEND": backend}
    subprocess.run([sys.executable, "-c", _BACKEND_SCRIPT, str(tmp_path / "in.npz"), str(tmp_path / "out.npz")],
                   check=True, env=env, capture_output=True)
    out = np.load(tmp_path / "out.npz")
    assert str(out["backend"]) == backend
    scores, attention = run(LabelQueryAttention(temperature=0.3), queries, tokens, mask)
    np.testing.assert_allclose(out["scores"], scores, atol=1e-5)
    np.testing.assert_allclose(out["attention"], attention, atol=1e-5)


# --- the numpy forward pass zero-shot runs use (mmvideo.fuse.layer_numpy) ----------------------------------

@pytest.mark.parametrize("kwargs", [
    {}, {"temperature": 0.35, "scale": [0.5, 1.0, 2.0, 0.7], "bias": [0.1, 0.0, -0.2, 0.05]},
    {"normalize": "zscore"}, {"normalize": "none"}, {"min_spread": 0.0}])
def test_numpy_forward_pass_equals_the_keras_layer_on_random_tokens(data, kwargs):
    from mmvideo.fuse.layer_numpy import NumpyLabelQueryAttention

    queries, tokens, mask = data
    rng = np.random.default_rng(11)
    strong = tokens * rng.uniform(0.5, 3.0, size=(3, 4, 1)).astype(np.float32)  # lengths above 1 are clipped
    for toks, m in ((tokens, mask), (strong, None), (tokens, np.zeros_like(mask)), (strong, np.ones_like(mask))):
        for q in (queries, np.stack([queries * (i + 1) for i in range(3)])):  # shared and per-segment queries
            want = run(LabelQueryAttention(**kwargs), q, toks, m)
            got = NumpyLabelQueryAttention(**kwargs)(q, toks, m)
            for g, w in zip(got, want):
                assert g.dtype == np.float32 and g.shape == w.shape
                np.testing.assert_allclose(g, w, atol=1e-5, rtol=0)
    garbage = tokens.copy()
    garbage[0, 2] = np.nan  # a masked slot may hold anything
    garbage[1, 1:] = 1e30
    np.testing.assert_array_equal(NumpyLabelQueryAttention(**kwargs)(queries, garbage, mask)[0],
                                  NumpyLabelQueryAttention(**kwargs)(queries, tokens, mask)[0])


@pytest.mark.slow
def test_numpy_forward_pass_equals_the_keras_layer_on_a_real_clip(pipeline, samples_dir):
    """The default vocabulary's embeddings against the tokens of a real clip (image, audio, text, faces)."""
    from mmvideo.discover import discover
    from mmvideo.fuse.layer_numpy import NumpyLabelQueryAttention

    tagger = pipeline.models()
    assert isinstance(tagger.layer, NumpyLabelQueryAttention)  # what a zero-shot run uses
    evidence = pipeline.gather(next(iter(discover([samples_dir / "cat.mp4"])))).evidence
    tokens, mask, _ = tagger.segment_tokens(evidence)
    assert mask.any(axis=0).sum() >= 3 and not mask.all()  # several modalities, some absent
    keras_layer = LabelQueryAttention(num_modalities=len(tagger.fusing), temperature=tagger.settings.temperature,
                                      normalize=tagger.settings.normalize, min_spread=tagger.settings.min_spread,
                                      scale=tagger.settings.scale)
    want = run(keras_layer, tagger.tag_embeddings, tokens, mask)
    got = tagger.layer(tagger.tag_embeddings, tokens, mask)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-5, rtol=0)
    assert np.array_equal(np.argsort(-got[0], axis=1)[:, :5], np.argsort(-want[0], axis=1)[:, :5])


def test_numpy_forward_pass_checks_its_settings_and_shapes():
    from mmvideo.fuse.layer_numpy import NumpyLabelQueryAttention

    for kwargs in ({"temperature": 0}, {"normalize": "softmax"}, {"scale": [1.0, 2.0]}, {"min_spread": 3}):
        with pytest.raises(ParameterError, match="Received"):
            NumpyLabelQueryAttention(**kwargs)
    with pytest.raises(ParameterError, match=r"Received: tokens.shape=\(2, 3, 16\)"):
        NumpyLabelQueryAttention()(np.zeros((5, D), np.float32), np.zeros((2, 3, D), np.float32))
