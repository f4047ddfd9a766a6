"""A toy modality plug-in for the tests: the mean colour of each frame (installed via an entry point).

It shares the pipeline's frame decode, adds one output column (``mean_colour``: mean R, G, B in [0, 255] over a
segment's frames) and no fusion token. Nothing in mmvideo names it: the test that installs it checks that.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from mmvideo.modalities.base import Modality, ModalityStream, concat_items
from mmvideo.modalities.pooling import item_segments
from mmvideo.records import ItemEvidence


class MeanColour(Modality):
    name = "toy_colour"
    feed = "frames"
    fuses = False

    def start(self, path, info):
        return _Stream() if info.video is not None else None

    def pool(self, items, segments):
        out = [None] * len(segments)
        if len(items):
            seg = item_segments(items, segments)
            for k in range(len(segments)):
                if (seg == k).any():
                    out[k] = items.values[seg == k].mean(axis=0)
        return out

    def columns(self):
        return [("mean_colour", pa.list_(pa.float32(), 3))]

    def row(self, pooled, token):
        return {"mean_colour": None if pooled is None else [float(v) for v in pooled]}


class _Stream(ModalityStream):
    def __init__(self):
        self.parts = []

    def push(self, chunk):
        t = np.asarray(chunk.timestamps, dtype=np.float64)
        values = chunk.frames.reshape(len(chunk), -1, 3).mean(axis=1).astype(np.float32)
        self.parts.append(ItemEvidence("toy_colour", t, t, values=values))

    def finish(self):
        return concat_items("toy_colour", self.parts)
