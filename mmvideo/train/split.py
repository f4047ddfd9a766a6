"""A deterministic, label-stratified split of videos into train, validation and test (pure functions).

Videos, not segments, are split: segments of one video look alike, so a video in two parts would leak. Labels
are taken rarest first; each of a label's unassigned videos (in an order fixed by a hash of the seed and its
id) goes to the part furthest below its share of that label, so every label reaches every part when it has at
least ``MIN_VIDEOS_PER_LABEL`` videos. The same ids and seed always give the same split.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from mmvideo.train.labels import LabelError

PARTS = ("train", "validation", "test")
DEFAULT_FRACTIONS = (0.6, 0.2, 0.2)
MIN_VIDEOS_PER_LABEL = 3  # one in each part


def _order(seed: int, video: str) -> str:
    return hashlib.blake2b(f"{seed}:{video}".encode(), digest_size=8).hexdigest()


def split_videos(video_labels: Mapping[str, Sequence[str]], *, seed: int = 0,
                 fractions: Sequence[float] = DEFAULT_FRACTIONS,
                 where: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """``{"train": [...], "validation": [...], "test": [...]}`` video ids (sorted), no id in two parts.

    video_labels: video id -> the labels any of its segments carries (may be empty). fractions: the parts'
    shares (3 numbers > 0). where: label -> "file:row" of its first row, for the error of a label with fewer
    than ``MIN_VIDEOS_PER_LABEL`` videos (``LabelError``).
    """
    if len(fractions) != 3 or any(f <= 0 for f in fractions):
        raise LabelError(f"fractions must be 3 numbers > 0. Received: fractions={tuple(fractions)!r}")
    total = float(sum(fractions))
    share = [f / total for f in fractions]
    counts: dict[str, int] = {}
    for labels in video_labels.values():
        for label in set(labels):
            counts[label] = counts.get(label, 0) + 1
    for label, n in sorted(counts.items()):
        if n < MIN_VIDEOS_PER_LABEL:
            at = f"{where[label]}: " if where and label in where else ""
            raise LabelError(f"{at}label {label!r} is on {n} video(s); the train/validation/test split needs at "
                             f"least {MIN_VIDEOS_PER_LABEL} (one in each part)")
    part_of: dict[str, int] = {}
    have = {label: [0, 0, 0] for label in counts}
    sizes = [0, 0, 0]
    n_videos = len(video_labels)

    def assign(video: str, label: str | None) -> None:
        if label is None:
            need = [share[p] * n_videos - sizes[p] for p in range(3)]
        else:
            need = [share[p] * counts[label] - have[label][p] for p in range(3)]
        # most needed part; ties: the part furthest below its overall size, then test, validation, train
        p = max(range(3), key=lambda q: (round(need[q], 9), share[q] * n_videos - sizes[q], q))
        part_of[video] = p
        sizes[p] += 1
        for other in set(video_labels[video]):
            have[other][p] += 1

    for label in sorted(counts, key=lambda lab: (counts[lab], lab)):
        for video in sorted((v for v, labs in video_labels.items() if label in labs and v not in part_of),
                            key=lambda v: _order(seed, v)):
            assign(video, label)
    for video in sorted((v for v in video_labels if v not in part_of), key=lambda v: _order(seed, v)):
        assign(video, None)
    return {name: sorted(v for v, p in part_of.items() if p == i) for i, name in enumerate(PARTS)}
