"""RunConfig checks itself when built; the config file reads through the same rules; the table makes the options."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mmvideo.config import RunConfig, check_setting, default, help_text, setting_fields
from mmvideo.config_file import read_config_file
from mmvideo.errors import ParameterError
from mmvideo.pipeline.analyze import Pipeline


@pytest.mark.parametrize("kwargs, message", [
    ({"format": "xml"}, "format must be jsonl, parquet or both. Received: format='xml'"),
    ({"fps": 0}, "fps must be a number > 0 and <= 60. Received: fps=0"),
    ({"fps": 61.0}, "fps must be a number > 0 and <= 60. Received: fps=61.0"),
    ({"fps": float("nan")}, "fps must be a number > 0 and <= 60. Received: fps=nan"),
    ({"frame_size": 16}, "frame_size must be an integer from 32 to 1024. Received: frame_size=16"),
    ({"frame_size": 224.0}, "frame_size must be an integer from 32 to 1024. Received: frame_size=224.0"),
    ({"segment": 0.05}, "segment must be a number >= 0.1. Received: segment=0.05"),
    ({"aspect": "crop"}, "aspect must be squash or pad. Received: aspect='crop'"),
    ({"image_backend": "onnx"}, "image_backend must be auto, litert-int8, litert or keras. "
                                "Received: image_backend='onnx'"),
    ({"device": "tpu"}, "device must be auto, cpu or gpu. Received: device='tpu'"),
    ({"top_k": 0}, "top_k must be an integer from 1 to 100. Received: top_k=0"),
    ({"top_k": "5"}, "top_k must be an integer from 1 to 100. Received: top_k='5'"),
    ({"min_score": 1.5}, "min_score must be a number >= -10 and <= 1. Received: min_score=1.5"),
    ({"batch_size": 2048}, "batch_size must be an integer from 0 to 1024. Received: batch_size=2048"),
    ({"timeout": 0}, "timeout must be a number > 0 or none. Received: timeout=0"),
    ({"max_runtime": -1}, "max_runtime must be a number >= 0 or none. Received: max_runtime=-1"),
    ({"shots": "yes"}, "shots must be true or false. Received: shots='yes'"),
    ({"top_k": True}, "top_k must be an integer from 1 to 100. Received: top_k=True"),
    ({"disable": "Audio"}, "disable: 'Audio' is not a modality name"),
    ({"image_backend": "litert", "device": "gpu"}, "image_backend='litert' with device='gpu': the litert backend "
                                                   "runs on the CPU only"),
])
def test_bad_settings_fail_when_the_config_is_built(kwargs, message):
    with pytest.raises(ParameterError) as err:
        RunConfig(**kwargs)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_replace_checks_too():
    with pytest.raises(ParameterError, match="format must be"):
        dataclasses.replace(RunConfig(), format="xml")


def test_empty_labels_file_names_the_file(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("# nothing yet\n\n")
    with pytest.raises(ParameterError, match=rf"^{labels}: at least 2 labels are needed"):
        RunConfig(labels=str(labels))
    with pytest.raises(ParameterError, match=r"at least 2 labels"):
        RunConfig(labels=["dog"])


def test_labels_and_disable_are_normalised_to_tuples(tmp_path):
    labels = tmp_path / "labels.tsv"
    labels.write_text("dog\ta dog outdoors\ncat\n")
    pairs = (("dog", "a dog outdoors"), ("cat", ""))
    assert RunConfig(labels=str(labels)).labels == pairs
    assert RunConfig(labels=labels).labels == pairs
    assert RunConfig(labels=list(pairs)).labels == pairs
    assert RunConfig(labels="dog, cat").labels == (("dog", ""), ("cat", ""))
    assert RunConfig(labels=["dog", "cat"]).labels == (("dog", ""), ("cat", ""))
    assert RunConfig(labels=[]).labels == () == RunConfig().labels
    assert RunConfig(disable="faces, audio").disable == ("audio", "faces")
    assert RunConfig(disable=["audio", "faces,audio"]).disable == ("audio", "faces")


def test_same_setting_same_fingerprint_whatever_its_spelling(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("dog\ncat\n")
    a = RunConfig(fps=2, top_k=3, labels=str(labels), disable="faces,audio")
    b = RunConfig(fps=2.0, top_k=3, labels=[("dog", ""), ("cat", "")], disable=("audio", "faces"))
    assert a == b and a.fps == 2.0 and isinstance(a.fps, float)
    assert Pipeline(a).fingerprint == Pipeline(b).fingerprint != Pipeline(RunConfig()).fingerprint


def test_the_table_keeps_its_public_shape():
    kinds = {f.name: f.metadata.get("fingerprint") for f in setting_fields().values()}
    assert {n for n, k in kinds.items() if k == "encoder"} == {
        "fps", "frame_size", "aspect", "sample", "segment", "shots", "disable", "speech", "ocr", "faces", "image_backend"}
    assert {n for n, k in kinds.items() if k == "run"} == {
        "labels", "top_k", "min_score", "modality_embeddings", "evidence", "thumbnails"}
    assert default("top_k") == 5 and help_text("fps") == "frames sampled per second"
    assert RunConfig().result_settings()["labels"] == [] and check_setting("fps", 3) == 3.0


# ------------------------------------------------------------------------------------ config file


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_config_file_values_are_checked_and_normalised(tmp_path):
    write(tmp_path / "tags.txt", "dog\ncat\n")
    cfg = write(tmp_path / "nightly.toml", 'fps = 2\ntop-k = 3\nshots = true\nlabels = "tags.txt"\n'
                                           'disable = ["audio"]\nformat = "both"\ntimeout = 600\n')
    values = read_config_file(cfg)
    assert values == {"fps": 2.0, "top_k": 3, "shots": True, "labels": (("dog", ""), ("cat", "")),
                      "disable": ("audio",), "format": "both", "timeout": 600.0}
    assert RunConfig(**values).top_k == 3


@pytest.mark.parametrize("text, message", [
    ("topk = 3\n", "unknown key 'topk'"),
    ("[run]\nfps = 2\n", "unknown key 'run'"),
    ('top_k = "3"\n', "top_k must be an integer from 1 to 100. Received: top_k='3'"),
    ("fps = 0\n", "fps must be a number > 0 and <= 60. Received: fps=0"),
    ('format = "xml"\n', "format must be jsonl, parquet or both. Received: format='xml'"),
    ("top_k = 3\ntop-k = 4\n", "'top-k' given twice"),
    ('labels = "missing/tags.txt"\n', "labels: missing/tags.txt: labels file not found"),
    ("fps = \n", "not a valid TOML file"),
])
def test_config_file_errors_name_the_file_and_the_key(tmp_path, text, message):
    cfg = write(tmp_path / "bad.toml", text)
    with pytest.raises(ParameterError) as err:
        read_config_file(cfg)
    assert str(err.value).startswith(f"{cfg}: ") and message in str(err.value) and "\n" not in str(err.value)


def test_config_file_empty_labels_file_is_an_error(tmp_path):
    write(tmp_path / "tags.txt", "")
    cfg = write(tmp_path / "c.toml", 'labels = "tags.txt"\n')
    with pytest.raises(ParameterError, match=rf"^{cfg}: labels: {tmp_path / 'tags.txt'}: at least 2 labels"):
        read_config_file(cfg)


def test_readme_config_example_reads(tmp_path):
    """The README's config file example is a valid config file (its labels file beside it)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    write(tmp_path / "tags.txt", "dog\ncat\n")
    values = read_config_file(write(tmp_path / "mmvideo.toml", example))
    assert values["shots"] is True and values["labels"] == (("dog", ""), ("cat", ""))
    assert RunConfig(**values).format == "both"
