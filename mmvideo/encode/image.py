"""The image encoder: torchvision's ImageNet MobileNetV2, run by LiteRT on CPU or Keras (GPU).

``ImageEncoder.encode(frames)`` takes RGB frames (N, H, W, 3) and returns a 1280-d embedding and 1000
ImageNet class probabilities per frame. Frames that are not 224x224 are fitted first (see
:func:`fit_frames`): by default the largest centred square is cut out and resized with ``cv2.INTER_AREA``,
as ImageNet models were trained on undistorted, centre-cropped photos.

The Keras model is built once from the cached ``.pth`` and saved beside it (``derived/mobilenet_v2.keras``),
then converted to ``derived/mobilenet_v2.tflite``; both are keyed by the model version.
"""

from __future__ import annotations

import functools
import glob
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmvideo.encode.base import Encoder, EncoderOutput
from mmvideo.errors import ParameterError, SetupError

MODEL_NAME = "mobilenet_v2"
LABELS_MODEL = "imagenet_labels"
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
KERAS_FILE = "mobilenet_v2.keras"
TFLITE_FILE = "mobilenet_v2.tflite"
INPUT_SIZE = 224
EMBEDDING_SIZE = 1280
NUM_CLASSES = 1000
BACKENDS = ("auto", "litert", "keras")
DEVICES = ("auto", "cpu", "gpu")
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


def gpu_available() -> bool:
    """True when the Keras backend sees a GPU; False without importing it when no GPU device node exists."""
    if not glob.glob("/dev/nvidia[0-9]*") and not os.path.exists("/dev/dxg"):
        return False
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    if backend == "torch":
        import torch

        return bool(torch.cuda.is_available())
    return False


def resolve_backend(backend: str = "auto", device: str = "auto") -> str:
    """"keras" or "litert" for the requested backend/device (auto: Keras on a GPU, else LiteRT)."""
    if backend not in BACKENDS:
        raise ParameterError(f"backend must be one of {BACKENDS}. Received: backend={backend!r}")
    if device not in DEVICES:
        raise ParameterError(f"device must be one of {DEVICES}. Received: device={device!r}")
    if backend == "litert" and device == "gpu":
        raise ParameterError("the LiteRT backend runs on CPU only; use backend='keras' for device='gpu'")
    if backend != "auto":
        return backend
    if device == "cpu":
        return "litert"
    if device == "gpu" or gpu_available():
        return "keras"
    return "litert"


# ------------------------------------------------------------------------------------ encoder

class ImageEncoder(Encoder):
    """MobileNetV2 (ImageNet): RGB frames -> 1280-d embeddings + 1000 class probabilities.

    ``backend``: "litert" (CPU, XNNPACK; the default without a GPU), "keras" (TensorFlow/JAX/torch,
    used on a GPU) or "auto". ``batch_size`` frames go through the model at a time. ``fit``: how frames
    that are not 224x224 are made so (see :func:`fit_frames`). ``num_threads`` for LiteRT (default:
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
        self.device = "cpu" if self.backend == "litert" else device
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
        """Model name and version, backend (LiteRT and Keras differ in the last digits) and fit policy."""
        from mmvideo.models.registry import get_spec

        return {"model": MODEL_NAME, "version": get_spec(MODEL_NAME).version, "backend": self.backend,
                "fit": self.fit}
