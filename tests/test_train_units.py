"""Trained heads, the parts with known answers and no models: label input errors, the video-level split, the
metrics, the Keras layers (config round trips, masks, save/load) and the refusal of a mismatched head."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mmvideo.errors import ParameterError, SetupError
from mmvideo.train.labels import LabelError, read_labels, resolve_videos, segment_targets
from mmvideo.train.metrics import average_precision, best_threshold
from mmvideo.train.split import PARTS, split_videos


def _csv(tmp_path, text: str):
    p = tmp_path / "labels.csv"
    p.write_text("video,start,end,label\n" + text, encoding="utf-8")
    return p


# --- labels in -----------------------------------------------------------------------------------

@pytest.mark.parametrize("row, message", [
    ("a.mp4,3,2,goal", "labels.csv:2: end 2 is not after start 3"),
    ("a.mp4,x,2,goal", "labels.csv:2: start 'x' is not a number"),
    ("a.mp4,-1,2,goal", "labels.csv:2: start '-1' must be"),
    ("a.mp4,0,2,", "labels.csv:2: empty label"),
    (",0,2,goal", "labels.csv:2: empty video"),
])
def test_bad_rows_name_the_file_and_row(tmp_path, row, message):
    p = _csv(tmp_path, row + "\n")
    with pytest.raises(LabelError, match="^" + str(tmp_path).replace("\\", "\\\\") + "/" + message.replace("(", r"\(")):
        read_labels(p)


def test_error_on_a_later_row_names_that_row(tmp_path):
    p = _csv(tmp_path, "a.mp4,0,1,goal\na.mp4,1,2,goal\nb.mp4,5,4,goal\n")
    with pytest.raises(LabelError, match=r"labels.csv:4: end 4 is not after start 5"):
        read_labels(p)


def test_missing_columns_and_unknown_video(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("video,label\na.mp4,goal\n")
    with pytest.raises(LabelError, match="bad.csv: missing column"):
        read_labels(bad)
    spans = read_labels(_csv(tmp_path, "a.mp4,0,1,goal\nnope.mp4,0,1,goal\n"))
    (tmp_path / "a.mp4").write_bytes(b"x")
    with pytest.raises(LabelError, match=r"labels.csv:3: unknown video 'nope.mp4'"):
        resolve_videos(spans, tmp_path, set(), content_id=lambda p: "id-" + p.name)
    ids = resolve_videos(spans[:1], tmp_path, set(), content_id=lambda p: "id-" + p.name)
    assert ids == {"a.mp4": "id-a.mp4"}
    assert resolve_videos(read_labels(_csv(tmp_path, "abc123,,,goal\n")), tmp_path, {"abc123"}) == {"abc123": "abc123"}


def test_blank_times_mean_the_whole_video_and_parquet_and_folders_read(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    spans = read_labels(_csv(tmp_path, "a.mp4,,,goal\n"))
    assert spans[0].start == 0.0 and spans[0].end == math.inf
    pq.write_table(pa.table({"video": ["a.mp4", "b.mp4"], "start": [0.0, 2.0], "end": [1.0, 1.0],
                             "label": ["x", "y"]}), tmp_path / "l.parquet")
    with pytest.raises(LabelError, match=r"l.parquet: row 2: end 1 is not after start 2"):
        read_labels(tmp_path / "l.parquet")
    (tmp_path / "cls" / "goal").mkdir(parents=True)
    (tmp_path / "cls" / "goal" / "v.mp4").write_bytes(b"x")
    (tmp_path / "cls" / "goal" / "notes.txt").write_text("x")
    spans = read_labels(tmp_path / "cls")
    assert [(s.video, s.label, s.end) for s in spans] == [("goal/v.mp4", "goal", math.inf)]


def test_spans_map_onto_segments_by_overlap():
    from mmvideo.train.labels import LabelSpan

    segs = [(0.0, 2.0), (2.0, 4.0), (4.0, 6.0)]
    spans = [LabelSpan("v", 1.5, 3.9, "a", "f:2"),  # 0.5 of segment 0 (a quarter: no), 1.9 of segment 1 (yes)
             LabelSpan("v", 4.2, 4.6, "b", "f:3"),  # short span wholly inside segment 2: yes
             LabelSpan("v", 0.0, math.inf, "c", "f:4"), LabelSpan("v", 0, 1, "other", "f:5")]
    t = segment_targets(segs, spans, ["a", "b", "c"])
    assert t.tolist() == [[0, 0, 1], [1, 0, 1], [0, 1, 1]]


# --- split ---------------------------------------------------------------------------------------

def _videos(n: int = 60) -> dict[str, list[str]]:
    labels = ["a", "b", "c", "rare"]
    return {f"v{i:03d}": [labels[i % 3]] + (["rare"] if i % 17 == 0 else []) for i in range(n)}


def test_split_is_by_video_deterministic_and_every_label_reaches_every_part():
    videos = _videos()
    split = split_videos(videos, seed=3)
    assert split == split_videos(videos, seed=3)
    assert split != split_videos(videos, seed=4)
    seen = [v for p in PARTS for v in split[p]]
    assert sorted(seen) == sorted(videos) and len(seen) == len(set(seen))  # each video in exactly one part
    for label in ("a", "b", "c", "rare"):
        for p in PARTS:
            assert any(label in videos[v] for v in split[p]), (label, p)
    assert 30 <= len(split["train"]) <= 42 and 9 <= len(split["test"]) <= 15


def test_a_label_on_too_few_videos_names_its_first_row():
    videos = {**_videos(), "x1": ["lonely"], "x2": ["lonely"]}
    with pytest.raises(LabelError, match=r"labels.csv:9: label 'lonely' is on 2 video\(s\); .* at least 3"):
        split_videos(videos, where={"lonely": "labels.csv:9"})


# --- metrics -------------------------------------------------------------------------------------

def test_average_precision_known_answers():
    assert average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision([1, 0, 0], [0.5, 0.5, 0.5]) == pytest.approx(1 / 3)  # ties earn no luck
    assert math.isnan(average_precision([0, 0], [0.1, 0.2]))
    t = best_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.3, 0.6, 0.9]))
    assert 0.3 < t <= 0.6


# --- layers and model ----------------------------------------------------------------------------

def _specs():
    from mmvideo.train.dataset import FeatureSpec

    return [FeatureSpec("image", "scores", 10, 3, log=True), FeatureSpec("audio", "scores", 6, 4, log=True),
            FeatureSpec("text", "text", 8, 2)]


def _inputs(n: int = 5, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for sp in _specs():
        out[f"{sp.name}_x"] = rng.random((n, sp.max_items, sp.dim)).astype(np.float32)
        out[f"{sp.name}_mask"] = (rng.random((n, sp.max_items)) > 0.3).astype(np.float32)
        out[f"{sp.name}_pos"] = rng.random((n, sp.max_items)).astype(np.float32)
    return out


@pytest.mark.parametrize("layer_name, kwargs", [
    ("ModalityTokens", {"width": 8, "log_inputs": True, "frequencies": 3}),
    ("ModalityDropout", {"rate": 0.25, "seed": 7}),
    ("LabelTokenAttention", {"num_queries": 4}),
    ("FusionHead", {"fusion": "sum", "num_labels": 3, "group_sizes": [2, 3], "hidden": 5, "exclusive": True}),
])
def test_layer_config_round_trips(layer_name, kwargs):
    from mmvideo.train import layers

    cls = getattr(layers, layer_name)
    layer = cls(**kwargs)
    config = layer.get_config()
    assert {k: config[k] for k in kwargs} == kwargs
    assert cls.from_config(config).get_config() == config


@pytest.mark.parametrize("bad", [{"fusion": "max"}, {"group_sizes": []}, {"hidden": 0}, {"num_labels": True}])
def test_fusion_head_rejects_bad_arguments(bad):
    from mmvideo.train.layers import FusionHead

    with pytest.raises(ParameterError, match="Received"):
        FusionHead(**bad)


@pytest.mark.parametrize("fusion", ["attention", "concat", "sum"])
def test_model_outputs_masks_and_saves(tmp_path, fusion):
    import keras

    from mmvideo.train.fit import predict
    from mmvideo.train.model import build_model

    model = build_model(_specs(), 3, fusion=fusion, width=8, hidden=6)
    x = _inputs()
    scores, weights, emb = predict(model, x)
    assert scores.shape == (5, 3) and weights.shape == (5, 3, 3) and emb.shape[0] == 5
    assert ((scores >= 0) & (scores <= 1)).all()
    # an absent modality gets weight 0 and its content cannot change anything
    x["audio_mask"][:] = 0
    s1, w1, _ = predict(model, x)
    x["audio_x"] = np.random.default_rng(9).random(x["audio_x"].shape).astype(np.float32)
    s2, _, _ = predict(model, x)
    np.testing.assert_allclose(s1, s2, atol=1e-6)
    assert np.all(w1[:, :, 1] == 0)
    present = w1.sum(axis=-1)
    np.testing.assert_allclose(present[present > 0], 1.0, atol=1e-5)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    np.testing.assert_allclose(predict(again, x)[0], s2, atol=1e-6)


def test_modality_dropout_drops_whole_modalities_only_while_training():
    from mmvideo.train.layers import ModalityDropout

    layer = ModalityDropout(0.5, seed=1)
    masks = [np.ones((200, 3), np.float32), np.ones((200, 4), np.float32)]
    assert all((np.asarray(a) == b).all() for a, b in zip(layer(masks, training=False), masks))
    kept = [np.asarray(m) for m in layer(masks, training=True)]
    per_modality = np.stack([k.max(axis=1) for k in kept], axis=1)
    assert all(((k == 0) | (k == 1)).all() and (k.min(axis=1) == k.max(axis=1)).all() for k in kept)
    assert per_modality.max(axis=1).min() == 1  # never every modality at once
    assert 0.2 < 1 - per_modality.mean() < 0.5


# --- a mismatched head is refused ----------------------------------------------------------------

def _fake_head(path, fingerprint: str, settings: dict):
    path.mkdir()
    (path / "model.keras").write_bytes(b"not read before the check")
    (path / "head.json").write_text(json.dumps({
        "format": 1, "labels": ["a", "b"], "thresholds": [0.5, 0.5], "fusion": "attention", "exclusive": False,
        "features": [{"name": "image", "source": "scores", "dim": 1000, "max_items": 5, "log": True}],
        "embedding_size": 64, "encoder_fingerprint": fingerprint, "encoder_settings": settings,
        "split": {"train": [], "validation": [], "test": []}, "hyperparameters": {}}))
    return path


def test_a_head_for_other_encoder_settings_is_refused(tmp_path):
    from mmvideo.config import RunConfig
    from mmvideo.pipeline.analyze import Pipeline

    plain = Pipeline(RunConfig())
    ok = _fake_head(tmp_path / "ok", plain.encoder_fingerprint, RunConfig().settings("encoder"))
    with_head = Pipeline(RunConfig(head=str(ok)))
    assert with_head.fingerprint != plain.fingerprint  # the head's hash is part of the run fingerprint
    assert with_head.encoder_fingerprint == plain.encoder_fingerprint
    assert "head_embedding" in with_head.segment_schema.names
    assert "head_embedding" not in plain.segment_schema.names
    with pytest.raises(SetupError, match=r"head expects evidence with encoder fingerprint .* this run has .*"
                                         r"settings that differ: segment=2.0 \(head: 5.0\)"):
        Pipeline(RunConfig(head=str(ok), segment=2.0))
    other = _fake_head(tmp_path / "other", "0123456789abcdef", RunConfig().settings("encoder"))
    with pytest.raises(SetupError, match="the models or their versions differ"):
        Pipeline(RunConfig(head=str(other)))
    with pytest.raises(SetupError, match="not a trained head"):
        Pipeline(RunConfig(head=str(tmp_path)))
