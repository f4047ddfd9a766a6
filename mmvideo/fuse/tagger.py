"""``ZeroShotTagger``: tags, a fused embedding and raw top classes per segment, with no training data.

Every modality becomes a token in the text encoder's 384-d space (``mmvideo.fuse.tokens``) and the tag
embeddings query them through ``LabelQueryAttention`` (``mmvideo.fuse.layer``). What stands for a classifier
class in that space:

- default vocabulary (``use_maps=None`` -> on): the curated maps (``mmvideo.fuse.maps``): a class is the mean
  embedding of the default tags it maps to ("golden retriever" -> dog, pet, animal; "suit" -> person), so
  image and audio tokens land on tags by meaning, not by spelling ("Windsor tie" no longer finds "bridge").
  Classes that map to no tag ("abacus", "Silence") carry no evidence. ``map_mix < 1`` blends in the class
  name's own embedding.
- a custom vocabulary (``--labels``): the maps know only the default tags, so a class is the embedding of its
  clean name ("golden retriever", "Speech"), never with a prompt template (they hurt the image side); the
  audio classes in ``audio_drop`` ("Silence") still carry no evidence.

Faces stand for people (ImageNet has no person class): a token of the embedding of ``face_text`` ("person";
the vocabulary's own tag of that label when it has one) scaled by the best face confidence. Embeddings of
tags and classes are computed once per tagger (the text encoder caches strings too).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mmvideo.errors import ParameterError
from mmvideo.fuse import maps, tokens
from mmvideo.fuse.records import MODALITIES, ClassScore, FusedSegment, TagScore
from mmvideo.fuse.vocab import Tag, as_vocabulary, is_default

#: bump when the default settings, the vocabulary or the maps change results (part of the run fingerprint)
FUSION_VERSION = "1"

IMAGE, AUDIO, TEXT, FACES = (MODALITIES.index(m) for m in ("image", "audio", "text", "faces"))


@dataclass(frozen=True)
class TaggerSettings:
    """Knobs of zero-shot fusion; the defaults are what ``mmvideo run`` uses (see the module docstring).

    top_k: tags returned per segment (at most; fewer when ``min_score`` cuts them). min_score: smallest fused
    score a returned tag may have (0: always ``top_k`` tags when any modality is present). The default 0.2
    keeps black, blank and unrecognisable frames (weak, scattered ImageNet guesses, fused scores about 0.1-0.2)
    from being tagged at all; on the evaluation clips it keeps 4.5 tags a segment instead of 5.
    image_top_k / audio_top_k: classes mixed into a token.
    image_min_mass: smallest probability mass of an image token's classes. audio_min_score: smallest mean
    score of an audio class to count. face_min_conf: smallest face confidence to count. temperature, normalize,
    min_spread, scale: the layer's (scale: one number or one per modality in ``MODALITIES`` order).
    """

    top_k: int = 5
    min_score: float = 0.2
    image_top_k: int = 10
    image_min_mass: float = 0.05
    audio_top_k: int = 5
    audio_min_score: float = 0.2
    audio_drop: frozenset[str] = tokens.DEFAULT_AUDIO_DROP
    face_min_conf: float = 0.5
    face_text: str = "person"
    temperature: float = 0.2
    normalize: str = "peak"
    min_spread: float | None = None
    scale: float | tuple[float, ...] = 1.0
    use_maps: bool | None = None
    map_mix: float = 1.0
    batch_size: int = 256

    def __post_init__(self) -> None:
        for name in ("top_k", "image_top_k", "audio_top_k", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be an int >= 1. Received: {name}={value!r}")
        if not isinstance(self.min_score, (int, float)) or not -10.0 <= self.min_score <= 1.0:
            raise ParameterError(f"min_score must be a number <= 1. Received: min_score={self.min_score!r}")
        for name in ("image_min_mass", "audio_min_score", "face_min_conf", "map_mix"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ParameterError(f"{name} must be in [0, 1]. Received: {name}={value!r}")


_SYNSET_SUFFIX = re.compile(r"\s*\(n\d{8}\)$")


def clean_name(name: str) -> str:
    """A class name as embedded for custom vocabularies: "crane (n02012849)" -> "crane"."""
    return _SYNSET_SUFFIX.sub("", name).strip()


def _unit_rows(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.where(n > 1e-8, x / np.maximum(n, 1e-8), 0.0).astype(np.float32)


class ZeroShotTagger:
    """Holds the tag and class embeddings and the fusion layer; ``tag(segments)`` fuses a batch of segments.

    text_encoder: anything with ``encode(list[str]) -> EncoderOutput`` of unit (N, D) embeddings (the
    ``TextEncoder``). vocabulary: Tags, ``(label, description)`` pairs or labels (>= 2). image_classes /
    audio_classes: the encoders' class names in output order (None: that modality is never used). top_k:
    overrides ``settings.top_k``. layer: a (trained) ``LabelQueryAttention`` over the 4 ``MODALITIES`` to use
    instead of a zero-shot one built from the settings.
    """

    def __init__(self, text_encoder: Any, vocabulary: Sequence[Any], *, image_classes: Sequence[str] | None = None,
                 audio_classes: Sequence[str] | None = None, top_k: int | None = None,
                 settings: TaggerSettings | None = None, layer: Any = None) -> None:
        settings = settings or TaggerSettings()
        if top_k is not None:
            settings = replace(settings, top_k=top_k)
        self.settings = settings
        self.vocabulary: tuple[Tag, ...] = as_vocabulary(vocabulary)
        self.labels = tuple(t.label for t in self.vocabulary)
        self.uses_maps = is_default(self.vocabulary) if settings.use_maps is None else bool(settings.use_maps)
        mapped_tags = {t for m in maps.imagenet_map() for t in m}
        mapped_tags |= {t for m in maps.audioset_map().values() for t in m}
        if self.uses_maps and not set(self.labels) >= mapped_tags:
            raise ParameterError("use_maps needs the default vocabulary (the maps name its tags)")
        self._encoder = text_encoder
        self.tag_embeddings = self._embed([t.text for t in self.vocabulary])  # (T, D)
        self.dim = self.tag_embeddings.shape[1]
        if settings.face_text in self.labels:  # the vocabulary's own "person" tag, description and all
            self.person_embedding = self.tag_embeddings[self.labels.index(settings.face_text)]  # (D,)
        else:
            self.person_embedding = self._embed([settings.face_text])[0]
        self.image_classes = tuple(image_classes) if image_classes is not None else None
        self.audio_classes = tuple(audio_classes) if audio_classes is not None else None
        self.image_class_embeddings = self._class_table("image", self.image_classes)  # (C_img, D) or None
        self.audio_class_embeddings = self._class_table("audio", self.audio_classes)  # (C_aud, D) or None
        if layer is None:
            from mmvideo.fuse.layer import LabelQueryAttention

            layer = LabelQueryAttention(num_modalities=len(MODALITIES), temperature=settings.temperature,
                                        normalize=settings.normalize, min_spread=settings.min_spread,
                                        scale=settings.scale)
        elif getattr(layer, "num_modalities", None) != len(MODALITIES):
            raise ParameterError(f"layer must attend over the {len(MODALITIES)} modalities {MODALITIES}. "
                                 f"Received: num_modalities={getattr(layer, 'num_modalities', None)!r}")
        self.layer = layer

    # -- embeddings -----------------------------------------------------------------------------------
    def _embed(self, texts: list[str]) -> np.ndarray:
        out = np.asarray(self._encoder.encode(list(texts)).embeddings, dtype=np.float32)
        if out.ndim != 2 or out.shape[0] != len(texts):
            raise ParameterError(f"text encoder returned shape {out.shape} for {len(texts)} texts")
        return _unit_rows(out)

    def _class_table(self, modality: str, names: tuple[str, ...] | None) -> np.ndarray | None:
        """(C, D) rows standing for each class (zero rows: no evidence); see the module docstring."""
        if names is None:
            return None
        s = self.settings
        drop = s.audio_drop if modality == "audio" else frozenset()
        table = np.zeros((len(names), self.dim), dtype=np.float32)
        if self.uses_maps:
            index = {label: i for i, label in enumerate(self.labels)}
            mapped = maps.class_tags(modality, names)
            for c, tags in enumerate(mapped):
                if tags and names[c] not in drop:
                    table[c] = self.tag_embeddings[[index[t] for t in tags]].mean(axis=0)
            table = _unit_rows(table)
            if s.map_mix >= 1.0:
                return table
            lemma = self._embed([clean_name(n) for n in names])
            has_tags = np.any(table != 0, axis=1, keepdims=True)
            return _unit_rows(np.where(has_tags, s.map_mix * table + (1 - s.map_mix) * lemma, 0.0))
        table = self._embed([clean_name(n) for n in names])
        keep = np.array([n not in drop for n in names])[:, None]
        return np.where(keep, table, 0.0).astype(np.float32)

    # -- per segment ----------------------------------------------------------------------------------
    def segment_tokens(self, segment: Any, text_embedding: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Tokens (M, D) float32 and presence mask (M,) bool of one segment (absent slots are zeros)."""
        s = self.settings
        slots: list[np.ndarray | None] = [None] * len(MODALITIES)
        probs = getattr(segment, "image_probs", None)
        if probs is not None and self.image_class_embeddings is not None:
            slots[IMAGE] = tokens.image_token(probs, self.image_class_embeddings, top_k=s.image_top_k,
                                              min_mass=s.image_min_mass)
        scores = getattr(segment, "audio_scores", None)
        if scores is not None and self.audio_class_embeddings is not None:
            slots[AUDIO] = tokens.audio_token(scores, self.audio_class_embeddings, self.audio_classes,
                                              drop=s.audio_drop, top_k=s.audio_top_k, min_score=s.audio_min_score)
        slots[TEXT] = tokens.text_token(text_embedding)
        slots[FACES] = tokens.face_token(getattr(segment, "face_confidence", None), self.person_embedding,
                                         min_conf=s.face_min_conf)
        mask = np.array([t is not None for t in slots])
        out = np.stack([t if t is not None else np.zeros(self.dim, np.float32) for t in slots])
        return out, mask

    def _text_embeddings(self, segments: Sequence[Any]) -> list[np.ndarray | None]:
        result: list[np.ndarray | None] = []
        todo: dict[str, list[int]] = {}
        for i, seg in enumerate(segments):
            given = getattr(seg, "text_embedding", None)
            text = (getattr(seg, "text", "") or "").strip()
            result.append(None if given is None else np.asarray(given, dtype=np.float32))
            if given is None and text:
                todo.setdefault(text, []).append(i)
        if todo:
            texts = list(todo)
            for text, emb in zip(texts, self._embed(texts)):
                for i in todo[text]:
                    result[i] = emb
        return result

    def _raw_classes(self, scores: np.ndarray | None, names: tuple[str, ...] | None) -> tuple[ClassScore, ...]:
        if scores is None or names is None:
            return ()
        return tuple(ClassScore(n, s) for n, s in tokens.top_classes(scores, names, k=3))

    def tag(self, segments: Sequence[Any]) -> list[FusedSegment]:
        """Fuse a batch of segments (``SegmentInput``-like objects); one ``FusedSegment`` each, same order."""
        if not segments:
            return []
        from keras import ops

        text_emb = self._text_embeddings(segments)
        built = [self.segment_tokens(seg, te) for seg, te in zip(segments, text_emb)]
        toks = np.stack([b[0] for b in built])  # (B, M, D)
        mask = np.stack([b[1] for b in built])  # (B, M)
        scores = np.zeros((len(segments), len(self.labels)), np.float32)
        attention = np.zeros((len(segments), len(self.labels), len(MODALITIES)), np.float32)
        step = self.settings.batch_size
        for start in range(0, len(segments), step):
            sl = slice(start, start + step)
            s, a = self.layer(self.tag_embeddings, toks[sl], mask[sl])
            scores[sl], attention[sl] = ops.convert_to_numpy(s), ops.convert_to_numpy(a)

        out = []
        k = min(self.settings.top_k, len(self.labels))
        for b, seg in enumerate(segments):
            present = tuple(m for m, p in zip(MODALITIES, mask[b]) if p)
            tags: tuple[TagScore, ...] = ()
            weights = np.zeros(len(MODALITIES), np.float32)
            embedding = np.zeros(self.dim, np.float32)
            if present:
                order = np.argsort(-scores[b], kind="stable")[:k]
                order = order[scores[b, order] >= self.settings.min_score]
                tags = tuple(TagScore(self.labels[t], float(scores[b, t]),
                                      {m: float(attention[b, t, j]) for j, m in enumerate(MODALITIES)})
                             for t in order)
                weights = attention[b, order if order.size else np.argsort(-scores[b])[:k]].mean(axis=0)  # (M,)
                directions = _unit_rows(toks[b])  # (M, D), zero rows where absent
                embedding = _unit_rows((weights @ directions)[None])[0]  # (M,) @ (M, D) -> (D,)
            out.append(FusedSegment(
                tags=tags, embedding=embedding, modalities=present,
                image_classes=self._raw_classes(getattr(seg, "image_probs", None), self.image_classes),
                audio_classes=self._raw_classes(getattr(seg, "audio_scores", None), self.audio_classes),
                text_embedding=text_emb[b],
                modality_weights={m: float(w) for m, w in zip(MODALITIES, weights)}))
        return out
