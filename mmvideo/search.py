"""Rank an output folder's segments by cosine similarity of a text query to their fused embeddings.

Parquet results are ranked from the search cache (``search_index``: a memory-mapped matrix of the
embeddings, refreshed when the parts change), scanned in blocks; JSON Lines results are read whole."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from mmvideo.errors import ParameterError
from mmvideo.write.read import read_table


@dataclass(frozen=True)
class Hit:
    path: str
    video_id: str
    segment: int
    start: float
    end: float
    score: float
    tags: tuple[str, ...]


def rank(query_embedding: np.ndarray, embeddings: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine scores of the ``k`` rows of ``embeddings`` (N, D) closest to ``query`` (D,)."""
    if embeddings.ndim != 2 or query_embedding.shape != (embeddings.shape[1],):
        raise ParameterError(f"query must be (D,) and embeddings (N, D). Received: {query_embedding.shape} and "
                             f"{embeddings.shape}")
    q = query_embedding / (np.linalg.norm(query_embedding) or 1.0)
    norms = np.linalg.norm(embeddings, axis=1)
    norms[norms == 0] = 1.0
    scores = embeddings @ q / norms
    order = np.argsort(-scores, kind="stable")[:k]
    return order, scores[order]


BLOCK = 65_536  # rows scored at a time: bounded memory on a memory-mapped matrix


def top_k(query_embedding: np.ndarray, unit_rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Like ``rank`` for rows already L2-normalised (zero rows score 0), scanned in blocks: same order, ties by
    index."""
    q = np.asarray(query_embedding, np.float32)
    q = q / (np.linalg.norm(q) or 1.0)
    n = unit_rows.shape[0]
    best_idx, best_scores = np.zeros(0, np.int64), np.zeros(0, np.float32)
    for start in range(0, n, BLOCK):
        scores = np.asarray(unit_rows[start:start + BLOCK]) @ q
        take = min(k, len(scores))
        part = np.argpartition(-scores, take - 1)[:take] if take < len(scores) else np.arange(len(scores))
        best_idx = np.concatenate([best_idx, part + start])
        best_scores = np.concatenate([best_scores, scores[part]])
    order = np.lexsort((best_idx, -best_scores))[:k]
    return best_idx[order], best_scores[order]


def _encode(query: str, encoder) -> np.ndarray:
    if encoder is None:
        from mmvideo.encode.text import TextEncoder

        encoder = TextEncoder()
    return encoder.encode([query]).embeddings[0]


def search(out_dir: os.PathLike | str, query: str, *, k: int = 10, encoder=None) -> list[Hit]:
    """The ``k`` segments of ``out_dir`` best matching ``query`` (embedded with the text encoder)."""
    from mmvideo.search_index import open_index

    index = open_index(out_dir)
    if index is None:
        return _search_table(out_dir, query, k, encoder)
    if index.vectors.shape[0] == 0:
        return []
    idx, scores = top_k(_encode(query, encoder), index.vectors, k)
    rows = index.rows(idx)
    return [Hit(r["path"], r["video_id"], r["segment"], r["start"], r["end"], float(s), tuple(r["tags"] or ()))
            for r, s in zip(rows, scores)]


def _search_table(out_dir: os.PathLike | str, query: str, k: int, encoder) -> list[Hit]:
    """Rank rows read whole (JSON Lines results)."""
    table = read_table(out_dir, "segments").select(["path", "video_id", "segment", "start", "end", "embedding",
                                                     "tags"])
    if table.num_rows == 0:
        return []
    emb = table.column("embedding").combine_chunks()
    dim = emb.type.list_size
    matrix = emb.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim).astype(np.float32)
    idx, scores = rank(_encode(query, encoder), matrix, k)
    rows = table.take(idx).to_pylist()
    return [Hit(r["path"], r["video_id"], r["segment"], r["start"], r["end"], float(s),
                tuple(t["label"] for t in r["tags"])) for r, s in zip(rows, scores)]
