"""What the output folder recorded against what is on disk now: copies, moved files, files that are gone.

A content id has one video row, at one path. Before a run works, the driver settles the other paths:
``assign_roles`` marks each further path holding recorded or repeated content as a copy
(``duplicate_of``) or, when the recorded path is gone, takes the first one as the video's new path (a
``Move``); ``apply_moves`` records the new paths (state row and the parts' ``path`` column);
``drop_superseded`` removes the parts a path owned under another key (a copy that became the video);
``prune_missing`` removes the results and rows of recorded paths that no longer exist. Each first splits the
videos it changes out of compacted files (``compact.evict``), so it works on per-video parts alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from mmvideo.discover import content_id
from mmvideo.records import VideoFile
from mmvideo.state import State, VideoState
from mmvideo.write.compact import evict
from mmvideo.write.writer import relocate, remove_parts


@dataclass(frozen=True)
class Move:
    """Video ``video_id`` recorded at ``old_path`` (now gone) is at ``new_path``."""

    video_id: str
    old_path: str
    new_path: str


def holds(path: str, video_id: str) -> bool:
    """True when ``path`` still exists with content id ``video_id``."""
    try:
        return os.path.isfile(path) and content_id(path) == video_id
    except OSError:
        return False


def assign_roles(files: Iterable[VideoFile], recorded: Mapping[str, str],
                 still_there: Callable[[str, str], bool] = holds) -> tuple[list[VideoFile], list[Move]]:
    """``files`` in the same order, each further path of one content marked as its copy; and the moves.

    ``recorded`` maps content ids to their recorded path. Per content id: the recorded path is the video
    when it is among ``files``; when it is elsewhere and ``still_there``, every path in ``files`` is a
    copy; else the first path in ``files`` is the video (a ``Move`` when a gone path was recorded). Files
    with ``error`` (empty) are never copies.
    """
    files = list(files)
    groups: dict[str, list[str]] = {}
    for f in files:
        if f.error is None:
            groups.setdefault(f.content_id, []).append(f.path)
    canonical: dict[str, str | None] = {}
    moves = []
    for cid, paths in groups.items():
        rec = recorded.get(cid)
        if rec is None or rec in paths:
            canonical[cid] = rec or paths[0]
        elif still_there(rec, cid):
            canonical[cid] = None
        else:
            canonical[cid] = paths[0]
            moves.append(Move(cid, rec, paths[0]))
    roles = [f if f.error is not None or canonical[f.content_id] == f.path else replace(f, duplicate_of=f.content_id)
             for f in files]
    return roles, moves


def apply_moves(out_dir: os.PathLike | str, state: State, moves: Iterable[Move]) -> None:
    """Record each moved video's new path: its state row and the ``path`` of its rows in every part."""
    moves = list(moves)
    evict(out_dir, [m.video_id for m in moves])
    for move in moves:
        relocate(out_dir, move.video_id, move.new_path)
        state.set_path(move.video_id, move.new_path)


def drop_superseded(out_dir: os.PathLike | str, state: State, files: Iterable[VideoFile]) -> None:
    """Remove what a path owned under another key than it has now (a recorded copy that is now the video,
    or an error file that is now a copy): its parts, and its copy row when it is now the video."""
    stale = []
    for f in files:
        prev = state.get_file(f.path)
        if prev is not None and prev.part_key != f.key:
            stale.append((f, prev))
    evict(out_dir, [prev.part_key for _, prev in stale])
    for f, prev in stale:
        remove_parts(out_dir, prev.part_key)
        if f.error is None and f.duplicate_of is None:
            state.forget(prev)


def prune_missing(out_dir: os.PathLike | str, state: State,
                  exists: Callable[[str], bool] | None = None) -> list[VideoState]:
    """Remove the results (parts in every format, evidence) and state rows of recorded files that no longer
    exist; returns them."""
    gone = state.missing(exists)
    evict(out_dir, [entry.part_key for entry in gone])
    for entry in gone:
        remove_parts(out_dir, entry.part_key)
        state.forget(entry)
    return gone
