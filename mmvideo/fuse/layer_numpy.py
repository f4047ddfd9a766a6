"""Zero-shot ``LabelQueryAttention`` as a numpy forward pass, so a run on the CPU never imports Keras.

The math (and its docstring) is ``mmvideo.fuse.layer.LabelQueryAttention``'s with identity projections and
its initial calibration, which is what zero-shot fusion uses; the Keras layer stays the model for training,
heads and TFLite. The settings' names, checks and defaults live here, once, and the Keras layer uses them.
Float32 throughout; equal to the Keras layer within 1e-5 (tests/test_fusion_layer.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mmvideo.errors import ParameterError

NORMALIZE = ("peak", "zscore", "none")
#: floor of the spread per normalisation (cosine units; a z-score's spread is a standard deviation)
DEFAULT_MIN_SPREAD = {"peak": 0.5, "zscore": 0.05, "none": 0.0}


def per_modality(value: float | Sequence[float], n: int, name: str) -> list[float]:
    """A number or ``n`` numbers -> ``n`` floats; ParameterError otherwise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)] * n
    values = [float(v) for v in value]  # type: ignore[union-attr]
    if len(values) != n:
        raise ParameterError(f"{name} must be a number or {n} numbers (one per modality). "
                             f"Received: {name}={value!r}")
    return values


@dataclass(frozen=True)
class AttentionSettings:
    """The layer's checked settings (see ``LabelQueryAttention`` for their meaning); ``min_spread`` None -> the
    default of ``normalize``."""

    num_modalities: int = 4
    temperature: float = 0.2
    normalize: str = "peak"
    scale: float | Sequence[float] = 1.0
    bias: float | Sequence[float] = 0.0
    min_spread: float | None = None
    epsilon: float = 1e-6

    def __post_init__(self) -> None:
        n = self.num_modalities
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ParameterError(f"num_modalities must be an int >= 1. Received: num_modalities={n!r}")
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not t > 0:
            raise ParameterError(f"temperature must be a number > 0. Received: temperature={t!r}")
        if not isinstance(self.epsilon, (int, float)) or not 0 < self.epsilon < 1:
            raise ParameterError(f"epsilon must be in (0, 1). Received: epsilon={self.epsilon!r}")
        if self.normalize not in NORMALIZE:
            raise ParameterError(f"normalize must be one of {NORMALIZE}. Received: normalize={self.normalize!r}")
        spread = DEFAULT_MIN_SPREAD[self.normalize] if self.min_spread is None else self.min_spread
        if isinstance(spread, bool) or not isinstance(spread, (int, float)) or not 0 <= spread <= 2:
            raise ParameterError(f"min_spread must be a number in [0, 2]. Received: min_spread={spread!r}")
        object.__setattr__(self, "temperature", float(t))
        object.__setattr__(self, "min_spread", float(spread))
        object.__setattr__(self, "epsilon", float(self.epsilon))
        object.__setattr__(self, "scale", tuple(per_modality(self.scale, n, "scale")))
        object.__setattr__(self, "bias", tuple(per_modality(self.bias, n, "bias")))


class NumpyLabelQueryAttention:
    """``LabelQueryAttention(...)`` at construction (identity projections, initial calibration), in numpy.

    Called like the layer: ``(queries (T, D) or (B, T, D), tokens (B, M, D), token_mask (B, M) bool or None)``
    -> ``(scores (B, T), attention (B, T, M))`` float32 numpy arrays.
    """

    def __init__(self, num_modalities: int = 4, temperature: float = 0.2, normalize: str = "peak",
                 scale: float | Sequence[float] = 1.0, bias: float | Sequence[float] = 0.0,
                 min_spread: float | None = None, epsilon: float = 1e-6) -> None:
        self.settings = AttentionSettings(num_modalities, temperature, normalize, scale, bias, min_spread, epsilon)
        self.num_modalities = num_modalities
        s = self.settings
        self._scale = np.asarray(s.scale, np.float32)
        self._bias = np.asarray(s.bias, np.float32)
        # the Keras layer keeps log(temperature) as a float32 weight and divides by its exp
        self._temperature = np.exp(np.float32(math.log(s.temperature)))
        self._eps = np.float32(s.epsilon)
        self._floor = np.float32(max(s.min_spread, s.epsilon))

    def _norm(self, x: np.ndarray, keepdims: bool = False) -> np.ndarray:
        return np.sqrt(np.sum(np.square(x), axis=-1, keepdims=keepdims) + self._eps ** 2)

    def _calibrated(self, sim: np.ndarray, strength: np.ndarray) -> np.ndarray:
        """sim (B, T, M) cosines -> calibrated scores (B, T, M)."""
        if self.settings.normalize != "none":
            mean = np.mean(sim, axis=1, keepdims=True)  # (B, 1, M): over the tags
            if self.settings.normalize == "zscore":
                spread = np.std(sim, axis=1, keepdims=True)
            else:
                spread = np.max(sim, axis=1, keepdims=True) - mean
            sim = (sim - mean) / np.maximum(spread, self._floor)
        return self._scale * strength[:, None, :] * sim + self._bias

    def __call__(self, queries: np.ndarray, tokens: np.ndarray, token_mask: np.ndarray | None = None) -> (
            tuple[np.ndarray, np.ndarray]):
        tokens = np.asarray(tokens, np.float32)
        queries = np.asarray(queries, np.float32)
        m = self.num_modalities
        if tokens.ndim != 3 or tokens.shape[1] != m:
            raise ParameterError(f"tokens must have shape (B, {m}, D). Received: tokens.shape={tokens.shape}")
        if queries.ndim not in (2, 3) or queries.shape[-1] != tokens.shape[-1]:
            raise ParameterError(f"queries must have shape (T, D) or (B, T, D) with D={tokens.shape[-1]}. "
                                 f"Received: queries.shape={queries.shape}")
        present = (np.ones(tokens.shape[:2], bool) if token_mask is None
                   else np.asarray(token_mask).astype(bool).reshape(tokens.shape[:2]))  # (B, M)
        weight = present.astype(np.float32)
        with np.errstate(invalid="ignore", over="ignore"):  # masked slots may hold NaN or huge values
            tokens = np.where(present[:, :, None], tokens, np.float32(0))  # (B, M, D)
        strength = np.minimum(self._norm(tokens), np.float32(1))  # (B, M)
        q = queries / self._norm(queries, keepdims=True)
        k = tokens / self._norm(tokens, keepdims=True)  # identity projections: key = value = token
        sim = np.matmul(q, np.swapaxes(k, 1, 2))  # (T, D) or (B, T, D) @ (B, D, M) -> (B, T, M)
        calibrated = self._calibrated(sim, strength)  # key and value sides are equal
        logits = calibrated / self._temperature
        slot = present[:, None, :]  # (B, 1, M)
        top = np.max(np.where(slot, logits, np.float32(-1e9)), axis=-1, keepdims=True)  # (B, T, 1)
        shifted = np.exp(np.where(slot, logits - top, np.float32(0))) * weight[:, None, :]
        attention = shifted / np.maximum(np.sum(shifted, axis=-1, keepdims=True), self._eps)
        value = np.where(slot, calibrated, np.float32(0))
        scores = np.sum(attention * value, axis=-1)  # (B, T)
        return scores.astype(np.float32), attention.astype(np.float32)
