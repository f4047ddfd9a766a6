"""The commands' work: ``train`` (labels + evidence -> a head folder), ``evaluate`` (a head on its test videos)
and ``compare`` (every fusion on the same split). The only part of ``mmvideo.train`` that runs a pipeline: a
labelled video without evidence is run once (``mmvideo run --evidence`` into the first evidence folder, with the
encoder settings of the evidence already there); everything after reads evidence files only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from mmvideo.errors import SetupError
from mmvideo.records import VideoEvidence
from mmvideo.train.dataset import Dataset, build_dataset, infer_specs
from mmvideo.train.fit import FitResult, Hyperparameters, fit_head
from mmvideo.train.labels import LabelError, LabelSpan, label_names, read_labels, resolve_videos, segment_targets
from mmvideo.train.split import PARTS, split_videos

Progress = Callable[[str], None]


@dataclass
class Labelled:
    """Labels joined with evidence: the dataset, each video's labels, where each label was first given."""

    data: Dataset
    video_labels: dict[str, list[str]]
    where: dict[str, str]
    encoder_fingerprint: str
    encoder_settings: dict[str, Any]


def _index(evidence_dirs: Sequence[os.PathLike | str]) -> dict[str, Path]:
    from mmvideo.write.evidence import evidence_files

    index: dict[str, Path] = {}
    for d in evidence_dirs:
        for f in evidence_files(d):
            index.setdefault(f.stem, f)
    return index


def _run_missing(paths: list[Path], evidence_dirs: Sequence[os.PathLike | str], index: dict[str, Path],
                 progress: Progress) -> None:
    """``mmvideo run --evidence`` for ``paths`` into the first evidence folder."""
    from mmvideo.config import RunConfig
    from mmvideo.engines.fuse import config_from_evidence
    from mmvideo.engines.local import run_local
    from mmvideo.pipeline.analyze import Pipeline
    from mmvideo.progress import make_reporter
    from mmvideo.write.evidence import read_evidence

    settings = read_evidence(next(iter(index.values()))).info.get("settings", {}) if index else {}
    config = config_from_evidence(settings, {"evidence": True}) if settings else RunConfig(evidence=True)
    progress(f"running the encoders for {len(paths)} labelled video(s) without evidence into {evidence_dirs[0]}")
    reporter = make_reporter("plain", True)
    try:
        run_local([str(p) for p in paths], evidence_dirs[0], config, Pipeline(config), reporter,
                  command="mmvideo train (evidence)")
    finally:
        reporter.close()


def text_embedder():
    """``texts -> (N, 384)`` with the run's text encoder (all-MiniLM-L6-v2, LiteRT on the CPU)."""
    from mmvideo.encode.text import TextEncoder

    encoder = TextEncoder(device="cpu")
    return lambda texts: np.asarray(encoder.encode(list(texts)).embeddings, np.float32)


def labelled_dataset(labels_path: os.PathLike | str, evidence_dirs: Sequence[os.PathLike | str], *,
                     run_missing: bool = True, embed=None, specs=None,
                     progress: Progress = lambda line: None) -> Labelled:
    """Read the labels, find (or make) each labelled video's evidence, map spans onto its segments."""
    from mmvideo.write.evidence import read_evidence

    spans = read_labels(labels_path)
    base = Path(labels_path) if Path(labels_path).is_dir() else Path(labels_path).parent
    index = _index(evidence_dirs)
    ids = resolve_videos(spans, base, set(index))
    missing = sorted({vid: (Path(v) if os.path.isabs(v) else base / v) for v, vid in ids.items()
                      if vid not in index}.items())
    if missing:
        if not run_missing:
            raise SetupError(f"{missing[0][1]}: no evidence for this labelled video in "
                             f"{', '.join(map(str, evidence_dirs))} (run `mmvideo run --evidence` for it)")
        _run_missing([p for _, p in missing], evidence_dirs, index, progress)
        index = _index(evidence_dirs)
        still = [p for vid, p in missing if vid not in index]
        if still:
            raise SetupError(f"{still[0]}: the encoders failed on this labelled video (see `mmvideo status "
                             f"{evidence_dirs[0]}`)")
    by_video: dict[str, list[LabelSpan]] = {}
    for s in spans:
        by_video.setdefault(ids[s.video], []).append(s)
    evidences: list[VideoEvidence] = [read_evidence(index[vid]) for vid in sorted(by_video)]
    fingerprints = {ev.encoder_fingerprint for ev in evidences}
    if len(fingerprints) > 1:
        first = evidences[0]
        other = next(ev for ev in evidences if ev.encoder_fingerprint != first.encoder_fingerprint)
        raise SetupError(f"{index[other.video_id]}: evidence made with other models or settings than "
                         f"{index[first.video_id]} (encoder fingerprints {other.encoder_fingerprint} and "
                         f"{first.encoder_fingerprint}); train on evidence of one kind")
    labels = label_names(spans)
    targets = {ev.video_id: segment_targets(ev.segments, by_video[ev.video_id], labels) for ev in evidences}
    where = {}
    for s in spans:
        where.setdefault(s.label, s.where)
    video_labels = {vid: [labels[j] for j in np.nonzero(t.max(axis=0) > 0)[0]] if len(t) else []
                    for vid, t in targets.items()}
    specs = specs or infer_specs(evidences)
    needs_text = any(sp.source == "text" for sp in specs)
    data = build_dataset(evidences, targets, labels, specs, (embed or text_embedder()) if needs_text else None)
    return Labelled(data, video_labels, where, evidences[0].encoder_fingerprint,
                    evidences[0].info.get("settings", {}))


def _parts(data: Dataset, split: dict[str, list[str]]) -> dict[str, Dataset]:
    return {part: data.take(split[part]) for part in PARTS}


def _versions() -> dict[str, str]:
    import keras

    from mmvideo import __version__

    return {"mmvideo": __version__, "keras": keras.__version__, "keras backend": keras.backend.backend()}


def train(labels_path: os.PathLike | str, evidence_dirs: Sequence[os.PathLike | str], out: os.PathLike | str,
          hp: Hyperparameters, *, fractions: Sequence[float] = (0.6, 0.2, 0.2),
          progress: Progress = lambda line: None, labelled: Labelled | None = None) -> dict[str, Any]:
    """Train a head and save it into ``out``; returns its ``head.json`` content (with the test report)."""
    from mmvideo.state import utc_now
    from mmvideo.train.card import model_card
    from mmvideo.train.head import save_head
    from mmvideo.train.report import ablation

    got = labelled or labelled_dataset(labels_path, evidence_dirs, progress=progress)
    split = split_videos(got.video_labels, seed=hp.seed, fractions=fractions, where=got.where)
    parts = _parts(got.data, split)
    progress(f"{len(got.data)} segments of {len(got.video_labels)} videos, {len(got.data.labels)} labels; "
             f"split by video: " + ", ".join(f"{p} {len(split[p])}" for p in PARTS))
    fit = fit_head(parts["train"], parts["validation"], hp, progress)
    rows = ablation(fit.model, parts["test"], fit.thresholds)
    fit_info = _fit_info(fit)
    created = utc_now()
    meta = {"labels": got.data.labels, "thresholds": fit.thresholds, "fusion": hp.fusion, "exclusive": hp.exclusive,
            "features": [s.to_json() for s in got.data.specs],
            "embedding_size": hp.width if hp.fusion == "attention" else hp.hidden,
            "encoder_fingerprint": got.encoder_fingerprint, "encoder_settings": got.encoder_settings,
            "split": split, "hyperparameters": hp.to_json(), "fit": fit_info,
            "metrics": {"test": [r.to_json() for r in rows]}, "versions": _versions(), "created": created,
            "labels_file": str(labels_path)}
    card = model_card(Path(out).name, parts=parts, labels=got.data.labels, thresholds=fit.thresholds, rows=rows,
                      fusion=hp.fusion, hyperparameters=hp.to_json(), fit=fit_info, versions=meta["versions"],
                      encoder_fingerprint=got.encoder_fingerprint, encoder_settings=got.encoder_settings,
                      created=created)
    info = save_head(out, fit.model, meta, card)
    return {**meta, "hash": info.hash, "rows": rows, "parts": parts}


def _fit_info(fit: FitResult) -> dict[str, Any]:
    return {"epochs_run": fit.epochs_run, "best_epoch": fit.best_epoch, "validation_map": fit.validation_map,
            "seconds": fit.seconds, "train_segments": fit.train_segments,
            "segments_per_second": fit.train_segments * fit.epochs_run / max(fit.seconds, 1e-9)}


@dataclass
class Evaluation:
    """A head on its test videos: the ablation rows (first: everything present) and the test dataset."""

    rows: list
    test: Dataset
    labels: list[str]
    thresholds: list[float]
    compare: dict[str, list] | None = None
    compare_seconds: dict[str, float] | None = None


def evaluate(head_path: os.PathLike | str, labels_path: os.PathLike | str, evidence_dirs: Sequence[os.PathLike | str],
             *, compare: bool = False, progress: Progress = lambda line: None) -> Evaluation:
    """The head's report on the test videos stored in it; ``compare``: also train every fusion on its split."""
    from mmvideo.train.head import load_model, read_head
    from mmvideo.train.report import ablation

    info = read_head(head_path)
    got = labelled_dataset(labels_path, evidence_dirs, run_missing=False, specs=list(info.specs), progress=progress)
    info.check_encoder(got.encoder_fingerprint, got.encoder_settings, "the evidence")
    if list(got.data.labels) != list(info.labels):
        got.data = _relabel(got.data, list(info.labels), labels_path)
    missing = sorted(set(info.split["test"]) - set(got.data.video_ids.tolist()))
    if missing:
        raise SetupError(f"{labels_path}: the head's test video {missing[0]} is not labelled there (or has no "
                         f"evidence); evaluate with the labels and evidence it was trained on")
    test = got.data.take(info.split["test"])
    model = load_model(info)
    rows = ablation(model, test, info.thresholds)
    result = Evaluation(rows, test, list(info.labels), list(info.thresholds))
    if compare:
        result.compare, result.compare_seconds = {}, {}
        hp = Hyperparameters(**info.hyperparameters)
        parts = _parts(got.data, info.split)
        for fusion in ("concat", "sum", "attention"):
            progress(f"training {fusion} on the head's split")
            fit = fit_head(parts["train"], parts["validation"], replace(hp, fusion=fusion))
            result.compare[fusion] = ablation(fit.model, test, fit.thresholds)
            result.compare_seconds[fusion] = fit.seconds
    return result


def _relabel(data: Dataset, labels: list[str], labels_path) -> Dataset:
    """Targets reordered to the head's labels (a head label absent from the file: no positives)."""
    unknown = [lab for lab in data.labels if lab not in labels]
    if unknown:
        raise LabelError(f"{labels_path}: label {unknown[0]!r} is not one of the head's labels "
                         f"({', '.join(labels)})")
    targets = np.zeros((len(data), len(labels)), np.float32)
    for j, lab in enumerate(data.labels):
        targets[:, labels.index(lab)] = data.targets[:, j]
    return replace(data, targets=targets, labels=labels)
