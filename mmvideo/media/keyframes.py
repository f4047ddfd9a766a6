"""Where a video's keyframes are, read from its packets without decoding, and which sampling a video gets.

Keyframes decode on their own: ``-skip_frame nokey`` decodes only them, measured about 8x faster than the
``-skip_frame noref`` decode the fps path uses on 720p H.264 with a keyframe every 1.7 s. So where keyframes
are dense enough for the segments, the frame modalities can see keyframes instead of the first decoded frame
of each 1/fps bin. ``keyframe_times`` reads the video stream's packets with PyAV (demux only: the flags and
pts of each packet, no picture is decoded; a 150 s 720p file takes a few tens of ms) and ``plan_sampling``
decides, per video:

* ``"fps"``: the first decoded frame of each 1/fps bin (``-skip_frame noref``), as before.
* ``"keyframes"``: the first keyframe of each 1/fps bin, so at most ``fps`` frames per second.
* ``"auto"``: keyframes when every segment holds at least ``MIN_PER_SEGMENT`` of them (a short tail: as many as
  fps sampling would take from it), else fps: the fallback is per video.

Times are seconds from the presentation start (``MediaInfo.start_time`` subtracted), as in ``frames.py``.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from mmvideo.records import MediaInfo

log = logging.getLogger("mmvideo.media")

SAMPLE_MODES = ("auto", "keyframes", "fps")
MIN_PER_SEGMENT = 2
"""Keyframes every segment needs before ``auto`` samples keyframes (fewer in a tail shorter than 2/fps)."""


@dataclass(frozen=True)
class SamplingPlan:
    """How one video's frames are sampled: ``mode`` "keyframes" or "fps", and why (one line)."""

    mode: str
    reason: str
    keyframes: int = 0
    sparsest: int | None = None  # fewest keyframes in one segment


def keyframe_times(path: os.PathLike | str, info: MediaInfo, *, stop_after_gap: float | None = None) -> np.ndarray:
    """Presentation times (s, increasing) of the video stream's keyframe packets; demux only, nothing decoded.

    ``stop_after_gap``: stop reading once two consecutive keyframes (or the start and the first one) are more
    than this many seconds apart, since the answer (too sparse) is known; the times read so far are returned.
    Raises ``OSError``/``av.FFmpegError`` if the file cannot be read (the caller falls back to fps).
    """
    import av

    from mmvideo.media.ffmpeg import input_url

    if info.video is None:
        return np.zeros(0)
    start = Fraction(info.start_time or 0.0)
    times: list[float] = []
    with av.open(input_url(path)) as container:
        stream = container.streams[info.video.index]
        tb = stream.time_base
        last = 0.0
        for packet in container.demux(stream):
            if not packet.is_keyframe or packet.pts is None or packet.size == 0:
                continue
            t = float(packet.pts * tb - start)
            if stop_after_gap is not None and t - last > stop_after_gap:
                times.append(t)
                break
            times.append(t)
            last = t
    return np.unique(np.asarray(times, dtype=np.float64))


def segment_counts(times: np.ndarray, duration: float, segment: float) -> list[tuple[float, int]]:
    """(length, keyframes inside) of each of the run's fixed segments (``mmvideo.segment.fixed_segments``)."""
    from mmvideo.segment import fixed_segments

    return [(s.end - s.start, int(((times >= s.start) & (times < s.end)).sum()))
            for s in fixed_segments(duration, segment)]


def dense_enough(times: np.ndarray, duration: float, segment: float, fps: float = 1.0) -> tuple[bool, int]:
    """True when every segment holds ``MIN_PER_SEGMENT`` keyframes, or for a short one (a video's tail) as many
    as fps sampling would take from it (``floor(length * fps)``); and the fewest one segment holds."""
    counts = segment_counts(times, duration, segment)
    if not counts:
        return False, 0
    fewest = min(c for _, c in counts)
    ok = all(c >= min(MIN_PER_SEGMENT, math.floor(length * fps + 1e-9)) for length, c in counts)
    return ok, fewest


def plan_sampling(path: os.PathLike | str, info: MediaInfo, mode: str, segment: float,
                  fps: float = 1.0) -> SamplingPlan:
    """The sampling one video gets under ``mode`` (``SAMPLE_MODES``) with ``segment``-second windows at ``fps``."""
    if mode not in SAMPLE_MODES:
        raise ValueError(f"sample must be one of {SAMPLE_MODES}. Received: sample={mode!r}")
    if mode == "fps" or info.video is None:
        return SamplingPlan("fps", "asked for" if mode == "fps" else "no video")
    # auto: a gap longer than a segment already fails every rule, so stop reading there
    gap = None if mode == "keyframes" else segment
    try:
        times = keyframe_times(path, info, stop_after_gap=gap)
    except Exception as exc:  # noqa: BLE001 - PyAV's errors: the fps path reports what is wrong with the file
        log.debug("%s: keyframe index unreadable (%s); sampling at fps", os.fspath(path), exc)
        return SamplingPlan("fps", f"keyframe index unreadable ({type(exc).__name__})")
    if times.size == 0:
        return SamplingPlan("fps", "no keyframe found")
    if mode == "keyframes":
        return SamplingPlan("keyframes", "asked for", int(times.size))
    duration = float(info.duration or 0.0) or float(times[-1]) + 1e-3
    ok, fewest = dense_enough(times, duration, segment, fps)
    if ok:
        return SamplingPlan("keyframes", f"every {segment:g} s segment holds >= {min(MIN_PER_SEGMENT, fewest)} "
                            "keyframes", int(times.size), fewest)
    return SamplingPlan("fps", f"keyframes too sparse (a {segment:g} s segment holds {fewest})", int(times.size),
                        fewest)
