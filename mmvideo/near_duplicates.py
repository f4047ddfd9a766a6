"""Near-duplicate videos in an output folder: the same content re-encoded, resized, trimmed or with other audio.

Each video is the sequence of its sampled frames' difference hashes (the ``frame_hashes`` column of the signature
modality; flat frames carry none). Two videos match when, at one time offset, at least ``min_frames`` frames
(and at least ``min_share`` of the shorter video's signed frames) lie within ``max_bits`` bits of each other:
a sequence, never a single frame, so clips sharing only a black or title intro stay apart. Candidate pairs come
from a band index (any 16-bit band of a hash in common), so a library is not compared pair by pair. Exact copies
(``duplicate`` rows) join their video's group. Groups are the connected components of matching pairs.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from mmvideo.write.read import read_table

MAX_BITS = 10
MIN_FRAMES = 3
MIN_SHARE = 0.5
_POP = np.array([bin(i).count("1") for i in range(1 << 16)], dtype=np.uint8)


@dataclass(frozen=True)
class Signature:
    """One video's frame hashes (N,) uint64 (0 = no signature) at times (N,) seconds (segment-spread)."""

    video_id: str
    path: str
    times: np.ndarray
    hashes: np.ndarray


@dataclass(frozen=True)
class Match:
    """Two videos that show the same content: share of the shorter one matched, and the matching time ranges."""

    a: str
    b: str
    similarity: float
    frames: int
    range_a: tuple[float, float]
    range_b: tuple[float, float]


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) bit differences between (N,) and (M,) uint64 hashes."""
    x = a[:, None] ^ b[None, :]
    return sum(_POP[((x >> np.uint64(16 * k)) & np.uint64(0xFFFF)).astype(np.int64)].astype(np.int16)
               for k in range(4))


def match(a: Signature, b: Signature, *, max_bits: int = MAX_BITS, min_frames: int = MIN_FRAMES,
          min_share: float = MIN_SHARE) -> Match | None:
    """The best time-aligned match of two videos' frame hashes, or None (see the module docstring)."""
    ia, ib = np.nonzero(a.hashes)[0], np.nonzero(b.hashes)[0]
    if len(ia) < min_frames or len(ib) < min_frames:
        return None
    close = hamming(a.hashes[ia], b.hashes[ib]) <= max_bits  # (na, nb)
    pi, pj = np.nonzero(close)
    if len(pi) < min_frames:
        return None
    offsets = a.times[ia[pi]] - b.times[ib[pj]]  # seconds: where b's frame lands in a
    step = max(np.median(np.diff(a.times)) if len(a.times) > 1 else 1.0, 1e-3)
    bins = np.round(offsets / step).astype(np.int64)
    values, counts = np.unique(bins, return_counts=True)
    near = {v: counts[max(0, k - 1):k + 2].sum() for k, v in enumerate(values)}  # a bin and its neighbours
    best = max(near, key=lambda v: (near[v], -abs(v)))
    keep = np.abs(bins - best) <= 1
    frames = min(len(np.unique(pi[keep])), len(np.unique(pj[keep])))
    share = frames / min(len(ia), len(ib))
    if frames < min_frames or share < min_share:
        return None
    ta, tb = a.times[ia[pi[keep]]], b.times[ib[pj[keep]]]
    return Match(a.video_id, b.video_id, float(min(1.0, share)), int(frames), (float(ta.min()), float(ta.max())),
                 (float(tb.min()), float(tb.max())))


def candidates(signatures: list[Signature]) -> set[tuple[int, int]]:
    """Index pairs that share a 16-bit band of some signed frame hash (the only pairs worth comparing)."""
    bands: dict[tuple[int, int], set[int]] = defaultdict(set)
    for n, s in enumerate(signatures):
        for h in s.hashes[s.hashes != 0]:
            for k in range(4):
                bands[(k, int(h >> np.uint64(16 * k)) & 0xFFFF)].add(n)
    pairs: set[tuple[int, int]] = set()
    for members in bands.values():
        if 1 < len(members) <= 64:  # a band value shared by very many videos says nothing
            m = sorted(members)
            pairs.update((x, y) for i, x in enumerate(m) for y in m[i + 1:])
    return pairs


def read_signatures(out_dir: os.PathLike | str) -> list[Signature]:
    """Every done video's frame hash sequence (videos processed without the signature modality have none)."""
    table = read_table(out_dir, "segments")
    if "frame_hashes" not in table.column_names:
        return []
    rows = table.select(["video_id", "path", "start", "end", "frame_hashes"]).to_pylist()
    per: dict[str, list] = defaultdict(list)
    for r in rows:
        per[r["video_id"]].append(r)
    out = []
    for vid, segs in per.items():
        times, hashes = [], []
        for r in sorted(segs, key=lambda r: r["start"]):
            hs = r["frame_hashes"] or []
            step = (r["end"] - r["start"]) / max(len(hs), 1)
            times += [r["start"] + (i + 0.5) * step for i in range(len(hs))]
            hashes += hs
        out.append(Signature(vid, segs[0]["path"], np.array(times, dtype=np.float64),
                             np.array(hashes, dtype=np.uint64)))
    return sorted(out, key=lambda s: s.path)


def find_groups(out_dir: os.PathLike | str, **options: float) -> list[tuple[list[tuple[str, str]], list[Match]]]:
    """Groups of near-duplicate videos: ([(video_id, path), ...], the matches that joined them), largest first."""
    sigs = read_signatures(out_dir)
    matches = [m for i, j in sorted(candidates(sigs)) if (m := match(sigs[i], sigs[j], **options)) is not None]
    paths = {s.video_id: s.path for s in sigs}
    parent = {v: v for v in paths}

    def root(v: str) -> str:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for m in matches:
        parent[root(m.a)] = root(m.b)
    copies = [v for v in read_table(out_dir, "videos").to_pylist() if v["status"] == "duplicate"
              and v.get("duplicate_of") in paths]
    for c in copies:  # exact copies (same content, another path) belong to their video's group
        paths[c["video_id"]] = c["path"]
        parent[c["video_id"]] = root(c["duplicate_of"])
        matches.append(Match(c["duplicate_of"], c["video_id"], 1.0, 0, (0.0, 0.0), (0.0, 0.0)))
    groups: dict[str, list[str]] = defaultdict(list)
    for v in paths:
        groups[root(v)].append(v)
    out = []
    for members in groups.values():
        if len(members) > 1:
            ids = set(members)
            out.append((sorted(((v, paths[v]) for v in members), key=lambda x: x[1]),
                        [m for m in matches if m.a in ids]))
    return sorted(out, key=lambda g: (-len(g[0]), g[0][0][1]))
