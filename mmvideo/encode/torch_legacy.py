"""Read a PyTorch ``state_dict`` file into numpy arrays without importing torch.

Handles both serializations ``torch.save`` has used: the legacy stream (torch < 1.6: five pickles in a row,
then each storage's raw bytes prefixed by its element count) and the zip archive (``data.pkl`` plus
``data/<key>`` per storage). The unpickler is restricted: it rebuilds only ordered dicts, tensors and
storages, and refuses every other global, so a crafted file cannot run code.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from mmvideo.errors import ParameterError

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

_STORAGE_DTYPES: dict[str, np.dtype] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


@dataclass(frozen=True)
class _StorageType:
    name: str

    @property
    def dtype(self) -> np.dtype:
        if self.name not in _STORAGE_DTYPES:
            raise ParameterError(f"unsupported torch storage type {self.name}")
        return _STORAGE_DTYPES[self.name]


@dataclass
class _Storage:
    key: str
    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None  # filled once the raw bytes are read


@dataclass
class _LazyTensor:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def materialize(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise ParameterError(f"storage {self.storage.key} has no data in the file")
        if not self.size:
            return np.array(data[self.offset])  # 0-d array
        item = data.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.size, strides=tuple(s * item for s in self.stride))
        return np.ascontiguousarray(view)


def _rebuild_tensor_v2(storage: _Storage, offset: int, size: tuple, stride: tuple, *_: Any) -> _LazyTensor:
    return _LazyTensor(storage, int(offset), tuple(int(s) for s in size), tuple(int(s) for s in stride))


def _rebuild_parameter(data: _LazyTensor, *_: Any) -> _LazyTensor:
    return data


class _Unpickler(pickle.Unpickler):
    """Rebuilds tensors as lazy references into storages; every other global is refused."""

    def __init__(self, fh: BinaryIO, storages: dict[str, _Storage], legacy: bool) -> None:
        super().__init__(fh)
        self.storages = storages
        self.legacy = legacy

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name.endswith("Storage"):
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")

    def persistent_load(self, pid: Any) -> _Storage:
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        if self.legacy:  # ('storage', type, key, location, numel, view_metadata)
            _, stype, key, _location, numel, view = pid
            if view is not None:
                raise pickle.UnpicklingError("storage views are not supported")
        else:  # ('storage', type, key, location, numel)
            _, stype, key, _location, numel = pid
        dtype = stype.dtype if isinstance(stype, _StorageType) else _StorageType(str(stype)).dtype
        key = str(key)
        if key not in self.storages:
            self.storages[key] = _Storage(key, dtype, int(numel))
        return self.storages[key]


def _materialize(obj: Any) -> Any:
    if isinstance(obj, _LazyTensor):
        return obj.materialize()
    if isinstance(obj, dict):
        return collections.OrderedDict((k, _materialize(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialize(v) for v in obj)
    return obj


def _load_legacy(fh: BinaryIO) -> Any:
    def restricted_load() -> Any:
        return _Unpickler(fh, {}, legacy=True).load()

    if restricted_load() != _LEGACY_MAGIC:
        raise ParameterError("not a torch legacy file (bad magic number)")
    restricted_load()  # protocol version
    sys_info = restricted_load()
    if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
        raise ParameterError("big-endian torch files are not supported")
    storages: dict[str, _Storage] = {}
    result = _Unpickler(fh, storages, legacy=True).load()
    keys = _Unpickler(fh, storages, legacy=True).load()
    for key in keys:
        storage = storages[str(key)]
        (numel,) = struct.unpack("<q", fh.read(8))
        nbytes = numel * storage.dtype.itemsize
        raw = fh.read(nbytes)
        if numel != storage.numel or len(raw) != nbytes:
            raise ParameterError(f"storage {key}: truncated or inconsistent ({len(raw)} of {nbytes} bytes)")
        storage.data = np.frombuffer(raw, dtype=storage.dtype)
    return _materialize(result)


def _load_zip(path: str) -> Any:
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        pkl = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
        if pkl is None:
            raise ParameterError("torch zip file without data.pkl")
        prefix = pkl[: -len("data.pkl")]
        storages: dict[str, _Storage] = {}
        result = _Unpickler(io.BytesIO(zf.read(pkl)), storages, legacy=False).load()
        for key, storage in storages.items():
            raw = zf.read(f"{prefix}data/{key}")
            storage.data = np.frombuffer(raw, dtype=storage.dtype)[: storage.numel]
    return _materialize(result)


def load_state_dict(path: os.PathLike | str) -> dict[str, np.ndarray]:
    """The tensors of a ``torch.save``-d state dict as ``{name: ndarray}`` (native torch shapes and dtypes).

    Works for the zip format and the legacy (pre-1.6) stream; ``ParameterError`` for anything else.
    """
    path = os.fspath(path)
    try:
        if zipfile.is_zipfile(path):
            obj = _load_zip(path)
        else:
            with open(path, "rb") as fh:
                obj = _load_legacy(fh)
    except (pickle.UnpicklingError, EOFError, struct.error, KeyError, ValueError) as exc:
        if isinstance(exc, ParameterError):
            raise
        raise ParameterError(f"{path}: not a readable torch state dict ({exc})") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ParameterError(f"{path}: expected a state dict, found {type(obj).__name__}")
    return {str(k): v for k, v in obj.items() if isinstance(v, np.ndarray)}
