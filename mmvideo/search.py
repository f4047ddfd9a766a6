"""Rank an output folder's segments by cosine similarity of a text query to their fused embeddings."""

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


def search(out_dir: os.PathLike | str, query: str, *, k: int = 10, encoder=None) -> list[Hit]:
    """The ``k`` segments of ``out_dir`` best matching ``query`` (embedded with the text encoder)."""
    table = read_table(out_dir, "segments").select(["path", "video_id", "segment", "start", "end", "embedding",
                                                     "tags"])
    if table.num_rows == 0:
        return []
    emb = table.column("embedding").combine_chunks()
    dim = emb.type.list_size
    matrix = emb.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim).astype(np.float32)
    if encoder is None:
        from mmvideo.encode.text import TextEncoder

        encoder = TextEncoder()
    q = encoder.encode([query]).embeddings[0]
    idx, scores = rank(q, matrix, k)
    rows = table.take(idx).to_pylist()
    return [Hit(r["path"], r["video_id"], r["segment"], r["start"], r["end"], float(s),
                tuple(t["label"] for t in r["tags"])) for r, s in zip(rows, scores)]
