"""One table of settings for `mmvideo run`: typed, frozen, checked when built, and the source of the CLI's options.

Each field's metadata holds its help line, its allowed values (``choices``, or a range: ``low``/``high``
inclusive, ``above`` exclusive) and, where it differs from ``--field-name``, its CLI form; ``RunConfig``
checks and normalises every field in ``__post_init__`` (``ParameterError``, one line), so bad settings fail
before any video is probed whoever builds the config, and ``mmvideo.cli.options`` makes the Click options
from the same table. Precedence (``mmvideo run``): command-line option > config file > default.

Two fingerprints say which outputs a setting invalidates: ``encoder_fingerprint()`` hashes what the evidence
depends on (models and their versions, sampling, segments, extras; field metadata ``fingerprint="encoder"``),
``run_fingerprint()`` that plus what fusion and the written rows depend on (vocabulary, top_k, min_score,
output columns; ``fingerprint="run"``). Evidence carries the first, results the second, so re-fusing with a
new vocabulary never needs new evidence.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import typing
from dataclasses import Field, dataclass, field, fields
from typing import Any

from mmvideo.encode.devices import DEVICES, IMAGE_BACKENDS, check_backend
from mmvideo.errors import ParameterError

ENCODER = {"fingerprint": "encoder"}
RUN = {"fingerprint": "run"}
FORMATS = ("jsonl", "parquet", "both")
ASPECTS = ("squash", "pad")
ENGINES = ("local", "ray")
SAMPLE_MODES = ("auto", "keyframes", "fps")  # mmvideo.media.keyframes.SAMPLE_MODES (not imported: keeps config light)
_MODALITY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _setting(default: Any, help: str, kind: dict[str, str] | None = None, **spec: Any) -> Any:  # noqa: A002
    """A RunConfig field: default, help line, fingerprint kind and its spec (choices, low/high/above, flag,
    metavar, shown: the default as --help says it)."""
    return field(default=default, metadata={**(kind or {}), "help": help, **spec})


@dataclass(frozen=True)
class RunConfig:
    """Every setting of a run. ``metadata["fingerprint"]`` says which fingerprint a field belongs to.

    ``labels`` also takes a labels file path or a "a,b,c" string, or a list of labels; ``disable`` a comma
    string or a list: both are normalised to tuples (labels: ``(label, description)`` pairs).
    """

    # media
    fps: float = _setting(1.0, "frames sampled per second", ENCODER, above=0, high=60)
    frame_size: int = _setting(224, "frame width and height in pixels", ENCODER, low=32, high=1024)
    aspect: str = _setting("squash", "squash the whole frame, or pad to keep proportions", ENCODER, choices=ASPECTS)
    sample: str = _setting("fps", "which frames: fps (the first of every 1/fps s), keyframes (the first keyframe "
                                  "of every 1/fps s: decodes far less), auto (keyframes where every segment holds "
                                  "2, else fps)", ENCODER, choices=SAMPLE_MODES)
    # segments
    segment: float = _setting(5.0, "segment length in seconds", ENCODER, low=0.1)
    shots: bool = _setting(False, "cut segments where the picture changes", ENCODER)
    # tags
    labels: tuple[tuple[str, str], ...] = _setting(
        (), "zero-shot tag vocabulary: a file (one tag per line, optional description after a tab) or a "
            "comma-separated list", RUN, metavar="FILE|a,b,c", shown="the built-in everyday tags")
    top_k: int = _setting(5, "tags per segment (at most)", RUN, low=1, high=100)
    min_score: float = _setting(0.2, "leave out tags scoring below this (fused scores are at most 1, about 0 for "
                                     "an average tag; 0 keeps top-k)", RUN, low=-10, high=1)
    head: str | None = _setting(None, "a fusion head trained with `mmvideo train` (a folder): its labels replace the "
                                      "zero-shot tags (its hash joins the run fingerprint)", metavar="HEAD")
    # modalities and opt-in extras
    disable: tuple[str, ...] = _setting((), "registered modalities to leave out (e.g. audio; repeat it or give a "
                                            "comma list)", ENCODER, metavar="NAME", multiple=True)
    speech: bool = _setting(False, "speech-to-text (Whisper tiny.en)", ENCODER)
    ocr: bool = _setting(False, "read on-screen text every few seconds", ENCODER)
    faces: bool = _setting(True, "face evidence (BlazeFace)", ENCODER)
    image_backend: str = _setting("auto", "image encoder: auto (Keras on a GPU, else LiteRT float32), litert, "
                                          "litert-int8 (less CPU) or keras", ENCODER, choices=IMAGE_BACKENDS)
    # output
    format: str = _setting("parquet", "output format: jsonl, parquet or both", choices=FORMATS)
    modality_embeddings: bool = _setting(False, "also write per-modality embeddings", RUN)
    evidence: bool = _setting(False, "keep per-item evidence (OUT/evidence/) so `mmvideo fuse` can re-fuse "
                                     "without decoding", RUN)
    thumbnails: bool = _setting(False, "a thumbnail per segment (OUT/thumbnails/<video_id>/<segment>.jpg, 160 px "
                                       "wide, as displayed) for `mmvideo report`", RUN)
    # execution (never change results beyond the backends' stated tolerance)
    device: str = _setting("auto", "where the models run: auto, cpu or gpu", choices=DEVICES)
    batch_size: int = _setting(0, "frames per image-encoder call; 0: 1 on the CPU (fastest per frame with "
                                  "LiteRT, least memory), 64 on a GPU", low=0, high=1024)
    jobs: int = _setting(0, "videos processed at once; 0: from the cores and memory (see README)", low=0, high=64)
    timeout: float | None = _setting(None, "seconds allowed per video", above=0)
    retry_failed: bool = _setting(False, "retry videos that failed in earlier runs")
    max_runtime: float | None = _setting(None, "stop starting new videos after this many seconds (the next run "
                                               "picks up the rest)", low=0)
    engine: str = _setting("local", "local (this process) or ray (a Ray cluster: pip install mmvideo[ray])",
                           choices=ENGINES)
    address: str | None = _setting(None, "--engine ray: the cluster (auto, ray://host:port, host:port); none: "
                                         "start a local Ray instance sized to this machine", metavar="ADDRESS")
    worker_gpus: float = _setting(0.0, "--engine ray on a cluster with GPUs: GPUs per actor (0.25: four share a "
                                       "GPU; 0: the GPUs shared evenly by one actor per CPU)", low=0, high=8)
    state: str | None = _setting(None, "local folder for the state store and run lock; required when --out is an "
                                       "object store (s3://...), refused otherwise", metavar="DIR")

    def __post_init__(self) -> None:
        """Check and normalise every field (``ParameterError`` naming the first bad one)."""
        for f in fields(self):
            object.__setattr__(self, f.name, check_setting(f.name, getattr(self, f.name)))
        if self.address is not None and self.engine != "ray":
            raise ParameterError(f"address is for engine='ray'. Received: address={self.address!r} with "
                                 f"engine={self.engine!r}")
        try:
            check_backend(self.image_backend, self.device, IMAGE_BACKENDS)
        except ParameterError as exc:
            raise ParameterError(f"image_backend={self.image_backend!r} with device={self.device!r}: {exc}") from None

    def settings(self, kind: str) -> dict[str, Any]:
        """The settings of one fingerprint (``"encoder"`` or ``"run"``), as plain JSON values."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("fingerprint") == kind}
        return json.loads(json.dumps(out, default=list))

    def result_settings(self) -> dict[str, Any]:
        """Every setting that changes results (encoder and run), as plain JSON values."""
        return {**self.settings("encoder"), **self.settings("run")}


# ------------------------------------------------------------------------------------ the table


@functools.cache
def setting_fields() -> dict[str, Field]:
    """RunConfig's fields by name: the one table (metadata: help, fingerprint, choices, range, CLI form)."""
    return {f.name: f for f in fields(RunConfig)}


@functools.cache
def setting_type(name: str) -> type:
    """The value type of one field: bool, int, float, str or tuple (None-able fields give the inner type)."""
    hint = typing.get_type_hints(RunConfig)[name]
    if typing.get_origin(hint) is tuple:
        return tuple
    inner = [t for t in typing.get_args(hint) if t is not type(None)]
    return inner[0] if inner else hint


@functools.cache
def nullable(name: str) -> bool:
    """True when None is a valid value of the field (no limit)."""
    return type(None) in typing.get_args(typing.get_type_hints(RunConfig)[name])


def default(name: str) -> Any:
    """The default of one RunConfig field (for the CLI's options)."""
    return setting_fields()[name].default


def help_text(name: str) -> str:
    """The help line of one RunConfig field."""
    return setting_fields()[name].metadata.get("help", "")


def allowed(name: str) -> str:
    """What one field accepts, in words ("jsonl, parquet or both", "a number > 0 and <= 60")."""
    spec = setting_fields()[name].metadata
    if "choices" in spec:
        *first, last = spec["choices"]
        return f"{', '.join(first)} or {last}"
    kind = setting_type(name)
    if kind is bool:
        return "true or false"
    if kind is tuple:
        return "a list of names" if name == "disable" else "a labels file, a comma-separated list or a list"
    noun = "an integer" if kind is int else "a number"
    low, high, above = spec.get("low"), spec.get("high"), spec.get("above")
    if kind is int and low is not None and high is not None:
        words = f"{noun} from {low} to {high}"
    else:
        bounds = [f"{op} {v}" for op, v in ((">", above), (">=", low), ("<=", high)) if v is not None]
        words = f"{noun} {' and '.join(bounds)}"
    return words + (" or none" if nullable(name) else "")


def check_setting(name: str, value: Any) -> Any:
    """``value`` checked against the field's spec and normalised (floats as float, tuples for labels and
    disable); ``ParameterError``: "<name> must be <allowed>. Received: <name>=<value>"."""
    spec = setting_fields()[name].metadata
    kind = setting_type(name)
    if value is None and nullable(name):
        return None
    if name == "labels":
        return _labels(value)
    if name == "disable":
        return _modality_names(value)
    received = value
    ok = (isinstance(value, bool) if kind is bool
          else isinstance(value, str) if kind is str
          else isinstance(value, int) and not isinstance(value, bool) if kind is int
          else isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value))
    if ok and kind is float:
        value = float(value)
    if ok and "choices" in spec:
        ok = value in spec["choices"]
    if ok and kind in (int, float):
        low, high, above = spec.get("low"), spec.get("high"), spec.get("above")
        ok = ((low is None or value >= low) and (high is None or value <= high)
              and (above is None or value > above))
    if not ok:
        raise ParameterError(f"{name} must be {allowed(name)}. Received: {name}={received!r}")
    return value


def _labels(value: Any) -> tuple[tuple[str, str], ...]:
    """() for the default vocabulary, else the vocabulary ``value`` names (``load_labels``: >= 2 labels)."""
    from mmvideo.fuse.vocab import load_labels

    if isinstance(value, (tuple, list)) and not value:
        return ()
    return tuple((t.label, t.description) for t in load_labels(value))


def _modality_names(value: Any) -> tuple[str, ...]:
    """Sorted distinct modality names from "audio,faces", ["audio", "faces"] or ("audio,faces", "ocr")."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise ParameterError(f"disable must be modality names (a comma string or a list). Received: disable={value!r}")
    names = [n.strip() for item in items for n in item.split(",") if n.strip()]
    bad = [n for n in names if not _MODALITY_NAME.match(n)]
    if bad:
        raise ParameterError(f"disable: {bad[0]!r} is not a modality name (lowercase letters, digits, _). "
                             f"Received: disable={value!r}")
    return tuple(sorted(set(names)))


# ------------------------------------------------------------------------------------ fingerprints


def _hash(payload: dict[str, Any]) -> str:
    return hashlib.blake2b(json.dumps(payload, sort_keys=True).encode("utf-8"), digest_size=8).hexdigest()


def encoder_fingerprint(config: RunConfig, versions: dict[str, str]) -> str:
    """16 hex chars over the encoder settings and the model/pipeline versions: what evidence depends on."""
    return _hash({"settings": config.settings("encoder"), "models": dict(sorted(versions.items()))})


def run_fingerprint(config: RunConfig, encoder_fp: str, versions: dict[str, str]) -> str:
    """16 hex chars over the encoder fingerprint, the run settings and fusion versions (a head's hash later)."""
    return _hash({"encoder": encoder_fp, "settings": config.settings("run"),
                  "versions": dict(sorted(versions.items()))})
