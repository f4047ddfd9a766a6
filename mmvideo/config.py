"""One table of defaults for `mmvideo run`: typed, frozen, and the source of the CLI's --help defaults.

Precedence: command-line option > default. ``fingerprint()`` hashes every setting that changes results
(plus model versions) so an output folder knows which videos must be redone when a setting changes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class RunConfig:
    """Every setting of a run. Fields with ``metadata={"result": True}`` change results (fingerprinted)."""

    # media
    fps: float = field(default=1.0, metadata={"result": True, "help": "frames sampled per second"})
    frame_size: int = field(default=224, metadata={"result": True, "help": "frame width and height in pixels"})
    aspect: str = field(default="squash", metadata={"result": True,
                                                     "help": "squash the whole frame, or pad to keep proportions"})
    # segments
    segment: float = field(default=5.0, metadata={"result": True, "help": "segment length in seconds"})
    shots: bool = field(default=False, metadata={"result": True, "help": "cut segments where the picture changes"})
    # tags
    labels: tuple[tuple[str, str], ...] = field(default=(), metadata={"result": True,
                                                                      "help": "tag vocabulary (label, description)"})
    top_k: int = field(default=5, metadata={"result": True, "help": "tags per segment (at most)"})
    min_score: float = field(default=0.2, metadata={"result": True,
                                                    "help": "leave out tags scoring below this (fused scores are "
                                                            "at most 1, about 0 for an average tag; 0 keeps top-k)"})
    # opt-in extras
    speech: bool = field(default=False, metadata={"result": True, "help": "speech-to-text (Whisper tiny.en)"})
    ocr: bool = field(default=False, metadata={"result": True, "help": "read on-screen text every few seconds"})
    faces: bool = field(default=True, metadata={"result": True, "help": "face evidence (BlazeFace)"})
    image_backend: str = field(default="auto", metadata={"result": True,
                                                          "help": "image encoder: auto (Keras on a GPU, else LiteRT "
                                                                  "float32), litert, litert-int8 (less CPU) or keras"})
    # output
    format: str = field(default="parquet", metadata={"help": "jsonl, parquet or both"})
    modality_embeddings: bool = field(default=False, metadata={"result": True,
                                                               "help": "also write per-modality embeddings"})
    # execution (never change results beyond the backends' stated tolerance)
    device: str = field(default="auto", metadata={"help": "auto, cpu or gpu"})
    batch_size: int = field(default=0, metadata={"help": "frames per image-encoder call; 0: 1 on the CPU "
                                                         "(fastest per frame with LiteRT, least memory), 64 on a GPU"})
    timeout: float | None = field(default=None, metadata={"help": "seconds allowed per video"})
    retry_failed: bool = field(default=False, metadata={"help": "retry videos that failed before"})
    max_runtime: float | None = field(default=None, metadata={"help": "stop starting new videos after N seconds"})

    def result_settings(self) -> dict[str, Any]:
        """The settings that change results, as plain JSON values."""
        out = {}
        for f in fields(self):
            if f.metadata.get("result"):
                out[f.name] = getattr(self, f.name)
        return json.loads(json.dumps(out, default=list))


def fingerprint(config: RunConfig, model_versions: dict[str, str]) -> str:
    """A short stable hash of the result settings and model versions (16 hex chars)."""
    payload = json.dumps({"settings": config.result_settings(), "models": dict(sorted(model_versions.items()))},
                         sort_keys=True)
    return hashlib.blake2b(payload.encode("utf-8"), digest_size=8).hexdigest()


def default(name: str) -> Any:
    """The default of one RunConfig field (for the CLI's options)."""
    return {f.name: f.default for f in fields(RunConfig)}[name]


def help_text(name: str) -> str:
    """The help line of one RunConfig field."""
    return {f.name: f.metadata.get("help", "") for f in fields(RunConfig)}[name]
