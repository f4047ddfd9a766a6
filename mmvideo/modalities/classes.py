"""What classifier modalities (image, audio) share: class tables in the text space, raw top classes, pooling.

A classifier's class stands for a point of the text encoder's space (ConSE): with the default vocabulary, the
mean embedding of the default tags the curated maps send it to (``mmvideo.fuse.maps``); with a custom one, the
embedding of its clean name. Classes in ``drop`` and classes the maps send nowhere carry no evidence (zero rows).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np
import pyarrow as pa

from mmvideo.fuse import maps, tokens
from mmvideo.modalities.base import (CONCEPT_SIZE, FusionContext, Modality, concept_column, embedding_column,
                                     vector)
from mmvideo.modalities.pooling import ClassPool, mean_classes
from mmvideo.records import ItemEvidence
from mmvideo.segment import Segment

CLASS = pa.struct([("name", pa.string()), ("score", pa.float32())])
RAW_CLASSES = 3  # raw classes written per segment

_SYNSET_SUFFIX = re.compile(r"\s*\(n\d{8}\)$")


def clean_name(name: str) -> str:
    """A class name as embedded for custom vocabularies: "crane (n02012849)" -> "crane"."""
    return _SYNSET_SUFFIX.sub("", name).strip()


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.where(n > 1e-8, x / np.maximum(n, 1e-8), 0.0).astype(np.float32)


def class_table(ctx: FusionContext, table: str, names: Sequence[str], drop: Collection[str] = ()) -> np.ndarray:
    """(C, D) rows standing for each class in the text space (zero rows: no evidence); see the module docstring."""
    s = ctx.settings
    out = np.zeros((len(names), ctx.dim), dtype=np.float32)
    if ctx.uses_maps:
        index = {label: i for i, label in enumerate(ctx.labels)}
        for c, tags in enumerate(maps.class_tags(table, names)):
            if tags and names[c] not in drop:
                out[c] = ctx.tag_embeddings[[index[t] for t in tags]].mean(axis=0)
        out = unit_rows(out)
        if s.map_mix >= 1.0:
            return out
        lemma = ctx.embed([clean_name(n) for n in names])
        has_tags = np.any(out != 0, axis=1, keepdims=True)
        return unit_rows(np.where(has_tags, s.map_mix * out + (1 - s.map_mix) * lemma, 0.0))
    out = ctx.embed([clean_name(n) for n in names])
    keep = np.array([n not in drop for n in names])[:, None]
    return np.where(keep, out, 0.0).astype(np.float32)


def class_labels(ctx: FusionContext, table: str, names: Sequence[str]) -> np.ndarray:
    """(C, T) bool: the vocabulary's tags each class maps to (``maps.class_tags``)."""
    index = {label: i for i, label in enumerate(ctx.labels)}
    out = np.zeros((len(names), len(ctx.labels)), dtype=bool)
    for c, tags in enumerate(maps.class_tags(table, names)):
        for t in tags or ():
            if t in index:
                out[c, index[t]] = True
    return out


class ClassTables(NamedTuple):
    """A classifier's classes in the text space for one vocabulary: ``tags`` (C, D) what each class stands for
    in fusion (zero rows: no evidence), ``names`` (C, D) unit embeddings of the class names themselves, and
    ``usable`` (C,) bool: classes that may count as evidence at all (not dropped)."""

    tags: np.ndarray
    names: np.ndarray
    usable: np.ndarray
    named: np.ndarray | None = None  # (C, T) bool: the tags the maps send each class to (default vocabulary)


class ClassifierModality(Modality):
    """A modality whose encoder gives class scores and embeddings per item (frames, audio patches).

    Subclasses set ``class_map`` ("imagenet" or "audioset"), ``pool_by`` ("start" or "centre"), ``hold``,
    ``embedding_size``, and implement ``start`` and ``_token``. ``class_names`` come from the encoder on
    ``load`` (or are given, for fusion without an encoder).
    """

    class_map: ClassVar[str]
    has_concepts: ClassVar[bool] = True
    pool_by: ClassVar[str] = "start"
    #: a segment without items of its own takes the previous segment's last one (``mean_classes``' ``hold``)
    hold: ClassVar[bool] = False
    embedding_size: ClassVar[int]
    #: the attributes of fusion's ``SegmentInput`` holding this modality's scores and embedding
    input_fields: ClassVar[tuple[str, str]]

    def __init__(self, config=None, *, class_names: Sequence[str] | None = None) -> None:
        super().__init__(config)
        self.class_names: tuple[str, ...] | None = tuple(class_names) if class_names is not None else None

    def drop(self, ctx: FusionContext) -> frozenset[str]:
        """Classes that never count as evidence."""
        return frozenset()

    def pool(self, items: ItemEvidence, segments: Sequence[Segment]) -> list[ClassPool | None]:
        return mean_classes(items, segments, by=self.pool_by, hold=self.hold)

    def from_fields(self, segment: Any) -> ClassPool | None:
        scores = getattr(segment, self.input_fields[0], None)
        if scores is None:
            return None
        s = np.asarray(scores, dtype=np.float32)
        s = s.reshape(-1, s.shape[-1]) if s.ndim > 1 else s[None]  # (C,) mean or (N, C) per item
        return ClassPool(s.mean(axis=0), getattr(segment, self.input_fields[1], None), len(s), s.max(axis=0))

    def prepare(self, ctx: FusionContext) -> Any:
        if self.class_names is None:
            return None
        drop = self.drop(ctx)
        names = ctx.embed([clean_name(n) for n in self.class_names])
        usable = np.array([n not in drop for n in self.class_names])
        return ClassTables(class_table(ctx, self.class_map, self.class_names, drop), names, usable,
                           class_labels(ctx, self.class_map, self.class_names) if ctx.uses_maps else None)

    def support(self, pooled: Sequence[ClassPool | None], prepared: Any, ctx: FusionContext) -> list:
        """(T,) bool per segment: the default tags (and their ancestors, added by fusion) that the classes
        ``support_classes`` keeps are mapped to; None without the maps."""
        if prepared is None or prepared.named is None:
            return [None] * len(pooled)
        how = ctx.settings.pooling
        out: list[np.ndarray | None] = []
        for p in pooled:
            if p is None:
                out.append(np.zeros(len(ctx.labels), dtype=bool))
                continue
            scores = np.where(prepared.usable, p.pooled(how), 0.0)
            out.append(prepared.named[self.support_classes(scores, ctx)].any(axis=0))
        return out

    def support_classes(self, scores: np.ndarray, ctx: FusionContext) -> np.ndarray:
        """Indices of the classes whose tags count as named by this modality (``scores``: (C,) pooled, zero
        for unusable classes): the ``support_top_k`` best scoring above 0."""
        order = np.argsort(-scores, kind="stable")[:ctx.settings.support_top_k]
        return order[scores[order] > 0]

    def tokens(self, pooled: Sequence[ClassPool | None], prepared: Any, ctx: FusionContext) -> list:
        if prepared is None:
            return [None] * len(pooled)
        how = ctx.settings.pooling
        return [None if p is None else self._token(p.pooled(how), prepared.tags, ctx) for p in pooled]

    def _token(self, scores: np.ndarray, table: np.ndarray, ctx: FusionContext) -> np.ndarray | None:
        raise NotImplementedError

    def concepts(self, pooled: Sequence[ClassPool | None], prepared: Any, ctx: FusionContext,
                 made: Sequence[Any] | None = None) -> list:
        """(D,) unit embedding of the top class *names* per segment (``tokens.concept_embedding``) or None:
        the fine-grained evidence ("goose", not "bird, animal") that search and custom vocabularies use."""
        if prepared is None:
            return [None] * len(pooled)
        s = ctx.settings
        return [None if p is None else tokens.concept_embedding(
            p.pooled(s.pooling), prepared.names, prepared.usable, top_k=s.concept_top_k,
            min_score=self.concept_min_score(ctx)) for p in pooled]

    def concept_min_score(self, ctx: FusionContext) -> float:
        """Smallest pooled score of a class that counts in the concept embedding."""
        return 0.0

    def columns(self) -> list[tuple[str, pa.DataType]]:
        cols = [(f"{self.name}_classes", pa.list_(CLASS)), concept_column(self.name, CONCEPT_SIZE)]
        if self.config.modality_embeddings:
            cols.append(embedding_column(self.name, self.embedding_size))
        return cols

    def row(self, pooled: ClassPool | None, token: np.ndarray | None, concept: np.ndarray | None = None) -> (
            dict[str, Any]):
        if pooled is None or self.class_names is None:
            return {f"{self.name}_classes": [], f"{self.name}_concept_embedding": None}
        top = tokens.top_classes(pooled.scores, self.class_names, k=RAW_CLASSES)
        out: dict[str, Any] = {f"{self.name}_classes": [{"name": n, "score": float(s)} for n, s in top],
                               f"{self.name}_concept_embedding": vector(concept)}
        if self.config.modality_embeddings:
            out[f"{self.name}_embedding"] = vector(pooled.embedding)
        return out
