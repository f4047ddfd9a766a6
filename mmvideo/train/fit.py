"""Training a head: seeded, class-weighted, modality dropout, early stopping on validation mAP.

``fit_head(train, validation, hp)`` builds the model (``model.py``), trains it (Adam,
binary cross-entropy with each label's positives weighted by negatives/positives, capped at
``max_positive_weight``; with ``exclusive`` a class-weighted categorical cross-entropy) and keeps the weights of
the epoch with the best validation mAP (ties: the lower validation loss); it stops after ``patience`` epochs
with neither a better mAP nor a validation loss 1 % below the best. One progress line per epoch. The thresholds are chosen on validation: per label, the one
with the best F1. Epochs are seeded shuffles of ``train_on_batch`` steps rather than ``model.fit``: on this
2-core CPU fit's per-epoch data set-up cost ~0.4 s, twenty times a small head's epoch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from mmvideo.errors import ParameterError
from mmvideo.train.dataset import Dataset
from mmvideo.train import FUSIONS
from mmvideo.train.metrics import best_threshold, mean_ap


@dataclass(frozen=True)
class Hyperparameters:
    """fusion: "attention", "concat" or "sum". width W / hidden H: token and MLP widths. epochs: at most;
    patience: epochs without a better validation mAP before stopping. modality_dropout: in [0, 1).
    exclusive: one label per segment (softmax). max_positive_weight: cap of a rare label's weight."""

    fusion: str = "attention"
    width: int = 64
    hidden: int = 64
    epochs: int = 100
    patience: int = 15
    batch_size: int = 16
    learning_rate: float = 3e-3
    modality_dropout: float = 0.3
    exclusive: bool = False
    seed: int = 0
    max_positive_weight: float = 10.0

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise ParameterError(f"fusion must be one of {FUSIONS}. Received: fusion={self.fusion!r}")
        for name in ("width", "hidden", "epochs", "patience", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ParameterError(f"{name} must be an int >= 1. Received: {name}={v!r}")
        if not 0 < self.learning_rate < 1:
            raise ParameterError(f"learning_rate must be in (0, 1). Received: learning_rate={self.learning_rate!r}")
        if not 0 <= self.modality_dropout < 1:
            raise ParameterError(f"modality_dropout must be in [0, 1). "
                                 f"Received: modality_dropout={self.modality_dropout!r}")

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class FitResult:
    """The trained model (three outputs), its validation scores and thresholds, and how training went."""

    model: object
    thresholds: list[float]
    validation_map: float
    best_epoch: int
    epochs_run: int
    seconds: float
    train_segments: int
    history: list[dict] = field(default_factory=list)


def positive_weights(targets: np.ndarray, cap: float) -> np.ndarray:
    """(L,) weight of each label's positives: negatives / positives, in [1, cap] (1 for a label with none)."""
    pos = targets.sum(axis=0)
    neg = targets.shape[0] - pos
    return np.clip(np.where(pos > 0, neg / np.maximum(pos, 1), 1.0), 1.0, cap).astype(np.float32)


def _loss(weights: np.ndarray, exclusive: bool):
    from keras import ops

    w = weights.astype("float32")

    def weighted_bce(y_true, y_pred):
        p = ops.clip(y_pred, 1e-6, 1 - 1e-6)
        y = ops.cast(y_true, p.dtype)
        return ops.mean(-(w * y * ops.log(p) + (1 - y) * ops.log(1 - p)), axis=-1)

    def weighted_cce(y_true, y_pred):
        p = ops.clip(y_pred, 1e-6, 1.0)
        y = ops.cast(y_true, p.dtype)
        return -ops.sum(w * y * ops.log(p), axis=-1)

    return weighted_cce if exclusive else weighted_bce


def predict(model, inputs: dict[str, np.ndarray], batch_size: int = 64) -> tuple[np.ndarray, ...]:
    """The model's three outputs as numpy (scores (S, L), weights (S, L, M), embedding (S, E)).

    Rows go through ``predict_on_batch`` in chunks padded to ``batch_size`` (one traced shape per model)."""
    n = next(iter(inputs.values())).shape[0]
    parts: list[list[np.ndarray]] = [[], [], []]
    for start in range(0, n, batch_size):
        chunk = {k: v[start:start + batch_size] for k, v in inputs.items()}
        rows = next(iter(chunk.values())).shape[0]
        if rows < batch_size:
            chunk = {k: np.concatenate([v, np.zeros((batch_size - rows, *v.shape[1:]), v.dtype)])
                     for k, v in chunk.items()}
        out = model.predict_on_batch(chunk)
        for acc, o in zip(parts, out):
            acc.append(np.asarray(o)[:rows])
    if not n:
        return tuple(np.zeros((0,)) for _ in range(3))
    return tuple(np.concatenate(p) for p in parts)


def _val_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))


def fit_head(train: Dataset, validation: Dataset, hp: Hyperparameters,
             progress: Callable[[str], None] = lambda line: None) -> FitResult:
    """Train a head on ``train``, stop early on ``validation`` mAP; see the module docstring."""
    import keras

    from mmvideo.train.model import build_model, scoring

    if len(train) == 0 or len(validation) == 0:
        raise ParameterError(f"training needs segments in train and validation. Received: {len(train)} and "
                             f"{len(validation)}")
    if hp.exclusive and (train.targets.sum(axis=1) > 1).any():
        raise ParameterError("--exclusive needs at most one label per segment; some training segments have more")
    t0 = time.perf_counter()
    keras.utils.set_random_seed(hp.seed)
    model = build_model(train.specs, len(train.labels), fusion=hp.fusion, width=hp.width, hidden=hp.hidden,
                        exclusive=hp.exclusive, modality_dropout=hp.modality_dropout, seed=hp.seed)
    trainer = scoring(model)
    # XLA on JAX (its only fast path); plain graphs on TensorFlow: XLA there costs more to compile than a small
    # head's whole training saves
    trainer.compile(optimizer=keras.optimizers.Adam(hp.learning_rate),
                    loss=_loss(positive_weights(train.targets, hp.max_positive_weight), hp.exclusive),
                    jit_compile=keras.backend.backend() == "jax")
    history: list[dict] = []
    best: tuple[float, float] = (-1.0, 0.0)
    best_map, best_loss, best_weights, best_epoch, since = -1.0, float("inf"), None, 0, 0
    rng = np.random.default_rng(hp.seed)
    n = len(train)
    batch = min(hp.batch_size, n)
    steps = -(-n // batch)
    for epoch in range(1, hp.epochs + 1):
        # every batch the same size (one traced shape): the last one is filled up from a second shuffle
        order = np.concatenate([rng.permutation(n), rng.permutation(n)])[:steps * batch]
        losses = []
        for step in range(steps):
            idx = np.sort(order[step * batch:(step + 1) * batch])
            out = trainer.train_on_batch({k: v[idx] for k, v in train.inputs.items()}, train.targets[idx])
            losses.append(float(np.asarray(out[0] if isinstance(out, (list, tuple)) else out)))
        scores = predict(model, validation.inputs)[0]
        vmap = mean_ap(validation.targets, scores)
        vloss = _val_loss(validation.targets, scores)
        key = (round(vmap, 4) if np.isfinite(vmap) else 0.0, -vloss)
        better = key > best
        if better:  # the kept weights: best mAP, then lowest loss
            best, best_weights, best_epoch = key, model.get_weights(), epoch
        # patience counts epochs without a better mAP or a validation loss 1 % lower than the best so far
        if key[0] > best_map or vloss < best_loss * 0.99:
            best_map, best_loss, since = max(best_map, key[0]), min(best_loss, vloss), 0
        else:
            since += 1
        loss = float(np.mean(losses))
        history.append({"epoch": epoch, "loss": loss, "val_map": vmap, "val_loss": vloss})
        progress(f"epoch {epoch:3d}/{hp.epochs}  loss {loss:.4f}  val mAP {vmap:.3f}  val loss {vloss:.4f}"
                 f"{'  *' if better else ''}")
        if since >= hp.patience:
            break
    if best_weights is not None:
        model.set_weights(best_weights)
    scores = predict(model, validation.inputs)[0]
    thresholds = [best_threshold(validation.targets[:, j], scores[:, j]) for j in range(len(train.labels))]
    return FitResult(model=model, thresholds=thresholds, validation_map=mean_ap(validation.targets, scores),
                     best_epoch=best_epoch, epochs_run=len(history), seconds=time.perf_counter() - t0,
                     train_segments=len(train), history=history)
