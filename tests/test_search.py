"""Search: ranking as pure functions over (N, D) matrices, by modality, and one result per video."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmvideo.encode.base import EncoderOutput
from mmvideo.errors import ParameterError
from mmvideo.search import best_per_video, combine, search, similarities, top

D = 8


def axis(i: int) -> list[float]:
    v = np.zeros(D, np.float32)
    v[i] = 1.0
    return v.tolist()


class AxisEncoder:
    """Query "axis N" embeds as the N-th unit vector."""

    def encode(self, texts):
        return EncoderOutput(embeddings=np.array([axis(int(t.split()[1])) for t in texts], np.float32))


def segment(path, video_id, index, fused, image=None, audio=None):
    return {"video_id": video_id, "path": path, "segment": index, "start": 5.0 * index, "end": 5.0 * index + 5,
            "tags": [{"label": "speech", "score": 0.9}], "embedding": fused,
            "image_concept_embedding": image, "audio_concept_embedding": audio}


@pytest.fixture()
def out(tmp_path):
    """Two videos: geese whose voices took the fused embedding (axis 0), a street (axis 2)."""
    rows = {"geese": [segment("/v/geese.mp4", "geese", 0, axis(0), image=axis(1), audio=axis(0)),
                      segment("/v/geese.mp4", "geese", 1, axis(0), image=axis(1))],
            "street": [segment("/v/street.mp4", "street", 0, axis(2), image=None, audio=None)]}
    folder = tmp_path / "jsonl" / "segments"
    folder.mkdir(parents=True)
    for vid, segs in rows.items():
        (folder / f"{vid}.jsonl").write_text("".join(json.dumps(s) + "\n" for s in segs))
    return tmp_path


def test_any_modality_finds_what_the_picture_saw(out):
    hits = search(out, "axis 1", k=3, encoder=AxisEncoder())
    assert hits[0].path == "/v/geese.mp4" and hits[0].matched == "image"
    fused_only = search(out, "axis 1", k=3, encoder=AxisEncoder(), modality="fused")
    assert all(h.matched == "fused" for h in fused_only) and fused_only[0].score < 0.5


def test_search_by_one_modality(out):
    hits = search(out, "axis 0", k=5, encoder=AxisEncoder(), modality="audio")
    assert [(h.video_id, h.segment, h.matched) for h in hits][0] == ("geese", 0, "audio")
    assert hits[0].score == pytest.approx(1.0)
    # segments without that modality's concepts rank last
    assert {h.score for h in hits[1:]} == {-1.0}
    with pytest.raises(ParameterError, match="no 'faces' embeddings"):
        search(out, "axis 0", encoder=AxisEncoder(), modality="faces")


def test_video_level_results_keep_each_videos_best_segment(out):
    hits = search(out, "axis 1", k=10, encoder=AxisEncoder(), videos=True)
    assert [h.video_id for h in hits] == ["geese", "street"]
    assert hits[0].segment == 0  # ties: the first segment
    assert len(search(out, "axis 1", k=10, encoder=AxisEncoder())) == 3


def test_ranking_functions():
    m = np.array([[1, 0], [0, 1], [0, 0], [1, 1]], np.float32)
    s = similarities(np.array([1, 0], np.float32), m)
    assert s.tolist() == pytest.approx([1.0, 0.0, -1.0, 2 ** -0.5])  # no embedding: -1
    assert top(s, 2).tolist() == [0, 3] and top(s, 10).tolist() == [0, 3, 1, 2]
    best, which = combine({"fused": np.array([0.2, 0.9]), "image": np.array([0.5, 0.1])}, ("fused", "image"),
                          {"image": 0.1})
    assert best.tolist() == pytest.approx([0.4, 0.9]) and which.tolist() == [1, 0]
    assert best_per_video(["a", "a", "b"], np.array([0.1, 0.5, 0.3])).tolist() == [1, 2]
    with pytest.raises(ParameterError):
        similarities(np.zeros(3), m)


def test_large_library_ranking_equals_a_full_sort():
    """10,000 segments x 4 embeddings: the combined top 10 is the full argsort's (speed: benchmarks/bench_search.py)."""
    rng = np.random.default_rng(0)
    mats = {name: rng.normal(size=(10_000, 384)).astype(np.float32) for name in ("fused", "image", "audio", "text")}
    q = rng.normal(size=384).astype(np.float32)
    best, which = combine({n: similarities(q, m) for n, m in mats.items()}, tuple(mats))
    order = top(best, 10)
    assert order.tolist() == np.argsort(-best, kind="stable")[:10].tolist()
    assert np.all(np.diff(best[order]) <= 0) and set(which[order].tolist()) <= {0, 1, 2, 3}
