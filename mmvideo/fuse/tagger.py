"""``ZeroShotTagger``: tags, a fused embedding and each modality's columns per segment, with no training data.

Every fusing modality (``mmvideo.modalities``: the tagger loops over the ones it is given and names none) turns
its pooled evidence into a token in the text encoder's 384-d space (``mmvideo.fuse.tokens``), and the tag
embeddings query them through ``LabelQueryAttention`` (``mmvideo.fuse.layer``; zero-shot runs its numpy forward
pass, ``mmvideo.fuse.layer_numpy``, so a run imports no Keras). What stands for a classifier
class in that space (``mmvideo.modalities.classes``):

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

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mmvideo import config as run_config
from mmvideo.errors import ParameterError
from mmvideo.fuse import maps, select, tokens
from mmvideo.fuse.records import FusedSegment, TagScore
from mmvideo.fuse.vocab import Tag, as_vocabulary, fine_labels, is_default

POOLING = ("mean", "max", "mix")
EMBEDDINGS = ("tags", "concepts")

#: bump when the default settings, the vocabulary or the maps change results (part of the run fingerprint)
FUSION_VERSION = "5"


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
    min_spread, scale: the layer's (scale: one number or one per fusing modality, in the tagger's order).
    pooling: how a classifier's items pool for its token: "mean", "max" or "mix" (``ClassPool.pooled``).
    concept_top_k / audio_concept_min: classes in a concept embedding (``Modality.concepts``) and the smallest
    pooled audio score that counts there. audio_background / background_weight: AudioSet classes (speech) whose
    scores count at that weight in the audio token. max_share: most of a segment's tags one modality may own
    (the one with the largest attention on it) while another modality has tags above ``min_score``.
    hierarchy: a child tag's score reaches its parents (``maps.tag_parents``; default vocabulary only) and
    children come before their parents. fine_slots: most of the ``top_k`` tags that may be fine-grained ones
    ("goose", "speedboat": ``vocab.fine_labels``; default vocabulary only); the ``fine_k`` best fine tags
    reaching ``min_score`` are written beside the tags (``fine_tags``) either way.
    unsupported in [0, 1] / supported_boost >= 1: a tag that no present modality's own evidence names
    (``Modality.support``: a classifier's ``support_top_k`` best classes through the maps, faces "person";
    text names anything) counts at ``unsupported`` of its score, one that is named at ``1 - (1 - s) **
    supported_boost`` (still <= 1, order kept): text-space neighbours ("cat" on a dog, "piano" on any music)
    give way to what the classifiers saw.
    context in [0, 1]: share of the neighbouring segments' scores (the batch must be one video's consecutive
    segments). 0.15 makes tags depend less on how many frames a segment saw: with a keyframe every 2 s (2-3
    frames per 5 s segment instead of 5) the first tag agrees with fps sampling on 69/76 segments instead of
    67/76 (``scripts/eval_sampling.py``), and on ../shared/eval even/odd first tag right 80/87 -> 83/87 %, P@5
    0.57/0.56 -> 0.60/0.57, MRR 0.66/0.67 -> 0.66/0.67 (0.664 -> 0.660 unrounded on the even half).
    embedding: the fused embedding from the tags' attention ("tags") or from every present modality's token
    and concepts by confidence ("concepts", ``concept_mix`` the concepts' share). mask: fusing modalities
    left out (tokens and concepts), for single-modality evaluation. tag_text_weight in [0, 1]: share of the
    embedding of the segment's tags and fine tags as one sentence (``tag_text_template``, "a video of dog, pet,
    animal, collie"; only tags reaching ``min_score`` before ``supported_boost``, at most ``tag_text_top`` of
    them) added to the fused embedding before it is made unit length (0: off); a sentence matches a sentence
    query better than a mean of class directions does. The modality weights behind the fused embedding come
    from the same tags. visual_weight in [0, 1] / visual: the same segment fused from the ``visual`` modalities
    alone (what was seen: tags, their sentence, their embedding) is added to the fused embedding at this weight
    before it is made unit length, where another modality is present too, so speech or music that took the tags
    does not also take the search (0: off). Chosen on ../shared/eval's even half, MRR 0.660 (off) -> 0.662 /
    0.664 / 0.668 / 0.668 / 0.668 / 0.667 / 0.625 at 0.25 / 0.5 / 0.55 / 0.6 / 0.65 / 0.7 / 0.75 (0.55: the least
    change among the best); checked on the odd half: 0.674 -> 0.708. Tags are unchanged.
    Measured on ../shared/eval (tuned on the even half; see README "Quality"): speech at 0.7, at most 4 of 5
    slots per modality and the hierarchy; fine tags out of the five slots (P@5 on the odd half 0.45 -> 0.50,
    first tag right 78 -> 87 %); tags no evidence names at 0.4, named ones boosted (1.37: the best even-half
    P@5 with >= 4 tags a segment; P@5 0.51/0.50 -> 0.57/0.56 even/odd); the tag sentence (search) names only
    the tags that pass ``min_score`` without the boost (MRR 0.62/0.60 -> 0.66/0.67); max/mix pooling,
    temperature, per-modality scale and the "concepts" embedding did not help.
    """

    top_k: int = run_config.default("top_k")
    min_score: float = run_config.default("min_score")
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
    pooling: str = "mean"
    concept_top_k: int = 5
    audio_concept_min: float = 0.1
    audio_background: frozenset[str] = tokens.DEFAULT_AUDIO_BACKGROUND
    background_weight: float = 0.7
    max_share: int = 4
    hierarchy: bool = True
    max_siblings: int = 100
    fine_slots: int = 0
    support_top_k: int = 20
    unsupported: float = 0.4
    supported_boost: float = 1.37
    fine_k: int = 3
    context: float = 0.15
    embedding: str = "tags"
    concept_mix: float = 0.5
    tag_text_weight: float = 0.75
    tag_text_template: str = "a video of {}"
    tag_text_top: int = 5
    visual_weight: float = 0.55
    visual: tuple[str, ...] = ("image", "faces")
    mask: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.pooling not in POOLING:
            raise ParameterError(f"pooling must be one of {POOLING}. Received: pooling={self.pooling!r}")
        if self.embedding not in EMBEDDINGS:
            raise ParameterError(f"embedding must be one of {EMBEDDINGS}. Received: embedding={self.embedding!r}")
        for name in ("top_k", "image_top_k", "audio_top_k", "batch_size", "concept_top_k", "max_share",
                     "max_siblings", "fine_k", "support_top_k", "tag_text_top"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be an int >= 1. Received: {name}={value!r}")
        if isinstance(self.supported_boost, bool) or not isinstance(self.supported_boost, (int, float)) or not (
                1.0 <= self.supported_boost <= 4.0):
            raise ParameterError(f"supported_boost must be in [1, 4]. Received: supported_boost={self.supported_boost!r}")
        if not isinstance(self.tag_text_template, str) or "{}" not in self.tag_text_template:
            raise ParameterError(f"tag_text_template must be a str with '{{}}'. Received: {self.tag_text_template!r}")
        if isinstance(self.fine_slots, bool) or not isinstance(self.fine_slots, int) or self.fine_slots < 0:
            raise ParameterError(f"fine_slots must be an int >= 0. Received: fine_slots={self.fine_slots!r}")
        if not isinstance(self.min_score, (int, float)) or not -10.0 <= self.min_score <= 1.0:
            raise ParameterError(f"min_score must be a number <= 1. Received: min_score={self.min_score!r}")
        for name in ("image_min_mass", "audio_min_score", "face_min_conf", "map_mix", "audio_concept_min",
                     "background_weight", "context", "concept_mix", "tag_text_weight", "unsupported",
                     "visual_weight"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ParameterError(f"{name} must be in [0, 1]. Received: {name}={value!r}")


def _unit_rows(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.where(n > 1e-8, x / np.maximum(n, 1e-8), 0.0).astype(np.float32)


def _numpy(x: Any) -> np.ndarray:
    """A layer output as numpy (a Keras layer's tensors converted with Keras, only then imported)."""
    if isinstance(x, np.ndarray):
        return x
    from keras import ops

    return ops.convert_to_numpy(x)


class ZeroShotTagger:
    """Holds the tag embeddings, each modality's prepared tables and the fusion layer; ``tag(segments)`` fuses.

    text_encoder: anything with ``encode(list[str]) -> EncoderOutput`` of unit (N, D) embeddings (the
    ``TextEncoder``). vocabulary: Tags, ``(label, description)`` pairs or labels (>= 2). modalities: the run's
    ``Modality`` objects (registered order); the fusing ones are the layer's token slots, all of them give their
    output columns (``mmvideo.modalities.builtin()`` for the built-in four). top_k: overrides
    ``settings.top_k``. layer: a (trained) ``LabelQueryAttention`` over the fusing modalities to use instead of
    a zero-shot one built from the settings.
    """

    def __init__(self, text_encoder: Any, vocabulary: Sequence[Any], *, modalities: Sequence[Any],
                 top_k: int | None = None, settings: TaggerSettings | None = None, layer: Any = None) -> None:
        from mmvideo.modalities.base import FusionContext

        settings = settings or TaggerSettings()
        if top_k is not None:
            settings = replace(settings, top_k=top_k)
        self.settings = settings
        self.vocabulary: tuple[Tag, ...] = as_vocabulary(vocabulary)
        self.labels = tuple(t.label for t in self.vocabulary)
        self.index = {label: i for i, label in enumerate(self.labels)}
        self.uses_maps = is_default(self.vocabulary) if settings.use_maps is None else bool(settings.use_maps)
        if self.uses_maps and not maps.covers(self.labels):
            raise ParameterError("use_maps needs the default vocabulary (the maps name its tags)")
        self._encoder = text_encoder
        self.tag_embeddings = self._embed([t.text for t in self.vocabulary])  # (T, D)
        self.dim = self.tag_embeddings.shape[1]
        self.modalities = tuple(modalities)
        self.fusing = tuple(m for m in self.modalities if m.fuses)
        self.names = tuple(m.name for m in self.fusing)
        if not self.fusing:
            raise ParameterError("fusion needs at least one fusing modality")
        self.context = FusionContext(embed=self._embed, labels=self.labels, tag_embeddings=self.tag_embeddings,
                                     uses_maps=self.uses_maps, settings=settings)
        self._prepared = [m.prepare(self.context) for m in self.fusing]
        if layer is None:  # zero-shot: the layer as constructed, in numpy (no Keras import on a run)
            from mmvideo.fuse.layer_numpy import NumpyLabelQueryAttention

            layer = NumpyLabelQueryAttention(num_modalities=len(self.fusing), temperature=settings.temperature,
                                             normalize=settings.normalize, min_spread=settings.min_spread,
                                             scale=settings.scale)
        elif getattr(layer, "num_modalities", None) != len(self.fusing):
            raise ParameterError(f"layer must attend over the {len(self.fusing)} modalities {self.names}. "
                                 f"Received: num_modalities={getattr(layer, 'num_modalities', None)!r}")
        self.layer = layer
        parents = maps.tag_parents() if settings.hierarchy and self.uses_maps else {}
        self.ancestors = select.parent_index(self.labels, parents) if parents else None
        self.groups = select.sibling_groups(self.labels, parents) if parents else None
        fine = fine_labels() if self.uses_maps else frozenset()
        self.fine = np.array([label in fine for label in self.labels], dtype=bool) if fine else None

    def _embed(self, texts: list[str]) -> np.ndarray:
        out = np.asarray(self._encoder.encode(list(texts)).embeddings, dtype=np.float32)
        if out.ndim != 2 or out.shape[0] != len(texts):
            raise ParameterError(f"text encoder returned shape {out.shape} for {len(texts)} texts")
        return _unit_rows(out)

    def segment_tokens(self, segments: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, list[list[Any]]]:
        """Tokens (B, M, D) float32, presence mask (B, M) bool and per-modality tokens (M lists of B) of a batch
        (modalities in ``settings.mask`` are absent from the first two, not from the lists)."""
        per_modality = []
        for m, prepared in zip(self.fusing, self._prepared):
            pooled = [m.pooled_of(seg) for seg in segments]
            per_modality.append(m.tokens(pooled, prepared, self.context))
        per_modality_masked = [[None] * len(t) if m.name in self.settings.mask else t
                               for m, t in zip(self.fusing, per_modality)]
        toks, mask = self._stack(per_modality_masked, len(segments))
        return toks, mask, per_modality

    def _stack(self, per_modality: list[list[Any]], n: int) -> tuple[np.ndarray, np.ndarray]:
        zero = np.zeros(self.dim, np.float32)
        toks = np.stack([np.stack([t[b] if t[b] is not None else zero for t in per_modality])
                         for b in range(n)]) if n else np.zeros((0, len(self.fusing), self.dim))
        mask = np.array([[t[b] is not None for t in per_modality] for b in range(n)], dtype=bool)
        return toks.astype(np.float32), mask.reshape(n, len(self.fusing))

    def _finish(self, scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Temporal context, then a child's evidence to its parents."""
        scores = select.smooth_context(scores, mask.any(axis=1), self.settings.context)
        return select.propagate_parents(scores, self.ancestors) if self.ancestors is not None else scores

    def segment_support(self, segments: Sequence[Any], mask: np.ndarray) -> np.ndarray | None:
        """(B, T) bool: tags named by the evidence of a present modality (``Modality.support``; a present one
        with no say names every tag); None when no modality has a say."""
        out = np.zeros((len(segments), len(self.labels)), dtype=bool)
        said = False
        for j, (m, prepared) in enumerate(zip(self.fusing, self._prepared)):
            named = m.support([m.pooled_of(seg) for seg in segments], prepared, self.context)
            for b, n in enumerate(named):
                if mask[b, j]:
                    out[b] |= True if n is None else n
                    said |= n is not None
        return out if said else None

    def segment_concepts(self, segments: Sequence[Any], made: dict[str, list] | None = None) -> (
            dict[str, list[np.ndarray | None]]):
        """Each modality's concept embeddings (``Modality.concepts``) of a batch, by modality name (every
        modality that has them, fusing or masked); ``made``: tokens already made, by modality name."""
        made = made or {}
        out: dict[str, list[np.ndarray | None]] = {}
        for m in self.modalities:
            if getattr(m, "has_concepts", False) and m.name in self.settings.mask:
                out[m.name] = [None] * len(segments)
            elif getattr(m, "has_concepts", False):
                prepared = self._prepared[self.fusing.index(m)] if m in self.fusing else m.prepare(self.context)
                out[m.name] = m.concepts([m.pooled_of(seg) for seg in segments], prepared, self.context,
                                         made=made.get(m.name))
        return out

    def tag(self, segments: Sequence[Any]) -> list[FusedSegment]:
        """Fuse a batch of segments (the pipeline's evidence or ``SegmentInput``-like objects), same order.

        With ``settings.context`` > 0 the batch must be consecutive segments of one video (as the pipeline and
        ``mmvideo fuse`` give it): each segment's scores are blended with its neighbours'.
        """
        if not segments:
            return []
        st = self.settings
        toks, mask, per_modality = self.segment_tokens(segments)
        token_of = {m.name: t for m, t in zip(self.fusing, per_modality)}
        concepts = self.segment_concepts(segments, token_of)
        out = self._fuse(segments, toks, mask, token_of, concepts)
        seen = mask & np.array([n in st.visual for n in self.names], dtype=bool)  # (B, M): the visual ones
        mixed = seen.any(axis=1) & (mask & ~seen).any(axis=1)  # (B,): something seen and something else
        if st.visual_weight > 0 and mixed.any():
            visual = self._fuse(segments, toks, seen, token_of, concepts, rows=False)
            for b in np.nonzero(mixed)[0]:
                both = out[b].embedding + st.visual_weight * visual[b].embedding
                out[b] = replace(out[b], embedding=_unit_rows(both[None])[0])
        return out

    def _fuse(self, segments: Sequence[Any], toks: np.ndarray, mask: np.ndarray, token_of: dict[str, list],
              concepts: dict[str, list], rows: bool = True) -> list[FusedSegment]:
        """One fusion of a batch over the modalities ``mask`` (B, M) marks present: tags, fine tags, the fused
        embedding (with the tag sentence) and, when ``rows``, each modality's output columns."""
        st = self.settings
        scores = np.zeros((len(segments), len(self.labels)), np.float32)
        attention = np.zeros((len(segments), len(self.labels), len(self.fusing)), np.float32)
        step = st.batch_size
        for start in range(0, len(segments), step):
            sl = slice(start, start + step)
            s, a = self.layer(self.tag_embeddings, toks[sl], mask[sl])
            scores[sl], attention[sl] = _numpy(s), _numpy(a)
        plain = None  # the scores without the boost: what the tag sentence may name
        if st.unsupported < 1.0 or st.supported_boost > 1.0:
            named = self.segment_support(segments, mask)
            if named is not None:
                plain = self._finish(select.weigh_support(scores, named, st.unsupported, 1.0, self.ancestors), mask)
                scores = select.weigh_support(scores, named, st.unsupported, st.supported_boost, self.ancestors)
        scores = self._finish(scores, mask)
        plain = scores if plain is None else plain

        out = []
        sentences: list[str] = []
        k = min(st.top_k, len(self.labels))
        for b, seg in enumerate(segments):
            present = tuple(m for m, p in zip(self.names, mask[b]) if p)
            tags: tuple[TagScore, ...] = ()
            fine: list[dict[str, Any]] = []
            weights = np.zeros(len(self.fusing), np.float32)
            embedding = np.zeros(self.dim, np.float32)
            if present:
                order = select.choose_tags(scores[b], attention[b].argmax(axis=1), k, st.min_score, st.max_share,
                                           self.groups, st.max_siblings, self.fine, st.fine_slots)
                if self.ancestors is not None:
                    order = select.order_children_first(order, scores[b], self.ancestors)
                tags = tuple(TagScore(self.labels[t], float(scores[b, t]),
                                      {m: float(attention[b, t, j]) for j, m in enumerate(self.names)})
                             for t in order)
                if self.fine is not None:
                    fine = [{"label": self.labels[t], "score": float(scores[b, t])}
                            for t in select.best_of(scores[b], self.fine, st.fine_k, st.min_score)]
                sure_idx = np.array([t for t in order if plain[b, t] >= st.min_score], dtype=np.int64)
                if not sure_idx.size:
                    sure_idx = order if order.size else np.argsort(-scores[b])[:k]
                weights = attention[b, sure_idx].mean(axis=0)  # (M,)
                if st.embedding == "concepts":
                    cons = np.stack([concepts[m][b] if concepts.get(m) and concepts[m][b] is not None
                                     else np.zeros(self.dim, np.float32) for m in self.names])  # (M, D)
                    embedding = select.concept_embedding_of(toks[b], cons, st.concept_mix)
                else:
                    directions = _unit_rows(toks[b])  # (M, D), zero rows where absent
                    embedding = _unit_rows((weights @ directions)[None])[0]  # (M,) @ (M, D) -> (D,)
            columns: dict[str, Any] = {"fine_tags": fine}
            for m in self.modalities if rows else ():
                tok = token_of[m.name][b] if m.name in token_of else None
                if m.name in concepts:
                    columns.update(m.row(m.pooled_of(seg), tok, concept=concepts[m.name][b]))
                else:
                    columns.update(m.row(m.pooled_of(seg), tok))
            sure = [t.label for t in tags if plain[b, self.index[t.label]] >= st.min_score][:st.tag_text_top]
            sentences.append(select.tag_sentence(sure + [f["label"] for f in fine
                                                         if plain[b, self.index[f["label"]]] >= st.min_score],
                                                 st.tag_text_template))
            out.append(FusedSegment(tags=tags, embedding=embedding, modalities=present, columns=columns,
                                    modality_weights={m: float(w) for m, w in zip(self.names, weights)},
                                    concepts={m: c[b] for m, c in concepts.items()}))
        if st.tag_text_weight > 0 and any(sentences):
            said = [i for i, text in enumerate(sentences) if text]
            vectors = self._embed([sentences[i] for i in said])  # (S, D), one encoder call per batch
            for i, v in zip(said, vectors):
                out[i] = replace(out[i], embedding=select.with_sentence(out[i].embedding, v, st.tag_text_weight))
        return out
