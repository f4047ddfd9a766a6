"""Modalities as plug-ins: a toy modality installed through the entry point, and one disabled through settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from mmvideo.config import RunConfig
from mmvideo.discover import discover
from mmvideo.errors import ParameterError
from mmvideo.pipeline.analyze import Pipeline

REPO = Path(__file__).resolve().parents[1]
PLUGIN = Path(__file__).resolve().parent / "plugins" / "mmvideo_toy_colour.py"


def _install_toy(site: Path) -> dict:
    """A folder that makes the toy an installed distribution with an ``mmvideo.modalities`` entry point."""
    site.mkdir()
    (site / PLUGIN.name).write_text(PLUGIN.read_text())
    info = site / "mmvideo_toy_colour-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mmvideo-toy-colour\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[mmvideo.modalities]\ntoy_colour = mmvideo_toy_colour:MeanColour\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    return env


@pytest.mark.slow
def test_a_modality_from_an_entry_point_adds_its_column(real_models, samples_dir, tmp_path):
    env = _install_toy(tmp_path / "site")
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "mmvideo", "run", str(samples_dir / "cat.mp4"),
                             str(samples_dir / "rocket.mp4"), "--out", str(out), "--quiet"],
                            env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    table = pq.read_table(out / "parquet" / "segments")
    assert "mean_colour" in table.schema.names
    colours = np.array(table.column("mean_colour").to_pylist(), dtype=np.float32)
    assert colours.shape == (table.num_rows, 3) and np.all((colours >= 0) & (colours <= 255))
    assert len({tuple(np.round(c)) for c in colours}) > 1  # a cat and a rocket at dusk differ
    # the built-in columns and tags are still there, and the toy takes no attention slot
    assert {"image_classes", "text", "faces"} <= set(table.schema.names)
    attention = table.schema.field("tags").type.value_type.field("attention").type
    assert [f.name for f in attention] == ["image", "audio", "text", "faces"]
    # nothing in the pipeline, aggregation, the schema or the tagger names it
    for rel in ("mmvideo/pipeline", "mmvideo/write/schema.py", "mmvideo/fuse/tagger.py"):
        for path in ([REPO / rel] if rel.endswith(".py") else sorted((REPO / rel).glob("*.py"))):
            text = path.read_text()
            assert "toy_colour" not in text and "mean_colour" not in text, path


def test_a_broken_plug_in_is_one_setup_line(tmp_path):
    site = tmp_path / "site"
    env = _install_toy(site)
    (site / "mmvideo_toy_colour-0.1.dist-info" / "entry_points.txt").write_text(
        "[mmvideo.modalities]\ntoy_colour = mmvideo_toy_colour:NoSuchClass\n")
    result = subprocess.run([sys.executable, "-m", "mmvideo", "run", str(tmp_path), "--out", str(tmp_path / "o")],
                            env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("mmvideo: modality plug-in 'toy_colour'")


@pytest.mark.slow
def test_disabling_audio_gives_no_audio_evidence(real_models, samples_dir):
    pipeline = Pipeline(RunConfig(disable=("audio",), evidence=True))
    assert "yamnet" not in pipeline.models_needed
    analysis = pipeline.analyze(next(iter(discover([samples_dir / "cat.mp4"]))), lambda stage: None)
    assert {it.modality for it in analysis.evidence.items} == {"image", "text", "faces", "signature"}
    assert analysis.segments and all("audio" not in s.modalities for s in analysis.segments)
    assert all(t.attention["audio"] == 0.0 for s in analysis.segments for t in s.tags)
    assert all(s.columns["audio_classes"] == [] for s in analysis.segments)
    assert "image" in analysis.segments[0].modalities


def test_unknown_modality_in_disable_is_refused():
    with pytest.raises(ParameterError, match="unknown modality 'smell'"):
        Pipeline(RunConfig(disable=("smell",)))


def test_disabling_changes_the_encoder_fingerprint():
    a, b = Pipeline(RunConfig()), Pipeline(RunConfig(disable=("audio",)))
    assert a.encoder_fingerprint != b.encoder_fingerprint
    c = Pipeline(RunConfig(top_k=3))  # a run setting: same evidence, other results
    assert c.encoder_fingerprint == a.encoder_fingerprint and c.fingerprint != a.fingerprint
