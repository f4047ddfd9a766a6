"""Where results go: a local folder (parts written by temp name + rename), or an object store that pyarrow's
filesystems reach (``s3://bucket/prefix``, ``gs://...``), where each part is uploaded once to its final key.

An object store has no rename; a single PUT is already whole-or-nothing (a reader sees the old object or the
new one), so a part is streamed straight to its final key. The layout under the root is the same either way
(``parquet/segments/<video_id>.parquet``, ...). Connection options ride on the URI as pyarrow reads them
(``s3://bucket/out?endpoint_override=host:port&scheme=http&region=...``); credentials come from the usual
environment (``AWS_ACCESS_KEY_ID``, ...). The state store and the run lock never live there (``--state DIR``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from mmvideo.errors import SetupError


def is_remote(out_dir: os.PathLike | str) -> bool:
    """True for a URI with a scheme other than ``file://`` (an object store), False for a local path."""
    text = str(out_dir)
    return "://" in text and not text.startswith("file://")


@functools.cache
def _resolve(uri: str) -> tuple[Any, str]:
    """(pyarrow filesystem, root path in it) for a remote URI, the query string (options) dropped from the root."""
    import pyarrow.fs as pafs

    try:
        fs, root = pafs.FileSystem.from_uri(uri)
    except (ValueError, OSError) as exc:
        raise SetupError(f"{uri}: not an output location pyarrow can reach ({exc})") from None
    return fs, root.rstrip("/")


def remote_path(out_dir: str, rel: str) -> tuple[Any, str]:
    """(filesystem, full path) of ``rel`` (a '/'-separated path under the root) in remote output ``out_dir``."""
    fs, root = _resolve(str(out_dir))
    return fs, f"{root}/{rel}"


def write_part(out_dir: os.PathLike | str, rel: str, write: Callable[[BinaryIO], None]) -> Path | str:
    """Write ``out_dir/rel`` whole or not at all with ``write(fh)``; returns where it went (a local Path, or the
    object's path in its store).

    Local: temp file + fsync + rename (``write_atomic``). Remote: one upload to the final key (no rename)."""
    if not is_remote(out_dir):
        from mmvideo.write.writer import write_atomic

        path = Path(out_dir) / rel
        write_atomic(path, write)
        return path
    fs, path = remote_path(str(out_dir), rel)
    with fs.open_output_stream(path) as fh:
        write(fh)
    return path


def read_part(out_dir: os.PathLike | str, rel: str) -> bytes | None:
    """The bytes of ``out_dir/rel``, None when it does not exist."""
    if not is_remote(out_dir):
        try:
            return (Path(out_dir) / rel).read_bytes()
        except FileNotFoundError:
            return None
    fs, path = remote_path(str(out_dir), rel)
    try:
        with fs.open_input_stream(path) as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def delete_part(out_dir: os.PathLike | str, rel: str) -> bool:
    """Remove ``out_dir/rel``; True when it existed."""
    if not is_remote(out_dir):
        try:
            (Path(out_dir) / rel).unlink()
        except FileNotFoundError:
            return False
        return True
    import pyarrow.fs as pafs

    fs, path = remote_path(str(out_dir), rel)
    if fs.get_file_info(path).type == pafs.FileType.NotFound:
        return False
    fs.delete_file(path)
    return True


def check_remote_writable(out_dir: str) -> str:
    """Create the remote root if needed and write + delete a probe object; ``SetupError`` (exit 2) otherwise."""
    fs, root = _resolve(out_dir)
    probe = f".mmvideo-write-test-{os.getpid()}"
    try:
        fs.create_dir(root, recursive=True)
        write_part(out_dir, probe, lambda fh: fh.write(b""))
        delete_part(out_dir, probe)
    except OSError as exc:
        raise SetupError(f"{out_dir}: output location is not writable ({exc})") from None
    return out_dir
