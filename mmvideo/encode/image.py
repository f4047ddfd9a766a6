"""The image encoder: torchvision's ImageNet MobileNetV2, by LiteRT on CPU (int8 or float32) or Keras (GPU).

``ImageEncoder.encode(frames)`` takes RGB frames (N, H, W, 3) and returns a 1280-d embedding and 1000
ImageNet class probabilities per frame. Frames that are not 224x224 are fitted first (see
:func:`fit_frames`): by default the largest centred square is cut out and resized with ``cv2.INTER_AREA``,
as ImageNet models were trained on undistorted, centre-cropped photos.

The Keras model is built once from the cached ``.pth`` and saved beside it (``derived/mobilenet_v2.keras``),
then converted to ``derived/mobilenet_v2.tflite``; both are keyed by the model version.

The CPU default is "litert" (float32 throughout, matching the torchvision reference within 1e-3). The
opt-in "litert-int8" backend runs the convolutional trunk (image -> 1280-d embedding) quantized to
int8 by TFLite's post-training quantizer (float input and output; calibrated on the frames shipped in
``mmvideo/data/mobilenet_v2_calibration.npz``, see scripts/make_calibration_frames.py) and the classifier
(Dense 1280 -> 1000 + softmax) in float32 numpy from the Keras model's weights, so scores stay smooth
rather than int8 steps; the layers int8 hurts most stay float32 (:data:`INT8_FLOAT_LAYERS`). On one
thread it takes ~6.5 CPU ms/frame against ~8.7 for float32. Each conversion (~15 s, once per machine) is
checked against the float32 model on held-out frames (:data:`INT8_MEDIAN_COSINE`, :data:`INT8_MIN_COSINE`)
before it is cached (``derived/mobilenet_v2_trunk_int8.tflite`` + ``derived/mobilenet_v2_head.npz``).
It is not the default: on unclear frames (low-confidence, synthetic) its top class differed from float32's
on about half of 30 frames from ../shared/media, and end to end it gained less than the benchmark's noise.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmvideo.encode.base import Encoder, EncoderOutput
from mmvideo.encode.devices import IMAGE_BACKENDS, choose_backend, gpu_available
from mmvideo.errors import ParameterError, SetupError

MODEL_NAME = "mobilenet_v2"
LABELS_MODEL = "imagenet_labels"
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
KERAS_FILE = "mobilenet_v2.keras"
TFLITE_FILE = "mobilenet_v2.tflite"
INT8_FILE = "mobilenet_v2_trunk_int8.tflite"
HEAD_FILE = "mobilenet_v2_head.npz"
CALIBRATION_FILE = "mobilenet_v2_calibration.npz"
INPUT_SIZE = 224
EMBEDDING_SIZE = 1280
NUM_CLASSES = 1000
BACKENDS = IMAGE_BACKENDS
LITERT_BACKENDS = ("litert-int8", "litert")
# a conversion is cached only if, on the held-out calibration frames (textures, microscopy, clocks as
# well as photos), the embeddings' cosine similarity to float32 has median >= INT8_MEDIAN_COSINE and
# minimum >= INT8_MIN_COSINE (measured 0.990 and 0.982); a broken conversion gives far less
INT8_MEDIAN_COSINE = 0.98
INT8_MIN_COSINE = 0.93
# layers left in float32 in the int8 trunk (with the final average pool): the ones whose int8 rounding
# moved the embedding most (TFLite's QuantizationDebugger, per-layer RMSE/scale); all int8, the embedding's
# cosine to float32 fell to 0.97-0.98 on the reference photos and one of five changed its top-1
INT8_FLOAT_LAYERS = ("stem_conv", "block1_", "block16_", "block17_", "head_conv")
FITS = ("crop", "squash")

# ImageNet names that stay ambiguous after cleaning: WordNet's glosses decide
_NAME_OVERRIDES = {
    "n02012849": "crane (bird)",
    "n03126707": "crane (machine)",
    "n03710637": "maillot (tights)",
    "n03710721": "maillot (tank suit)",
}


# ------------------------------------------------------------------------------------ class names

def clean_lemma(lemma: str) -> str:
    """Display name of a WordNet lemma list: its first synonym, or a later one that only adds words
    after it ("tabby, tabby cat" -> "tabby cat", "tench, Tinca tinca" -> "tench")."""
    parts = [p.strip() for p in lemma.split(",") if p.strip()]
    if not parts:
        raise ParameterError(f"empty lemma. Received: lemma={lemma!r}")
    first = parts[0].split()
    longer = [p for p in parts[1:] if p.split()[: len(first)] == first and len(p.split()) > len(first)]
    return min(longer, key=len) if longer else parts[0]


def clean_class_names(synsets: Sequence[str], lemmas: Sequence[str]) -> tuple[str, ...]:
    """Unique display names for classes given their synset ids and lemma lists (same order)."""
    if len(synsets) != len(lemmas):
        raise ParameterError(f"{len(synsets)} synsets but {len(lemmas)} lemma lists")
    names = [_NAME_OVERRIDES.get(s) or clean_lemma(lem) for s, lem in zip(synsets, lemmas)]
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    return tuple(f"{n} ({s})" if seen[n] > 1 else n for n, s in zip(names, synsets))


@functools.lru_cache(maxsize=1)
def imagenet_synsets_and_lemmas() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The 1000 ImageNet-1k WordNet ids in class order and their full lemma lists ("tabby, tabby cat")."""
    from mmvideo.models.store import model_path

    synsets = tuple(model_path(LABELS_MODEL, "imagenet_synsets.txt").read_text("utf-8").split())
    table: dict[str, str] = {}
    for line in model_path(LABELS_MODEL, "imagenet_synset_to_lemma.txt").read_text("utf-8").splitlines():
        key, sep, value = line.partition("\t")
        if sep:
            table[key] = value.strip()
    if len(synsets) != NUM_CLASSES or any(s not in table for s in synsets):
        raise ParameterError(f"ImageNet label files are inconsistent ({len(synsets)} synsets)")
    return synsets, tuple(table[s] for s in synsets)


@functools.lru_cache(maxsize=1)
def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 clean ImageNet class names in the model's output order (e.g. 281 -> "tabby cat")."""
    return clean_class_names(*imagenet_synsets_and_lemmas())


# ------------------------------------------------------------------------------------ preprocessing

def fit_frames(frames: np.ndarray, size: int = INPUT_SIZE, fit: str = "crop") -> np.ndarray:
    """Frames (N, H, W, 3) uint8/float32 -> (N, size, size, 3), same dtype.

    ``fit="crop"``: cut the largest centred square, then resize; ``"squash"``: resize the whole frame
    (aspect ratio not kept). Resizing uses ``cv2.INTER_AREA``. Frames already size x size are returned as is.
    """
    if fit not in FITS:
        raise ParameterError(f"fit must be one of {FITS}. Received: fit={fit!r}")
    n, h, w = frames.shape[:3]
    if (h, w) == (size, size):
        return frames
    import cv2

    if fit == "crop":
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        frames = frames[:, top:top + s, left:left + s]
    out = np.empty((n, size, size, 3), dtype=frames.dtype)
    for i in range(n):
        out[i] = cv2.resize(np.ascontiguousarray(frames[i]), (size, size), interpolation=cv2.INTER_AREA)
    return out


def _validate(frames: Any) -> np.ndarray:
    if not isinstance(frames, np.ndarray):
        raise ParameterError(f"frames must be a numpy array (N, H, W, 3). Received: {type(frames).__name__}")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        hint = " (add a batch axis: frames[None])" if frames.ndim == 3 and frames.shape[-1] == 3 else ""
        raise ParameterError(f"frames must have shape (N, H, W, 3) RGB. Received: shape={frames.shape}{hint}")
    if frames.dtype not in (np.uint8, np.float32):
        raise ParameterError(f"frames must be uint8 or float32 in [0, 255]. Received: dtype={frames.dtype}")
    if frames.shape[1] < 8 or frames.shape[2] < 8:
        raise ParameterError(f"frames are too small to encode. Received: shape={frames.shape}")
    return frames


# ------------------------------------------------------------------------------------ model files

_BUILD_LOCK = threading.Lock()


def keras_model_path() -> Path:
    """The converted Keras model (built from the cached ``.pth`` on first use)."""
    from mmvideo.models.store import atomic_write, derived_path, model_path

    path = derived_path(MODEL_NAME, KERAS_FILE)
    with _BUILD_LOCK:
        if not path.is_file():
            from mmvideo.encode.mobilenet_v2 import build_mobilenet_v2
            from mmvideo.encode.torch_legacy import load_state_dict

            model = build_mobilenet_v2(load_state_dict(model_path(MODEL_NAME, WEIGHTS_FILE)))
            with atomic_write(path) as tmp:
                model.save(tmp)
    return path


def tflite_model_path() -> Path:
    """The float32 TFLite conversion (converted from the Keras model on first use)."""
    from mmvideo.encode.litert import convert_keras_to_tflite
    from mmvideo.models.store import derived_path, model_path

    model_path(MODEL_NAME, WEIGHTS_FILE)  # a missing model says how to fetch it, even with derived files
    path = derived_path(MODEL_NAME, TFLITE_FILE)
    if not path.is_file():
        model = load_keras_model()
        with _BUILD_LOCK:
            if not path.is_file():
                convert_keras_to_tflite(model, path)
    return path


def load_keras_model() -> Any:
    """The Keras MobileNetV2 with preprocessing inside (see ``mobilenet_v2.build_mobilenet_v2``)."""
    import keras

    from mmvideo.models.store import model_path

    model_path(MODEL_NAME, WEIGHTS_FILE)
    return keras.saving.load_model(keras_model_path(), compile=False)


def calibration_frames() -> tuple[np.ndarray, np.ndarray]:
    """The shipped calibration frames (N, 224, 224, 3) uint8 RGB and a (N,) bool mask of the held-out
    ones (used to check a conversion, never to calibrate it)."""
    import cv2
    from importlib import resources

    ref = resources.files("mmvideo").joinpath("data", CALIBRATION_FILE)
    with ref.open("rb") as fh, np.load(fh, allow_pickle=False) as z:
        blob, offsets, check = z["jpeg"], z["offsets"], z["check"].astype(bool)
    frames = np.stack([cv2.cvtColor(cv2.imdecode(blob[a:b], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
                       for a, b in zip(offsets[:-1], offsets[1:])])
    if frames.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 3) or check.shape != (len(frames),):
        raise SetupError(f"{CALIBRATION_FILE} is damaged (frames {frames.shape}): reinstall mmvideo")
    return frames, check


def classifier_head_path() -> Path:
    """``derived/mobilenet_v2_head.npz``: the float32 classifier ``kernel`` (1280, 1000) and ``bias``
    (1000,) of the Keras model (extracted once, so the int8 path never needs Keras at run time)."""
    from mmvideo.models.store import atomic_write, derived_path, model_path

    model_path(MODEL_NAME, WEIGHTS_FILE)
    path = derived_path(MODEL_NAME, HEAD_FILE)
    if not path.is_file():
        kernel, bias = load_keras_model().get_layer("logits").get_weights()
        with _BUILD_LOCK:
            if not path.is_file():
                with atomic_write(path) as tmp:
                    with open(tmp, "wb") as fh:
                        np.savez(fh, kernel=np.asarray(kernel, np.float32), bias=np.asarray(bias, np.float32))
    return path


def load_classifier_head() -> tuple[np.ndarray, np.ndarray]:
    """(kernel (1280, 1000) float32, bias (1000,) float32): the classifier (:func:`classifier_head_path`)."""
    with np.load(classifier_head_path(), allow_pickle=False) as z:
        kernel, bias = z["kernel"], z["bias"]
    if kernel.shape != (EMBEDDING_SIZE, NUM_CLASSES) or bias.shape != (NUM_CLASSES,):
        raise SetupError(f"{classifier_head_path()} is damaged: delete it to rebuild it")
    return kernel, bias


def classify(embeddings: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Embeddings (N, 1280) float32 -> class probabilities (N, 1000) float32 (Dense + softmax, float32)."""
    if embeddings.ndim != 2 or embeddings.shape[1] != kernel.shape[0]:
        raise ParameterError(f"embeddings must have shape (N, {kernel.shape[0]}). "
                             f"Received: shape={embeddings.shape}")
    # einsum, not @: numpy's own loop on this thread. A BLAS call wakes OpenBLAS's worker threads, which
    # then spin through the next LiteRT invoke and doubled the encoder's CPU time per frame (same speed here)
    logits = np.einsum("nd,dk->nk", embeddings.astype(np.float32, copy=False), kernel) + bias
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32, copy=False)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of (N, D) arrays -> (N,) float in [-1, 1]."""
    if a.shape != b.shape or a.ndim != 2:
        raise ParameterError(f"a and b must be (N, D) of one shape. Received: {a.shape}, {b.shape}")
    num = (a * b).sum(axis=1)
    return num / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)


def int8_model_path() -> Path:
    """The int8 trunk (image -> ``embedding``, float in/out), quantized on first use from the Keras model
    with the shipped calibration frames and cached only if it passes the agreement check."""
    from mmvideo.models.store import derived_path, model_path

    model_path(MODEL_NAME, WEIGHTS_FILE)
    path = derived_path(MODEL_NAME, INT8_FILE)
    if not path.is_file():
        model = load_keras_model()
        reference = tflite_model_path()  # before the lock: it may take it to convert
        with _BUILD_LOCK:
            if not path.is_file():
                _convert_int8(model, path, reference)
    return path


def _convert_int8(model: Any, path: Path, reference: Path) -> None:
    import keras

    from mmvideo.encode.litert import LiteRTRunner, convert_keras_to_int8_tflite
    from mmvideo.models.store import atomic_write

    inp = keras.Input(shape=(INPUT_SIZE, INPUT_SIZE, 3), dtype="float32", name="image")
    trunk = keras.Model(inp, model(inp)["embedding"], name="mobilenet_v2_trunk")
    frames, check = calibration_frames()
    calib = frames[~check].astype(np.float32)
    held_out = frames[check].astype(np.float32)
    with atomic_write(path) as tmp:
        convert_keras_to_int8_tflite(trunk, tmp, calib, INT8_FLOAT_LAYERS)
        runner = LiteRTRunner(tmp, num_threads=1)
        got = runner.run(**{runner.input_names[0]: held_out})[runner.output_names[0]]
        ref = LiteRTRunner(reference, num_threads=1).run(image=held_out)
        cos = cosine_similarity(got, ref["embedding"])
        if np.median(cos) < INT8_MEDIAN_COSINE or cos.min() < INT8_MIN_COSINE:
            raise SetupError(f"the int8 conversion of {MODEL_NAME} disagrees with float32 (embedding cosine "
                             f"median {np.median(cos):.4f}, min {cos.min():.4f}; needs {INT8_MEDIAN_COSINE}, "
                             f"{INT8_MIN_COSINE}): use backend='litert'")


def resolve_backend(backend: str = "auto", device: str = "auto") -> str:
    """"keras", "litert-int8" or "litert" for the requested backend/device (auto: Keras on a GPU, else
    LiteRT float32): the encoders' one rule (:func:`mmvideo.encode.devices.choose_backend`)."""
    return choose_backend(backend, device, BACKENDS)


# ------------------------------------------------------------------------------------ encoder

class ImageEncoder(Encoder):
    """MobileNetV2 (ImageNet): RGB frames -> 1280-d embeddings + 1000 class probabilities.

    ``backend``: "litert" (CPU, float32 throughout, the default without a GPU), "litert-int8" (CPU:
    int8 trunk + float32 classifier, ~1.3x less CPU, opt-in), "keras" (TensorFlow/JAX/torch, used on a GPU) or "auto".
    ``batch_size`` frames go through the model at a time. ``fit``: how frames that are not 224x224 are
    made so (see :func:`fit_frames`). ``num_threads`` for LiteRT (default:
    the cores this process may use). The model is loaded on the first ``encode``.
    """

    model_name = MODEL_NAME
    modality = "image"
    embedding_size = EMBEDDING_SIZE

    def __init__(self, backend: str = "auto", device: str = "auto", batch_size: int = 32,
                 fit: str = "crop", num_threads: int | None = None) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ParameterError(f"batch_size must be an int >= 1. Received: batch_size={batch_size!r}")
        if fit not in FITS:
            raise ParameterError(f"fit must be one of {FITS}. Received: fit={fit!r}")
        self.backend = resolve_backend(backend, device)
        self.device = "cpu" if self.backend in LITERT_BACKENDS else device
        self.batch_size = batch_size
        self.fit = fit
        self.num_threads = num_threads
        self._run: Any = None
        self._lock = threading.Lock()

    def _runner(self) -> Any:
        with self._lock:
            if self._run is None:
                if self.backend == "litert":
                    from mmvideo.encode.litert import LiteRTRunner

                    runner = LiteRTRunner(tflite_model_path(), num_threads=self.num_threads)
                    self._run = lambda x: runner.run(image=x)
                elif self.backend == "litert-int8":
                    self._run = self._int8_runner()
                else:
                    if self.device == "gpu" and not gpu_available():
                        raise SetupError("device='gpu' was asked for but Keras sees no GPU; use device='cpu'")
                    model = load_keras_model()
                    model.compile(jit_compile=False)  # XLA is several times slower on CPU

                    def run(x: np.ndarray) -> dict[str, np.ndarray]:
                        out = model.predict_on_batch(x)
                        return {k: np.asarray(v) for k, v in out.items()}

                    self._run = run
            return self._run

    def _int8_runner(self) -> Any:
        from mmvideo.encode.litert import LiteRTRunner

        path = int8_model_path()
        kernel, bias = load_classifier_head()
        runner = LiteRTRunner(path, num_threads=self.num_threads)
        if len(runner.input_names) != 1 or len(runner.output_names) != 1:
            raise SetupError(f"{path} is not the int8 trunk (one input, one output): delete it to rebuild it")
        name, out_name = runner.input_names[0], runner.output_names[0]

        def run(x: np.ndarray) -> dict[str, np.ndarray]:
            emb = runner.run(**{name: x})[out_name]
            return {"embedding": emb, "probabilities": classify(emb, kernel, bias)}

        return run

    def encode(self, batch: Sequence[Any] | np.ndarray) -> EncoderOutput:
        """Frames uint8 or float32 RGB in [0, 255], shape (N, H, W, 3) (any H, W >= 8; see ``fit``) ->
        embeddings (N, 1280) float32, scores (N, 1000) float32 softmax, class_names (1000 clean names)."""
        frames = _validate(batch)
        n = frames.shape[0]
        if n == 0:
            return EncoderOutput(np.zeros((0, EMBEDDING_SIZE), np.float32),
                                 np.zeros((0, NUM_CLASSES), np.float32), imagenet_class_names())
        run = self._runner()  # first: a missing model names `mmvideo models fetch mobilenet_v2`
        names = imagenet_class_names()
        embs, probs = [], []
        for start in range(0, n, self.batch_size):
            chunk = fit_frames(frames[start:start + self.batch_size], INPUT_SIZE, self.fit)
            out = run(chunk.astype(np.float32, copy=False))
            embs.append(out["embedding"])
            probs.append(out["probabilities"])
        return EncoderOutput(np.concatenate(embs).astype(np.float32, copy=False),
                             np.concatenate(probs).astype(np.float32, copy=False), names)

    def fingerprint(self) -> dict[str, str]:
        """Model name and version, backend (LiteRT float32 and Keras differ in the last digits, int8 in the
        second) and fit policy."""
        from mmvideo.models.registry import get_spec

        return {"model": MODEL_NAME, "version": get_spec(MODEL_NAME).version, "backend": self.backend,
                "fit": self.fit}
