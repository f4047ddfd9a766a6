"""Evidence -> the head's input arrays: item tokens per modality and segment, with masks and time positions.

Pure numpy but for the text embedder the caller passes. For each modality the head reads (``FeatureSpec``) and
each segment, the items of that segment (frames and other per-instant items by their start, audio patches by
their centre, cues by overlap: the rules of ``mmvideo.modalities.pooling``) become up to ``max_items`` rows:

    <name>_x    (S, K, F) float32  the item's features: class ``scores`` (image, audio: always kept by a run, so
                                   a head works on any run's evidence), else the ``embedding``, else ``values``
                                   (faces), else the text encoder's embedding of the cue's ``text``
    <name>_mask (S, K)    float32  1 for a real item, 0 for padding (a segment without the modality: all 0)
    <name>_pos  (S, K)    float32  the item's time within its segment, 0 (start) .. 1 (end)

Segments with more items than ``max_items`` keep evenly spaced ones. Changing a hyperparameter never touches
video: these arrays come from evidence files alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from mmvideo.errors import ParameterError
from mmvideo.records import ItemEvidence, VideoEvidence
from mmvideo.segment import Segment, overlaps, segment_of_times

SOURCES = ("scores", "embedding", "values", "text")
MAX_ITEMS_CAP = 32
TEXT_DIM = 384
CENTRE_TIMED = frozenset({"audio"})  # items that belong to the segment holding their centre (0.96 s patches)

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class FeatureSpec:
    """What the head reads of one modality: ``source`` (one of ``SOURCES``), feature width ``dim`` and at most
    ``max_items`` items per segment; ``log``: features are probabilities or scores in [0, 1] (the model takes
    their logarithm)."""

    name: str
    source: str
    dim: int
    max_items: int
    log: bool = False

    def to_json(self) -> dict:
        return asdict(self)


def fusing_modalities() -> set[str]:
    """The registered modalities fusion attends over (a head attends over the same ones: its weights fill the
    ``attention`` struct; items of the others, such as frame signatures, are not features)."""
    from mmvideo.modalities import available

    return {name for name, cls in available().items() if getattr(cls, "fuses", True)}


def infer_specs(evidences: Sequence[VideoEvidence], *, text_dim: int = TEXT_DIM) -> list[FeatureSpec]:
    """One spec per fusing modality seen in ``evidences`` (first-seen order): its source, width and the most items
    a segment held (at most ``MAX_ITEMS_CAP``)."""
    found: dict[str, FeatureSpec] = {}
    fusing = fusing_modalities()
    for ev in evidences:
        segments = _segments(ev)
        for it in ev.items:
            source, dim = _source(it, text_dim)
            if source is None or it.modality not in fusing:
                continue
            most = max((len(ix) for ix in _items_per_segment(it, segments, source)), default=0)
            old = found.get(it.modality)
            if old is None:
                found[it.modality] = FeatureSpec(it.modality, source, dim, max(1, min(most, MAX_ITEMS_CAP)),
                                                 log=source == "scores")
            elif old.source != source or old.dim != dim:
                raise ParameterError(f"{ev.path}: {it.modality} items are {source} of width {dim}, other evidence "
                                     f"has {old.source} of width {old.dim} (evidence from different runs?)")
            else:
                found[it.modality] = replace(old, max_items=max(old.max_items, min(most, MAX_ITEMS_CAP)))
    if not found:
        raise ParameterError("the evidence holds no items a head can read")
    return list(found.values())


def _source(items: ItemEvidence, text_dim: int) -> tuple[str | None, int]:
    if items.scores is not None and items.scores.size:
        return "scores", int(items.scores.shape[1])
    if items.embeddings is not None and items.embeddings.size:
        return "embedding", int(items.embeddings.shape[1])
    if items.values is not None and items.values.size:
        return "values", int(items.values.shape[1])
    if items.texts:
        return "text", text_dim
    return None, 0


def _segments(ev: VideoEvidence) -> list[Segment]:
    return [Segment(i, float(s), float(e)) for i, (s, e) in enumerate(ev.segments)]


def _items_per_segment(items: ItemEvidence, segments: Sequence[Segment], source: str) -> list[np.ndarray]:
    """For each segment, the indices of its items (time order)."""
    if len(items) == 0 or not segments:
        return [np.zeros(0, np.int64) for _ in segments]
    if source == "text":
        return overlaps(np.stack([items.start, items.end], axis=1), list(segments))
    times = (items.start + items.end) / 2.0 if items.modality in CENTRE_TIMED else items.start
    seg = segment_of_times(np.asarray(times, np.float64), list(segments))
    return [np.nonzero(seg == k)[0] for k in range(len(segments))]


def _features(items: ItemEvidence, spec: FeatureSpec, embed: Embed | None) -> np.ndarray:
    """(N, F) float32 features of every item of one modality."""
    if spec.source == "text":
        if embed is None:
            raise ParameterError(f"{spec.name}: text items need a text embedder")
        texts = [" ".join(t.split()) for t in items.texts]
        out = np.zeros((len(texts), spec.dim), np.float32)
        keep = [i for i, t in enumerate(texts) if t]
        if keep:
            out[keep] = np.asarray(embed([texts[i] for i in keep]), np.float32)
        return out
    matrix = {"scores": items.scores, "embedding": items.embeddings, "values": items.values}[spec.source]
    if matrix is None or matrix.shape[1] != spec.dim:
        got = None if matrix is None else matrix.shape[1]
        raise ParameterError(f"{spec.name}: the head reads {spec.source} of width {spec.dim}; this evidence has "
                             f"{got if got is not None else 'none'}")
    return np.asarray(matrix, np.float32)


def empty_inputs(specs: Sequence[FeatureSpec], n: int) -> dict[str, np.ndarray]:
    """All-absent input arrays for ``n`` segments."""
    out = {}
    for sp in specs:
        out[f"{sp.name}_x"] = np.zeros((n, sp.max_items, sp.dim), np.float32)
        out[f"{sp.name}_mask"] = np.zeros((n, sp.max_items), np.float32)
        out[f"{sp.name}_pos"] = np.zeros((n, sp.max_items), np.float32)
    return out


def video_inputs(evidence: VideoEvidence, specs: Sequence[FeatureSpec], embed: Embed | None = None,
                 segments: Sequence[Segment] | None = None) -> dict[str, np.ndarray]:
    """The head's input arrays (see the module docstring) for ``segments`` of one video (default: the
    evidence's own)."""
    segs = list(segments) if segments is not None else _segments(evidence)
    out = empty_inputs(specs, len(segs))
    by_name = {it.modality: it for it in evidence.items}
    for sp in specs:
        items = by_name.get(sp.name)
        if items is None or len(items) == 0:
            continue
        feats = None
        for k, idx in enumerate(_items_per_segment(items, segs, sp.source)):
            if len(idx) == 0:
                continue
            if feats is None:
                feats = _features(items, sp, embed)
            if len(idx) > sp.max_items:
                idx = idx[np.round(np.linspace(0, len(idx) - 1, sp.max_items)).astype(np.int64)]
            rows = feats[idx]
            if sp.source == "text":
                present = np.linalg.norm(rows, axis=1) > 0  # blank cues are no evidence
                idx, rows = idx[present], rows[present]
                if len(idx) == 0:
                    continue
            seg = segs[k]
            t = (items.start[idx] + items.end[idx]) / 2.0 if sp.name in CENTRE_TIMED else items.start[idx]
            pos = np.clip((t - seg.start) / max(seg.end - seg.start, 1e-9), 0.0, 1.0)
            n = len(idx)
            out[f"{sp.name}_x"][k, :n] = rows
            out[f"{sp.name}_mask"][k, :n] = 1.0
            out[f"{sp.name}_pos"][k, :n] = pos
    return out


@dataclass
class Dataset:
    """Segments of many videos: ``inputs`` (see the module docstring), ``targets`` (S, L) float32 0/1,
    ``video_ids`` (S,) and ``spans`` (S, 2) seconds, for ``labels`` and ``specs``."""

    inputs: dict[str, np.ndarray]
    targets: np.ndarray
    video_ids: np.ndarray
    spans: np.ndarray
    labels: list[str]
    specs: list[FeatureSpec]
    paths: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def take(self, videos: Sequence[str]) -> Dataset:
        """The segments of ``videos`` (in the dataset's order)."""
        keep = np.isin(self.video_ids, np.asarray(list(videos), dtype=self.video_ids.dtype))
        return replace(self, inputs={k: v[keep] for k, v in self.inputs.items()}, targets=self.targets[keep],
                       video_ids=self.video_ids[keep], spans=self.spans[keep])

    def only(self, modalities: Sequence[str]) -> Dataset:
        """The same segments with every other modality absent (all its items masked out)."""
        names = set(modalities)
        inputs = {k: (np.zeros_like(v) if k.endswith("_mask") and k[:-5] not in names else v)
                  for k, v in self.inputs.items()}
        return replace(self, inputs=inputs)

    def save(self, path) -> None:
        """An .npz of the arrays (for tests and other Keras backends)."""
        import json

        np.savez(path, targets=self.targets, video_ids=self.video_ids, spans=self.spans,
                 meta=np.array(json.dumps({"labels": self.labels, "specs": [s.to_json() for s in self.specs]})),
                 **{f"in_{k}": v for k, v in self.inputs.items()})

    @classmethod
    def load(cls, path) -> Dataset:
        import json

        z = np.load(path, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
        return cls(inputs={k[3:]: z[k] for k in z.files if k.startswith("in_")}, targets=z["targets"],
                   video_ids=z["video_ids"], spans=z["spans"], labels=meta["labels"],
                   specs=[FeatureSpec(**s) for s in meta["specs"]])


def build_dataset(evidences: Sequence[VideoEvidence], targets: Mapping[str, np.ndarray], labels: Sequence[str],
                  specs: Sequence[FeatureSpec], embed: Embed | None) -> Dataset:
    """One ``Dataset`` of every segment of ``evidences``; ``targets[video_id]`` (S_v, L) per video."""
    parts = [video_inputs(ev, specs, embed) for ev in evidences]
    inputs = {k: np.concatenate([p[k] for p in parts]) if parts else v
              for k, v in empty_inputs(specs, 0).items()}
    return Dataset(inputs=inputs,
                   targets=np.concatenate([targets[ev.video_id] for ev in evidences]).astype(np.float32)
                   if evidences else np.zeros((0, len(labels)), np.float32),
                   video_ids=np.array([ev.video_id for ev in evidences for _ in ev.segments], dtype=str),
                   spans=np.array([s for ev in evidences for s in ev.segments], np.float64).reshape(-1, 2),
                   labels=list(labels), specs=list(specs), paths={ev.video_id: ev.path for ev in evidences})
