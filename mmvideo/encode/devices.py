"""Where the encoders run: the one rule for "auto", "cpu" and "gpu" shared by every encoder.

On a machine with no GPU device node (no ``/dev/nvidia*``, no WSL ``/dev/dxg``) the answer is the CPU without
importing Keras, so CPU-only commands (``mmvideo search``, LiteRT encoders) never pay TensorFlow's start-up.
"""

from __future__ import annotations

import glob
import os

from mmvideo.errors import ParameterError, SetupError

DEVICES = ("auto", "cpu", "gpu")
#: backends of the encoders that have a LiteRT and a Keras path (audio, text)
BACKENDS = ("auto", "litert", "keras")
#: the image encoder's backends: it adds an int8 LiteRT conversion
IMAGE_BACKENDS = ("auto", "litert-int8", "litert", "keras")


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


def check_backend(backend: str, device: str, allowed: tuple[str, ...] = BACKENDS) -> None:
    """``ParameterError`` for a backend not in ``allowed``, an unknown device, or a LiteRT backend on the GPU;
    imports nothing (RunConfig checks its settings with it)."""
    if backend not in allowed:
        raise ParameterError(f"backend must be one of {allowed}. Received: backend={backend!r}")
    if device not in DEVICES:
        raise ParameterError(f"device must be one of {DEVICES}. Received: device={device!r}")
    if backend.startswith("litert") and device == "gpu":
        raise ParameterError(f"the {backend} backend runs on the CPU only; use backend='keras' for device='gpu'")


def choose_backend(backend: str, device: str, allowed: tuple[str, ...] = BACKENDS) -> str:
    """The one backend rule: ``backend`` itself unless "auto", which means Keras on a GPU (asked for, or seen
    by Keras under "auto") and LiteRT float32 on the CPU; ``allowed`` lists the encoder's backends."""
    check_backend(backend, device, allowed)
    if backend != "auto":
        return backend
    if device == "cpu":
        return "litert"
    if device == "gpu" or gpu_available():
        return "keras"
    return "litert"


def litert_or_keras(backend: str, device: str, allowed: tuple[str, ...] = BACKENDS) -> tuple[str, str]:
    """(backend, device) for an encoder with a LiteRT and a Keras path: (a LiteRT backend, "cpu:0") or
    ("keras", Keras device), by :func:`choose_backend` (``SetupError`` when "gpu" is asked for and none is seen)."""
    chosen = choose_backend(backend, device, allowed)
    if chosen != "keras":
        return chosen, "cpu:0"
    keras_device = resolve_device(device)
    if backend == "auto" and keras_device.lower().startswith("cpu"):
        return "litert", "cpu:0"
    return "keras", keras_device
