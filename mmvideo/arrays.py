"""Numeric contracts shared by stages: one check per kind of array, with the project's error message style."""

from __future__ import annotations

import numpy as np

from mmvideo.errors import ParameterError


def check_rgb_frames(frames: np.ndarray, *, min_side: int = 2) -> np.ndarray:
    """``frames`` as an array, unchanged; ``ParameterError`` unless (N, H, W, 3) uint8 RGB, H and W >= min_side."""
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
        raise ParameterError(f"frames must be (N, H, W, 3) uint8 RGB; Received: shape={arr.shape}, dtype={arr.dtype}")
    if arr.shape[1] < min_side or arr.shape[2] < min_side:
        raise ParameterError(f"frames must be at least {min_side}x{min_side} pixels; Received: shape={arr.shape}")
    return arr
