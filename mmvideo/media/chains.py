"""Decode less at fps: each bin's frame is decoded from its keyframe, the rest of the GOP is never decoded.

The fps path (``frames.py``) keeps the first decoded frame of each 1/fps bin, yet ffmpeg decodes every
reference frame of the file to find them. With a keyframe every 2 s at 1 fps, the frames after each bin's
pick up to the next keyframe are decoded for nothing: on 720p H.264 (libx264 medium, keyframe every 2 s)
53 % of the reference frames are needed, and ffmpeg used 40 % less CPU fed only those (9.1 -> 5.4 s for
150 s), with byte-identical frames and times.

How: PyAV demuxes the file (no decoding) one GOP at a time (IDR to IDR, in decode order), ``gop_prefix``
finds how much of each GOP's decode-order prefix the picks need, and only those packets are remuxed as NUT
into ffmpeg's stdin, where the unchanged fps graph decodes them. Why the frames are identical: in H.264 and
HEVC nothing after an IDR refers to anything before it, and a GOP's decode-order prefix decodes to the same
pictures as the whole GOP; every bin's pick (the earliest reference frame in the bin, by presentation time,
since ``-skip_frame noref`` drops the others) lies in a kept prefix, and the kept frames are a subset of
what the full decode gives, so ``select`` picks the same ones. NUT keeps the stream's time base; its
timestamps must not be negative, so they are shifted by whole seconds and ffmpeg's ``-itsoffset`` shifts
them back: the filter graph sees the file's own timestamps.

It applies to progressive H.264 and HEVC in length-prefixed form (MP4, MOV, MKV: phones, cameras, most web
video) with IDR keyframes and no pre-roll before the presentation start. An HEVC stream whose keyframes are
CRAs (x265's default open GOPs) is one long GOP: decoded through, only what follows the last pick is left out.
Anything else (and any file whose first GOP cannot be read) goes the plain way. A GOP over ``MAX_GOP_PACKETS``
or ``MAX_GOP_BYTES`` is passed through whole, so memory stays bounded for streams with one keyframe.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO

from mmvideo.records import MediaInfo

log = logging.getLogger("mmvideo.media")

MAX_GOP_PACKETS = 1800
"""Packets one GOP may buffer (60 s at 30 fps); a longer one is passed through whole (bounded memory)."""
MAX_GOP_BYTES = 64 << 20
"""Bytes one GOP may buffer (64 MiB: 25 s of 20 Mbit/s); a larger one is passed through whole too."""
_PROBE_PACKETS = 600  # packets read to check the first GOP before choosing this path


CODECS = ("h264", "hevc")
"""Codecs whose access units tell, in their NAL headers, reference pictures and IDRs apart."""
_HEVC_IDR = (19, 20)  # IDR_W_RADL, IDR_N_LP
_HEVC_SLICES = frozenset((*range(0, 10), *range(16, 22)))  # VCL types in use (10-15 reserved, 16-21 IRAP)


@dataclass(frozen=True)
class AccessUnit:
    """What the decoder will make of one access unit: a reference picture or not, an IDR or not."""

    ref: bool
    idr: bool


def access_unit(data: bytes | memoryview, length_size: int = 4, codec: str = "h264") -> AccessUnit | None:
    """Read the first slice NAL header of one length-prefixed access unit; None if it holds no slice.

    H.264: ``nal_ref_idc`` > 0 marks a picture others may refer to (``-skip_frame noref`` decodes exactly
    those), NAL type 5 an IDR slice. HEVC: the even VCL types up to 14 are sub-layer non-reference pictures
    (what ffmpeg's ``noref`` skips), 19 and 20 IDRs (a CRA, 21, is no restart point: its RASL pictures refer back).
    """
    i = 0
    n = len(data)
    while i + length_size < n:
        size = int.from_bytes(data[i:i + length_size], "big")
        header = data[i + length_size]
        if codec == "hevc":
            kind = (header >> 1) & 0x3F
            if kind in _HEVC_SLICES:
                return AccessUnit(ref=not (kind <= 14 and kind % 2 == 0), idr=kind in _HEVC_IDR)
        else:
            kind = header & 0x1F
            if kind in (1, 5):
                return AccessUnit(ref=(header >> 5) & 3 > 0, idr=kind == 5)
        if size <= 0:
            return None
        i += length_size + size
    return None


def gop_prefix(pts: Sequence[float], ref: Sequence[bool], last_bin: int, fps: float) -> tuple[int, int]:
    """How many packets of one GOP (in decode order) the fps picks need, and the last bin picked so far.

    ``pts``: presentation times (s from the presentation start, as the select filter computes them) of the
    GOP's packets in decode order; ``ref``:
    whether each is a reference frame (the only ones ``-skip_frame noref`` decodes). Each bin after
    ``last_bin`` that holds a reference frame of this GOP is picked by its earliest one; the GOP's prefix up to
    the last such pick in decode order is needed (0: none; the GOP is skipped).
    """
    need = 0
    order = sorted((t, j) for j, (t, r) in enumerate(zip(pts, ref)) if r)
    for t, j in order:
        b = math.floor(t * fps)  # as select computes it: floor((t - S) * R) in doubles
        if b > last_bin:
            last_bin = b
            need = max(need, j + 1)
    return need, last_bin


def nal_length_size(extradata: bytes | None, codec: str = "h264") -> int | None:
    """The NAL length size (1, 2 or 4) of length-prefixed H.264 (avcC) or HEVC (hvcC); None for Annex B or none."""
    at = 21 if codec == "hevc" else 4  # lengthSizeMinusOne's byte in the decoder configuration record
    if not extradata or len(extradata) <= at + 2 or extradata[0] != 1:
        return None
    size = (extradata[at] & 3) + 1
    return size if size in (1, 2, 4) else None


@dataclass(frozen=True)
class ChainSource:
    """A file the fps path can read through ``feed``: its NAL length size and the whole-second shift."""

    path: str
    stream_index: int
    codec: str  # one of CODECS
    length_size: int
    shift_s: int  # NUT timestamps = the file's + shift_s seconds (ffmpeg gets -itsoffset -shift_s)
    start: float  # the presentation start (MediaInfo.start_time), s


def chain_source(path: os.PathLike | str, info: MediaInfo) -> ChainSource | None:
    """The ``ChainSource`` for ``path`` when its video can be decoded in GOP prefixes, else None (why: logged).

    Reads the first GOP's packets with PyAV (demux only): H.264 with avcC extradata, time base 1/N, IDR
    keyframes, no packet before the presentation start (edit-list pre-roll the demuxer would discard)."""
    v = info.video
    codec = (v.codec or "").lower() if v is not None else ""
    if v is None or codec not in CODECS:
        return None
    try:
        import av

        from mmvideo.media.ffmpeg import input_url

        with av.open(input_url(path)) as container:
            stream = container.streams[v.index]
            length = nal_length_size(stream.codec_context.extradata, codec)
            tb = stream.time_base
            if length is None or tb is None or tb.numerator != 1:
                return _skip(path, f"not length-prefixed {codec} with a 1/N time base")
            start = Fraction(info.start_time or 0.0)
            first_dts = None
            idrs = 0
            for k, packet in enumerate(container.demux(stream)):
                if packet.size == 0:
                    continue
                if packet.pts is None:
                    return _skip(path, "packets without presentation times")
                if first_dts is None and packet.dts is not None:
                    first_dts = packet.dts * tb
                if packet.pts * tb < start - Fraction(1, 1000):
                    return _skip(path, "packets before the presentation start")
                frame = access_unit(memoryview(packet), length, codec)
                if frame is not None and frame.idr:
                    idrs += 1
                    if idrs == 2:
                        break
                if k > _PROBE_PACKETS:
                    break
    except Exception as exc:  # noqa: BLE001 - PyAV's errors: the plain path reports what is wrong
        return _skip(path, f"packets unreadable ({type(exc).__name__})")
    if first_dts is None or idrs == 0:
        return _skip(path, "no IDR keyframe near the start")
    shift = 1 + max(0, math.ceil(-first_dts))  # one more second: decode times filled in before the first
    return ChainSource(os.fspath(path), v.index, codec, length, shift, float(info.start_time or 0.0))


def _skip(path: os.PathLike | str, why: str) -> None:
    log.debug("%s: fps decode of whole GOPs (%s)", os.fspath(path), why)
    return None


def feed(source: ChainSource, fps: float, out: BinaryIO) -> tuple[int, int]:
    """Remux the packets the fps picks need from ``source`` as NUT into ``out``; (packets kept, packets read).

    Raises PyAV's errors (a damaged file) after writing what was read; ``BrokenPipeError`` if ffmpeg stopped.
    """
    import av

    from mmvideo.media.ffmpeg import input_url

    kept = read = 0
    last_bin = -1
    with av.open(input_url(source.path)) as container:
        stream = container.streams[source.stream_index]
        tb = stream.time_base
        shift = int(source.shift_s / tb)
        seconds = tb.numerator / tb.denominator  # the double ffmpeg's filters multiply pts by (NUT only
        # refines the time base by powers of 2, pts x 2^k times tb / 2^k: the same double)
        with av.open(out, "w", format="nut") as nut:
            target = nut.add_stream_from_template(stream)

            def emit(packets: Sequence) -> None:
                for packet in packets:
                    packet.pts += shift
                    packet.dts += shift
                    packet.stream = target
                    nut.mux(packet)

            for gop, whole in _gops(container.demux(stream), source.length_size, source.codec):
                read += len(gop)
                need, last_bin = gop_prefix([p.pts * seconds - source.start for p, _ in gop],
                                            [r for _, r in gop], last_bin, fps)
                if whole:  # one keyframe for a long time: decoded whole (bounded memory), as the plain path
                    need = len(gop)
                emit([p for p, _ in gop[:need]])
                kept += need
    return kept, read


def _gops(packets: Iterator, length_size: int, codec: str = "h264") -> Iterator[tuple[list, bool]]:
    """Group demuxed packets into GOPs (each starting at an IDR) of (packet, is_reference), decode order, and
    whether the GOP must be decoded whole.

    A GOP over ``MAX_GOP_PACKETS`` or ``MAX_GOP_BYTES`` is yielded in parts, all of them whole (nothing dropped
    until the next IDR: a dropped part would leave the next one without its references). Missing decode times
    (MKV leaves the first ones out) are filled one tick apart, as NUT needs them increasing."""
    gop: list = []
    size = 0
    whole = False
    waiting: list = []  # leading packets without a dts, until one has it
    last_dts = None
    for packet in packets:
        if packet.size == 0:
            continue
        if packet.pts is None:
            raise ValueError(f"a packet without a presentation time at decode time {packet.dts}")
        if packet.dts is None:
            if last_dts is None:
                waiting.append(packet)
                continue
            packet.dts = last_dts + 1
        elif waiting:
            for k, early in enumerate(waiting):
                early.dts = packet.dts - (len(waiting) - k)
        last_dts = packet.dts
        batch, waiting = [*waiting, packet], []
        for p in batch:
            frame = access_unit(memoryview(p), length_size, codec)
            if frame is not None and frame.idr and gop:
                yield gop, whole
                gop, size, whole = [], 0, False
            gop.append((p, frame is None or frame.ref or frame.idr))
            size += p.size
            if len(gop) > MAX_GOP_PACKETS or size > MAX_GOP_BYTES:
                yield gop, True
                gop, size, whole = [], 0, True
    if waiting:
        raise ValueError("no packet with a decode time")
    if gop:
        yield gop, whole
