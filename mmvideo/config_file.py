"""A run's settings from a TOML file (``mmvideo run --config FILE``): what a nightly job keeps beside its crontab.

Keys are RunConfig field names (``top_k`` or ``top-k``), values typed like the flags (``fps = 2``,
``shots = true``, ``labels = "tags.txt"`` or ``["dog", "cat"]``, ``disable = ["audio"]``); a relative labels
path is read from the config file's folder. Every value is checked by ``RunConfig``'s own rule, so an unknown
key, a wrong type or a value out of range is one ``ParameterError`` line naming the file and the key.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from mmvideo.config import check_setting, setting_fields
from mmvideo.errors import ParameterError


def read_config_file(path: os.PathLike | str) -> dict[str, Any]:
    """The settings in the TOML file ``path``, by field name, checked and normalised (not yet merged)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except OSError as exc:
        raise ParameterError(f"{path}: cannot read config file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ParameterError(f"{path}: config file is not UTF-8 (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"{path}: not a valid TOML file: {exc}") from None
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in setting_fields():
            raise ParameterError(f"{path}: unknown key {key!r} (the keys are `mmvideo run` settings: "
                                 f"{', '.join(setting_fields())})")
        if name in out:
            raise ParameterError(f"{path}: {key!r} given twice (as {name!r} and {name.replace('_', '-')!r})")
        if name == "labels" and isinstance(value, str):
            value = _beside(path, value)
        try:
            out[name] = check_setting(name, value)
        except ParameterError as exc:
            message = str(exc) if str(exc).startswith(name) else f"{key}: {exc}"
            raise ParameterError(f"{path}: {message}") from None
    return out


def _beside(config: Path, value: str) -> str:
    """A labels path relative to the config file's folder when a file is there, else ``value`` unchanged."""
    candidate = config.parent / Path(value).expanduser()
    return str(candidate) if not Path(value).expanduser().is_absolute() and candidate.is_file() else value
