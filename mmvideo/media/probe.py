"""Probe a media file with PyAV: container, duration, the video stream, audio and subtitle streams.

Cheap by design: the container header, one decoded frame of the main stream (to prove the file holds
decodable content and to read the rotation and interlacing the decoder reports), and a packet scan only
when neither the header nor the streams give a duration. There is no ffprobe; PyAV reads the same headers.

Conventions (see ``mmvideo.records``): ``rotation`` is in degrees counter-clockwise, as ffmpeg's display
matrix reports it (``av_display_rotation_get``), normalised to 0, 90, 180 or 270 (so ffprobe's
``rotation=-90``, a phone held upright, is 270: the picture must be turned 90 degrees clockwise to show).
Durations and start times are float seconds; the duration does not include the start time.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from fractions import Fraction

import av
import av.error

from mmvideo.errors import MediaError
from mmvideo.media.ffmpeg import input_url
from mmvideo.media.probe_formats import MEDIA_EXTENSIONS
from mmvideo.records import (AttachedPicture, AudioStreamInfo, MediaInfo, SubtitleStreamInfo,
                             VideoStreamInfo)

# Subtitle codecs by kind (ffmpeg codec names); the codec descriptor's text/bitmap flags decide the rest.
TEXT_SUBTITLE_CODECS = frozenset({"subrip", "srt", "ass", "ssa", "mov_text", "webvtt", "text",
                                  "microdvd", "subviewer", "subviewer1", "sami", "realtext", "mpl2",
                                  "pjs", "jacosub", "vplayer", "stl", "eia_608", "ttml"})
BITMAP_SUBTITLE_CODECS = frozenset({"hdmv_pgs_subtitle", "dvb_subtitle", "dvd_subtitle", "xsub",
                                    "dvb_teletext", "arib_caption"})

# Demuxers that open still images or text as a one-frame "video": never media for mmvideo.
_STILL_OR_TEXT_FORMATS = frozenset({"image2", "tty", "gif", "apng", "webp", "ico", "svg", "bin",
                                    "lavfi", "image2pipe"})

# Only local files (a playlist or concat list must never make ffmpeg open URLs); tags that are not UTF-8
# (old cameras write Latin-1) get replacement characters instead of failing the file.
_OPEN_KWARGS = {"container_options": {"protocol_whitelist": "file"}, "metadata_errors": "replace"}

# How many packets of the main stream to try before deciding nothing in the file decodes.
MAX_PACKETS_TO_FIRST_FRAME = 600

# ffmpeg AVFieldOrder values -> ffprobe's names.
_FIELD_ORDERS = {1: "progressive", 2: "tt", 3: "bb", 4: "tb", 5: "bt"}

_ATTACHED = av.stream.Disposition.attached_pic | av.stream.Disposition.timed_thumbnails
_UNDEFINED_LANGUAGES = frozenset({"", "und", "unk", "none", "zxx", "mis"})
_MKV_DURATION = re.compile(r"^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$")


def probe(path: os.PathLike | str) -> MediaInfo:
    """Describe one media file; raise ``MediaError(path, cause)`` when it is not usable media.

    Decodes the first frame of the video stream (or of the first audio stream for audio-only files), so a
    file whose header promises frames that are not there fails here with a one-line cause, not later.
    """
    path = os.fspath(path)
    size = _check_regular_file(path)
    container = _open(path)
    try:
        with container:
            info = _inspect(container, path, size)
    except av.error.FFmpegError as exc:  # a read error PyAV raises outside the guarded steps
        raise MediaError(path, f"invalid data: {_strerror(exc)}", stage="probe") from None
    if info.duration is None:
        return _with_scanned_duration(info, path)
    return info


def sniff(path: os.PathLike | str) -> bool:
    """True when PyAV opens ``path`` as audio or video (not a still image, text or subtitles only).

    Header only, no decoding: used by discovery for files with an unknown extension.
    """
    try:
        with av.open(input_url(path), **_OPEN_KWARGS) as container:
            if _is_still_or_text(container):
                return False
            return any(s.type == "audio" or (s.type == "video" and not _is_attached(s))
                       for s in container.streams if s.codec_context is not None)
    except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError):
        return False


# --- opening -------------------------------------------------------------------------------------

def _check_regular_file(path: str) -> int:
    """Size in bytes of ``path``; ``MediaError`` when it is missing, not a file, unreadable or empty."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise MediaError(path, "file not found", stage="probe") from None
    except PermissionError:
        raise MediaError(path, "permission denied", stage="probe") from None
    except OSError as exc:
        raise MediaError(path, f"cannot read: {exc.strerror or exc}", stage="probe") from None
    if stat.S_ISDIR(st.st_mode):
        raise MediaError(path, "is a directory, not a media file", stage="probe")
    if not stat.S_ISREG(st.st_mode):
        raise MediaError(path, "not a regular file", stage="probe")
    if st.st_size == 0:
        raise MediaError(path, "empty file (0 bytes)", stage="probe")
    if not os.access(path, os.R_OK):
        raise MediaError(path, "permission denied", stage="probe")
    return st.st_size


def _open(path: str) -> av.container.InputContainer:
    """Open ``path`` for demuxing; translate PyAV's errors into one-line ``MediaError`` causes."""
    try:
        return av.open(input_url(path), **_OPEN_KWARGS)
    except (av.error.InvalidDataError, av.error.EOFError):
        ext = os.path.splitext(path)[1].lower()
        if ext in MEDIA_EXTENSIONS:
            cause = f"invalid data: damaged {ext} file, ffmpeg cannot parse its container"
        else:
            cause = "not a media file or unsupported format"
        raise MediaError(path, cause, stage="probe") from None
    except av.error.PermissionError:
        raise MediaError(path, "permission denied", stage="probe") from None
    except av.error.FFmpegError as exc:
        raise MediaError(path, f"cannot open: {_strerror(exc)}", stage="probe") from None


def _strerror(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc).strip() or type(exc).__name__


def _is_still_or_text(container: av.container.InputContainer) -> bool:
    name = container.format.name
    return name in _STILL_OR_TEXT_FORMATS or any(n.endswith("_pipe") for n in name.split(","))


def _is_attached(stream: av.stream.Stream) -> bool:
    return bool(stream.disposition & _ATTACHED)


# --- inspecting ----------------------------------------------------------------------------------

def _inspect(container: av.container.InputContainer, path: str, size: int) -> MediaInfo:
    """Build ``MediaInfo`` from the open container; decodes one frame of the main stream."""
    if _is_still_or_text(container):
        raise MediaError(path, f"not a media file or unsupported format (read as {container.format.name})",
                         stage="probe")
    warnings: list[str] = []
    videos, pictures, audios, subtitles = [], [], [], []
    for stream in container.streams:
        if stream.codec_context is None:  # data streams (GPS, timecode), or no decoder for the codec
            if stream.type in ("video", "audio"):
                warnings.append(f"{stream.type} stream #{stream.index} skipped: no decoder for its codec")
            continue
        if stream.type == "video":
            (pictures if _is_attached(stream) else videos).append(stream)
        elif stream.type == "audio":
            audios.append(stream)
        elif stream.type == "subtitle":
            subtitles.append(stream)
    if not videos and not audios:
        what = "only subtitles" if subtitles else "only cover art" if pictures else "no streams"
        raise MediaError(path, f"not a media file or unsupported format: no audio or video ({what})",
                         stage="probe")
    if len(videos) > 1:
        warnings.append(f"{len(videos)} video streams: using stream #{videos[0].index}")

    main = videos[0] if videos else audios[0]
    frame, bad_packets = _first_frame(container, main, path, size)
    if bad_packets:
        warnings.append(f"{bad_packets} undecodable packet(s) before the first {main.type} frame")

    video = _video_info(videos[0], frame, warnings) if videos else None
    start = container.start_time / 1_000_000 if container.start_time is not None else 0.0
    duration, source = _header_duration(container)
    if source == "streams":
        warnings.append("no duration in header: taken from the stream headers")
    stops = [t for t in (_index_data_end(s, size) for s in (*videos, *audios)) if t is not None]
    if stops:
        claimed = f" of {duration:.2f} s" if duration else ""
        warnings.append(f"file is truncated: its data stops at {float(min(stops)):.2f} s{claimed}")
    return MediaInfo(
        path=path,
        container=container.format.name,
        duration=duration,
        duration_source=source,
        start_time=start,
        bit_rate=container.bit_rate or None,
        video=video,
        audio=tuple(_audio_info(s) for s in audios),
        subtitles=tuple(_subtitle_info(s) for s in subtitles),
        attached_pictures=tuple(AttachedPicture(s.index, _codec_name(s), s.codec_context.width,
                                                s.codec_context.height) for s in pictures),
        warnings=tuple(warnings),
    )


def _first_frame(container: av.container.InputContainer, stream: av.stream.Stream, path: str,
                 size: int) -> tuple[av.frame.Frame, int]:
    """The first decodable frame of ``stream`` and how many packets failed before it.

    Raises ``MediaError`` for a truncated file: no frame within ``MAX_PACKETS_TO_FIRST_FRAME`` packets, or a
    packet larger than the whole file (demuxers such as DV pad a fragment to a full frame).
    """
    kind = stream.type
    failures = 0
    last_error: BaseException | None = None
    packets = container.demux(stream)
    for count in range(MAX_PACKETS_TO_FIRST_FRAME):
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.error.FFmpegError as exc:  # damaged container data: nothing more to read
            last_error = exc
            break
        if packet.size > size:
            raise MediaError(path, f"file is truncated: its first {kind} frame needs {packet.size} bytes "
                                   f"but the file has {size}", stage="probe")
        try:
            frames = packet.decode()
        except av.error.FFmpegError as exc:
            failures += 1
            last_error = exc
            continue
        if frames:
            return frames[0], failures
    if last_error is not None:
        raise MediaError(path, f"invalid data: no decodable {kind} frames ({_strerror(last_error)})",
                         stage="probe")
    promised = f" (the header promises {stream.frames})" if stream.frames else ""
    raise MediaError(path, f"file is truncated: no decodable {kind} frames{promised}", stage="probe")


def _index_data_end(stream: av.stream.Stream, size: int) -> Fraction | None:
    """Where ``stream``'s data stops (seconds from its start) when its index points past the file's end.

    Only containers with a full sample index (MP4/MOV, AVI) tell; others give ``None``. Binary search, as
    sample positions grow with time within a stream.
    """
    entries = stream.index_entries
    n = len(entries)
    if n == 0 or stream.time_base is None:
        return None
    last = entries[n - 1]
    if last.pos < 0 or last.pos + last.size <= size:
        return None
    lo, hi = 0, n - 1  # invariant: entries[hi] does not fit in the file
    while lo < hi:
        mid = (lo + hi) // 2
        entry = entries[mid]
        if 0 <= entry.pos and entry.pos + entry.size <= size:
            lo = mid + 1
        else:
            hi = mid
    start = stream.start_time or 0
    return max(Fraction(0), (entries[hi].timestamp - start) * stream.time_base)


def _video_info(stream: av.video.stream.VideoStream, frame: av.VideoFrame,
                warnings: list[str]) -> VideoStreamInfo:
    cc = stream.codec_context
    rotation = _normalise_rotation(frame.rotation, warnings)
    field_order = _FIELD_ORDERS.get(cc.field_order)
    if field_order is not None:
        interlaced: bool | None = field_order != "progressive"
    else:  # the container does not say: the decoder's flag on the first frame does
        interlaced = bool(frame.interlaced_frame)
    avg = _fraction(stream.average_rate)
    real = _fraction(stream.base_rate)
    return VideoStreamInfo(
        index=stream.index,
        codec=_codec_name(stream),
        width=cc.width,
        height=cc.height,
        avg_fps=avg,
        rotation=rotation,
        sample_aspect_ratio=_fraction(stream.sample_aspect_ratio or cc.sample_aspect_ratio),
        interlaced=interlaced,
        field_order=field_order,
        frame_count=stream.frames or None,
        variable_frame_rate=_is_vfr(real, avg, interlaced),
    )


def _is_vfr(real: Fraction | None, avg: Fraction | None, interlaced: bool | None) -> bool:
    """True when ffmpeg's r_frame_rate differs from the average rate.

    Not for interlaced streams whose r_frame_rate is the field rate (exactly twice the frame rate).
    """
    if real is None or avg is None or real == avg:
        return False
    return not (interlaced and real == 2 * avg)


def _normalise_rotation(raw: float | int | None, warnings: list[str]) -> int:
    """Display-matrix degrees (counter-clockwise, -180..180) -> 0, 90, 180 or 270."""
    if raw is None or raw != raw:  # NaN: singular matrix
        return 0
    snapped = int(round(raw / 90.0)) * 90 % 360
    if abs(raw - round(raw / 90.0) * 90) > 1:
        warnings.append(f"rotation {raw:g} degrees is not a multiple of 90: using {snapped}")
    return snapped


def _audio_info(stream: av.audio.stream.AudioStream) -> AudioStreamInfo:
    cc = stream.codec_context
    return AudioStreamInfo(index=stream.index, codec=_codec_name(stream), sample_rate=cc.sample_rate,
                           channels=cc.channels, language=_language(stream))


def _subtitle_info(stream: av.stream.Stream) -> SubtitleStreamInfo:
    codec = _codec_name(stream)
    if codec in TEXT_SUBTITLE_CODECS:
        is_text = True
    elif codec in BITMAP_SUBTITLE_CODECS:
        is_text = False
    else:
        descriptor = stream.codec_context.codec
        is_text = bool(descriptor.text_sub) and not descriptor.bitmap_sub
    title = (stream.metadata.get("title") or stream.metadata.get("TITLE") or "").strip() or None
    return SubtitleStreamInfo(index=stream.index, codec=codec, language=_language(stream),
                              is_text=is_text, title=title)


def _codec_name(stream: av.stream.Stream) -> str:
    """ffmpeg's codec name ("mp3", "subrip", "hdmv_pgs_subtitle"), not the decoder's ("mp3float")."""
    codec = stream.codec_context.codec
    return codec.canonical_name or codec.name


def _language(stream: av.stream.Stream) -> str | None:
    lang = (stream.language or stream.metadata.get("LANGUAGE") or "").strip().lower()
    return None if lang in _UNDEFINED_LANGUAGES else lang


def _fraction(value: Fraction | int | None) -> Fraction | None:
    """A positive ``Fraction`` or ``None`` (ffmpeg uses 0 and 0/1 for unknown)."""
    if not value:
        return None
    value = Fraction(value)
    return value if value > 0 else None


# --- duration ------------------------------------------------------------------------------------

def _header_duration(container: av.container.InputContainer) -> tuple[float | None, str]:
    """(seconds, source) from the container header, else the longest stream header; else (None, "")."""
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000, "container"
    lengths = [t for t in (_stream_duration(s) for s in container.streams) if t]
    if lengths:
        return float(max(lengths)), "streams"
    return None, "unknown"


def _stream_duration(stream: av.stream.Stream) -> Fraction | None:
    if stream.duration and stream.duration > 0 and stream.time_base:
        return stream.duration * stream.time_base
    match = _MKV_DURATION.match((stream.metadata.get("DURATION") or "").strip())  # Matroska tag
    if match:
        h, m, s = match.groups()
        return int(h) * 3600 + int(m) * 60 + Fraction(s)
    return None


def _with_scanned_duration(info: MediaInfo, path: str) -> MediaInfo:
    """``info`` with the duration measured by demuxing every packet (no decoding)."""
    from dataclasses import replace

    try:
        container = _open(path)
        with container:
            duration, stopped = _scan_packets(container)
    except MediaError:
        duration, stopped = None, True
    if duration is None:
        return replace(info, duration_source="unknown",
                       warnings=info.warnings + ("duration unknown: no packet timestamps",))
    notes = ["no duration in header: measured by packet scan"]
    if stopped:
        notes.append("packet scan stopped at damaged data: duration is a lower bound")
    return replace(info, duration=float(duration), duration_source="packets",
                   warnings=info.warnings + tuple(notes))


def _scan_packets(container: av.container.InputContainer) -> tuple[Fraction | None, bool]:
    """(end of the last packet minus the start, in seconds; whether a read error stopped the scan)."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    bases: dict[int, Fraction] = {}
    stopped = False
    packets: Iterator[av.Packet] = container.demux()
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.error.FFmpegError:
            stopped = True
            break
        ts = packet.pts if packet.pts is not None else packet.dts
        if ts is None or packet.time_base is None:
            continue
        i = packet.stream_index
        first[i] = min(first.get(i, ts), ts)
        last[i] = max(last.get(i, ts), ts + (packet.duration or 0))
        bases[i] = packet.time_base
    if not last:
        return None, stopped
    end = max(last[i] * bases[i] for i in last)
    if container.start_time is not None:
        start = Fraction(container.start_time, 1_000_000)
    else:
        start = min(first[i] * bases[i] for i in first)
    return max(end - start, Fraction(0)), stopped
