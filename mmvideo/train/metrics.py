"""Ranking and decision metrics of a multi-label head (pure numpy).

``average_precision`` follows scikit-learn's definition (steps at each distinct score: tied scores count as one
threshold, so a head that cannot tell two segments apart gets no credit for a lucky order).
"""

from __future__ import annotations

import numpy as np


def average_precision(y: np.ndarray, s: np.ndarray) -> float:
    """AP of scores ``s`` (N,) against 0/1 targets ``y`` (N,): sum over distinct thresholds of
    (recall step) x precision, in [0, 1]; NaN when ``y`` has no positive."""
    y = np.asarray(y, np.float64).reshape(-1)
    s = np.asarray(s, np.float64).reshape(-1)
    positives = y.sum()
    if positives <= 0:
        return float("nan")
    order = np.argsort(-s, kind="stable")
    y, s = y[order], s[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]  # last index of each distinct score
    tp = np.cumsum(y)[last]
    precision = tp / (last + 1)
    recall = tp / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def per_label_ap(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """(L,) AP per column of (N, L) targets and scores (NaN for a label with no positive)."""
    return np.array([average_precision(y[:, j], s[:, j]) for j in range(y.shape[1])])


def mean_ap(y: np.ndarray, s: np.ndarray) -> float:
    """Mean of the per-label APs over labels with a positive (NaN when none has)."""
    ap = per_label_ap(y, s)
    return float(np.nanmean(ap)) if np.isfinite(ap).any() else float("nan")


def f1_at(y: np.ndarray, s: np.ndarray, threshold: float) -> float:
    """F1 of the decisions ``s >= threshold`` against 0/1 ``y`` (N,); 0 when there is nothing to find or say."""
    pred = np.asarray(s) >= threshold
    y = np.asarray(y) > 0.5
    tp = float(np.sum(pred & y))
    denom = float(pred.sum() + y.sum())
    return 2 * tp / denom if denom else 0.0


def best_threshold(y: np.ndarray, s: np.ndarray, default: float = 0.5) -> float:
    """The decision threshold with the best F1 on (N,) targets and scores: halfway between the lowest score
    kept and the next lower one; ``default`` when ``y`` has no positive."""
    y = np.asarray(y) > 0.5
    s = np.asarray(s, np.float64)
    if not y.any():
        return default
    values = np.unique(s)[::-1]
    best, best_t = -1.0, default
    for i, v in enumerate(values):
        f = f1_at(y, s, v)
        if f > best + 1e-12:
            lower = values[i + 1] if i + 1 < len(values) else max(0.0, v - 0.05)
            best, best_t = f, float((v + lower) / 2)
    return best_t
