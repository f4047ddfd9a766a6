"""Rank an output folder's segments by how well a text query matches what any modality saw.

Every segment has a fused embedding (``embedding``) and, per modality, a concept embedding
(``<modality>_concept_embedding``: the image classifier's top class names, the audio classifier's, the
segment's text; all in the text encoder's space). A segment's score for a query is the best cosine over the
embeddings asked for (``modality="any"``: all of them; ``"image"``: the image concepts alone...), so a clip
whose picture says "goose" is found by "geese on a lake" even when its voices took the tags. The ranking is a
set of pure functions over (N, D) matrices (``similarities``, ``combine``, ``top``, ``best_per_video``);
``search`` reads the folder and puts them together. ``modality="fused"`` on Parquet results ranks from the search
cache instead (``search_index``: a memory-mapped matrix of the fused embeddings, refreshed when the parts change,
scanned in blocks), which is what keeps a library of a million segments under two seconds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from mmvideo.errors import ParameterError
from mmvideo.write.read import read_table

FUSED = "fused"
#: what ``--modality`` accepts besides a modality's name
MODALITY_CHOICES = ("any", FUSED)
ROW_FIELDS = ("path", "video_id", "segment", "start", "end", "tags")
#: taken from a concept embedding's cosine before it competes with the fused one (concepts are single class
#: names, their cosines with a sentence run higher; chosen on the even half of ../shared/eval, where 0 to 0.3
#: ranked the same)
CONCEPT_OFFSET = 0.05


@dataclass(frozen=True)
class Hit:
    """One ranked segment; ``matched``: the embedding that scored best ("fused", "image", "audio", "text")."""

    path: str
    video_id: str
    segment: int
    start: float
    end: float
    score: float
    tags: tuple[str, ...]
    matched: str = FUSED


def rank(query_embedding: np.ndarray, embeddings: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine scores of the ``k`` rows of ``embeddings`` (N, D) closest to ``query`` (D,)."""
    scores = similarities(query_embedding, embeddings)
    order = top(scores, k)
    return order, scores[order]


def similarities(query: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N,) float32 cosine of ``query`` (D,) with each row of ``matrix`` (N, D); -1 for all-zero rows (no
    embedding: such a segment never beats one that has one)."""
    m = np.asarray(matrix, dtype=np.float32)
    q = np.asarray(query, dtype=np.float32)
    if m.ndim != 2 or q.shape != (m.shape[1],):
        raise ParameterError(f"query must be (D,) and embeddings (N, D). Received: {q.shape} and {m.shape}")
    q = q / (np.linalg.norm(q) or 1.0)
    norms = np.linalg.norm(m, axis=1)
    out = m @ q / np.maximum(norms, 1e-8)  # (N, D) @ (D,) -> (N,)
    return np.where(norms > 1e-8, out, -1.0).astype(np.float32)


def combine(scores: Mapping[str, np.ndarray], which: Sequence[str],
            offsets: Mapping[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The best of several (N,) score vectors: (N,) best scores and (N,) index into ``which`` of the winner.

    scores: name -> (N,) cosines (``similarities``); which: the names to take the best of (missing ones are
    skipped; none present: all -1); offsets: name -> a number taken from that name's scores first."""
    names = [w for w in which if w in scores]
    if not names:
        n = len(next(iter(scores.values()))) if scores else 0
        return np.full(n, -1.0, np.float32), np.zeros(n, np.int64)
    offsets = offsets or {}
    stack = np.stack([scores[w] - offsets.get(w, 0.0) for w in names])  # (K, N)
    winner = stack.argmax(axis=0)  # (N,)
    index = np.array([list(which).index(w) for w in names])[winner]
    return stack.max(axis=0), index


def top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest of (N,) ``scores``, best first (ties keep row order)."""
    if k < 1:
        raise ParameterError(f"k must be >= 1. Received: k={k}")
    n = len(scores)
    if k < n:
        part = np.argpartition(-scores, k - 1)[:k]
        keep = scores >= scores[part].min()  # every row tied with the k-th, for a stable order
        cand = np.nonzero(keep)[0]
        return cand[np.argsort(-scores[cand], kind="stable")][:k]
    return np.argsort(-scores, kind="stable")


def best_per_video(video_ids: Sequence[str] | np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Row index of each video's best-scoring segment (the first of ties), one per video, in row order of
    first appearance. video_ids: (N,); scores: (N,)."""
    ids = np.asarray(video_ids, dtype=object)
    order = np.lexsort((np.arange(len(ids)), -scores))  # best first, stable
    seen: set = set()
    best = []
    for i in order:
        if ids[i] not in seen:
            seen.add(ids[i])
            best.append(i)
    return np.sort(np.asarray(best, dtype=np.int64))


def vectors(column: pa.ChunkedArray | pa.Array, dim: int | None = None) -> np.ndarray | None:
    """An embedding column as (N, D) float32, zero rows where null; None when it holds no vector at all."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    n = len(arr)
    if n == 0 or arr.null_count == n or pa.types.is_null(arr.type):
        return None
    if pa.types.is_fixed_size_list(arr.type):
        size = arr.type.list_size
        values = arr.values.slice(arr.offset * size, n * size).to_numpy(zero_copy_only=False)
        out = values.astype(np.float32).reshape(n, size)
    else:  # variable lists (JSON Lines with mixed nulls): row by row
        rows = arr.to_pylist()
        size = dim or len(next(r for r in rows if r is not None))
        out = np.stack([np.asarray(r, np.float32) if r is not None else np.zeros(size, np.float32)
                        for r in rows])
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    out[~valid] = 0.0
    if not np.isfinite(out).all():  # rare: checked once, cheap when clean
        out = np.nan_to_num(out, copy=False)
    return out


def embedding_matrices(table: pa.Table) -> dict[str, np.ndarray]:
    """The searchable matrices of a segments table: "fused" (``embedding``) and each modality's concepts
    (``<name>_concept_embedding`` -> name), (N, D) float32 each, zero rows where a segment has none."""
    out: dict[str, np.ndarray] = {}
    for name in table.column_names:
        key = FUSED if name == "embedding" else name[:-len("_concept_embedding")] \
            if name.endswith("_concept_embedding") else None
        if key is None:
            continue
        m = vectors(table.column(name))
        if m is not None:
            out[key] = m
    return out


def modality_names(matrices: Mapping[str, np.ndarray], modality: str) -> tuple[str, ...]:
    """Which matrices ``modality`` ranks by: "any" (all), "fused", or one modality's concepts."""
    if modality == "any":
        return tuple(matrices)
    return (modality,)


def search(out_dir: os.PathLike | str, query: str, *, k: int = 10, encoder=None, modality: str = "any",
           videos: bool = False) -> list[Hit]:
    """The ``k`` segments of ``out_dir`` best matching ``query`` (embedded with the text encoder).

    modality: "any" (the best of the fused and every modality's concept embedding), "fused", or a modality's
    name ("image", "audio", "text": its concept embedding alone). videos: one hit per video, its best segment.
    """
    from mmvideo.search_index import open_index

    index = open_index(out_dir)  # None: no Parquet results (JSON Lines only): rank from the table
    if index is not None:
        _check_modality(out_dir, modality, index.columns)
        if index.size == 0 or not index.columns:
            return []
    if encoder is None:
        from mmvideo.encode.text import TextEncoder

        encoder = TextEncoder()
    q = np.asarray(encoder.encode([query]).embeddings[0], dtype=np.float32)
    if index is not None:
        return _search_cached(index, {name: q for name in index.columns}, k, modality, videos)
    return search_vectors(out_dir, q, k=k, modality=modality, videos=videos)


def searchable(out_dir: os.PathLike | str) -> tuple[pa.Table, dict[str, np.ndarray]]:
    """The segments' key columns and their searchable matrices ("fused" and each modality's concepts)."""
    table = read_table(out_dir, "segments")
    columns = [c for c in table.column_names if c in ROW_FIELDS or c == "embedding"
               or c.endswith("_concept_embedding")]
    table = table.select(columns)
    return table, embedding_matrices(table)


def _check_modality(out_dir, modality: str, matrices: Mapping) -> None:
    if modality not in MODALITY_CHOICES and modality not in matrices:
        known = ", ".join(MODALITY_CHOICES + tuple(m for m in matrices if m != FUSED))
        raise ParameterError(f"no {modality!r} embeddings in {out_dir} (choose from {known})")


def search_vectors(out_dir: os.PathLike | str, query: np.ndarray | Mapping[str, np.ndarray], *, k: int = 10,
                   modality: str = "any", videos: bool = False) -> list[Hit]:
    """Rank ``out_dir``'s segments by a query vector (D,) in the text encoder's space, or by one vector per
    matrix (``{"fused": ..., "image": ...}``: a segment's own embeddings for "more like this"); see ``search``.
    Parquet results rank from the search cache (``search_index``), JSON Lines ones from the table."""
    from mmvideo.search_index import open_index

    index = open_index(out_dir)
    if index is not None:
        _check_modality(out_dir, modality, index.columns)
        if not isinstance(query, Mapping):
            query = {name: np.asarray(query, np.float32) for name in index.columns}
        return _search_cached(index, query, k, modality, videos)
    return search_table(out_dir, query, k=k, modality=modality, videos=videos)


def search_table(out_dir: os.PathLike | str, query: np.ndarray | Mapping[str, np.ndarray], *, k: int = 10,
                 modality: str = "any", videos: bool = False) -> list[Hit]:
    """``search_vectors`` from the segments table itself (every part read): JSON Lines results, and the
    reference the cache's ranking equals."""
    table, matrices = searchable(out_dir)
    if table.num_rows == 0:
        return []
    if not isinstance(query, Mapping):
        query = {name: np.asarray(query, np.float32) for name in matrices}
    which = tuple(n for n in modality_names(matrices, modality) if n in query)
    _check_modality(out_dir, modality, matrices)
    if not which:
        return []
    offsets = {name: CONCEPT_OFFSET for name in which if name != FUSED} if len(which) > 1 else {}
    scores, winner = combine({name: similarities(query[name], matrices[name]) for name in which}, which, offsets)
    rows = np.arange(len(scores))
    if videos:
        rows = best_per_video(table.column("video_id").to_numpy(zero_copy_only=False), scores)
    idx = rows[top(scores[rows], k)]
    picked = table.select([c for c in ROW_FIELDS if c in table.column_names]).take(pa.array(idx)).to_pylist()
    return [Hit(r["path"], r["video_id"], r["segment"], r["start"], r["end"], float(scores[i]),
                tuple(t["label"] for t in (r.get("tags") or ())), which[int(winner[i])])
            for r, i in zip(picked, idx)]


def _search_cached(index, query: Mapping[str, np.ndarray], k: int, modality: str, videos: bool) -> list[Hit]:
    """The ranking of ``search_vectors`` from the search cache, exactly (float32 cosines of the hits).

    Each column's int8 rows give every segment's cosine within a known error; ``combine`` of the lower and of
    the upper bounds (it is monotone in each score) bounds each segment's score; only the segments whose upper
    bound reaches the k-th best lower bound (of segments, or of videos with ``videos``) are scored again from
    the float32 rows, and the pure ranking functions run on those."""
    which = tuple(n for n in modality_names(index.columns, modality) if n in query)
    if not which or index.size == 0:
        return []
    if k < 1:
        raise ParameterError(f"k must be >= 1. Received: k={k}")
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):  # block-sized products: BLAS threads only wait on a busy machine
        return _ranked_from_cache(index, query, which, k, videos)


def _ranked_from_cache(index, query: Mapping[str, np.ndarray], which: tuple[str, ...], k: int,
                       videos: bool) -> list[Hit]:
    offsets = {name: CONCEPT_OFFSET for name in which if name != FUSED} if len(which) > 1 else {}
    n = index.size
    lower, upper = {}, {}

    def scan(name: str) -> tuple[np.ndarray, np.ndarray]:
        col = index.columns[name]
        lo, hi = col.bounds(query[name])
        return (lo, hi) if col.rows is None else (_scatter(n, col.rows, lo), _scatter(n, col.rows, hi))

    workers = min(len(which), len(os.sched_getaffinity(0)))
    if workers > 1 and n * len(which) >= 200_000:  # numpy releases the GIL: the columns scan side by side
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            scanned = dict(zip(which, pool.map(scan, which)))
    else:
        scanned = {name: scan(name) for name in which}
    for name, (lo, hi) in scanned.items():
        lower[name], upper[name] = lo, hi
    low = combine(lower, which, offsets)[0]
    high = combine(upper, which, offsets)[0]
    threshold = _kth_best(_per_video_max(index.videos, low) if videos else low, k)
    cand = np.nonzero(high >= threshold)[0]
    exact = {name: index.columns[name].exact(query[name], cand) for name in which}
    scores, winner = combine(exact, which, offsets)
    rows = best_per_video(index.videos[cand], scores) if videos else np.arange(len(cand))
    picked = rows[top(scores[rows], k)]
    metas = index.rows(cand[picked])
    return [Hit(r["path"], r["video_id"], r["segment"], r["start"], r["end"], float(scores[i]),
                tuple(r["tags"] or ()), which[int(winner[i])]) for r, i in zip(metas, picked)]


def _scatter(n: int, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(n,) float32: ``values`` at ``rows``, -1 (no embedding) elsewhere."""
    out = np.full(n, -1.0, np.float32)
    out[rows] = values
    return out


def _per_video_max(videos: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Each video's best score (videos: (N,) int video numbers, a video's segments mostly adjacent)."""
    starts = np.concatenate([[0], np.flatnonzero(np.diff(videos)) + 1]) if len(videos) else np.zeros(0, np.int64)
    runs = np.maximum.reduceat(scores, starts) if len(starts) else scores[:0]
    best = np.full(int(videos.max()) + 1 if len(videos) else 0, -np.inf, np.float32)
    np.maximum.at(best, videos[starts], runs)
    return best


def _kth_best(scores: np.ndarray, k: int) -> float:
    """The ``k``-th highest of ``scores`` (-inf when there are at most ``k``)."""
    if len(scores) <= k:
        return -np.inf
    return float(np.partition(scores, len(scores) - k)[len(scores) - k])
