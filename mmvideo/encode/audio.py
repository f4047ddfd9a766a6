"""Audio encoder: 16 kHz mono audio -> YAMNet log-mel patches -> 1024-d embeddings and 521 AudioSet scores.

Two steps, so batches can mix patches from many videos: :meth:`AudioEncoder.patches` (pure numpy, no
model) cuts a waveform into 0.96 s log-mel patches every 0.48 s with their times, and
:meth:`AudioEncoder.encode` runs the network on any (N, 96, 64) batch of them. For audio that arrives in
chunks (``AudioChunk`` from ``mmvideo.media.audio.iter_audio``), a :class:`PatchStream` carries the last
< 0.975 s of each chunk over to the next, so the patches (and their times) are exactly those of the
whole waveform; :meth:`AudioEncoder.encode_stream` does that for an iterable of chunks.

The network is YAMNet rebuilt in Keras from the dequantized weights of the registry's ONNX file
(``mmvideo.encode.yamnet``), run on LiteRT (CPU, XNNPACK; the default) or on Keras (CPU or GPU). The
first use converts it; the float weights (``.npz``) and the ``.tflite`` are cached beside the model.
"""

from __future__ import annotations

import csv
import math
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mmvideo.encode.base import Encoder, EncoderOutput
from mmvideo.encode.devices import litert_or_keras
from mmvideo.encode.melspec import (
    MEL_BANDS,
    PATCH_FRAMES,
    SAMPLE_RATE,
    PatchStream,
    check_samples,
    patch_times,
    waveform_to_patches,
)
from mmvideo.errors import ParameterError, SetupError
from mmvideo.records import AudioChunk

__all__ = ["AudioEncoder", "PatchStream", "load_class_names"]

MODEL_NAME = "yamnet"
EMBEDDING_SIZE = 1024
NUM_CLASSES = 521
#: files of the model this encoder reads (all pinned in mmvideo/models/catalog/audio.py)
MODEL_FILES = ("yamnet_w8a8.onnx", "model.data", "yamnet_class_map.csv")
#: converted forms, cached in the model's ``derived/`` folder (bump the spec version when they change)
WEIGHTS_FILE = "yamnet_float_weights.npz"
TFLITE_FILE = "yamnet_float32.tflite"


def load_class_names(path: Path) -> tuple[str, ...]:
    """The 521 display names of ``yamnet_class_map.csv`` (columns index, mid, display_name), in order."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        names = tuple(row["display_name"] for row in rows)
        if [int(row["index"]) for row in rows] != list(range(len(rows))):
            raise ValueError("index column is not 0..n-1")
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise SetupError(f"model {MODEL_NAME!r}: unreadable class map {path} ({exc})") from exc
    if len(names) != NUM_CLASSES:
        raise SetupError(f"model {MODEL_NAME!r}: class map {path} has {len(names)} classes, not {NUM_CLASSES}")
    return names


def check_patches(patches: Any) -> np.ndarray:
    """Validate a batch of log-mel patches: (N, 96, 64) float32, finite (``ParameterError`` otherwise)."""
    if not isinstance(patches, np.ndarray):
        raise ParameterError(f"patches must be a numpy array. Received: type={type(patches).__name__}")
    if patches.dtype != np.float32:
        raise ParameterError(f"patches must be float32 log-mel. Received: dtype={patches.dtype}")
    if patches.ndim != 3 or patches.shape[1:] != (PATCH_FRAMES, MEL_BANDS):
        raise ParameterError(f"patches must have shape (N, {PATCH_FRAMES}, {MEL_BANDS}). "
                             f"Received: shape={patches.shape}")
    if not np.isfinite(patches).all():
        raise ParameterError("patches must be finite. Received: NaN or inf values")
    return patches


class AudioEncoder(Encoder):
    """YAMNet: ``encode(patches (N, 96, 64)) -> EncoderOutput(embeddings (N, 1024) float32, scores
    (N, 521) float32 in [0, 1], class_names (521 AudioSet display names))``.

    Scores are independent sigmoids (multi-label), not a softmax. A patch's outputs do not depend on the
    other patches in the batch.
    """

    model_name = MODEL_NAME
    modality = "audio"
    embedding_size = EMBEDDING_SIZE

    def __init__(self, model_dir: Path | str | None = None, *, backend: str = "auto", device: str = "auto",
                 batch_size: int | None = None, num_threads: int | None = None) -> None:
        """Load (converting on first use) the model.

        model_dir: a folder with ``MODEL_FILES`` (conversions go to its ``derived/``); default: the verified
        files in the mmvideo model cache (``SetupError`` naming ``mmvideo models fetch yamnet`` when
        absent). backend: "litert" (CPU, the fast path), "keras" (any Keras backend, CPU or GPU) or "auto"
        (keras on a GPU when one is asked for or seen, else litert). device: "auto", "cpu" or "gpu".
        batch_size: patches per model call (default: 16 on LiteRT, whose single thread measured 1.42 CPU ms
        per patch at 16 against 1.59 at 64, as the activations stay in cache; 64 on Keras). num_threads:
        LiteRT threads (default: the CPUs this process may use).
        """
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ParameterError(f"batch_size must be an int >= 1. Received: batch_size={batch_size!r}")
        self.backend, self.device = litert_or_keras(backend, device)
        from mmvideo.models.store import model_files

        files, self._derived = model_files(MODEL_NAME, MODEL_FILES, model_dir)
        self._files = files
        self.class_names = load_class_names(files["yamnet_class_map.csv"])
        self._lock = threading.Lock()
        self._model: Any = None
        self._runner: Any = None
        self.batch_size = batch_size or (16 if self.backend == "litert" else 64)
        if self.backend == "litert":
            from mmvideo.encode.litert import LiteRTRunner

            self._runner = LiteRTRunner(self._tflite_path(), num_threads=num_threads)
            self._input_name = self._runner.input_names[0]
        else:
            import keras

            with keras.device(self.device):
                self._model = self._keras_model()
            self._keras_backend = keras.backend.backend()

    # ------------------------------------------------------------------------------------ conversion

    def _float_weights(self) -> list[np.ndarray]:
        """YAMNet's dequantized weights: from the cached ``.npz``, else read from the ONNX and cached."""
        from mmvideo.models.store import atomic_write

        path = self._derived / WEIGHTS_FILE
        if path.is_file():
            try:
                with np.load(path) as data:
                    return [data[f"arr_{i}"] for i in range(len(data.files))]
            except (OSError, ValueError, KeyError):
                pass  # unreadable: convert again below
        from mmvideo.encode.yamnet import load_onnx_weights

        weights = load_onnx_weights(self._files["yamnet_w8a8.onnx"])
        with atomic_write(path) as tmp:
            np.savez(tmp, *weights)
        return weights

    def _keras_model(self) -> Any:
        from mmvideo.encode.yamnet import build_yamnet

        model = build_yamnet()
        weights = self._float_weights()
        if [w.shape for w in model.get_weights()] != [w.shape for w in weights]:
            raise SetupError(f"model {MODEL_NAME!r}: cached weights {self._derived / WEIGHTS_FILE} do not fit "
                             "YAMNet; delete the file to convert again")
        model.set_weights(weights)
        return model

    def _tflite_path(self) -> Path:
        path = self._derived / TFLITE_FILE
        if not path.is_file():
            from mmvideo.encode.litert import convert_keras_to_tflite

            convert_keras_to_tflite(self._keras_model(), path)
        return path

    # -------------------------------------------------------------------------------------- patches

    @staticmethod
    def patches(samples: np.ndarray, start: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Log-mel patches of a whole waveform (pure, no model).

        samples: (n,) float32 mono at 16 kHz, in [-1, 1]. start: seconds of sample 0. Returns patches
        (P, 96, 64) float32 and their times (P, 2) float64 [start + 0.48 i, start + 0.48 i + 0.96];
        P = 1 + ceil((n - 15600) / 7680) (zero-padded at the end as YAMNet does), 1 for a short non-empty
        waveform, 0 for an empty one.
        """
        check_samples(samples)
        if not (isinstance(start, (int, float)) and math.isfinite(start)):
            raise ParameterError(f"start must be a finite number of seconds. Received: start={start!r}")
        patches = waveform_to_patches(samples)
        return patches, patch_times(patches.shape[0], float(start))

    # ------------------------------------------------------------------------------------- encoding

    def encode(self, batch: np.ndarray) -> EncoderOutput:
        """Embeddings and class scores of a batch of patches ((N, 96, 64) float32 log-mel, N >= 0, any mix
        of videos); ``times`` is None (the caller knows where its patches came from)."""
        patches = check_patches(batch)
        n = patches.shape[0]
        embeddings = np.empty((n, EMBEDDING_SIZE), np.float32)
        scores = np.empty((n, NUM_CLASSES), np.float32)
        for lo in range(0, n, self.batch_size):
            out = self._run(patches[lo:lo + self.batch_size])
            embeddings[lo:lo + len(out["embeddings"])] = out["embeddings"]
            scores[lo:lo + len(out["scores"])] = out["scores"]
        np.clip(scores, 0.0, 1.0, out=scores)
        return EncoderOutput(embeddings=embeddings, scores=scores, class_names=self.class_names)

    def _run(self, chunk: np.ndarray) -> dict[str, np.ndarray]:
        if self._runner is not None:
            return self._runner.run(**{self._input_name: chunk})
        import keras

        with self._lock, keras.device(self.device):
            out = self._model(chunk, training=False)
            return {k: np.asarray(keras.ops.convert_to_numpy(v), np.float32) for k, v in out.items()}

    def encode_waveform(self, samples: np.ndarray, start: float = 0.0) -> EncoderOutput:
        """:meth:`patches` then :meth:`encode` for one whole waveform, with ``times`` (P, 2) set."""
        patches, times = self.patches(samples, start)
        out = self.encode(patches)
        return EncoderOutput(out.embeddings, out.scores, out.class_names, times)

    def encode_stream(self, chunks: Iterable[AudioChunk]) -> Iterator[EncoderOutput]:
        """Encode a stream of contiguous chunks (16 kHz) in bounded memory: one output (with ``times``)
        per chunk that completes patches, plus the zero-padded last patch at the end; together they equal
        :meth:`encode_waveform` of the concatenated audio."""
        stream = PatchStream()
        for chunk in chunks:
            if chunk.sample_rate != SAMPLE_RATE:
                raise ParameterError(f"YAMNet needs {SAMPLE_RATE} Hz audio. "
                                     f"Received: sample_rate={chunk.sample_rate}")
            patches, times = stream.push(chunk.samples, chunk.start)
            if len(patches):
                out = self.encode(patches)
                yield EncoderOutput(out.embeddings, out.scores, out.class_names, times)
        patches, times = stream.finish()
        if len(patches):
            out = self.encode(patches)
            yield EncoderOutput(out.embeddings, out.scores, out.class_names, times)

    def fingerprint(self) -> dict[str, str]:
        """Model name and version and the backend: what changes the outputs (by ~1e-5 between backends)."""
        from mmvideo.models.registry import get_spec

        backend = "litert" if self.backend == "litert" else f"keras-{self._keras_backend}"
        return {"model": MODEL_NAME, "version": get_spec(MODEL_NAME).version, "backend": backend}
