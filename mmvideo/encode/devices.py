"""Where the encoders run: the one rule for "auto", "cpu" and "gpu" shared by every encoder.

On a machine with no GPU device node (no ``/dev/nvidia*``, no WSL ``/dev/dxg``) the answer is the CPU without
importing Keras, so CPU-only commands (``mmvideo search``, LiteRT encoders) never pay TensorFlow's start-up.
"""

from __future__ import annotations

import glob
import os

from mmvideo.errors import ParameterError, SetupError

DEVICES = ("auto", "cpu", "gpu")
#: backends of the encoders that have a LiteRT and a Keras path (audio, text; image adds "litert-int8")
BACKENDS = ("auto", "litert", "keras")


def gpu_device_node_present() -> bool:
    """True when the kernel exposes an NVIDIA (or WSL) GPU device node: a GPU may be usable."""
    return bool(glob.glob("/dev/nvidia[0-9]*")) or os.path.exists("/dev/dxg")


def gpu_available() -> bool:
    """True when the Keras backend sees a GPU; False without importing it when no GPU device node exists."""
    if not gpu_device_node_present():
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


def resolve_device(device: str) -> str:
    """Keras device name for ``device`` ("auto": the first GPU if Keras sees one, else the CPU)."""
    if device not in DEVICES:
        raise ParameterError(f"device must be one of {DEVICES}. Received: device={device!r}")
    if device == "cpu" or (device == "auto" and not gpu_device_node_present()):
        return "cpu:0"
    import keras

    gpus = keras.distribution.list_devices("gpu")
    if gpus:
        return gpus[0]
    if device == "gpu":
        raise SetupError(f"device 'gpu' was asked for but the {keras.backend.backend()} backend sees no GPU")
    return "cpu:0"


def litert_or_keras(backend: str, device: str) -> tuple[str, str]:
    """("litert", "cpu:0") or ("keras", Keras device) for an encoder with both paths: "auto" means Keras on a
    GPU when one is asked for or seen, else LiteRT on the CPU (``ParameterError`` for bad or clashing values)."""
    if backend not in BACKENDS:
        raise ParameterError(f"backend must be one of {BACKENDS}. Received: backend={backend!r}")
    if device not in DEVICES:
        raise ParameterError(f"device must be one of {DEVICES}. Received: device={device!r}")
    if backend == "litert" and device == "gpu":
        raise ParameterError("the litert backend runs on the CPU; use backend='keras' for device='gpu'")
    if backend == "litert" or (backend == "auto" and device == "cpu"):
        return "litert", "cpu:0"
    keras_device = resolve_device(device)
    if backend == "auto" and keras_device.lower().startswith("cpu"):
        return "litert", "cpu:0"
    return "keras", keras_device
