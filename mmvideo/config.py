"""One table of defaults for `mmvideo run`: typed, frozen, and the source of the CLI's --help defaults.

Precedence: command-line option > default. Two fingerprints say which outputs a setting invalidates:
``encoder_fingerprint()`` hashes what the evidence depends on (models and their versions, sampling, segments,
extras; field metadata ``fingerprint="encoder"``), ``run_fingerprint()`` that plus what fusion and the written
rows depend on (vocabulary, top_k, min_score, output columns; ``fingerprint="run"``). Evidence carries the
first, results the second, so re-fusing with a new vocabulary never needs new evidence.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from typing import Any

ENCODER = {"fingerprint": "encoder"}
RUN = {"fingerprint": "run"}


@dataclass(frozen=True)
class RunConfig:
    """Every setting of a run. ``metadata["fingerprint"]`` says which fingerprint a field belongs to."""

    # media
    fps: float = field(default=1.0, metadata={**ENCODER, "help": "frames sampled per second"})
    frame_size: int = field(default=224, metadata={**ENCODER, "help": "frame width and height in pixels"})
    aspect: str = field(default="squash", metadata={**ENCODER,
                                                     "help": "squash the whole frame, or pad to keep proportions"})
    # segments
    segment: float = field(default=5.0, metadata={**ENCODER, "help": "segment length in seconds"})
    shots: bool = field(default=False, metadata={**ENCODER, "help": "cut segments where the picture changes"})
    # tags
    labels: tuple[tuple[str, str], ...] = field(default=(), metadata={**RUN,
                                                                      "help": "tag vocabulary (label, description)"})
    top_k: int = field(default=5, metadata={**RUN, "help": "tags per segment (at most)"})
    min_score: float = field(default=0.2, metadata={**RUN,
                                                    "help": "leave out tags scoring below this (fused scores are "
                                                            "at most 1, about 0 for an average tag; 0 keeps top-k)"})
    # modalities and opt-in extras
    disable: tuple[str, ...] = field(default=(), metadata={**ENCODER,
                                                          "help": "registered modalities to leave out (e.g. audio)"})
    speech: bool = field(default=False, metadata={**ENCODER, "help": "speech-to-text (Whisper tiny.en)"})
    ocr: bool = field(default=False, metadata={**ENCODER, "help": "read on-screen text every few seconds"})
    faces: bool = field(default=True, metadata={**ENCODER, "help": "face evidence (BlazeFace)"})
    image_backend: str = field(default="auto", metadata={**ENCODER,
                                                          "help": "image encoder: auto (Keras on a GPU, else LiteRT "
                                                                  "float32), litert, litert-int8 (less CPU) or keras"})
    # output
    format: str = field(default="parquet", metadata={"help": "jsonl, parquet or both"})
    modality_embeddings: bool = field(default=False, metadata={**RUN,
                                                               "help": "also write per-modality embeddings"})
    evidence: bool = field(default=False, metadata={**RUN, "help": "keep per-item evidence (OUT/evidence/) so "
                                                                   "`mmvideo fuse` can re-fuse without decoding"})
    # execution (never change results beyond the backends' stated tolerance)
    device: str = field(default="auto", metadata={"help": "auto, cpu or gpu"})
    batch_size: int = field(default=0, metadata={"help": "frames per image-encoder call; 0: 1 on the CPU "
                                                         "(fastest per frame with LiteRT, least memory), 64 on a GPU"})
    timeout: float | None = field(default=None, metadata={"help": "seconds allowed per video"})
    retry_failed: bool = field(default=False, metadata={"help": "retry videos that failed before"})
    max_runtime: float | None = field(default=None, metadata={"help": "stop starting new videos after N seconds"})

    def settings(self, kind: str) -> dict[str, Any]:
        """The settings of one fingerprint (``"encoder"`` or ``"run"``), as plain JSON values."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("fingerprint") == kind}
        return json.loads(json.dumps(out, default=list))

    def result_settings(self) -> dict[str, Any]:
        """Every setting that changes results (encoder and run), as plain JSON values."""
        return {**self.settings("encoder"), **self.settings("run")}


def _hash(payload: dict[str, Any]) -> str:
    return hashlib.blake2b(json.dumps(payload, sort_keys=True).encode("utf-8"), digest_size=8).hexdigest()


def encoder_fingerprint(config: RunConfig, versions: dict[str, str]) -> str:
    """16 hex chars over the encoder settings and the model/pipeline versions: what evidence depends on."""
    return _hash({"settings": config.settings("encoder"), "models": dict(sorted(versions.items()))})


def run_fingerprint(config: RunConfig, encoder_fp: str, versions: dict[str, str]) -> str:
    """16 hex chars over the encoder fingerprint, the run settings and fusion versions (a head's hash later)."""
    return _hash({"encoder": encoder_fp, "settings": config.settings("run"),
                  "versions": dict(sorted(versions.items()))})


def default(name: str) -> Any:
    """The default of one RunConfig field (for the CLI's options)."""
    return {f.name: f.default for f in fields(RunConfig)}[name]


def help_text(name: str) -> str:
    """The help line of one RunConfig field."""
    return {f.name: f.metadata.get("help", "") for f in fields(RunConfig)}[name]
