"""Keyframe sampling: frames carry their true times, lie inside their segments, come from keyframes only, at most
``fps`` per second; ``auto`` falls back to fps sampling where keyframes are too sparse. Clips are generated with
ffmpeg (``-g`` / ``-force_key_frames``) and carry their frame index in their pixels (see test_frames.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from mmvideo.config import RunConfig
from mmvideo.errors import ParameterError
from mmvideo.media.ffmpeg import ffmpeg_binary
from mmvideo.media.frames import iter_frames
from mmvideo.media.keyframes import dense_enough, keyframe_times, plan_sampling
from mmvideo.media.probe import probe
from test_frames import SRC_H, SRC_W, collect, index_picture, read_index

RATE = 20  # 12 s x 20 fps = 240 frames: the 8 index bits hold them
SECONDS = 12


def make_clip(path: Path, *x264: str) -> Path:
    """12 s at 20 fps, frame n showing n (index stripes), libx264 with ``x264`` keyframe options, no scene cuts."""
    argv = [ffmpeg_binary(), "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
            "-s", f"{SRC_W}x{SRC_H}", "-r", str(RATE), "-i", "pipe:", "-c:v", "libx264", "-pix_fmt", "yuv420p",
            "-sc_threshold", "0", *x264, str(path)]
    data = b"".join(index_picture(n).tobytes() for n in range(RATE * SECONDS))
    subprocess.run(argv, input=data, check=True)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("keyframes")
    return {
        "every_1s": make_clip(root / "every_1s.mp4", "-g", "20", "-keyint_min", "20"),
        "every_10s": make_clip(root / "every_10s.mp4", "-g", "200", "-keyint_min", "200"),
        # dense for 5 s, then none until 10 s: the 5-10 s segment holds one (at 5 s)
        "gap": make_clip(root / "gap.mp4", "-g", "400", "-keyint_min", "400",
                         "-force_key_frames", "0,1,2,3,4,5,10,11"),
    }


def test_keyframe_times_are_read_from_the_packets(clips):
    path = clips["every_1s"]
    np.testing.assert_allclose(keyframe_times(path, probe(path)), np.arange(SECONDS), atol=1e-9)
    sparse = clips["every_10s"]
    np.testing.assert_allclose(keyframe_times(sparse, probe(sparse)), [0.0, 10.0], atol=1e-9)


@pytest.mark.parametrize("fps", [1.0, 0.5, 4.0])
def test_keyframe_sampling_gives_keyframes_with_their_true_times(clips, fps):
    path = clips["every_1s"]
    info = probe(path)
    stream = iter_frames(path, info, fps=fps, size=(64, 48), keyframes=True)
    stamps, pictures = collect(stream)
    step = max(1.0, 1 / fps)  # a keyframe a second: at most fps of them per second
    np.testing.assert_allclose(stamps, np.arange(0, SECONDS, step), atol=1e-9)
    assert [read_index(p) for p in pictures] == [round(t * RATE) for t in stamps]  # the frame shown at t
    assert not stream.warnings
    for start in range(0, SECONDS, 5):  # every 5 s segment gets frames from inside it
        inside = stamps[(stamps >= start) & (stamps < start + 5)]
        assert inside.size >= min(2, (SECONDS - start) * min(fps, 1.0))


def test_auto_samples_keyframes_where_every_segment_holds_two(clips):
    path = clips["every_1s"]
    plan = plan_sampling(path, probe(path), "auto", 5.0)
    assert plan.mode == "keyframes" and plan.keyframes == SECONDS and plan.sparsest == 2  # the 2 s tail


@pytest.mark.parametrize("name", ["every_10s", "gap"])
def test_auto_falls_back_to_fps_where_keyframes_are_sparse(clips, name):
    path = clips[name]
    info = probe(path)
    plan = plan_sampling(path, info, "auto", 5.0)
    assert plan.mode == "fps" and "sparse" in plan.reason
    assert plan_sampling(path, info, "fps", 5.0).mode == "fps"
    # a longer segment is dense enough for the gap clip: 0-10 s holds 6, the 2 s tail 2
    assert plan_sampling(path, info, "auto", 10.0).mode == ("keyframes" if name == "gap" else "fps")


def test_forced_keyframes_on_a_sparse_clip_take_what_there_is(clips):
    path = clips["every_10s"]
    info = probe(path)
    assert plan_sampling(path, info, "keyframes", 5.0).mode == "keyframes"
    stamps, pictures = collect(iter_frames(path, info, fps=1.0, size=(32, 32), keyframes=True))
    np.testing.assert_allclose(stamps, [0.0, 10.0], atol=1e-9)
    assert [read_index(p) for p in pictures] == [0, 200]


def test_density_rule_counts_per_segment():
    assert dense_enough(np.arange(0, 150, 2.0), 150.0, 5.0) == (True, 2)
    assert dense_enough(np.arange(0, 150, 2.5), 150.0, 5.0) == (True, 2)
    assert dense_enough(np.arange(0, 150, 3.0), 150.0, 5.0)[0] is False
    assert dense_enough(np.array([0.0, 2.0, 4.0, 6.0]), 6.5, 5.0) == (True, 1)  # a 1.5 s tail needs one


def test_sample_setting_is_checked_and_part_of_the_encoder_fingerprint():
    assert RunConfig(sample="keyframes").sample == "keyframes"
    with pytest.raises(ParameterError, match="sample"):
        RunConfig(sample="every")
    assert RunConfig(sample="fps").settings("encoder") != RunConfig(sample="auto").settings("encoder")


@pytest.mark.slow
def test_pipeline_samples_keyframes_or_falls_back_per_video(real_models, clips):
    from mmvideo.discover import discover
    from mmvideo.pipeline.analyze import Pipeline

    pipe = Pipeline(RunConfig(sample="auto", disable=("audio",)))
    dense = pipe.encode(next(iter(discover([clips["every_1s"]]))))
    sparse = pipe.encode(next(iter(discover([clips["every_10s"]]))))
    assert dense.info["sampling"] == "keyframes" and sparse.info["sampling"] == "fps"
    image = {it.modality: it for it in dense.items}["image"]
    np.testing.assert_allclose(image.start, np.arange(SECONDS), atol=1e-9)
    for start, end in dense.segments:
        assert ((image.start >= start) & (image.start < end)).sum() >= 2
    image = {it.modality: it for it in sparse.items}["image"]
    assert len(image.start) == SECONDS  # one frame a second: the fps path
    assert pipe.encoder_fingerprint != Pipeline(RunConfig(sample="fps", disable=("audio",))).encoder_fingerprint
    # the videos table says which way each video went
    assert pipe.fuse_evidence(dense).video.sampling == "keyframes"
    assert pipe.fuse_evidence(sparse).video.sampling == "fps"


def test_keyframe_sampling_falls_back_to_fps_when_no_keyframe_decodes(clips, monkeypatch):
    """A decoder that ignores or fails -skip_frame nokey: stand in with -skip_frame all (nothing decodes)."""
    from mmvideo.media import frames as frames_mod

    real = frames_mod.frame_args

    def nothing_decodes(path, info, **kw):
        args = real(path, info, **kw)
        if kw.get("keyframes_only"):
            args[args.index("nokey")] = "all"
        return args

    monkeypatch.setattr(frames_mod, "frame_args", nothing_decodes)
    path = clips["every_10s"]
    stream = iter_frames(path, probe(path), fps=1.0, size=(32, 32), keyframes=True)
    stamps, pictures = collect(stream)
    assert len(stamps) == SECONDS and [read_index(p) for p in pictures][:1] == [0]  # the fps path's frames
    assert any("nokey" in w for w in stream.warnings)
