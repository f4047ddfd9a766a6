"""Modality tokens: one segment's encoder outputs as vectors in the text encoder's space (ConSE).

Following ConSE (Norouzi et al. 2014, "Zero-shot learning by convex combination of semantic embeddings"), a
classifier's output becomes a point in a text-embedding space: the score-weighted mean of the embeddings of
its top classes. Contract of every token: a float32 vector (D,) whose *direction* is what the modality saw and
whose *length* in (0, 1] is how sure it is; ``None`` when the modality has nothing to say (absent, silent,
too weak), which fusion masks.

``class_emb`` rows are the text embeddings that stand for each class (unit vectors). A row of zeros marks a
class that carries no evidence: it is left out of the top-k and of the confidence (the tagger uses this for
classes the curated maps send to no tag, and for dropped classes such as "Silence").
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from mmvideo.errors import ParameterError

#: AudioSet classes that never count as evidence of content (a silent track must not look like speech)
DEFAULT_AUDIO_DROP = frozenset({"Silence"})
#: AudioSet's "Speech" class and its subtree: voices are on most tracks (a phone's owner, a commentator, a TV in
#: the room), so they count as background, at ``background_weight`` of their score, and cannot take over a
#: segment whose picture says more
DEFAULT_AUDIO_BACKGROUND = frozenset({
    "Speech", "Male speech, man speaking", "Female speech, woman speaking", "Child speech, kid speaking",
    "Conversation", "Narration, monologue", "Babbling", "Speech synthesizer"})


def _scores_2d(scores: np.ndarray, classes: int, name: str) -> np.ndarray:
    """(C,) or (N, C) scores in [0, 1] -> (N, C) float32; ParameterError otherwise."""
    a = np.asarray(scores, dtype=np.float32)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != classes:
        raise ParameterError(f"{name} must have shape (C,) or (N, C) with C={classes}. Received: shape={a.shape}")
    if not np.all(np.isfinite(a)) or (a.size and (a.min() < -1e-4 or a.max() > 1 + 1e-4)):
        raise ParameterError(f"{name} must be finite scores in [0, 1]. Received: range "
                             f"[{np.nanmin(a) if a.size else 0}, {np.nanmax(a) if a.size else 0}]")
    return np.clip(a, 0.0, 1.0)


def _class_table(class_emb: np.ndarray) -> np.ndarray:
    e = np.asarray(class_emb, dtype=np.float32)
    if e.ndim != 2 or not np.all(np.isfinite(e)):
        raise ParameterError(f"class_emb must be a finite (C, D) array. Received: shape={e.shape}")
    return e


def _unit(v: np.ndarray) -> np.ndarray | None:
    n = float(np.linalg.norm(v))
    return None if n < 1e-8 else (v / n).astype(np.float32)


def convex_token(mean_scores: np.ndarray, class_emb: np.ndarray, usable: np.ndarray, top_k: int) -> (
        tuple[np.ndarray, np.ndarray] | None):
    """The unit direction of the score-weighted mean of the top-k usable classes' embeddings, and their indices.

    mean_scores: (C,) float32 >= 0; class_emb: (C, D); usable: (C,) bool. None when no usable class scores > 0.
    """
    s = np.where(usable, mean_scores, 0.0)
    order = np.argsort(-s, kind="stable")[:top_k]
    order = order[s[order] > 0]
    if order.size == 0:
        return None
    w = s[order] / s[order].sum()
    direction = _unit(w @ class_emb[order])  # (k,) @ (k, D) -> (D,)
    return None if direction is None else (direction, order)


def image_token(probs: np.ndarray, class_emb: np.ndarray, top_k: int = 10, min_mass: float = 0.05) -> (
        np.ndarray | None):
    """Image token of one segment: frame probabilities averaged, then the convex combination of the top-k classes.

    probs: (F, C) or (C,) float32 softmax probabilities in [0, 1] (F frames). class_emb: (C, D) unit rows, zero
    rows for classes without evidence. Length = probability mass of those top-k classes (in (0, 1]); None when
    there are no frames or that mass is below ``min_mass``.
    """
    emb = _class_table(class_emb)
    p = _scores_2d(probs, emb.shape[0], "probs")
    if top_k < 1:
        raise ParameterError(f"top_k must be >= 1. Received: top_k={top_k}")
    if p.shape[0] == 0:
        return None
    mean = p.mean(axis=0)
    made = convex_token(mean, emb, np.any(emb != 0, axis=1), top_k)
    if made is None:
        return None
    direction, order = made
    mass = float(min(1.0, mean[order].sum()))
    return (direction * mass).astype(np.float32) if mass >= min_mass else None


def audio_token(scores: np.ndarray, class_emb: np.ndarray, class_names: Sequence[str] | None = None,
                drop: Collection[str] = DEFAULT_AUDIO_DROP, top_k: int = 5, min_score: float = 0.2,
                background: Collection[str] = (), background_weight: float = 1.0) -> np.ndarray | None:
    """Audio token of one segment: patch scores averaged, classes below ``min_score`` and ``drop`` left out.

    scores: (P, C) or (C,) float32 independent (sigmoid) scores in [0, 1] (P patches of 0.96 s).
    class_emb: (C, D); class_names: the C names (needed for ``drop`` and ``background``). Scores of the
    ``background`` classes are multiplied by ``background_weight`` in [0, 1] first. Length = the best kept
    class's score; None when no class reaches ``min_score`` (silence, faint noise: better no audio token than
    a wrong one).
    """
    if not 0.0 <= background_weight <= 1.0:
        raise ParameterError(f"background_weight must be in [0, 1]. Received: {background_weight}")
    emb = _class_table(class_emb)
    s = _scores_2d(scores, emb.shape[0], "scores")
    if top_k < 1 or not 0.0 <= min_score <= 1.0:
        raise ParameterError(f"top_k must be >= 1 and min_score in [0, 1]. Received: top_k={top_k}, "
                             f"min_score={min_score}")
    if class_names is not None and len(class_names) != emb.shape[0]:
        raise ParameterError(f"class_names must name the {emb.shape[0]} classes. Received: {len(class_names)}")
    if s.shape[0] == 0:
        return None
    mean = s.mean(axis=0)
    if background and class_names is not None and background_weight < 1.0:
        mean = np.where(np.isin(np.asarray(class_names, dtype=object), list(background)),
                        mean * background_weight, mean).astype(np.float32)
    usable = np.any(emb != 0, axis=1) & (mean >= min_score)
    if drop and class_names is not None:
        usable &= ~np.isin(np.asarray(class_names, dtype=object), list(drop))
    made = convex_token(mean, emb, usable, top_k)
    if made is None:
        return None
    direction, order = made
    return (direction * float(mean[order[0]])).astype(np.float32)


def text_token(text_emb: np.ndarray | None) -> np.ndarray | None:
    """Text token: the segment text's embedding (D,), made unit length (full confidence); None without text."""
    if text_emb is None:
        return None
    v = np.asarray(text_emb, dtype=np.float32)
    if v.ndim != 1 or not np.all(np.isfinite(v)):
        raise ParameterError(f"text_emb must be a finite (D,) vector. Received: shape={v.shape}")
    return _unit(v)


def face_token(max_conf: float | None, person_emb: np.ndarray, min_conf: float = 0.5) -> np.ndarray | None:
    """Face token: the embedding of "person" scaled by the best face confidence of the segment.

    ImageNet has no person class, so faces are the image side's evidence of people. max_conf: in [0, 1] or None
    (detection did not run). None below ``min_conf``.
    """
    if max_conf is None:
        return None
    conf = float(max_conf)
    if not 0.0 <= conf <= 1.0 or not 0.0 <= min_conf <= 1.0:
        raise ParameterError(f"max_conf and min_conf must be in [0, 1]. Received: max_conf={max_conf}, "
                             f"min_conf={min_conf}")
    direction = text_token(person_emb)
    if direction is None or conf < min_conf:
        return None
    return (direction * conf).astype(np.float32)


def top_classes(scores: np.ndarray, class_names: Sequence[str], k: int = 3) -> tuple[tuple[str, float], ...]:
    """The k best classes of a segment's mean scores as (name, score), best first (raw, nothing dropped).

    scores: (N, C) or (C,) in [0, 1]; means over N are taken first.
    """
    s = _scores_2d(scores, len(class_names), "scores")
    if s.shape[0] == 0:
        return ()
    mean = s.mean(axis=0)
    order = np.argsort(-mean, kind="stable")[:k]
    return tuple((class_names[i], float(mean[i])) for i in order)


def concept_embedding(mean_scores: np.ndarray, name_emb: np.ndarray, usable: np.ndarray | None = None,
                      top_k: int = 5, min_score: float = 0.0) -> np.ndarray | None:
    """What a classifier saw, as a unit (D,) vector: the score-weighted mean of its top-k classes' *name*
    embeddings ("goose", "lakeside"; not the default tags they map to), for search and custom vocabularies.

    mean_scores: (C,) float32 in [0, 1] (a segment's pooled class scores). name_emb: (C, D) unit rows, one per
    class name. usable: (C,) bool, classes that may count (default all). Classes below ``min_score`` are left
    out; None when none is left (silence, nothing recognised).
    """
    emb = _class_table(name_emb)
    s = _scores_2d(mean_scores, emb.shape[0], "mean_scores")[0]
    if top_k < 1 or not 0.0 <= min_score <= 1.0:
        raise ParameterError(f"top_k must be >= 1 and min_score in [0, 1]. Received: top_k={top_k}, "
                             f"min_score={min_score}")
    ok = s >= max(min_score, 1e-8)
    if usable is not None:
        ok &= np.asarray(usable, dtype=bool)
    made = convex_token(s, emb, ok, top_k)
    return None if made is None else made[0]
