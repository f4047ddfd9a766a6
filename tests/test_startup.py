"""What a `mmvideo run` pays before its first frame: no Keras / TensorFlow / JAX (the zero-shot fusion layer runs
in numpy), and the tagger's fixed lists (vocabulary, class names) read from the model cache after the first run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

#: packages a plain CPU run must never import (each costs seconds of start-up and hundreds of MB)
HEAVY = ("keras", "tensorflow", "jax", "sklearn", "torch", "onnxruntime", "faster_whisper")

_RUN = """
import atexit, json, sys

calls = []
import mmvideo.encode.text as text
real = text.TextEncoder._embed_uncached
def counted(self, texts):
    calls.append(len(texts))
    return real(self, texts)
text.TextEncoder._embed_uncached = counted
atexit.register(lambda: open(sys.argv[1], "w").write(json.dumps(
    {"modules": sorted({m.split(".")[0] for m in sys.modules}), "embedded": calls})))
from mmvideo.cli import main
main(["run", *sys.argv[2:]])
"""


def _run(report: Path, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", _RUN, str(report), *args], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(report.read_text())


def test_a_cpu_run_imports_no_keras_and_embeds_no_fixed_list_twice(real_models, samples_dir, tmp_path):
    first = _run(tmp_path / "first.json", str(samples_dir / "cat.mp4"), "--out", str(tmp_path / "a"),
                 "--device", "cpu")
    assert not set(HEAVY) & set(first["modules"]), set(HEAVY) & set(first["modules"])
    assert "av" in first["modules"] and "ai_edge_litert" in first["modules"]  # the report sees the run's imports
    second = _run(tmp_path / "second.json", str(samples_dir / "cat.mp4"), "--out", str(tmp_path / "b"),
                  "--device", "cpu")
    assert not set(HEAVY) & set(second["modules"])
    # the vocabulary (334 tags) and the class names (1,000 ImageNet, 521 AudioSet) come from the model cache;
    # what is left is the clip's own subtitle texts
    assert second["embedded"] and max(second["embedded"]) < 64, second["embedded"]
