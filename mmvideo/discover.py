"""Find the media files under folders, in a stable order, each with a content id that survives renames.

Rules for files met while walking a folder:

* skipped: hidden names (leading ``.``, files and folders), partial downloads (``.part``, ``.crdownload``,
  ``.tmp``, ``.download``, ``.partial``), empty files, anything that is not a regular file (FIFOs, sockets,
  devices: opening them could block), subtitle sidecars and obvious non-media (``.srt``, ``.txt``,
  ``.jpg``...);
* picked: known audio/video extensions (``mmvideo.media.probe_formats``), and files with an unknown
  extension that PyAV opens as audio or video (``probe_unknown=True``; header only, no decoding). With
  ``probe_unknown`` the content of ``.ts`` files is checked too, as TypeScript sources share the extension.

A file named explicitly in ``paths`` is the user's choice: it is picked unless it is empty or has a known
non-media extension, even when hidden, partial or of unknown extension; probing then says whether it is
usable. With ``include_empty=True`` (what a run uses, so every input is accounted for) empty media files
are yielded too, with ``error="empty file"``, instead of skipped. Folders are walked depth-first, entries
sorted by name (code point order); symbolic links are followed unless ``follow_symlinks=False`` (then links
met while walking are skipped; links named in ``paths`` are still followed). Each real folder is entered
once, so link loops end; each real file is yielded once. Unreadable files and folders are skipped with a warning on the ``mmvideo.discover`` logger.

Discovery streams (only the names of the folders being walked are held). Given ``ids`` (a ``KnownIds``, e.g. the output
folder's ``state.ContentIds``), a file whose (device, inode, size, mtime, ctime) match what was recorded for
its path keeps its recorded content id: a rerun over an unchanged library costs a ``stat`` per file, no
reads. Any change to those hashes the file again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Iterable, Iterator
from typing import Protocol

from mmvideo.media.probe_formats import (AMBIGUOUS_EXTENSIONS, MEDIA_EXTENSIONS, NOT_MEDIA_EXTENSIONS,
                                         PARTIAL_EXTENSIONS)
from mmvideo.records import VideoFile

log = logging.getLogger("mmvideo.discover")

CONTENT_ID_CHUNK = 1 << 20  # bytes read at the start, middle and end of a file
_CONTENT_ID_PERSON = b"mmvideo-cid-v1"  # blake2b personalisation: bump when the recipe changes


class KnownIds(Protocol):
    """Content ids remembered from earlier runs, valid while a file's ``stat`` is unchanged."""

    def lookup(self, path: str, st: os.stat_result) -> str | None:
        """The recorded content id of ``path`` if ``st`` still matches what was recorded, else None."""

    def store(self, path: str, st: os.stat_result, content_id: str) -> None:
        """Remember ``content_id`` for ``path`` as it was when ``st`` was taken."""


def discover(paths: Iterable[str | os.PathLike], *, follow_symlinks: bool = True,
             probe_unknown: bool = True, include_empty: bool = False,
             ids: KnownIds | None = None) -> Iterator[VideoFile]:
    """Yield the media files in ``paths`` (files and folders, walked recursively), see the module rules.

    Paths in the records are absolute (symbolic links kept, not resolved). Top-level ``paths`` keep the
    caller's order; a path that does not exist is skipped with a warning. ``ids``: reuse content ids of
    unchanged files and remember new ones (see the module docstring); without it every file is hashed.
    """
    seen_files: set[int] = set()
    seen_dirs: set[tuple[int, int]] = set()
    for given in paths:
        path = os.path.abspath(os.fsdecode(os.fspath(given)))
        try:
            st = os.stat(path)
        except OSError as exc:
            log.warning("%s: skipped: %s", os.fsdecode(os.fspath(given)), _reason(exc))
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(path, st, seen_dirs, seen_files, follow_symlinks, probe_unknown, include_empty, ids)
        elif not stat.S_ISREG(st.st_mode):
            log.warning("%s: skipped: not a regular file", path)
        elif _explicit_file_wanted(path, st, include_empty):
            found = _record(path, st, seen_files, ids)
            if found is not None:
                yield found


def content_id(path: str | os.PathLike) -> str:
    """A 20-hex-digit id of the file's content: equal for a renamed or copied file, cheap for any size.

    blake2b over the size, the first, middle and last ``CONTENT_ID_CHUNK`` bytes (the whole file when it is
    at most three chunks). Safe enough for media: an edit, re-encode, remux or truncation changes the size
    or the container headers/index, which sit in the first or last chunk; two different real videos of
    exactly equal size and equal 3 MiB samples do not occur in practice. What it does not see: a byte flipped
    in place in an unsampled region of a large file (bit rot), which keeps the old id.
    """
    h = hashlib.blake2b(digest_size=10, person=_CONTENT_ID_PERSON)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        h.update(size.to_bytes(8, "little"))
        if size <= 3 * CONTENT_ID_CHUNK:
            offsets = [0]
            lengths = [size]
        else:
            offsets = [0, (size - CONTENT_ID_CHUNK) // 2, size - CONTENT_ID_CHUNK]
            lengths = [CONTENT_ID_CHUNK] * 3
        for offset, length in zip(offsets, lengths):
            f.seek(offset)
            h.update(f.read(length))
    return h.hexdigest()


# --- walking -------------------------------------------------------------------------------------

def _walk(root: str, root_stat: os.stat_result, seen_dirs: set[tuple[int, int]],
          seen_files: set[int], follow_symlinks: bool,
          probe_unknown: bool, include_empty: bool = False, ids: KnownIds | None = None) -> Iterator[VideoFile]:
    """Depth-first walk of ``root`` with an explicit stack (no recursion limit), entries sorted by name."""
    seen_dirs.add((root_stat.st_dev, root_stat.st_ino))
    stack = [iter(_list_dir(root))]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        if entry.name.startswith("."):
            log.debug("%s: skipped: hidden", entry.path)
            continue
        try:
            if entry.is_symlink() and not follow_symlinks:
                log.debug("%s: skipped: symbolic link", entry.path)
                continue
            st = entry.stat(follow_symlinks=True)
        except OSError as exc:
            log.warning("%s: skipped: %s", entry.path, _reason(exc))
            continue
        if stat.S_ISDIR(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:
                log.debug("%s: skipped: folder already walked (link loop?)", entry.path)
                continue
            seen_dirs.add(key)
            stack.append(iter(_list_dir(entry.path)))
        elif stat.S_ISREG(st.st_mode) and _walked_file_wanted(entry.path, entry.name, st, probe_unknown,
                                                              include_empty):
            found = _record(entry.path, st, seen_files, ids)
            if found is not None:
                yield found


def _list_dir(path: str) -> list[os.DirEntry]:
    """Entries of ``path`` sorted by name; empty (with a warning) when it cannot be read."""
    try:
        with os.scandir(path) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError as exc:
        log.warning("%s: skipped folder: %s", path, _reason(exc))
        return []


def _walked_file_wanted(path: str, name: str, st: os.stat_result, probe_unknown: bool,
                        include_empty: bool = False) -> bool:
    ext = os.path.splitext(name)[1].lower()
    if ext in PARTIAL_EXTENSIONS:
        log.debug("%s: skipped: partial download", path)
        return False
    if st.st_size == 0:  # nothing to sniff: an empty file counts as media only by its extension
        if include_empty and ext in MEDIA_EXTENSIONS:
            return True
        log.debug("%s: skipped: empty file", path)
        return False
    if ext in MEDIA_EXTENSIONS and not (ext in AMBIGUOUS_EXTENSIONS and probe_unknown):
        return True
    if ext in NOT_MEDIA_EXTENSIONS or not probe_unknown:
        return False
    from mmvideo.media.probe import sniff  # PyAV only for the rare unknown extension

    return sniff(path)


def _explicit_file_wanted(path: str, st: os.stat_result, include_empty: bool = False) -> bool:
    if os.path.splitext(path)[1].lower() in NOT_MEDIA_EXTENSIONS:
        log.warning("%s: skipped: not a media file (by its extension)", path)
        return False
    if st.st_size == 0 and not include_empty:
        log.warning("%s: skipped: empty file", path)
        return False
    return True


def _record(path: str, st: os.stat_result, seen_files: set[int], ids: KnownIds | None = None
            ) -> VideoFile | None:
    """The ``VideoFile`` for ``path``, or None when it was already yielded or cannot be read."""
    key = (st.st_dev << 64) | st.st_ino  # one int: a third of a tuple's memory on 100,000-file libraries
    if key in seen_files:
        log.debug("%s: skipped: same file already found", path)
        return None
    cid = ids.lookup(path, st) if ids is not None else None
    if cid is None:
        try:
            cid = content_id(path)
        except OSError as exc:
            log.warning("%s: skipped: %s", path, _reason(exc))
            return None
        if ids is not None:
            ids.store(path, st, cid)
    seen_files.add(key)
    return VideoFile(path=path, content_id=cid, size=st.st_size, mtime=st.st_mtime,
                     error="empty file" if st.st_size == 0 else None)


def _reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file or folder"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return (exc.strerror or str(exc)).lower()
