""""More like this": query vectors from a segment already in an output folder, or from a picture.

``segment_queries`` takes a segment's own embeddings (fused, and each modality's concepts) so every modality
ranks by what that segment held; ``picture_queries`` runs a picture through the image modality and zero-shot
fusion like a one-frame video, giving its fused and image-concept embeddings. Both feed ``search_vectors``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mmvideo.errors import ParameterError, SetupError
from mmvideo.search import FUSED, searchable


def parse_like(value: str) -> tuple[str, float]:
    """``VIDEO@SECONDS`` -> (video, seconds): the video as a path, a file name or a video id."""
    video, sep, seconds = value.rpartition("@")
    try:
        at = float(seconds)
    except ValueError:
        at = -1.0
    if not sep or not video or at < 0:
        raise ParameterError(f"--like takes VIDEO@SECONDS (e.g. clip.mp4@12.5). Received: {value!r}")
    return video, at


def segment_queries(out_dir: os.PathLike | str, video: str, seconds: float) -> dict[str, np.ndarray]:
    """The embeddings of the segment of ``video`` (path, file name or video id) holding ``seconds``."""
    from mmvideo.search_index import open_index

    target = os.path.abspath(video)

    def matches(r: dict) -> bool:
        return video in (r["video_id"], os.path.basename(r["path"])) or r["path"] == target

    index = open_index(out_dir)  # Parquet results: the search cache's keys and rows
    if index is not None:
        mine = index.segments_of(matches)
        rows = dict(zip(mine, index.rows(mine)))
    else:
        table, matrices = searchable(out_dir)
        rows = dict(enumerate(table.select(["video_id", "path", "start", "end"]).to_pylist()))
        mine = [i for i, r in rows.items() if matches(r)]
    if not mine:
        raise SetupError(f"{video}: no such video in {out_dir}")
    hold = [i for i in mine if rows[i]["start"] <= seconds < rows[i]["end"]]
    i = hold[0] if hold else min(mine, key=lambda j: abs(rows[j]["start"] - seconds))
    if index is not None:
        found = {name: col.at(i) for name, col in index.columns.items()}
        return {name: v for name, v in found.items() if v is not None and np.any(v)}
    return {name: m[i] for name, m in matrices.items() if np.any(m[i])}


def picture_queries(path: os.PathLike | str) -> dict[str, np.ndarray]:
    """A picture's fused and image-concept embeddings (MobileNetV2 + zero-shot fusion, as for one frame)."""
    import cv2

    from mmvideo.config import RunConfig
    from mmvideo.pipeline.aggregate import SegmentEvidence
    from mmvideo.pipeline.analyze import Pipeline
    from mmvideo.segment import Segment

    bgr = cv2.imread(os.fspath(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SetupError(f"{path}: not a picture mmvideo can read")
    pipeline = Pipeline(RunConfig())
    tagger = pipeline.models()
    image = next(m for m in pipeline.active if m.name == "image")
    size = pipeline.config.frame_size
    frame = cv2.cvtColor(cv2.resize(bgr, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
    stream = image.start(str(path), _StillInfo())
    from mmvideo.records import FrameChunk

    stream.push(FrameChunk(np.zeros(1), frame[None]))
    items = stream.finish()
    seg = Segment(0, 0.0, 1.0)
    (pooled,) = image.pool(items, [seg])
    (fused,) = tagger.tag([SegmentEvidence(seg, {"image": pooled})])
    out = {FUSED: np.asarray(fused.embedding, np.float32)}
    concept = fused.columns.get("image_concept_embedding")
    if concept is not None:
        out["image"] = np.asarray(concept, np.float32)
    return out


class _StillInfo:
    """What ``ImageModality.start`` looks at: a picture has video."""

    video = True
    audio = ()
    path = Path()
