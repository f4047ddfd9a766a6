"""BlazeFace: one face on the astronaut, none on a cat or a coffee cup, faces in real film frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data

from mmvideo.errors import ParameterError
from mmvideo.extras.faces import (VARIANTS, Face, FaceDetector, anchors, detect_faces, face_summary,
                                  weighted_nms)
from mmvideo.media.frames import iter_frames
from mmvideo.media.probe import probe
from mmvideo.models import store

# Eileen Collins' face in skimage's astronaut (512x512): about x 180-270, y 75-170 px
ASTRONAUT_FACE_CENTRE = (225 / 512, 122 / 512)


@pytest.fixture(scope="module")
def models() -> None:
    results = store.fetch(["blazeface"])
    assert all(r.ok for r in results), [r.error for r in results]


@pytest.fixture(scope="module")
def full(models) -> FaceDetector:
    return FaceDetector("full")


def centre(face: Face) -> tuple[float, float]:
    x0, y0, x1, y1 = face.box
    return (x0 + x1) / 2, (y0 + y1) / 2


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_astronaut_has_one_face_where_it_is(models, variant):
    faces = FaceDetector(variant)(skimage.data.astronaut()[None])[0]
    assert len(faces) == 1
    face = faces[0]
    assert face.score > 0.85
    assert centre(face) == pytest.approx(ASTRONAUT_FACE_CENTRE, abs=0.05)
    x0, y0, x1, y1 = face.box
    assert 0.1 < x1 - x0 < 0.3 and 0.1 < y1 - y0 < 0.3  # a head, not the whole picture


@pytest.mark.parametrize("name", ["chelsea", "coffee", "rocket"])
def test_no_face_on_a_cat_a_cup_or_a_rocket(full, name):
    image = getattr(skimage.data, name)()
    assert full(image[None]) == [[]]


def test_boxes_follow_the_face_through_letterbox_and_mirror(full):
    astronaut = skimage.data.astronaut()
    wide = np.zeros((512, 1024, 3), np.uint8)  # the astronaut in the right half of a wide frame
    wide[:, 512:] = astronaut
    tall = np.zeros((1024, 512, 3), np.uint8)  # ... in the bottom half of a tall one
    tall[512:] = astronaut
    (w,), (t,) = full(wide[None]), full(tall[None])
    (mirrored,) = full(astronaut[None, :, ::-1].copy())
    cx, cy = ASTRONAUT_FACE_CENTRE
    assert len(w) == len(t) == len(mirrored) == 1
    assert centre(w[0]) == pytest.approx((0.5 + cx / 2, cy), abs=0.03)
    assert centre(t[0]) == pytest.approx((cx, 0.5 + cy / 2), abs=0.03)
    assert centre(mirrored[0]) == pytest.approx((1 - cx, cy), abs=0.03)


def test_faces_in_real_film_frames(full, shared_media: Path):
    path = shared_media / "mdn" / "friday.mp4"  # two women talking on the phone, one standing in a top hat
    with iter_frames(str(path), probe(path), fps=2.0, size=(640, 480)) as chunks:
        frames = np.concatenate([c.frames for c in chunks])
    assert frames.shape[0] >= 10
    counts, best = face_summary(full(frames))
    assert (counts >= 1).mean() >= 0.5  # the standing woman's face is visible throughout
    assert counts.max() <= 3
    assert best.max() > 0.6


def test_summary_and_batch_shapes(full):
    frames = np.stack([skimage.data.astronaut()[:400], skimage.data.coffee()[:, :512],
                       np.zeros((400, 512, 3), np.uint8)])  # (3, 400, 512, 3)
    faces = detect_faces(frames)
    assert [len(f) for f in faces] == [1, 0, 0]
    counts, best = face_summary(faces)
    assert counts.dtype == np.int32 and counts.tolist() == [1, 0, 0]
    assert best.dtype == np.float32 and best[0] > 0.85 and best[1:].tolist() == [0.0, 0.0]
    counts, best = face_summary([])
    assert counts.shape == best.shape == (0,)


def test_anchor_layout_matches_mediapipe():
    short, full = anchors(VARIANTS["short"]), anchors(VARIANTS["full"])
    assert short.shape == (896, 2) and full.shape == (2304, 2)
    assert short[0] == pytest.approx([0.5 / 16, 0.5 / 16]) and short[1] == pytest.approx(short[0])
    assert short[2] == pytest.approx([1.5 / 16, 0.5 / 16])  # 16x16 cells, 2 anchors each, row-major
    assert short[512] == pytest.approx([0.5 / 8, 0.5 / 8])  # then 8x8 cells, 6 anchors each
    assert short[-1] == pytest.approx([7.5 / 8, 7.5 / 8])
    assert full[48] == pytest.approx([0.5 / 48, 1.5 / 48])  # 48x48 cells, 1 anchor each


def test_weighted_nms_merges_overlaps_by_score():
    boxes = np.array([[0.0, 0.0, 1.0, 1.0], [0.1, 0.0, 1.1, 1.0], [3.0, 3.0, 4.0, 4.0]], np.float32)
    scores = np.array([0.6, 0.9, 0.7], np.float32)
    (b1, s1), (b2, s2) = weighted_nms(boxes, scores)
    assert s1 == pytest.approx(0.9) and s2 == pytest.approx(0.7)
    assert b1 == pytest.approx([0.06, 0.0, 1.06, 1.0])  # (0.6 * 0.0 + 0.9 * 0.1) / 1.5
    assert b2 == pytest.approx([3.0, 3.0, 4.0, 4.0])


def test_bad_input_is_a_parameter_error(full):
    with pytest.raises(ParameterError, match="uint8"):
        full(np.zeros((1, 64, 64, 3), np.float32))
    with pytest.raises(ParameterError, match=r"\(N, H, W, 3\)"):
        full(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(ParameterError, match="variant"):
        FaceDetector("tiny")


@pytest.mark.parametrize("fps", [1.0, 2.0])
def test_faces_examine_frames_by_time_whatever_the_sampling(models, fps):
    """fps sampling gives a frame per 1/fps bin, keyframe sampling one every few bins (a keyframe every 2 s):
    both examine the first frame of each 2 s (FACE_FPS 0.5), the same frames where both have them."""
    from mmvideo.config import RunConfig
    from mmvideo.modalities.base import LoadContext
    from mmvideo.modalities.faces import FacesModality
    from mmvideo.records import FrameChunk

    config = RunConfig(fps=fps)
    modality = FacesModality(config)
    modality.load(LoadContext(config=config, text_encoder=None, threads=1))
    picture = np.asarray(skimage.data.astronaut()[::2, ::2])  # 256 x 256 RGB with one face

    def examined(times: list[float], chunk: int = 3) -> list[float]:
        stream = modality.start("x.mp4", type("Info", (), {"video": object()})())
        for lo in range(0, len(times), chunk):  # chunk boundaries must not matter
            t = np.asarray(times[lo:lo + chunk], dtype=np.float64)
            stream.push(FrameChunk(timestamps=t, frames=np.repeat(picture[None], len(t), axis=0)))
        items = stream.finish()
        assert np.all(items.values[:, 0] == 1) and np.all(items.values[:, 1] > 0.8)  # the face, every time
        return [round(float(t), 3) for t in items.start]

    every_bin = [k / fps + 0.033 for k in range(int(10 * fps))]  # the first decoded frame of each bin
    keyframes = [0.0, 2.0, 4.0 - 1e-9, 6.0, 8.0]  # round-off below a bin edge counts as the edge
    assert examined(every_bin) == [round(t + 0.033, 3) for t in (0.0, 2.0, 4.0, 6.0, 8.0)]
    assert examined(keyframes) == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert examined([0.0, 0.5, 1.9, 2.1, 9.0]) == [0.0, 2.1, 9.0]
