"""A head trained on generated clips whose truth is known: the loop run --evidence -> train -> evaluate ->
run --head / fuse --head with the real models, and the same head on the JAX backend.

72 clips (3 s, 64 px): every colour x sound pair 8 times, subtitles in turn (``mmvideo.train.synthetic``).
"goal" (red AND beep) and "calm blue" (blue AND silence) need the picture and the sound together; "red" and
"beep" one of them; "advert" and "weather" the subtitles.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mmvideo.train.synthetic import make_clip, make_clips
from mmvideo.write.read import read_table

pytestmark = pytest.mark.slow

BOTH = ("goal", "calm blue")  # labels that need picture and sound together
SPLIT = "0.45,0.2,0.35"  # a larger test part: 2-3 videos of each two-modality label


def _mmvideo(*args: str, ok: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    result = subprocess.run([sys.executable, "-m", "mmvideo", *args], capture_output=True, text=True, env=env)
    if ok:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="session")
def trained(real_models, tmp_path_factory):
    """Clips, their evidence and an attention head trained on them (once per session)."""
    root = tmp_path_factory.mktemp("train")
    clips = make_clips(root / "clips", copies=8)
    _mmvideo("run", str(root / "clips"), "--out", str(root / "out"), "--evidence", "--quiet")
    head = root / "head"
    result = _mmvideo("train", "--labels", str(root / "clips" / "labels.csv"), "--evidence", str(root / "out"),
                      "--out", str(head), "--split", SPLIT)
    return {"root": root, "clips": clips, "head": head, "stdout": result.stdout, "stderr": result.stderr,
            "meta": json.loads((head / "head.json").read_text())}


def _rows(meta: dict, name: str) -> dict:
    return {r["name"]: r for r in meta["metrics"]["test"]}[name]


def test_training_splits_by_video_and_writes_a_head(trained):
    meta, head = trained["meta"], trained["head"]
    assert len(trained["clips"]) >= 40 and len(meta["labels"]) == 6
    assert meta["fit"]["seconds"] > 0 and meta["fit"]["epochs_run"] >= 1, meta["fit"]  # speed: benchmarks/bench_train.py
    epochs = [line for line in trained["stderr"].splitlines() if line.startswith("epoch ")]
    assert len(epochs) == meta["fit"]["epochs_run"]  # one progress line per epoch
    split = meta["split"]
    parts = [set(split[p]) for p in ("train", "validation", "test")]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])  # no video in two parts
    card = (head / "MODEL_CARD.md").read_text()
    for text in ("## Data", "## What fusion buys", "image only", "audio only", "text only", "encoder fingerprint"):
        assert text in card
    assert (head / "model.keras").is_file() and len(meta["thresholds"]) == 6


def test_fusion_needs_both_modalities_where_the_label_does(trained):
    meta = trained["meta"]
    labels = meta["labels"]
    fused, image, audio, text = (_rows(meta, n) for n in ("all", "image only", "audio only", "text only"))
    for label in BOTH:
        j = labels.index(label)
        assert fused["ap"][j] >= 0.9, (label, fused)
        assert image["ap"][j] <= 0.7 and audio["ap"][j] <= 0.7, (label, image["ap"][j], audio["ap"][j])
    # one-modality labels survive with their own modality alone
    assert image["ap"][labels.index("red")] >= 0.9 and audio["ap"][labels.index("beep")] >= 0.9
    assert text["ap"][labels.index("advert")] >= 0.9 and text["ap"][labels.index("weather")] >= 0.9
    assert fused["map"] >= 0.9


def test_evaluate_reports_on_the_stored_test_videos(trained):
    root, head = trained["root"], trained["head"]
    out = _mmvideo("evaluate", str(head), "--labels", str(root / "clips" / "labels.csv"), "--evidence",
                   str(root / "out"), "--json")
    report = json.loads(out.stdout)
    stored = trained["meta"]["metrics"]["test"]
    assert [r["name"] for r in report["rows"]] == [r["name"] for r in stored]
    np.testing.assert_allclose([r["map"] for r in report["rows"]], [r["map"] for r in stored], atol=1e-6)
    # the test part is the stored one: dropping its labels is an error naming the missing video
    test_ids = set(trained["meta"]["split"]["test"])
    rows = (root / "clips" / "labels.csv").read_text().splitlines()
    from mmvideo.discover import content_id

    kept = [rows[0]] + [r for r in rows[1:] if content_id(root / "clips" / r.split(",")[0]) not in test_ids]
    (root / "clips" / "no_test.csv").write_text("\n".join(kept) + "\n")
    bad = _mmvideo("evaluate", str(head), "--labels", str(root / "clips" / "no_test.csv"), "--evidence",
                   str(root / "out"), ok=False)
    assert bad.returncode == 2 and "test video" in bad.stderr


def test_compare_trains_every_fusion_on_the_same_split(trained):
    root = trained["root"]
    out = _mmvideo("evaluate", str(trained["head"]), "--labels", str(root / "clips" / "labels.csv"),
                   "--evidence", str(root / "out"), "--compare")
    table = out.stdout.split("| fusion |")[1]
    for fusion in ("concat", "sum", "attention"):
        assert f"\n| {fusion} |" in table
    print(out.stdout)


@pytest.fixture(scope="session")
def new_clips(trained):
    folder = trained["root"] / "new"
    made = [make_clip(folder / "n1.mp4", "red", "beep", "advert", variant=11),
            make_clip(folder / "n2.mp4", "blue", "silence", "", variant=12),
            make_clip(folder / "n3.mp4", "green", "hum", "weather", variant=13)]
    return folder, {c.path.name: set(c.labels) for c in made}


def _tags(out: Path) -> dict[str, set[str]]:
    return {Path(r["path"]).name: {t["label"] for t in r["tags"]} for r in read_table(out).to_pylist()}


def test_the_head_tags_new_clips_in_run_and_fuse(trained, new_clips):
    folder, expected = new_clips
    root, head = trained["root"], trained["head"]
    _mmvideo("run", str(folder), "--out", str(root / "new_out"), "--head", str(head), "--evidence", "--quiet")
    assert _tags(root / "new_out") == expected
    rows = read_table(root / "new_out").to_pylist()
    width = trained["meta"]["embedding_size"]
    for r in rows:
        assert len(r["head_embedding"]) == width and len(r["embedding"]) == 384
        for t in r["tags"]:
            assert sum(t["attention"].values()) == pytest.approx(1.0, abs=1e-4)
    advert = next(t for r in rows for t in r["tags"] if t["label"] == "advert")
    assert advert["attention"]["text"] > 0.5  # per-label weights: the subtitles carry "advert"
    # search still works: the embedding stays in the text encoder's space
    found = _mmvideo("search", str(root / "new_out"), "weather forecast rain", "--json")
    assert Path(json.loads(found.stdout.splitlines()[0])["path"]).name == "n3.mp4"
    _mmvideo("fuse", str(root / "new_out"), "--out", str(root / "new_fused"), "--head", str(head), "--quiet")
    assert _tags(root / "new_fused") == expected


def test_a_head_is_refused_for_other_settings(trained, new_clips):
    folder, _ = new_clips
    bad = _mmvideo("run", str(folder), "--out", str(trained["root"] / "x"), "--head", str(trained["head"]),
                   "--segment", "2", ok=False)
    assert bad.returncode == 2
    assert "head expects evidence with encoder fingerprint" in bad.stderr and "segment=2.0" in bad.stderr


# --- Keras backends ------------------------------------------------------------------------------

JAX = importlib.util.find_spec("jax") is not None


@pytest.fixture(scope="session")
def arrays(trained):
    """The labelled dataset as .npz (the JAX side reads it without any text encoder) and the TF head's scores."""
    from mmvideo.train.fit import predict
    from mmvideo.train.head import load_model, read_head
    from mmvideo.train.workflow import labelled_dataset

    root = trained["root"]
    got = labelled_dataset(root / "clips" / "labels.csv", [root / "out"], run_missing=False)
    path = root / "data.npz"
    got.data.save(path)
    info = read_head(trained["head"])
    test = got.data.take(info.split["test"])
    return path, predict(load_model(info), test.inputs)


def _jax(code: str) -> dict:
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not JAX, reason="JAX is not installed (pip install -e '.[backends]')")
def test_a_tensorflow_head_predicts_the_same_on_jax(trained, arrays):
    path, (scores, weights, emb) = arrays
    out = _jax(f"""
        import json, keras, numpy as np
        from mmvideo.train.dataset import Dataset
        from mmvideo.train.fit import predict
        from mmvideo.train.head import load_model, read_head
        assert keras.backend.backend() == "jax"
        info = read_head({str(trained['head'])!r})
        test = Dataset.load({str(path)!r}).take(info.split["test"])
        s, w, e = predict(load_model(info), test.inputs)
        print(json.dumps({{"scores": s.tolist(), "weights": w.tolist(), "emb": e.tolist()}}))
    """)
    np.testing.assert_allclose(out["scores"], scores, atol=1e-5)
    np.testing.assert_allclose(out["weights"], weights, atol=1e-5)
    np.testing.assert_allclose(out["emb"], emb, atol=1e-4)


@pytest.mark.skipif(not JAX, reason="JAX is not installed (pip install -e '.[backends]')")
def test_training_on_jax_reaches_the_same_test_map(trained, arrays):
    path, _ = arrays
    meta = trained["meta"]
    tf_map = _rows(meta, "all")["map"]
    out = _jax(f"""
        import json, keras
        from mmvideo.train.dataset import Dataset
        from mmvideo.train.fit import Hyperparameters, fit_head
        from mmvideo.train.report import score
        split = {json.dumps(meta['split'])}
        data = Dataset.load({str(path)!r})
        fit = fit_head(data.take(split["train"]), data.take(split["validation"]),
                       Hyperparameters(**json.loads({json.dumps(json.dumps(meta["hyperparameters"]))})))
        print(json.dumps({{"backend": keras.backend.backend(), "map": score(fit.model, data.take(split["test"]),
                                                                              fit.thresholds).map}}))
    """)
    assert out["backend"] == "jax"
    assert abs(out["map"] - tf_map) <= 0.03, (out["map"], tf_map)
