"""What a head does on held-out segments: per-label AP, mAP, F1 at the stored thresholds, and the modality
ablation (the same head with only one modality present, and with all), as numbers and as Markdown tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mmvideo.train.dataset import Dataset
from mmvideo.train.fit import predict
from mmvideo.train.metrics import f1_at, per_label_ap


@dataclass(frozen=True)
class Scores:
    """Per-label AP (NaN: no positive), F1 at the thresholds, their means, for one condition."""

    name: str
    ap: tuple[float, ...]
    f1: tuple[float, ...]

    @property
    def map(self) -> float:
        a = np.array(self.ap)
        return float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")

    @property
    def macro_f1(self) -> float:
        a = np.array([f for f, ap in zip(self.f1, self.ap) if np.isfinite(ap)])
        return float(a.mean()) if a.size else float("nan")

    def to_json(self) -> dict:
        return {"name": self.name, "ap": list(self.ap), "f1": list(self.f1), "map": self.map,
                "macro_f1": self.macro_f1}


def score(model, data: Dataset, thresholds: Sequence[float], name: str = "all") -> Scores:
    """``model`` on ``data`` (its present modalities as they are)."""
    s = predict(model, data.inputs)[0]
    ap = per_label_ap(data.targets, s)
    f1 = [f1_at(data.targets[:, j], s[:, j], t) for j, t in enumerate(thresholds)]
    return Scores(name, tuple(float(a) for a in ap), tuple(float(f) for f in f1))


def ablation(model, data: Dataset, thresholds: Sequence[float]) -> list[Scores]:
    """``all`` present, then ``<modality> only`` for each modality the head reads."""
    rows = [score(model, data, thresholds, "all")]
    for sp in data.specs:
        rows.append(score(model, data.only([sp.name]), thresholds, f"{sp.name} only"))
    return rows


def _num(x: float) -> str:
    return "–" if not np.isfinite(x) else f"{x:.2f}"


def ablation_table(rows: Sequence[Scores], labels: Sequence[str]) -> str:
    """Markdown: one row per condition, mAP then AP per label."""
    head = "| modalities | mAP | " + " | ".join(labels) + " |"
    rule = "|---|---:|" + "---:|" * len(labels)
    lines = [head, rule]
    for r in rows:
        lines.append(f"| {r.name} | {_num(r.map)} | " + " | ".join(_num(a) for a in r.ap) + " |")
    return "\n".join(lines)


def label_table(row: Scores, labels: Sequence[str], thresholds: Sequence[float], positives: np.ndarray) -> str:
    """Markdown: per label, its test positives, AP, the threshold and F1 there."""
    lines = ["| label | positives | AP | threshold | F1 |", "|---|---:|---:|---:|---:|"]
    for j, label in enumerate(labels):
        lines.append(f"| {label} | {int(positives[j])} | {_num(row.ap[j])} | {thresholds[j]:.2f} | "
                     f"{_num(row.f1[j])} |")
    lines.append(f"| **mean** | | **{_num(row.map)}** | | **{_num(row.macro_f1)}** |")
    return "\n".join(lines)


def compare_table(results: dict[str, list[Scores]], seconds: dict[str, float]) -> str:
    """Markdown: fusions side by side: test mAP with everything and with each modality alone, train time."""
    names = [r.name for r in next(iter(results.values()))]
    lines = ["| fusion | " + " | ".join(f"mAP {n}" for n in names) + " | train s |",
             "|---|" + "---:|" * (len(names) + 1)]
    for fusion, rows in results.items():
        lines.append(f"| {fusion} | " + " | ".join(_num(r.map) for r in rows) + f" | {seconds[fusion]:.1f} |")
    return "\n".join(lines)
