"""The encoder interface every modality implements.

An encoder owns its model's preprocessing: it takes items as the media layer yields them (RGB uint8 frames,
16 kHz mono float32 audio, strings) and returns per-item outputs. Batches may mix items from many videos.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


@dataclass(frozen=True)
class EncoderOutput:
    """Per-item outputs of one batch.

    embeddings: (N, D) float32. scores: (N, C) float32 probabilities in [0, 1] or None when the model has
    no classifier head. class_names: the C class names (same order as ``scores`` columns) or None.
    times: (N, 2) float64 [start, end] seconds of each item where items are time windows (audio patches,
    speech cues), else None.
    """

    embeddings: np.ndarray
    scores: np.ndarray | None = None
    class_names: tuple[str, ...] | None = None
    times: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])


class Encoder(abc.ABC):
    """A pretrained model behind one call: ``encode(batch) -> EncoderOutput``."""

    #: registry name of the model (see ``mmvideo.models.registry``)
    model_name: str = ""
    #: "image", "audio" or "text"
    modality: str = ""
    #: size D of the embeddings
    embedding_size: int = 0

    @abc.abstractmethod
    def encode(self, batch: Sequence[Any] | np.ndarray) -> EncoderOutput:
        """Encode one batch; see the subclass for the item type and numeric contract."""

    def fingerprint(self) -> dict[str, str]:
        """Settings that change this encoder's results (model name and version, backend)."""
        return {"model": self.model_name}
