"""Tag vocabularies: the default one shipped in ``mmvideo/data/tags.tsv``, a ``--labels`` file or a "a,b,c" list.

A vocabulary is a tuple of ``Tag(label, description)``; ``Tag.text`` (the description when there is one, else the
label) is what the text encoder embeds, ``label`` is what the output shows. The file format is one tag a line,
an optional description after a TAB, ``#`` comment lines and blank lines ignored, UTF-8.
"""

from __future__ import annotations

import functools
import os
from importlib import resources
from pathlib import Path
from collections.abc import Sequence
from typing import Any, NamedTuple

from mmvideo.errors import ParameterError

MAX_LABELS = 10_000
MAX_LABEL_CHARS = 100
MAX_DESCRIPTION_CHARS = 500
MIN_LABELS = 2  # fused scores are relative to the other tags of the vocabulary


class Tag(NamedTuple):
    """One tag: ``label`` shown in the output, ``description`` embedded instead of it when not empty."""

    label: str
    description: str = ""

    @property
    def text(self) -> str:
        """What the text encoder embeds for this tag."""
        return self.description or self.label


def _check_label(label: str, where: str) -> None:
    if not label:
        raise ParameterError(f"{where}: empty label")
    if len(label) > MAX_LABEL_CHARS:
        raise ParameterError(f"{where}: label longer than {MAX_LABEL_CHARS} characters. "
                             f"Received: {label[:40]!r}...")
    if "," in label:
        raise ParameterError(f"{where}: a label cannot contain ','; put details in the description after a TAB. "
                             f"Received: {label!r}")
    if any(ord(c) < 32 for c in label):
        raise ParameterError(f"{where}: control character in label. Received: {label!r}")


def _finish(tags: list[Tag], lines: list[str], source: str) -> tuple[Tag, ...]:
    """Reject empty, oversized and duplicate vocabularies (duplicates compare case-insensitively)."""
    if len(tags) < MIN_LABELS:
        raise ParameterError(f"{source}: at least {MIN_LABELS} labels are needed (scores are relative to the "
                             f"other labels). Received: {len(tags)}")
    if len(tags) > MAX_LABELS:
        raise ParameterError(f"{source}: at most {MAX_LABELS} labels. Received: {len(tags)}")
    seen: dict[str, str] = {}
    for tag, where in zip(tags, lines):
        key = tag.label.casefold()
        if key in seen:
            raise ParameterError(f"{where}: duplicate label {tag.label!r} (first at {seen[key]})")
        seen[key] = where
    return tuple(tags)


def parse_labels(text: str, source: str = "<labels>") -> tuple[Tag, ...]:
    """Tags from the text of a labels file: ``label[<TAB>description]`` per line, ``#`` comments, blank lines.

    Errors (``ParameterError``) name ``source`` and the line: empty label, a ',' in a label, more than one TAB,
    a description too long, duplicates, fewer than 2 or more than 10,000 labels.
    """
    tags: list[Tag] = []
    where: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        here = f"{source}:{number}"
        label, tab, description = raw.strip(" \r\n").partition("\t")
        label, description = label.strip(), description.strip()
        if "\t" in description:
            raise ParameterError(f"{here}: more than one TAB; expected 'label<TAB>description'. "
                                 f"Received: {line!r}")
        _check_label(label, here)
        if tab and not description:
            raise ParameterError(f"{here}: empty description after the TAB. Received: {line!r}")
        if len(description) > MAX_DESCRIPTION_CHARS:
            raise ParameterError(f"{here}: description longer than {MAX_DESCRIPTION_CHARS} characters")
        tags.append(Tag(label, description))
        where.append(here)
    return _finish(tags, where, source)


def parse_label_list(value: str) -> tuple[Tag, ...]:
    """Tags from a comma-separated string ``"dog,cat,music"`` (spaces around items ignored, no descriptions)."""
    items = [s.strip() for s in value.split(",")]
    if any(not s for s in items):
        raise ParameterError(f"--labels: empty item in the comma-separated list. Received: {value!r}")
    for i, label in enumerate(items, start=1):
        _check_label(label, f"--labels item {i}")
    return _finish([Tag(s) for s in items], [f"--labels item {i}" for i in range(1, len(items) + 1)], "--labels")


def read_labels_file(path: os.PathLike | str) -> tuple[Tag, ...]:
    """Tags from a labels file (UTF-8, a BOM allowed); ``ParameterError`` when it is unreadable or invalid."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParameterError(f"{path}: cannot read labels file ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParameterError(f"{path}: labels file is not UTF-8 (byte {exc.start})") from None
    return parse_labels(text, source=str(path))


def load_labels(spec: os.PathLike | str | Sequence[Any]) -> tuple[Tag, ...]:
    """The vocabulary ``--labels`` (or a config file) names: an existing file, else a comma-separated list;
    a list of labels or ``(label, description)`` pairs is checked as a vocabulary.

    A value that looks like a path (has a ``/`` or ends in ``.txt``/``.tsv``/``.csv``) but names no file is an
    error rather than a one-label list.
    """
    if isinstance(spec, (list, tuple)):
        return as_vocabulary(spec)
    if not isinstance(spec, (str, os.PathLike)):
        raise ParameterError(f"labels must be a file, a comma-separated list or a list of labels. "
                             f"Received: labels={spec!r}")
    value = os.fspath(spec)
    if not value.strip():
        raise ParameterError("--labels: empty value. Received: labels=''")
    path = Path(value).expanduser()
    if path.is_file():
        return read_labels_file(path)
    if path.exists():
        raise ParameterError(f"{value}: --labels names a folder, not a labels file")
    if os.sep in value or "/" in value or path.suffix.lower() in (".txt", ".tsv", ".csv"):
        raise ParameterError(f"{value}: labels file not found")
    if "," not in value:
        raise ParameterError(f"--labels: no file named {value!r}, and a comma-separated list needs at least "
                             f"{MIN_LABELS} labels. Received: labels={value!r}")
    return parse_label_list(value)


@functools.lru_cache(maxsize=1)
def default_vocabulary() -> tuple[Tag, ...]:
    """The default tags (``mmvideo/data/tags.tsv``), read once."""
    text = resources.files("mmvideo").joinpath("data", "tags.tsv").read_text(encoding="utf-8")
    return parse_labels(text, source="mmvideo/data/tags.tsv")


#: the line of tags.tsv after which the fine-grained tags ("goose", "drum kit") follow
FINE_MARKER = "# --- fine-grained tags:"


@functools.lru_cache(maxsize=1)
def fine_labels() -> frozenset[str]:
    """The default vocabulary's fine-grained tags: those tags.tsv lists after ``FINE_MARKER`` (generated by
    scripts/build_tag_maps.py from its FINE_* rules); the tags before it are the everyday level."""
    text = resources.files("mmvideo").joinpath("data", "tags.tsv").read_text(encoding="utf-8")
    _, marker, after = text.partition(FINE_MARKER)
    if not marker:
        return frozenset()
    return frozenset(t.label for t in parse_labels(after.partition("\n")[2], source="mmvideo/data/tags.tsv"))


def as_vocabulary(tags: object) -> tuple[Tag, ...]:
    """Normalise what callers pass (Tags, ``(label, description)`` pairs or plain label strings) to Tags."""
    out: list[Tag] = []
    for i, t in enumerate(tags):  # type: ignore[arg-type]
        if isinstance(t, str):
            tag = Tag(t.strip())
        elif isinstance(t, (tuple, list)) and 1 <= len(t) <= 2 and all(isinstance(x, str) for x in t):
            tag = Tag(t[0].strip(), (t[1] if len(t) > 1 else "").strip())
        else:
            raise ParameterError(f"vocabulary item {i} must be a label or a (label, description) pair. "
                                 f"Received: {t!r}")
        _check_label(tag.label, f"vocabulary item {i}")
        out.append(tag)
    return _finish(out, [f"vocabulary item {i}" for i in range(len(out))], "vocabulary")


def is_default(tags: tuple[Tag, ...]) -> bool:
    """True when ``tags`` is the default vocabulary (same labels and descriptions, same order)."""
    return tuple(tags) == default_vocabulary()
