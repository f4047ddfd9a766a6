"""Run converted Keras models on CPU with LiteRT (the TFLite runtime) and XNNPACK.

Helpers shared by the encoders: :func:`convert_keras_to_tflite` writes a float32 ``.tflite`` through
Keras' LiteRT exporter (atomically, so a crash never leaves a half model in the cache),
:func:`convert_keras_to_int8_tflite` an int8-quantized one (float in/out) through TFLite's converter, and
:class:`LiteRTRunner` runs it for any batch size and returns numpy outputs by name. No XLA anywhere: on
these CPUs jit-compiled Keras is 5-15x slower than LiteRT.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mmvideo.errors import ParameterError, SetupError


def default_threads() -> int:
    """CPU cores this process may use (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def convert_keras_to_tflite(model: Any, path: os.PathLike | str) -> Path:
    """Export a Keras model to a float32 ``.tflite`` at ``path`` (temp name + rename); returns the path.

    Dynamic dimensions of the Keras inputs (the batch) stay dynamic; output names are the keys of the
    model's dict outputs.
    """
    from mmvideo.models.store import atomic_write

    final = Path(path)
    with atomic_write(final) as tmp:
        tmp.unlink()  # the exporter writes a fresh file
        model.export(str(tmp), format="litert", verbose=False)
    return final


def convert_keras_to_int8_tflite(model: Any, path: os.PathLike | str, calibration: np.ndarray,
                                 float_layers: tuple[str, ...] = ()) -> Path:
    """Write ``model`` (one input, one output) to ``path`` with full-integer post-training quantization:
    int8 weights and activations inside, float32 input and output. ``calibration`` (N, ...) float32
    samples of the input, one per representative step, set the activation ranges. Ops whose output tensor
    name contains one of ``float_layers`` (Keras layer names), and the op making the model's output, stay
    float32 (selective quantization, for the layers int8 hurts most). Returns the path.

    Goes through ``tf.lite.TFLiteConverter`` (and its QuantizationDebugger for the float ops) because
    Keras' LiteRT exporter has no quantization option.
    """
    import tensorflow as tf

    calibration = np.asarray(calibration, dtype=np.float32)
    if calibration.ndim < 2 or calibration.shape[0] < 1:
        raise ParameterError(f"calibration must be (N, ...) with N >= 1. Received: shape={calibration.shape}")
    from mmvideo.models.store import atomic_write

    def representative() -> Any:
        for x in calibration:
            yield [x[None]]

    def converter() -> Any:
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
        return conv

    if float_layers:
        from ai_edge_litert.interpreter import Interpreter

        plain = Interpreter(model_content=tf.lite.TFLiteConverter.from_keras_model(model).convert())
        outputs = {d["name"] for d in plain.get_output_details()}
        denylist = sorted({d["name"] for d in plain.get_tensor_details()
                           if d["name"] in outputs or any(p in d["name"] for p in float_layers)})
        options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=denylist)
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter(), debug_dataset=lambda: ([x[None]] for x in calibration[:1]),
            debug_options=options)
        data = debugger.get_nondebug_quantized_model()
    else:
        data = converter().convert()
    final = Path(path)
    with atomic_write(final) as tmp:
        tmp.write_bytes(data)
    return final


class LiteRTRunner:
    """One ``.tflite`` model behind ``run(**inputs) -> {output name: ndarray}`` on CPU (XNNPACK).

    Batch handling: the first dimension of every input is the batch. ``fixed_batch=None`` resizes the
    interpreter's inputs to each call's batch size (LiteRT skips the re-plan when the size repeats);
    ``fixed_batch=B`` keeps one allocation of batch B, runs B items at a time and zero-pads the last
    chunk. Calls are serialised by a lock (an interpreter is not re-entrant).

    Resizing is the default: over mixed batch sizes (32, 7, 32, 13, 32, 1) MobileNetV2 ran at 137 images/s
    resized vs 62 padded to 32 (2 shared cores), and a repeated size costs nothing extra.
    """

    def __init__(self, path: os.PathLike | str, num_threads: int | None = None,
                 fixed_batch: int | None = None, signature: str | None = None) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:  # pragma: no cover - ai-edge-litert is a dependency
            raise SetupError("LiteRT is not installed: pip install ai-edge-litert") from exc
        if fixed_batch is not None and fixed_batch < 1:
            raise ParameterError(f"fixed_batch must be >= 1 or None. Received: fixed_batch={fixed_batch}")
        self.path = Path(path)
        if not self.path.is_file():
            raise SetupError(f"LiteRT model {self.path} does not exist")
        self.num_threads = int(num_threads) if num_threads else default_threads()
        self.fixed_batch = fixed_batch
        # the default op resolver applies the XNNPACK delegate to float models
        from mmvideo.native_stderr import native_stderr_captured

        try:
            with native_stderr_captured():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
                self._interpreter = Interpreter(model_path=str(self.path), num_threads=self.num_threads)
                self._interpreter.allocate_tensors()  # applies the delegate now, not on the first batch
        except (ValueError, RuntimeError) as exc:  # truncated or foreign file: LiteRT says only "not valid"
            raise SetupError(f"{self.path} is not a readable LiteRT model ({str(exc).strip()}); delete it and "
                             "mmvideo converts it again") from exc
        signatures = self._interpreter.get_signature_list()
        if not signatures:
            raise SetupError(f"{self.path}: the model has no signature to run")
        self.signature = signature or next(iter(signatures))
        self._runner = self._interpreter.get_signature_runner(self.signature)
        self.input_names: tuple[str, ...] = tuple(signatures[self.signature]["inputs"])
        self.output_names: tuple[str, ...] = tuple(signatures[self.signature]["outputs"])
        details = self._runner.get_input_details()
        self._input_dtypes = {name: np.dtype(details[name]["dtype"]) for name in self.input_names}
        self._input_shapes = {name: tuple(int(d) for d in details[name]["shape_signature"])
                              for name in self.input_names}
        self._lock = threading.Lock()

    def input_shape(self, name: str) -> tuple[int, ...]:
        """Declared shape of input ``name``; -1 marks a dynamic dimension."""
        return self._input_shapes[name]

    def run(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Outputs for a batch: every input has the same first dimension N >= 1; each output is (N, ...)."""
        if set(inputs) != set(self.input_names):
            raise ParameterError(f"inputs must be {sorted(self.input_names)}. Received: {sorted(inputs)}")
        arrays = {k: np.ascontiguousarray(v, dtype=self._input_dtypes[k]) for k, v in inputs.items()}
        sizes = {a.shape[0] if a.ndim else -1 for a in arrays.values()}
        if len(sizes) != 1 or min(sizes) < 1:
            raise ParameterError(f"inputs need one shared batch size >= 1. Received shapes: "
                                 f"{ {k: v.shape for k, v in arrays.items()} }")
        n = sizes.pop()
        with self._lock:
            if self.fixed_batch is None:
                return self._invoke(arrays)
            b = self.fixed_batch
            chunks: list[dict[str, np.ndarray]] = []
            for start in range(0, n, b):
                part = {k: v[start:start + b] for k, v in arrays.items()}
                m = next(iter(part.values())).shape[0]
                if m < b:
                    part = {k: np.concatenate([v, np.zeros((b - m,) + v.shape[1:], v.dtype)])
                            for k, v in part.items()}
                out = self._invoke(part)
                chunks.append({k: v[:m] for k, v in out.items()})
            return {k: np.concatenate([c[k] for c in chunks]) for k in self.output_names}

    def _invoke(self, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        # the signature runner resizes inputs only when their shape changed, then allocates and invokes
        out = self._runner(**arrays)
        return {k: np.array(v, copy=True) for k, v in out.items()}
