"""The curated class -> default-tag tables shipped as package data (built by ``scripts/build_tag_maps.py``).

``imagenet_to_tags.tsv`` is keyed by ImageNet-1k class index (the standard synset order every ImageNet model
uses); ``audioset_to_tags.tsv`` by AudioSet display name (YAMNet's class names are AudioSet display names).
A class with an empty tag list has no default tag ("Silence", "abacus").
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import resources

from mmvideo.errors import ParameterError

IMAGENET_CLASSES = 1000


def _rows(name: str) -> list[list[str]]:
    text = resources.files("mmvideo").joinpath("data", name).read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    return rows[1:]  # the first non-comment line is the header


def _split(cell: str) -> tuple[str, ...]:
    return tuple(t for t in cell.split(",") if t)


@functools.lru_cache(maxsize=1)
def imagenet_map() -> tuple[tuple[str, ...], ...]:
    """Default tags of the 1,000 ImageNet classes, by class index."""
    rows = _rows("imagenet_to_tags.tsv")
    table = tuple(_split(r[3]) for r in sorted(rows, key=lambda r: int(r[0])))
    if len(table) != IMAGENET_CLASSES:
        raise ParameterError(f"imagenet_to_tags.tsv has {len(table)} classes, expected {IMAGENET_CLASSES}")
    return table


@functools.lru_cache(maxsize=1)
def audioset_map() -> dict[str, tuple[str, ...]]:
    """Default tags of every AudioSet ontology class, by display name."""
    return {r[1]: _split(r[2]) for r in _rows("audioset_to_tags.tsv")}


@functools.lru_cache(maxsize=1)
def imagenet_names() -> dict[str, tuple[str, ...]]:
    """Default tags of the ImageNet classes by their WordNet name ("tench") and synset ("n01440764")."""
    out: dict[str, tuple[str, ...]] = {}
    for r in _rows("imagenet_to_tags.tsv"):
        out.setdefault(r[2], _split(r[3]))
        out[r[1]] = _split(r[3])
    return out


TABLES = {"imagenet": "imagenet", "image": "imagenet", "audioset": "audioset", "audio": "audioset"}


def class_tags(table: str, class_names: Sequence[str]) -> tuple[tuple[str, ...] | None, ...]:
    """Default tags for a classifier's classes, in its order; None for a class the table does not know.

    table: "imagenet" (the 1,000 ImageNet-1k classes in index order are looked up by index, any other list by
    name or synset) or "audioset" (AudioSet display names, looked up by name). "image" and "audio" are aliases.
    """
    kind = TABLES.get(table)
    if kind == "imagenet":
        if len(class_names) == IMAGENET_CLASSES:
            return imagenet_map()
        names = imagenet_names()
        return tuple(names.get(n) for n in class_names)
    if kind == "audioset":
        known = audioset_map()
        return tuple(known.get(n) for n in class_names)
    raise ParameterError(f"table must be 'imagenet' or 'audioset'. Received: table={table!r}")


def covers(labels: Sequence[str]) -> bool:
    """True when ``labels`` hold every tag the maps name (the maps can then stand for classes)."""
    mapped = {t for m in imagenet_map() for t in m} | {t for m in audioset_map().values() for t in m}
    return set(labels) >= mapped


@functools.lru_cache(maxsize=1)
def tag_parents() -> dict[str, tuple[str, ...]]:
    """The default vocabulary's hierarchy: each tag's direct parents ("goose" -> ("bird",), "bird" ->
    ("animal",)), from ``tag_parents.tsv`` (built with the maps); tags without parents are left out."""
    try:
        rows = _rows("tag_parents.tsv")
    except FileNotFoundError:
        return {}
    return {r[0]: _split(r[1]) for r in rows if len(r) > 1 and r[1]}
