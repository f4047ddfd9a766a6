"""From fused tag scores to what a segment shows: temporal context, the tag hierarchy, slots shared between
modalities, and the fused embedding. Pure numpy; the tagger calls these after ``LabelQueryAttention``.

Shapes: B segments, T tags, M fusing modalities, D the text encoder's dimension (384).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mmvideo.errors import ParameterError


def smooth_context(scores: np.ndarray, present: np.ndarray, weight: float) -> np.ndarray:
    """Blend each segment's scores with its neighbours' (the previous and next segment of the same video).

    scores: (B, T) float32, consecutive segments of one video in order; present: (B,) bool (segments with no
    evidence neither give nor take); weight in [0, 1]: the neighbours' share. Returns (B, T) float32
    ``(1 - w) s_b + w mean(s_{b-1}, s_{b+1})`` over the present neighbours (unchanged without one).
    """
    s = np.asarray(scores, dtype=np.float32)
    if s.ndim != 2 or present.shape != (s.shape[0],) or not 0.0 <= weight <= 1.0:
        raise ParameterError(f"scores must be (B, T), present (B,) and weight in [0, 1]. Received: "
                             f"{s.shape}, {present.shape}, {weight}")
    if weight == 0.0 or s.shape[0] < 2:
        return s
    p = present.astype(np.float32)[:, None]  # (B, 1)
    total = np.zeros_like(s)
    count = np.zeros((s.shape[0], 1), np.float32)
    total[1:] += s[:-1] * p[:-1]
    count[1:] += p[:-1]
    total[:-1] += s[1:] * p[1:]
    count[:-1] += p[1:]
    mean = total / np.maximum(count, 1.0)
    blended = np.where(count > 0, (1.0 - weight) * s + weight * mean, s)
    return np.where(p > 0, blended, s).astype(np.float32)


def weigh_support(scores: np.ndarray, named: np.ndarray, unsupported: float, boost: float,
                  ancestors: Sequence[Sequence[int]] | None = None) -> np.ndarray:
    """Scores of tags the evidence names raised to ``1 - (1 - s) ** boost``, the others' times ``unsupported``.

    scores: (B, T) float32; named: (B, T) bool (a named tag's ancestors count as named: ``parent_index``).
    Negative scores stay as they are. (B, T) float32.
    """
    s = np.asarray(scores, dtype=np.float32)
    n = np.array(named, dtype=bool, copy=True)
    if ancestors is not None:
        for child, ups in enumerate(ancestors):
            if ups:
                ups_ = np.asarray(ups, dtype=np.int64)
                n[:, ups_] |= n[:, child:child + 1]
    pos = np.clip(s, 0.0, 1.0)
    raised = np.where(s > 0, 1.0 - (1.0 - pos) ** boost, s)
    return np.where(n, raised, np.where(s > 0, s * unsupported, s)).astype(np.float32)


def parent_index(labels: Sequence[str], parents: Mapping[str, Sequence[str]]) -> list[tuple[int, ...]]:
    """For each tag of ``labels``, the indices of its ancestors (parents, their parents...) in ``labels``."""
    index = {label: i for i, label in enumerate(labels)}
    out = []
    for label in labels:
        seen: dict[str, None] = {}
        stack = list(parents.get(label, ()))
        while stack:
            p = stack.pop()
            if p in seen or p == label:
                continue
            seen[p] = None
            stack.extend(parents.get(p, ()))
        out.append(tuple(index[p] for p in seen if p in index))
    return out


def propagate_parents(scores: np.ndarray, ancestors: Sequence[Sequence[int]], gain: float = 1.0) -> np.ndarray:
    """A child's evidence reaches its ancestors: ``s[a] = max(s[a], gain * s[child])`` for every ancestor.

    scores: (B, T) float32; ancestors: per tag, ancestor indices (``parent_index``); gain in [0, 1]. (B, T).
    """
    s = np.array(scores, dtype=np.float32, copy=True)
    for child, ups in enumerate(ancestors):
        if ups:
            ups_ = np.asarray(ups, dtype=np.int64)
            s[:, ups_] = np.maximum(s[:, ups_], gain * s[:, child:child + 1])
    return s


def sibling_groups(labels: Sequence[str], parents: Mapping[str, Sequence[str]]) -> np.ndarray:
    """(T,) int: the index in ``labels`` of each tag's first parent (its sibling group), -1 without one."""
    index = {label: i for i, label in enumerate(labels)}
    return np.array([next((index[p] for p in parents.get(label, ()) if p in index), -1) for label in labels],
                    dtype=np.int64)


def choose_tags(scores: np.ndarray, owner: np.ndarray, k: int, min_score: float, max_share: int,
                group: np.ndarray | None = None, max_siblings: int = 100, fine: np.ndarray | None = None,
                max_fine: int = 100) -> np.ndarray:
    """Indices of one segment's tags, best first: the ``k`` best scoring at least ``min_score``, with no
    modality owning more than ``max_share`` of them while tags of another modality qualify, and at most
    ``max_siblings`` children of one parent (a dog's "cat", a boat's "sailboat, speedboat, ship") and at most
    ``max_fine`` of the tags marked in ``fine`` ((T,) bool: the fine-grained ones, "goose", "speedboat").

    scores: (T,) fused scores; owner: (T,) int, the modality each tag's score came from (its largest
    attention); group: (T,) int sibling group (``sibling_groups``; -1: none). A tag passed over for its
    owner's share comes back only when nothing else qualifies; one passed over as a sibling does not.
    """
    order = np.argsort(-scores, kind="stable")
    order = order[scores[order] >= min_score]
    taken: list[int] = []
    waiting: list[int] = []
    share: dict[int, int] = {}
    siblings: dict[int, int] = {}
    n_fine = 0
    for t in order:
        if len(taken) == k:
            break
        if fine is not None and fine[t]:
            if n_fine >= max_fine:
                continue
            n_fine += 1
        g = -1 if group is None else int(group[t])
        if g >= 0:
            if siblings.get(g, 0) >= max_siblings:
                continue
            siblings[g] = siblings.get(g, 0) + 1
        m = int(owner[t])
        if share.get(m, 0) >= max_share:
            waiting.append(int(t))
            continue
        taken.append(int(t))
        share[m] = share.get(m, 0) + 1
    if len(taken) < k:
        taken += waiting[:k - len(taken)]
        taken.sort(key=lambda t: -scores[t])
    return np.asarray(taken, dtype=np.int64)


def best_of(scores: np.ndarray, among: np.ndarray, k: int, min_score: float) -> np.ndarray:
    """Indices of the ``k`` best scores (T,) among the tags marked in ``among`` (T,) bool that reach
    ``min_score``, best first (the fine-grained tags kept beside the five slots)."""
    cand = np.nonzero(np.asarray(among, dtype=bool) & (scores >= min_score))[0]
    return cand[np.argsort(-scores[cand], kind="stable")][:k].astype(np.int64)


def order_children_first(chosen: np.ndarray, scores: np.ndarray, ancestors: Sequence[Sequence[int]]) -> np.ndarray:
    """``chosen`` tag indices reordered so that a tag never comes after one of its ancestors whose score it
    equals or passes (after ``propagate_parents`` a parent ties its best child: "dog, pet, animal")."""
    out = [int(t) for t in chosen]
    for i in range(len(out)):
        for j in range(i + 1, len(out)):
            if out[i] in ancestors[out[j]] and scores[out[j]] >= scores[out[i]] - 1e-6:
                out[i], out[j] = out[j], out[i]
    return np.asarray(out, dtype=np.int64)


def unit(v: np.ndarray) -> np.ndarray:
    """Rows of ``v`` at unit length (zero rows stay zero), float32."""
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.where(n > 1e-8, v / np.maximum(n, 1e-8), 0.0).astype(np.float32)


def concept_embedding_of(tokens: np.ndarray, concepts: np.ndarray, mix: float) -> np.ndarray:
    """A segment's fused embedding from every present modality, none allowed to take it over by winning tags.

    tokens: (M, D) the modality tokens (length = confidence, zero rows = absent); concepts: (M, D) unit concept
    embeddings (zero rows = none); mix in [0, 1]: the concepts' share of each modality's direction. Returns the
    unit (D,) ``sum_m |y_m| ((1 - mix) y_m/|y_m| + mix c_m)`` (zeros when nothing is present).
    """
    strength = np.linalg.norm(tokens, axis=1, keepdims=True)  # (M, 1)
    direction = unit(tokens)  # (M, D)
    has_concept = np.any(concepts != 0, axis=1, keepdims=True)
    own = np.where(has_concept, (1.0 - mix) * direction + mix * concepts, direction)
    return unit((strength * unit(own)).sum(axis=0)[None])[0]


def tag_sentence(labels: Sequence[str], template: str = "a video of {}") -> str:
    """A segment's tags as one sentence for the text encoder ("a video of dog, pet, animal"); "" without tags."""
    return template.format(", ".join(labels)) if labels else ""


def with_sentence(embedding: np.ndarray, sentence: np.ndarray, weight: float) -> np.ndarray:
    """The unit (D,) ``embedding + weight * sentence`` (the fused embedding moved toward its tags' sentence
    embedding); a zero ``embedding`` gives the sentence's direction."""
    return unit((np.asarray(embedding, np.float32) + weight * np.asarray(sentence, np.float32))[None])[0]
