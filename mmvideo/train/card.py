"""The model card of a head (``HEAD/MODEL_CARD.md``): data sizes, per-label AP, the ablation table, versions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mmvideo.train.dataset import Dataset
from mmvideo.train.report import Scores, ablation_table, label_table


def model_card(name: str, *, parts: dict[str, Dataset], labels: Sequence[str], thresholds: Sequence[float],
               rows: Sequence[Scores], fusion: str, hyperparameters: dict, fit: dict, versions: dict,
               encoder_fingerprint: str, encoder_settings: dict, created: str) -> str:
    """Markdown text of the card."""
    lines = [f"# Fusion head `{name}`", "",
             f"Trained {created} by `mmvideo train` ({fusion} fusion, "
             f"{'one label per segment (softmax)' if hyperparameters.get('exclusive') else 'multi-label (sigmoid)'}).",
             "Labels are decided at the thresholds chosen on the validation videos; the test videos were not seen "
             "in training or in choosing thresholds.", "", "## Data", "",
             "| part | videos | segments | " + " | ".join(labels) + " |",
             "|---|---:|---:|" + "---:|" * len(labels)]
    for part, data in parts.items():
        pos = data.targets.sum(axis=0) if len(data) else np.zeros(len(labels))
        lines.append(f"| {part} | {len(set(data.video_ids.tolist()))} | {len(data)} | "
                     + " | ".join(str(int(p)) for p in pos) + " |")
    test = parts["test"]
    lines += ["", "## Test results", "", label_table(rows[0], labels, thresholds, test.targets.sum(axis=0)), "",
              "## What fusion buys (test mAP and AP per label)", "",
              "The same head with only one modality present (the others masked out, as for a video without them):",
              "", ablation_table(rows, labels), "", "## Training", "",
              f"- fusion: {fusion}; " + ", ".join(f"{k} {v}" for k, v in hyperparameters.items() if k != "fusion"),
              f"- epochs run: {fit['epochs_run']}, best (kept) epoch: {fit['best_epoch']}, validation mAP "
              f"{fit['validation_map']:.3f}",
              f"- {fit['seconds']:.1f} s for {fit['train_segments']} training segments "
              f"({fit['segments_per_second']:.0f} segments/s over all epochs)", "", "## Versions", "",
              f"- encoder fingerprint: `{encoder_fingerprint}` (runs and evidence with another one are refused)",
              "- encoder settings: " + ", ".join(f"{k}={v!r}" for k, v in sorted(encoder_settings.items())),
              *[f"- {k}: {v}" for k, v in versions.items()], ""]
    return "\n".join(lines)
