"""Segment timing: fixed windows, partial tails, short videos, shot cuts, item assignment."""

import numpy as np
import pytest

from mmvideo.errors import ParameterError
from mmvideo.segment import (MIN_TAIL, Segment, content_scores, fixed_segments, overlaps,
                             segment_of_times, shot_segments)


def test_fixed_windows_cover_the_video_with_a_shorter_last_one():
    segs = fixed_segments(12.5, 5.0)
    assert [(s.start, s.end) for s in segs] == [(0.0, 5.0), (5.0, 10.0), (10.0, 12.5)]
    assert [s.index for s in segs] == [0, 1, 2]


def test_exact_multiple_has_no_empty_tail():
    assert [(s.start, s.end) for s in fixed_segments(10.0, 5.0)] == [(0.0, 5.0), (5.0, 10.0)]


def test_video_shorter_than_a_segment_is_one_segment():
    assert fixed_segments(2.38, 5.0) == [Segment(0, 0.0, 2.38)]


def test_sliver_tail_joins_previous_window():
    segs = fixed_segments(10.0 + MIN_TAIL / 2, 5.0)
    assert len(segs) == 2 and segs[-1].end == pytest.approx(10.0 + MIN_TAIL / 2)


def test_no_duration_no_segments_and_bad_length_rejected():
    assert fixed_segments(0.0) == [] and fixed_segments(float("nan")) == []
    with pytest.raises(ParameterError, match="Received: length=0"):
        fixed_segments(10.0, 0)


def test_frames_are_assigned_to_the_window_that_holds_them():
    segs = fixed_segments(12.0, 5.0)
    idx = segment_of_times(np.array([0.0, 4.999, 5.0, 11.9, 12.0, 12.5]), segs)
    assert idx.tolist() == [0, 0, 1, 2, 2, -1]


def test_intervals_overlapping_a_boundary_go_to_both_segments():
    segs = fixed_segments(10.0, 5.0)
    cues = np.array([[1.0, 2.0], [4.5, 5.5], [5.0, 6.0], [3.0, 5.0]])
    got = overlaps(cues, segs)
    assert got[0].tolist() == [0, 1, 3]
    assert got[1].tolist() == [1, 2]


def _frames(colours):
    return np.stack([np.full((32, 32, 3), c, dtype=np.uint8) for c in colours])


def test_content_score_is_high_at_a_cut_and_zero_on_a_still():
    scores = content_scores(_frames([(200, 0, 0), (200, 0, 0), (0, 0, 200), (0, 0, 200)]))
    assert scores[0] == 0 and scores[1] == 0 and scores[3] == 0
    assert scores[2] > 0.4


def test_shot_segments_cut_at_the_change_and_split_long_shots():
    times = np.arange(0, 24, 1.0)
    colours = [(200, 0, 0)] * 6 + [(0, 0, 200)] * 18
    segs = shot_segments(times, content_scores(_frames(colours)), 24.0, max_length=10.0)
    # the cut lies between the last red sample (5 s) and the first blue one (6 s): placed at 5.5 s
    assert segs[0].start == 0.0 and segs[0].end == 5.5
    # 18.5 s shot -> two windows of 9.25 s
    assert [(s.start, s.end) for s in segs[1:]] == [(5.5, 14.75), (14.75, 24.0)]


def test_camera_motion_within_a_shot_is_not_a_cut():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
    pans = np.stack([np.roll(base, 8 * i, axis=1) for i in range(6)])  # every pixel moves
    assert content_scores(pans)[1:].max() < 0.1


def test_content_scores_validates_input():
    with pytest.raises(ParameterError, match="uint8"):
        content_scores(np.zeros((2, 8, 8, 3), dtype=np.float32))
