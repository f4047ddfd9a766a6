"""Modalities as plug-ins: the registry of ``Modality`` implementations (see ``mmvideo.modalities.base``).

Built in, in this order: image (MobileNetV2), audio (YAMNet), text (subtitles, speech, OCR), faces (BlazeFace),
signature (a hash per frame, for near-duplicates; no fusion token).
A separate package adds one by declaring an entry point in the ``mmvideo.modalities`` group::

    [project.entry-points."mmvideo.modalities"]
    colour = "my_package.colour:MeanColour"

Registered modalities come after the built-in ones, sorted by name; ``RunConfig.disable`` (``--disable NAME``)
leaves any of them out of a run. Nothing is imported until ``available()`` is called.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points

from mmvideo.errors import ParameterError, SetupError

log = logging.getLogger("mmvideo.modalities")

ENTRY_POINT_GROUP = "mmvideo.modalities"
BUILTIN: dict[str, str] = {
    "image": "mmvideo.modalities.image:ImageModality",
    "audio": "mmvideo.modalities.audio:AudioModality",
    "text": "mmvideo.modalities.text:TextModality",
    "faces": "mmvideo.modalities.faces:FacesModality",
    "signature": "mmvideo.modalities.signature:SignatureModality",
}


def _load(spec: str) -> type:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def available() -> dict[str, type]:
    """Every registered modality class by name: the built-in ones, then entry points sorted by name."""
    from mmvideo.modalities.base import FEEDS, Modality

    found: dict[str, type] = {name: _load(spec) for name, spec in BUILTIN.items()}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name in BUILTIN:
            if ep.value != BUILTIN[ep.name]:
                log.warning("modality %r from %s ignored: the name is built in", ep.name, ep.value)
            continue
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plug-in is a setup problem, said in one line
            raise SetupError(f"modality plug-in {ep.name!r} ({ep.value}) cannot be loaded: "
                             f"{type(exc).__name__}: {exc}") from None
        if not (isinstance(cls, type) and issubclass(cls, Modality)) or getattr(cls, "name", None) != ep.name \
                or getattr(cls, "feed", None) not in FEEDS:
            raise SetupError(f"modality plug-in {ep.name!r} ({ep.value}) must be a Modality subclass whose name is "
                             f"{ep.name!r} and whose feed is one of {FEEDS}")
        found[ep.name] = cls
    return found


def check_disabled(names: tuple[str, ...]) -> None:
    """``ParameterError`` when ``--disable`` names a modality that is not registered."""
    known = available()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ParameterError(f"unknown modality {', '.join(map(repr, unknown))} in disable; registered: "
                             f"{', '.join(known)}")


def builtin(config=None, *, image_classes=None, audio_classes=None) -> list:
    """The four built-in modalities, unloaded (for fusion alone: class names given, None = that classifier is
    never used)."""
    from mmvideo.modalities.audio import AudioModality
    from mmvideo.modalities.faces import FacesModality
    from mmvideo.modalities.image import ImageModality
    from mmvideo.modalities.text import TextModality

    return [ImageModality(config, class_names=image_classes), AudioModality(config, class_names=audio_classes),
            TextModality(config), FacesModality(config)]
