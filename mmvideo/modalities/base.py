"""The modality interface: what every encoder plug-in tells the pipeline, fusion and the writer.

A ``Modality`` (image, audio, text, faces, or one a separate package registers under the ``mmvideo.modalities``
entry point group) says, in this order of the data's way:

1. ``required_models()``: registry names it needs (they feed ``check_models`` and the encoder fingerprint);
2. ``feed``: what it is fed: ``"frames"`` (chunks of the one shared frame decode), ``"audio"`` (chunks of the
   one shared 16 kHz decode) or ``"file"`` (it reads the file itself, e.g. subtitle tracks);
3. ``start(path, info)`` -> a ``ModalityStream``: ``push`` each chunk, ``finish`` -> ``ItemEvidence``, what it
   produced per item (frame, audio patch, cue: times, class scores, embeddings, small values, texts);
4. ``pool(items, segments)``: items -> one pooled value per segment (None where the modality is absent);
5. ``prepare(ctx)`` / ``tokens(pooled, prepared, ctx)``: pooled values -> fusion tokens in the text encoder's
   space (length = confidence, None = absent; only when ``fuses``);
6. ``columns()`` / ``row(pooled, token)``: the output columns it adds and their values.

Everything but ``load`` and ``start`` is pure. Modalities never import the pipeline, the engines or the writer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from mmvideo.config import RunConfig
from mmvideo.records import ItemEvidence, MediaInfo
from mmvideo.segment import Segment

FEEDS = ("frames", "audio", "file")


@dataclass
class LoadContext:
    """Shared resources a modality may use when loading: the run's settings and the one text encoder.

    ``threads``: LiteRT threads per interpreter (1 on the CPU path: decode and the two model workers already
    share the cores), ``None`` for the library default. ``text_encoder``: the run's ``TextEncoder``.
    """

    config: RunConfig
    text_encoder: Any
    threads: int | None = None
    on_cpu: bool = True


@dataclass
class FusionContext:
    """What a modality's tokens are built against: the vocabulary's embeddings and fusion's settings.

    ``embed(texts) -> (N, D)`` unit rows in the text encoder's space (cached by the encoder);
    ``labels`` / ``tag_embeddings`` (T, D) the vocabulary; ``uses_maps``: the curated class -> tag maps apply
    (default vocabulary); ``settings``: the tagger's ``TaggerSettings``.
    """

    embed: Any
    labels: tuple[str, ...]
    tag_embeddings: np.ndarray
    uses_maps: bool
    settings: Any
    dim: int = field(init=False)

    def __post_init__(self) -> None:
        self.dim = int(self.tag_embeddings.shape[1])

    def text_embedding(self, text: str) -> np.ndarray:
        """(D,) the vocabulary's own embedding of ``text`` when it is a label (description and all), else the
        embedding of the text."""
        if text in self.labels:
            return self.tag_embeddings[self.labels.index(text)]
        return self.embed([text])[0]


class ModalityStream(ABC):
    """One video's encoding by one modality: fed chunk by chunk, in time order, on one thread."""

    @abstractmethod
    def push(self, chunk: Any) -> None:
        """Encode one chunk (a ``FrameChunk`` or an ``AudioChunk``, as the modality's ``feed`` says)."""

    @abstractmethod
    def finish(self) -> ItemEvidence:
        """Everything encoded, item by item."""

    def warnings(self) -> list[str]:
        """Problems that did not stop the modality (shown in the video's record)."""
        return []

    def facts(self) -> dict[str, Any]:
        """Fields of the video's record this stream knows (e.g. ``subtitle_tracks``)."""
        return {}


class Modality(ABC):
    """Base class of every modality plug-in (see the module docstring for the order of the calls).

    Subclasses set ``name`` (the token and column prefix, unique), ``feed`` and ``fuses``; ``version`` goes into
    the encoder fingerprint (bump it when the modality's results change).
    """

    name: ClassVar[str]
    feed: ClassVar[str]
    fuses: ClassVar[bool] = True
    version: ClassVar[str] = "1"

    def __init__(self, config: RunConfig | None = None) -> None:
        self.config = config or RunConfig()

    # -- registry and models --------------------------------------------------------------------------
    @classmethod
    def enabled(cls, config: RunConfig) -> bool:
        """Whether a run with ``config`` uses this modality (default: unless named in ``config.disable``)."""
        return cls.name not in config.disable

    def required_models(self) -> list[str]:
        """Registry names of the models this modality needs with its settings."""
        return []

    def load(self, ctx: LoadContext) -> None:
        """Load models (once per run, before the first video)."""

    # -- encode ---------------------------------------------------------------------------------------
    @abstractmethod
    def start(self, path: str, info: MediaInfo) -> ModalityStream | None:
        """A stream for one video, or None when the video has nothing for this modality."""

    # -- pool -----------------------------------------------------------------------------------------
    @abstractmethod
    def pool(self, items: ItemEvidence, segments: Sequence[Segment]) -> list[Any]:
        """One pooled value per segment (None where absent) from this modality's items."""

    def pooled_of(self, segment: Any) -> Any:
        """This modality's pooled value on a segment object: ``segment.pooled[name]`` of the pipeline's
        evidence, else ``from_fields`` (fusion's ``SegmentInput`` and other plain objects)."""
        pooled = getattr(segment, "pooled", None)
        if isinstance(pooled, Mapping):
            return pooled.get(self.name)
        return self.from_fields(segment)

    def from_fields(self, segment: Any) -> Any:
        """The pooled value read from a plain object's attributes (None: the modality reads none)."""
        return None

    # -- fuse -----------------------------------------------------------------------------------------
    def prepare(self, ctx: FusionContext) -> Any:
        """Whatever ``tokens`` needs for one vocabulary (class tables...), computed once per tagger."""
        return None

    def tokens(self, pooled: Sequence[Any], prepared: Any, ctx: FusionContext) -> list[np.ndarray | None]:
        """(D,) float32 token per pooled value (direction = meaning, length in (0, 1] = confidence) or None."""
        return [None] * len(pooled)

    def support(self, pooled: Sequence[Any], prepared: Any, ctx: FusionContext) -> list[np.ndarray | None]:
        """Per pooled value, (T,) bool: the vocabulary's tags this modality's evidence itself names (a
        classifier's classes through the curated maps), or None: no say (any tag may come from it). Fusion
        weighs down tags that no present modality names (a text-space neighbour: "cat" near a dog's "dog")."""
        return [None] * len(pooled)

    #: the modality's ``concepts`` give a ``<name>_concept_embedding`` column (set by modalities that do)
    has_concepts: ClassVar[bool] = False

    def concepts(self, pooled: Sequence[Any], prepared: Any, ctx: FusionContext,
                 made: Sequence[Any] | None = None) -> list[np.ndarray | None]:
        """(D,) unit vector per pooled value in the text encoder's space standing for *what the modality saw*
        in its own terms (a classifier's top class names, a segment's text), or None. Search ranks by it; the
        tagger passes it to ``row(..., concept=)`` of modalities with ``has_concepts``. ``made``: this batch's
        tokens when the caller already made them."""
        return [None] * len(pooled)

    # -- write ----------------------------------------------------------------------------------------
    def columns(self) -> list[tuple[str, pa.DataType]]:
        """The output columns this modality adds to the segments table (name, Arrow type)."""
        return []

    def row(self, pooled: Any, token: np.ndarray | None) -> dict[str, Any]:
        """Plain values (floats, lists, dicts; no numpy) for ``columns()``; missing ones are written as null.
        Modalities with ``has_concepts`` take a third argument, ``concept`` (their ``concepts`` value)."""
        return {}


# --- helpers shared by modalities --------------------------------------------------------------------

def concat_items(modality: str, parts: list[ItemEvidence]) -> ItemEvidence:
    """One ``ItemEvidence`` from a video's chunks (empty arrays when there were none)."""
    if not parts:
        return ItemEvidence(modality, np.zeros(0), np.zeros(0))

    def cat(name: str) -> np.ndarray | None:
        arrays = [getattr(p, name) for p in parts]
        return None if any(a is None for a in arrays) else np.concatenate(arrays, axis=0)

    texts = tuple(t for p in parts for t in p.texts)
    return ItemEvidence(modality, cat("start"), cat("end"), cat("scores"), cat("embeddings"), cat("values"), texts)


#: size of the concept embeddings (the text encoder's space)
CONCEPT_SIZE = 384


def concept_column(name: str, size: int = CONCEPT_SIZE) -> tuple[str, pa.DataType]:
    """The ``<name>_concept_embedding`` column (fixed-size float32 list, null where the modality saw nothing):
    written by default, what ``mmvideo search --modality NAME`` ranks."""
    return f"{name}_concept_embedding", pa.list_(pa.float32(), size)


def embedding_column(name: str, size: int) -> tuple[str, pa.DataType]:
    """The ``<name>_embedding`` column of ``--modality-embeddings`` (fixed-size float32 list)."""
    return f"{name}_embedding", pa.list_(pa.float32(), size)


def vector(v: np.ndarray | None) -> list[float] | None:
    """A vector as a plain list of floats for a row (None stays None)."""
    return None if v is None else np.asarray(v, dtype=np.float32).reshape(-1).tolist()
