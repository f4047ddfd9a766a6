"""Pure selection rules after fusion: slots shared between modalities, the hierarchy, temporal context."""

from __future__ import annotations

import numpy as np
import pytest

from mmvideo.errors import ParameterError
from mmvideo.fuse import select


def test_one_modality_may_not_own_every_slot():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.3, 0.1], np.float32)
    owner = np.array([1, 1, 1, 1, 1, 0, 0, 1])  # audio (1) scores higher on the first five
    assert select.choose_tags(scores, owner, 5, 0.2, 5).tolist() == [0, 1, 2, 3, 4]
    assert select.choose_tags(scores, owner, 5, 0.2, 4).tolist() == [0, 1, 2, 3, 5]
    # nothing else qualifies (min_score): the passed-over tag comes back
    assert select.choose_tags(scores, owner, 5, 0.5, 3).tolist() == [0, 1, 2, 3, 4]


def test_siblings_are_limited():
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    group = np.array([-1, 0, 0, 0])  # three children of tag 0
    assert select.choose_tags(scores, np.zeros(4, int), 4, 0.0, 4, group, 1).tolist() == [0, 1]


def test_parents_get_their_childrens_evidence():
    labels = ["animal", "bird", "goose", "car"]
    ups = select.parent_index(labels, {"goose": ["bird"], "bird": ["animal"]})
    assert ups == [(), (0,), (1, 0), ()]
    s = select.propagate_parents(np.array([[0.1, 0.2, 0.8, 0.5]], np.float32), ups)
    assert s[0].tolist() == pytest.approx([0.8, 0.8, 0.8, 0.5])
    assert select.order_children_first(np.array([0, 1, 2]), s[0], ups).tolist() == [2, 1, 0]


def test_context_blends_neighbours_of_present_segments():
    s = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], np.float32)
    out = select.smooth_context(s, np.array([True, True, False]), 0.5)
    assert out[0].tolist() == pytest.approx([0.5, 0.5]) and out[1].tolist() == pytest.approx([0.5, 0.5])
    assert out[2].tolist() == [1.0, 0.0]  # an absent segment neither gives nor takes
    with pytest.raises(ParameterError):
        select.smooth_context(s, np.array([True]), 0.5)


def test_concept_embedding_weighs_modalities_by_confidence():
    tokens = np.array([[0.9, 0.0, 0.0], [0.0, 0.3, 0.0]], np.float32)
    concepts = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]], np.float32)
    e = select.concept_embedding_of(tokens, concepts, 0.5)
    assert np.linalg.norm(e) == pytest.approx(1.0) and e[0] > e[1] and e[2] > 0


def test_fine_tags_keep_out_of_the_slots_and_are_kept_beside():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4], np.float32)  # 0 and 2 are fine-grained
    fine = np.array([True, False, True, False, False, False])
    owner = np.zeros(6, np.int64)
    assert select.choose_tags(scores, owner, 3, 0.0, 5, fine=fine, max_fine=0).tolist() == [1, 3, 4]
    assert select.choose_tags(scores, owner, 3, 0.0, 5, fine=fine, max_fine=1).tolist() == [0, 1, 3]
    assert select.best_of(scores, fine, 5, 0.0).tolist() == [0, 2]
    assert select.best_of(scores, fine, 5, 0.8).tolist() == [0]


def test_tag_sentence_moves_the_fused_embedding():
    assert select.tag_sentence(["dog", "pet"]) == "a video of dog, pet" and select.tag_sentence([]) == ""
    e, s = np.eye(3, dtype=np.float32)[0], np.eye(3, dtype=np.float32)[1]
    moved = select.with_sentence(e, s, 1.0)
    np.testing.assert_allclose(moved, [2 ** -0.5, 2 ** -0.5, 0.0], atol=1e-6)
    np.testing.assert_allclose(select.with_sentence(np.zeros(3), s, 0.5), s, atol=1e-6)
