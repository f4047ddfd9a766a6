"""A trained head on disk: ``HEAD/model.keras``, ``HEAD/head.json``, ``HEAD/MODEL_CARD.md``.

``head.json`` holds the label list, the decision thresholds chosen on validation, the fusion, the features it
reads (``FeatureSpec``s), the encoder fingerprint and settings of the evidence it was trained on (a run or
evidence with another fingerprint is refused: the features would mean something else), the split (the test
video ids ``mmvideo evaluate`` uses), the hyperparameters, the metrics and the versions. ``read_head`` reads the
JSON only (no Keras): what a pipeline needs for its fingerprint and schema. The head's hash (blake2b of both
files) goes into the run fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmvideo.errors import SetupError
from mmvideo.train.dataset import FeatureSpec

HEAD_FORMAT = 1
MODEL_FILE = "model.keras"
META_FILE = "head.json"
CARD_FILE = "MODEL_CARD.md"
EMBEDDING_COLUMN = "head_embedding"


@dataclass(frozen=True)
class HeadInfo:
    """What ``head.json`` says, plus the folder and the head's hash."""

    path: str
    labels: tuple[str, ...]
    thresholds: tuple[float, ...]
    fusion: str
    exclusive: bool
    specs: tuple[FeatureSpec, ...]
    embedding_size: int
    encoder_fingerprint: str
    encoder_settings: dict[str, Any]
    split: dict[str, list[str]]
    hyperparameters: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    hash: str = ""

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.specs)

    def check_encoder(self, fingerprint: str, settings: dict[str, Any] | None, what: str) -> None:
        """``SetupError`` when ``what`` (a run, an evidence file) was made with another encoder fingerprint."""
        if fingerprint == self.encoder_fingerprint:
            return
        differ = ""
        if settings is not None:
            keys = sorted(k for k in set(settings) | set(self.encoder_settings)
                          if settings.get(k) != self.encoder_settings.get(k))
            if keys:
                differ = "; settings that differ: " + ", ".join(
                    f"{k}={settings.get(k)!r} (head: {self.encoder_settings.get(k)!r})" for k in keys)
            else:
                differ = "; the models or their versions differ"
        raise SetupError(f"{self.path}: head expects evidence with encoder fingerprint {self.encoder_fingerprint}, "
                         f"{what} has {fingerprint}{differ}")

    def columns(self) -> list[tuple[str, Any]]:
        """The output column the head adds: ``head_embedding`` fixed_size_list<float32>[E]."""
        import pyarrow as pa

        return [(EMBEDDING_COLUMN, pa.list_(pa.float32(), self.embedding_size))]


def head_hash(path: os.PathLike | str) -> str:
    """16 hex chars over ``model.keras`` and ``head.json``."""
    h = hashlib.blake2b(digest_size=8, person=b"mmvideo-head-v1")
    for name in (MODEL_FILE, META_FILE):
        h.update((Path(path) / name).read_bytes())
    return h.hexdigest()


def read_head(path: os.PathLike | str) -> HeadInfo:
    """A head's metadata (``SetupError`` naming the folder when it is not a head)."""
    folder = Path(path)
    meta_path = folder / META_FILE
    if not meta_path.is_file() or not (folder / MODEL_FILE).is_file():
        raise SetupError(f"{folder}: not a trained head (expected {META_FILE} and {MODEL_FILE} from `mmvideo train`)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != HEAD_FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, this mmvideo reads {HEAD_FORMAT}")
        return HeadInfo(path=str(folder), labels=tuple(meta["labels"]), thresholds=tuple(meta["thresholds"]),
                        fusion=meta["fusion"], exclusive=bool(meta["exclusive"]),
                        specs=tuple(FeatureSpec(**s) for s in meta["features"]),
                        embedding_size=int(meta["embedding_size"]), encoder_fingerprint=meta["encoder_fingerprint"],
                        encoder_settings=meta.get("encoder_settings", {}), split=meta["split"],
                        hyperparameters=meta["hyperparameters"], metrics=meta.get("metrics", {}),
                        hash=head_hash(folder))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SetupError(f"{meta_path}: not a readable head ({type(exc).__name__}: {exc})") from None


def load_model(info: HeadInfo):
    """The head's Keras model (three outputs: scores, weights, embedding)."""
    import keras

    import mmvideo.train.layers  # noqa: F401 - registers the layers

    return keras.saving.load_model(Path(info.path) / MODEL_FILE, compile=False)


def save_head(out: os.PathLike | str, model, meta: dict[str, Any], card: str) -> HeadInfo:
    """Write a head folder (model, metadata, model card) and read it back."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / MODEL_FILE)
    (folder / META_FILE).write_text(json.dumps({"format": HEAD_FORMAT, **meta}, indent=1, default=float) + "\n",
                                    encoding="utf-8")
    (folder / CARD_FILE).write_text(card, encoding="utf-8")
    return read_head(folder)
