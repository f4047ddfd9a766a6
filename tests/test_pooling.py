"""Pooling a modality's items per segment: means, and frames that stay on screen into a frame-less tail."""

from __future__ import annotations

import numpy as np

from mmvideo.modalities.pooling import mean_classes
from mmvideo.records import ItemEvidence
from mmvideo.segment import Segment


def _frames(times: list[float], classes: int = 4) -> ItemEvidence:
    t = np.asarray(times, dtype=np.float64)
    scores = np.eye(classes, dtype=np.float32)[np.arange(len(times)) % classes]  # frame i shows class i % C
    return ItemEvidence("image", t, t, scores, None)


SEGMENTS = [Segment(0, 0.0, 5.0), Segment(1, 5.0, 5.3)]  # a 0.3 s tail between keyframes at 4 s and 6 s


def test_mean_is_over_the_segments_own_items():
    (first, tail) = mean_classes(_frames([0.0, 2.0, 4.0]), SEGMENTS)
    assert first.count == 3 and np.allclose(first.scores, [1 / 3, 1 / 3, 1 / 3, 0])
    assert tail is None


def test_hold_gives_a_frameless_segment_the_frame_still_on_screen():
    (first, tail) = mean_classes(_frames([0.0, 2.0, 4.0]), SEGMENTS, hold=True)
    assert first.count == 3  # its own items only
    assert tail.count == 1 and np.allclose(tail.scores, [0, 0, 1, 0])  # the frame at 4 s, not the first one


def test_hold_reaches_back_one_segment_only():
    segments = [Segment(0, 0.0, 5.0), Segment(1, 5.0, 10.0), Segment(2, 10.0, 15.0)]
    pools = mean_classes(_frames([1.0]), segments, hold=True)
    assert pools[1] is not None and pools[2] is None  # a gap in the frames is not filled from far away
