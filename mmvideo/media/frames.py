"""Sample RGB frames out of a video at a fixed rate, with their true presentation times.

One ffmpeg process per video; frames come as rgb24 through a raw stdout pipe, read exactly one frame
(W*H*3 bytes) at a time into chunks, so memory stays bounded for any length.

Graph, in order (built with ffmpeg-python, argv from ``frame_args``):

* input options ``-skip_frame noref -skip_loop_filter all``: the decoder drops frames nothing refers
  to and skips deblocking (a third less decode time at 224 px). If that yields no frame at all
  (encoders that mark every frame non-reference; ffmpeg then exits with an error) the run is
  repeated without them, and only that second run's failure is raised.
* or, for keyframe sampling (``keyframes=True``), ``-skip_frame nokey -skip_loop_filter all``: only
  keyframes are decoded (each decodes on its own), so ``select`` below keeps the first *keyframe* of each
  bin, at most fps frames a second and none in a bin without a keyframe. Measured 5-7x less decode time
  than ``noref`` on 720p H.264 with a keyframe every 2.4 s (``mmvideo.media.keyframes`` decides when a
  video's keyframes are dense enough). If no frame at all comes out, the fps path runs instead.
* for H.264 and HEVC in MP4/MOV/MKV the input is ``pipe:0`` instead: ``mmvideo.media.chains`` demuxes the file with
  PyAV and writes, as NUT, only each GOP's decode-order prefix up to the last bin pick it holds, so the GOP
  tails after the picks are never decoded (the same frames and times, byte for byte; about 40 % less decode
  CPU with a keyframe every 2 s at 1 fps). Any other input, or nothing coming out that way, takes the file.
* ``select`` keeps the first decoded frame of each 1/fps bin:
  ``isnan(prev_selected_t) + gte(floor((t-S)*R), floor((prev_selected_t-S)*R)+1)``
  (S = presentation start, R = fps); the output keeps each frame's own pts (``-fps_mode passthrough``).
* ``yadif`` (send_frame, deint=interlaced) only for interlaced streams, after ``select``: one frame per
  bin, so it costs nothing at 1 fps. Its neighbours are then 1/fps apart, so it falls back to its
  spatial interpolation where the picture moved: combing is removed, no temporal quality is gained.
* ``scale`` to the target size (only sampled frames are scaled), ``format=rgb24``, then the rotation
  (``transpose``/``hflip,vflip`` from ``VideoStreamInfo.rotation``) on the small picture, and ``pad``
  for the letterbox policy. ffmpeg's own autorotate is switched off (``-noautorotate``) because it
  rotates every decoded frame before ``select``: measured +30 % time on a rotated 1080p clip.
* ``showinfo=checksum=0`` last: it logs each emitted frame's pts (and its time base) on stderr; a
  thread reads those lines (ffmpeg runs with ``-loglevel level+info``, every line tagged with its
  level, so errors are still told apart) and pairs the k-th line with the k-th frame of the pipe.

Timestamps: evaluated against synthetic clips whose pixels encode the frame index
(tests/test_frames.py, libx264 with B-frames, 30 fps CFR and a VFR clip). The ``fps`` filter
labels frames with tick times n/fps, not the times of the frames it picked: measured error up to
0.47 s at 1 fps on CFR (it takes the frame nearest the tick from below, up to half a bin away) and
0.60 s on VFR, with or without ``-skip_frame noref``. ``select`` + ``showinfo`` reports the real pts
of the frame actually emitted, exact (integer pts x time base), at the same speed: error 0 on both
clips. A bin without any frame (a VFR gap longer than 1/fps) yields no frame instead of a duplicate;
with ``-skip_frame noref`` the first frame of a bin can be a few source frames after the bin start
(skipped B-frames), but its timestamp is its own.

Timeline: ``-copyts`` keeps the file's own pts and the start S = ``MediaInfo.start_time`` is
subtracted here. Without it ffmpeg subtracts the start of the *mapped* streams only, so a video-only
run and an audio-only run of the same file (an AVCHD .mts: video starts 0.08 s after audio) would
not share one timeline.

Aspect policy: ``"squash"`` (default) scales the whole picture to (W, H), ignoring proportions:
nothing is cut away (a centre crop lost most of a 2.35:1 scene and tagged worse). ``"pad"`` scales
to fit inside (W, H) keeping the display aspect (sample aspect ratio and rotation included) and
fills the rest with black.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import re
import time
from collections.abc import Callable, Generator
from fractions import Fraction
from typing import BinaryIO

import ffmpeg
import numpy as np

from mmvideo.errors import FfmpegError, ParameterError
from mmvideo.media.chains import ChainSource, chain_source, feed
from mmvideo.media.ffmpeg import input_url
from mmvideo.media.pipe import FfmpegPipe, MediaStream
from mmvideo.media.stream_end import finish_stream, warn
from mmvideo.records import FrameChunk, MediaInfo, VideoStreamInfo

log = logging.getLogger("mmvideo.media")

ASPECTS = ("squash", "pad")
# (filter, kwargs) applied after scaling, per VideoStreamInfo.rotation (degrees counter-clockwise
# of the display matrix; ffmpeg's autorotate does the same: 270 -> clockwise, 90 -> counter-clockwise)
_ROTATE = {
    90: (("transpose", {"dir": "cclock"}),),
    180: (("hflip", {}), ("vflip", {})),
    270: (("transpose", {"dir": "clock"}),),
}
_SHOWINFO_FRAME = re.compile(r"^n:\s*\d+\s+pts:\s*(?P<pts>-?\d+|NOPTS)\s+pts_time:\s*(?P<time>\S+)")
_SHOWINFO_TB = re.compile(r"^config in time_base:\s*(?P<num>\d+)/(?P<den>\d+)")
_TS_WAIT_S = 0.5
# ffmpeg logs a frame's showinfo line before it writes the frame, so the line is there once the frame
# is read; waiting longer than this means the line will never come (and ffmpeg may be blocked on us).
_TS_DEADLINE_S = 30.0


def _check_args(fps: float, size: tuple[int, int], chunk_frames: int, aspect: str) -> tuple[int, int]:
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ParameterError(f"fps must be a finite number > 0. Received: fps={fps!r}")
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ParameterError(f"size must be (width, height). Received: size={size!r}") from None
    if w < 1 or h < 1 or (w, h) != tuple(size):
        raise ParameterError(f"size must be two positive integers (W, H). Received: size={size!r}")
    if not isinstance(chunk_frames, int) or chunk_frames < 1:
        raise ParameterError(f"chunk_frames must be an int >= 1. Received: chunk_frames={chunk_frames!r}")
    if aspect not in ASPECTS:
        raise ParameterError(f"aspect must be one of {ASPECTS}. Received: aspect={aspect!r}")
    return w, h


def _is_interlaced(v: VideoStreamInfo) -> bool:
    if v.interlaced is not None:
        return v.interlaced
    return v.field_order not in (None, "", "progressive", "unknown")


def _fit(display: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """Largest (w, h) with ``display``'s aspect that fits inside ``box`` (both at least 1 px)."""
    dw, dh = display
    bw, bh = box
    if dw <= 0 or dh <= 0:
        return box
    s = min(bw / dw, bh / dh)
    return max(1, min(bw, round(dw * s))), max(1, min(bh, round(dh * s)))


def frame_args(path: os.PathLike | str, info: MediaInfo, *, fps: float = 1.0,
               size: tuple[int, int] = (224, 224), aspect: str = "squash",
               skip_nonref: bool = True, keyframes_only: bool = False,
               chain: ChainSource | None = None) -> list[str]:
    """ffmpeg arguments (after the binary and global log options) that write sampled rgb24 frames
    of ``path`` at ``size`` = (W, H) to stdout, with a ``showinfo`` line per frame on stderr.

    ``keyframes_only``: the decoder decodes keyframes alone (``-skip_frame nokey``), so each 1/fps bin
    yields its first keyframe, if it holds one; else ``skip_nonref`` chooses ``noref`` or every frame.
    ``chain``: the video comes as NUT on stdin, only the GOP prefixes the picks need (``mmvideo.media.chains``),
    its timestamps shifted back to the file's own."""
    w, h = _check_args(fps, size, 1, aspect)
    v = info.video
    if v is None:
        raise ParameterError(f"{os.fspath(path)}: no video stream to sample frames from")
    rotation = v.rotation % 360
    if rotation not in (0, *_ROTATE):
        log.warning("%s: rotation %s is not a multiple of 90 degrees, ignored", os.fspath(path), v.rotation)
        rotation = 0

    input_opts: dict[str, object] = {"noautorotate": None}
    if keyframes_only:
        input_opts.update(skip_frame="nokey", skip_loop_filter="all")
    elif skip_nonref:
        input_opts.update(skip_frame="noref", skip_loop_filter="all")
    if chain is None:
        stream = ffmpeg.input(input_url(path), **input_opts)[str(v.index)]
    else:
        shift = {"itsoffset": -chain.shift_s} if chain.shift_s else {}
        stream = ffmpeg.input("pipe:0", f="nut", **shift, **input_opts)["0"]

    start = float(info.start_time or 0.0)
    rel = f"(t-({start!r}))" if start else "t"
    prev = f"(prev_selected_t-({start!r}))" if start else "prev_selected_t"
    rate = repr(float(fps))
    first_of_bin = f"isnan(prev_selected_t)+gte(floor({rel}*{rate}),floor({prev}*{rate})+1)"
    stream = stream.filter("select", first_of_bin)
    if _is_interlaced(v):
        stream = stream.filter("yadif", mode="send_frame", parity="auto", deint="interlaced")

    inner = (w, h) if aspect == "squash" else _fit(v.display_size, (w, h))
    sw, sh = (inner[1], inner[0]) if rotation in (90, 270) else inner  # scale before rotating
    stream = stream.filter("scale", sw, sh).filter("format", "rgb24")
    for name, kwargs in _ROTATE.get(rotation, ()):
        stream = stream.filter(name, **kwargs)
    if inner != (w, h):
        stream = stream.filter("pad", w, h, (w - inner[0]) // 2, (h - inner[1]) // 2, color="black")
    stream = stream.filter("setsar", 1).filter("showinfo", checksum=0)
    out = stream.output("pipe:", format="rawvideo", pix_fmt="rgb24", fps_mode="passthrough")
    return ["-copyts", *out.compile(cmd="ffmpeg")[1:]]


class _Showinfo:
    """Turns ``showinfo`` log lines into frame times (float seconds from ``start``), in order."""

    def __init__(self, start: float) -> None:
        self._start = Fraction(start)
        self._time_base: Fraction | None = None
        self.times: queue.SimpleQueue[float] = queue.SimpleQueue()

    def __call__(self, source: str, msg: str) -> None:
        if not source.startswith("Parsed_showinfo"):
            return
        m = _SHOWINFO_FRAME.match(msg)
        if m:
            pts = m.group("pts")
            if pts == "NOPTS":
                self.times.put(math.nan)
            elif self._time_base is not None:  # exact: integer pts x time base
                self.times.put(float(int(pts) * self._time_base - self._start))
            else:  # no "config" line seen: the printed time (microsecond precision)
                self.times.put(float(Fraction(m.group("time")) - self._start))
            return
        m = _SHOWINFO_TB.match(msg)
        if m and int(m.group("den")):
            self._time_base = Fraction(int(m.group("num")), int(m.group("den")))

    def next_time(self, pipe: FfmpegPipe) -> float | None:
        """The time of the next frame; None if ffmpeg ended or stalled without reporting one."""
        deadline = time.monotonic() + _TS_DEADLINE_S
        while True:
            try:
                return self.times.get(timeout=_TS_WAIT_S)
            except queue.Empty:
                if pipe.stderr_done or time.monotonic() > deadline:
                    try:
                        return self.times.get_nowait()
                    except queue.Empty:
                        return None


def iter_frames(path: os.PathLike | str, info: MediaInfo, *, fps: float = 1.0,
                size: tuple[int, int] = (224, 224), chunk_frames: int = 64,
                aspect: str = "squash", keyframes: bool = False) -> MediaStream[FrameChunk]:
    """Frames sampled at ``fps`` (the first frame of each 1/fps bin), in chunks of ``chunk_frames``.

    ``keyframes``: the first *keyframe* of each 1/fps bin instead, decoding keyframes only (bins without
    one yield nothing; see ``mmvideo.media.keyframes`` for when a video is dense enough). If that yields no
    frame at all the fps path runs instead, with a warning.

    Each ``FrameChunk``: ``timestamps`` (N,) float64 seconds from the presentation start, increasing;
    ``frames`` (N, H, W, 3) uint8 RGB, upright, ``size`` = (W, H). Yields nothing when ``info`` has no
    video. Decode problems become ``.warnings`` of the returned stream (also logged); a file ffmpeg
    cannot read at all raises ``FfmpegError``. Closing the stream early stops ffmpeg.
    """
    w, h = _check_args(fps, size, chunk_frames, aspect)
    path = os.fspath(path)
    if info.video is None:
        return MediaStream(lambda warnings: (c for c in ()))

    def run(warnings: list[str]) -> Generator[FrameChunk, None, None]:
        if keyframes:
            args = frame_args(path, info, fps=fps, size=(w, h), aspect=aspect, keyframes_only=True)
            try:
                if (yield from _stream(path, args, info.start_time, (w, h), chunk_frames, warnings)):
                    return
            except FfmpegError:
                pass  # as below: no frame reached the output
            warn(warnings, path, "no frame survived -skip_frame nokey; sampling at fps instead")
        chain = None if _is_interlaced(info.video) else chain_source(path, info)
        if chain is not None:  # the same frames, decoding only the GOP prefixes the picks need
            args = frame_args(path, info, fps=fps, size=(w, h), aspect=aspect, chain=chain)
            try:
                if (yield from _stream(path, args, info.start_time, (w, h), chunk_frames, warnings,
                                       feed=lambda out: feed(chain, fps, out))):
                    return
            except FfmpegError:
                pass  # nothing came out: the plain path below says why
        for skip_nonref in (True, False):
            args = frame_args(path, info, fps=fps, size=(w, h), aspect=aspect, skip_nonref=skip_nonref)
            try:
                emitted = yield from _stream(path, args, info.start_time, (w, h), chunk_frames, warnings)
            except FfmpegError:
                if not skip_nonref:
                    raise
                emitted = 0  # ffmpeg fails when no frame reaches the output: maybe all were non-ref
            if emitted or not skip_nonref:
                return
            warn(warnings, path, "no frame survived -skip_frame noref; decoding every frame instead")

    return MediaStream(run)


def _stream(path: str, args: list[str], start: float, size: tuple[int, int], chunk_frames: int,
            warnings: list[str],
            feed: Callable[[BinaryIO], object] | None = None) -> Generator[FrameChunk, None, int]:
    """Run one ffmpeg command (``feed`` writing its stdin) and yield its frames in chunks; returns how many
    frames it yielded."""
    w, h = size
    times = _Showinfo(start)
    pipe = FfmpegPipe(args, path, on_info=times, feed=feed)
    emitted = 0
    try:
        frames = np.empty((chunk_frames, h, w, 3), np.uint8)
        stamps = np.empty(chunk_frames, np.float64)
        k = 0
        while True:
            got = pipe.read_exact(memoryview(frames[k]).cast("B"))
            if got < w * h * 3:
                if got:
                    warn(warnings, path, f"ffmpeg output ended inside a frame ({got} of {w * h * 3} bytes)")
                break
            t = times.next_time(pipe)
            if t is None:
                raise pipe.error("ffmpeg did not report the time of a frame")
            stamps[k] = t
            k += 1
            if k == chunk_frames:
                yield FrameChunk(stamps, frames)
                emitted += k
                frames = np.empty((chunk_frames, h, w, 3), np.uint8)
                stamps = np.empty(chunk_frames, np.float64)
                k = 0
        if k:
            yield FrameChunk(stamps[:k].copy(), frames[:k].copy())
            emitted += k
        rc = pipe.wait()
    finally:
        pipe.close()
    finish_stream(pipe, rc, warnings, path, produced=f"{emitted} frames" if emitted else None,
                  damaged="decode errors, some frames may be missing")
    return emitted
