"""The CLI shell: light imports, help text with exit codes, one-line errors, settings checked before any work."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest

from mmvideo.cli import main
from mmvideo.config import RunConfig
from mmvideo.pipeline.analyze import Pipeline


def test_help_lists_exit_codes_and_is_light():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from mmvideo.cli import cli\n"
        "r = CliRunner().invoke(cli, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert 'Exit codes' in r.output\n"
        "r = CliRunner().invoke(cli, ['run', '--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert '--top-k INTEGER RANGE' in r.output and '[default: 5;' in r.output, r.output\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'ray', 'onnxruntime') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_command_is_usage_error():
    proc = subprocess.run([sys.executable, "-m", "mmvideo", "no-such-command"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "No such command" in proc.stderr


# ------------------------------------------------------------------------------------ mmvideo run settings


@pytest.fixture
def video(tmp_path) -> str:
    """A stand-in input: never read, since these runs stop before (or instead of) the engine."""
    path = tmp_path / "in" / "clip.mp4"
    path.parent.mkdir()
    path.write_bytes(b"not a video")
    return str(path)


@pytest.fixture
def no_probe(monkeypatch):
    """Any probe fails the test: bad settings must stop the run before a video is looked at."""
    from mmvideo.media import probe

    def forbidden(*args, **kwargs):
        pytest.fail("a video was probed although the settings were bad")

    monkeypatch.setattr(probe, "probe", forbidden)


@pytest.fixture
def engine(monkeypatch) -> list[dict]:
    """run_local replaced by a recorder: the config, pipeline and keywords each `mmvideo run` hands it."""
    from mmvideo.engines import local

    calls: list[dict] = []

    def fake_run_local(inputs, out, config, pipeline, reporter, **kwargs):
        calls.append({"config": config, "pipeline": pipeline, **kwargs})
        return SimpleNamespace(exit_code=0)

    monkeypatch.setattr(local, "run_local", fake_run_local)
    return calls


def run_main(*argv: str) -> int:
    """``mmvideo ARGV`` in this process (so monkeypatches apply); its exit status."""
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    return exit_.value.code


@pytest.mark.parametrize("args, message", [
    (["--format", "xml"], "Invalid value for '--format'"),
    (["--fps", "0"], "Invalid value for '--fps'"),
    (["--top-k", "0"], "Invalid value for '--top-k'"),
])
def test_bad_option_exits_2_before_any_work(tmp_path, video, args, message):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "mmvideo", "run", video, "--out", str(out), *args],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and message in proc.stderr
    assert not out.exists()  # no output folder, no state: nothing was started


def test_empty_labels_file_exits_2_naming_it(tmp_path, video, no_probe, capsys):
    labels = tmp_path / "labels.txt"
    labels.write_text("")
    out = tmp_path / "out"
    assert run_main("run", video, "--out", str(out), "--labels", str(labels)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mmvideo: {labels}: at least 2 labels are needed") and err.count("\n") == 1
    assert not out.exists()


def test_bad_config_file_value_exits_2_naming_file_and_key(tmp_path, video, no_probe, capsys):
    cfg = tmp_path / "nightly.toml"
    cfg.write_text('format = "xml"\n')
    out = tmp_path / "out"
    assert run_main("run", video, "--out", str(out), "--config", str(cfg)) == 2
    assert capsys.readouterr().err == (f"mmvideo: {cfg}: format must be jsonl, parquet or both. "
                                       f"Received: format='xml'\n")
    cfg.write_text("top_k = 3\nfsp = 2\n")
    assert run_main("run", video, "--out", str(out), "--config", str(cfg)) == 2
    assert capsys.readouterr().err.startswith(f"mmvideo: {cfg}: unknown key 'fsp'")
    assert not out.exists()


def test_flags_override_the_config_file_which_overrides_defaults(tmp_path, video, engine):
    cfg = tmp_path / "nightly.toml"
    cfg.write_text('fps = 2\ntop-k = 3\nshots = true\nformat = "both"\n')
    out = str(tmp_path / "out")
    assert run_main("run", video, "--out", out, "--config", str(cfg), "--top-k", "7", "--no-shots") == 0
    config = engine[-1]["config"]
    assert (config.fps, config.top_k, config.shots, config.format) == (2.0, 7, False, "both")
    assert config.segment == RunConfig().segment  # neither file nor flag: the default
    # a flag given with the default's value still wins over the file
    assert run_main("run", video, "--out", out, "--config", str(cfg), "--top-k", "5") == 0
    assert engine[-1]["config"].top_k == 5


def test_config_file_and_flags_give_the_same_fingerprint(tmp_path, video, engine):
    (tmp_path / "tags.txt").write_text("dog\ncat\ta cat indoors\n")
    cfg = tmp_path / "nightly.toml"
    cfg.write_text('fps = 2\nlabels = "tags.txt"\ndisable = ["audio"]\nmin_score = 0\nspeech = true\n')
    out = str(tmp_path / "out")
    assert run_main("run", video, "--out", out, "--config", str(cfg)) == 0
    assert run_main("run", video, "--out", out, "--fps", "2", "--labels", str(tmp_path / "tags.txt"),
                    "--disable", "audio", "--min-score", "0", "--speech") == 0
    by_file, by_flag = (call["config"] for call in engine)
    assert by_file == by_flag
    assert Pipeline(by_file).fingerprint == Pipeline(by_flag).fingerprint == engine[0]["pipeline"].fingerprint
    assert Pipeline(by_file).fingerprint != Pipeline(RunConfig()).fingerprint


def test_new_run_options_reach_the_config_and_the_engine(tmp_path, video, engine):
    out = str(tmp_path / "out")
    assert run_main("run", video, "--out", out, "--evidence", "--disable", "audio", "--disable", "text,faces") == 0
    assert engine[-1]["config"].evidence is True
    assert engine[-1]["config"].disable == ("audio", "faces", "text")
    assert engine[-1]["prune"] is False
    assert run_main("run", video, "--out", out, "--disable", "smell") == 2  # not a registered modality
    assert run_main("run", video, "--out", out, "--prune") == 0
    assert engine[-1]["prune"] is True
