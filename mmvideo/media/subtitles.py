"""Subtitles -> timed text cues: embedded text tracks (via ffmpeg) and sidecar files next to the video.

Every track becomes a :class:`~mmvideo.records.SubtitleTrack` of :class:`~mmvideo.records.Cue` records
with times in seconds on the presentation timeline (the container's ``start_time`` is subtracted for
embedded tracks) and markup stripped (see :func:`strip_markup`). Bitmap tracks (PGS, DVB, VobSub, XSUB)
cannot be read as text: they are listed with ``skipped`` set, never an error.

Parsing is pysubs2's (SRT, WebVTT, ASS/SSA, MicroDVD, MPL2, SAMI, TTML, ...). Around it this module adds
what real files need: encoding detection (BOMs, UTF-8, charset-normalizer, cp1252), a size cap, WebVTT
comment/identifier handling, and malformed cues dropped with a warning in ``SubtitleTrack.warnings``.

Failure policy: :func:`parse_subtitle_file` raises a one-line ``MediaError`` when a file yields no cue
at all; :func:`read_subtitles` never raises for one bad track or sidecar: it returns that track with
``skipped`` set to the cause, so one broken sidecar never loses the video's other subtitles.
"""

from __future__ import annotations

import codecs
import html
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from mmvideo.errors import MediaError
from mmvideo.media.ffmpeg import input_url, run_ffmpeg
from mmvideo.records import Cue, MediaInfo, SubtitleStreamInfo, SubtitleTrack

MAX_SUBTITLE_BYTES = 32 * 1024 * 1024
"""Largest subtitle file (or extracted track) read; a 2-hour film's SRT is ~100 KB, heavy ASS a few MB."""

DETECT_BYTES = 1024 * 1024
"""charset-normalizer only looks at this many leading bytes: bounded time, and steadier guesses."""

MAX_WARNINGS = 20
"""Per track; further warnings are counted in one last line."""

SIDECAR_EXTENSIONS = ("srt", "vtt", "webvtt", "ass", "ssa", "sub", "sbv", "smi", "sami", "mpl", "ttml", "dfxp")
"""Sidecar file extensions (matched case-insensitively). ``.sub`` may be MicroDVD text or VobSub
bitmaps; the latter is reported as a skipped track."""

# Codec names as ffprobe/libavcodec descriptors spell them, plus PyAV decoder-name aliases.
_CODEC_ALIASES = {"srt": "subrip", "ssa": "ass", "pgssub": "hdmv_pgs_subtitle", "dvbsub": "dvb_subtitle",
                  "dvdsub": "dvd_subtitle", "tx3g": "mov_text", "vtt": "webvtt"}
BITMAP_CODECS = frozenset({"hdmv_pgs_subtitle", "dvb_subtitle", "dvd_subtitle", "xsub", "dvb_teletext",
                           "arib_caption"})
"""Picture-based (or, for teletext/ARIB, not decodable by the bundled ffmpeg) subtitle codecs."""
_ASS_CODECS = frozenset({"ass"})  # copied losslessly to an .ass file (keeps drawings/comments recognisable)

# Words found between a video's stem and a sidecar's extension that are not languages.
_NOT_LANGUAGE = frozenset({"sdh", "cc", "hoh", "forced", "default", "full", "sub", "subs", "dub",
                           "commentary", "signs", "songs"})
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(?:[-_](?:[A-Za-z]{2}|[A-Za-z]{4}|\d{3}))?$")
_VTT_HEADER_LANGUAGE = re.compile(r"^Language:\s*([A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})?)\s*$", re.M)

_BOMS = (  # UTF-32 first: its little-endian BOM starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_OVERRIDE_BLOCK = re.compile(r"(\{[^{}]*\})")
_DRAWING_MODE = re.compile(r"\\p(\d+)")
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>")  # <i>, </font>, <v Roger>, <c.yellow>; not "2<3,5>1"
_VTT_TIMESTAMP_TAG = re.compile(r"<(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3}>")  # karaoke <00:19.000>
_BLANK_LINE = re.compile(r"\\N[ \t]*\\N")  # in pysubs2's text, newlines are \N
_TIMING_LINE = re.compile(r"-->")
_LITERAL_NEWLINE = "\ue000"  # private-use stand-in for a literal "\N" typed in an SRT/VTT file


# --- markup ---------------------------------------------------------------------------------------

def strip_markup(text: str, *, html_entities: bool = False) -> str:
    """Plain text of one cue: formatting removed, one ``\\n`` between displayed lines.

    Removes ASS override blocks (``{\\i1}``, ``{\\an8}``) and whatever an ASS drawing (``{\\p1}...{\\p0}``)
    draws, HTML-ish tags (``<i>``, ``<font color=red>``, ``<v Roger>``, ``<c.yellow>``) and WebVTT
    timestamp tags (``<00:19.000>``). ASS ``\\N``/``\\n`` and real newlines become ``\\n`` (line breaks are
    kept: join with spaces if one line is wanted); ``\\h`` becomes a space. Whitespace inside a line is
    collapsed and empty lines dropped, so a cue with only markup gives ``""``. ``html_entities`` also
    decodes ``&amp;``/``&lt;``/``&nbsp;`` (WebVTT escapes them; SRT and ASS do not).
    """
    out: list[str] = []
    drawing = False
    for piece in _OVERRIDE_BLOCK.split(text):
        if piece.startswith("{") and piece.endswith("}"):
            modes = _DRAWING_MODE.findall(piece)
            if modes:
                drawing = int(modes[-1]) > 0
            continue
        if not drawing:
            out.append(piece)
    plain = "".join(out).replace("\\N", "\n").replace("\\n", "\n").replace("\\h", " ")
    plain = _VTT_TIMESTAMP_TAG.sub("", _HTML_TAG.sub("", plain))
    if html_entities:
        plain = html.unescape(plain)
    lines = (" ".join(line.split()) for line in plain.splitlines())
    return "\n".join(line for line in lines if line)


# --- bytes -> text --------------------------------------------------------------------------------

def decode_subtitle_bytes(raw: bytes, path: os.PathLike | str = "<bytes>") -> tuple[str, str]:
    """``(text, encoding)`` of a subtitle file's bytes; never fails on odd bytes, only on binary data.

    Order: a BOM (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE), then strict UTF-8, then charset-normalizer on the
    first ``DETECT_BYTES``, then cp1252. Undecodable bytes become U+FFFD. NUL characters after decoding
    mean binary data (e.g. VobSub ``.sub``): ``MediaError``.
    """
    text: str | None = None
    encoding = ""
    for bom, name in _BOMS:
        if raw.startswith(bom):
            text, encoding = raw[len(bom):].decode(name, errors="replace"), name
            break
    if text is None:
        try:
            text, encoding = raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    if text is None:
        import charset_normalizer  # only needed for non-UTF-8 files

        encoding = _guess_encoding(charset_normalizer.from_bytes(raw[:DETECT_BYTES]))
        try:
            text = raw.decode(encoding, errors="replace")
        except LookupError:  # a codec name Python lacks
            text, encoding = raw.decode("cp1252", errors="replace"), "cp1252"
    if "\x00" in text:
        raise MediaError(path, "binary data, not a text subtitle file", stage="subtitles")
    return text, encoding


def _guess_encoding(matches) -> str:
    """charset-normalizer's best guess, but cp1252 when it ties with the best (short Western texts
    score the same in cp1250, cp1252, mac_roman...); cp1252 when nothing fits."""
    best = matches.best()
    if best is None:
        return "cp1252"
    tied = {m.encoding for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)}
    tied.update(best.could_be_from_charset)
    return "cp1252" if "cp1252" in tied else best.encoding


def _read_capped(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_SUBTITLE_BYTES:
            raise MediaError(path, f"subtitle file is {size / 2**20:.1f} MiB, over the "
                                   f"{MAX_SUBTITLE_BYTES // 2**20} MiB limit", stage="subtitles")
        return path.read_bytes()
    except OSError as exc:
        raise MediaError(path, f"cannot read subtitle file: {exc.strerror or exc}", stage="subtitles") from exc


# --- text -> cues ---------------------------------------------------------------------------------

def _clean_srt_vtt(text: str, *, vtt: bool) -> str:
    """Drop WebVTT NOTE/STYLE/REGION blocks and cue identifiers, which pysubs2 would read as cue text.

    An identifier is a non-blank line right after a blank line and right before a timing line.
    """
    lines = text.split("\n")
    keep: list[str] = []
    skipping_block = False
    prev_blank = True
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            skipping_block = False
            prev_blank = True
            keep.append(line)
            continue
        if prev_blank and vtt and re.match(r"(NOTE|STYLE|REGION)(\s|$)", stripped):
            skipping_block = True
        if skipping_block:
            prev_blank = False
            continue
        is_identifier = (prev_blank and "-->" not in line and i + 1 < len(lines)
                         and _TIMING_LINE.search(lines[i + 1]) is not None)
        prev_blank = False
        if not is_identifier:
            keep.append(line)
    return "\n".join(keep)


def _snippet(text: str, limit: int = 50) -> str:
    flat = " / ".join(ln.strip() for ln in text.replace("\\N", "\n").splitlines() if ln.strip())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _parse_text(text: str, path: os.PathLike | str, *, fmt: str | None = None, fps: float | None = None,
                offset: float = 0.0, language: str | None = None, source: str = ""
                ) -> tuple[str, list[Cue], list[str]]:
    """``(format, cues, warnings)`` from subtitle text; raises ``MediaError`` only if it cannot be parsed."""
    import pysubs2
    from pysubs2.exceptions import FormatAutodetectionError, UnknownFPSError

    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if fmt is None:
        if not text.strip():
            raise MediaError(path, "empty subtitle file", stage="subtitles")
        try:
            fmt = pysubs2.formats.autodetect_format(text)
        except FormatAutodetectionError as exc:
            found = ", ".join(sorted(exc.formats)) if getattr(exc, "formats", None) else ""
            cause = (f"ambiguous subtitle format (could be {found})" if found
                     else "not a recognised subtitle format (SRT, WebVTT, ASS/SSA, MicroDVD, ...)")
            raise MediaError(path, cause, stage="subtitles") from exc
    srt_like = fmt in ("srt", "vtt")
    kwargs = {"keep_html_tags": True} if srt_like else {}
    if srt_like:  # pysubs2 writes real newlines as \N: protect literal ones (an ASS-ism some SRTs use)
        text = _clean_srt_vtt(text, vtt=fmt == "vtt").replace("\\N", _LITERAL_NEWLINE)
    try:
        subs = pysubs2.SSAFile.from_string(text, format_=fmt, fps=fps, **kwargs)
    except UnknownFPSError as exc:
        raise MediaError(path, "MicroDVD subtitles count frames: the video's frame rate is needed",
                         stage="subtitles") from exc
    except Exception as exc:  # third-party parser on untrusted text: any failure is this file's fault
        raise MediaError(path, f"unreadable {fmt} subtitles: {type(exc).__name__}: {exc}",
                         stage="subtitles") from exc

    warnings: list[str] = []
    cues: list[Cue] = []
    for ev in subs.events:
        if ev.is_comment:
            continue
        raw = ev.text
        start = round(ev.start / 1000 - offset, 6)
        if srt_like:  # a blank line ends an SRT/VTT cue: text after it lost its timing line
            first, *orphans = _BLANK_LINE.split(raw)
            for orphan in orphans:
                if orphan.strip(" \\N"):
                    warnings.append(f"cue at {start:.3f} s: dropped text with no valid timing line: "
                                    f"'{_snippet(orphan)}'")
            raw = first.replace(_LITERAL_NEWLINE, "\\N")
        plain = strip_markup(raw, html_entities=fmt == "vtt")
        if not plain:
            continue
        end = round(ev.end / 1000 - offset, 6)
        if end < start:
            warnings.append(f"cue at {start:.3f} s ends before it starts ({end:.3f} s): end set to start")
            end = start
        if end < 0:  # entirely before the presentation starts
            continue
        cues.append(Cue(start=max(start, 0.0), end=end, text=plain, language=language, source=source))
    cues.sort(key=lambda c: (c.start, c.end))
    return fmt, cues, warnings


def _capped(warnings: list[str]) -> tuple[str, ...]:
    if len(warnings) <= MAX_WARNINGS:
        return tuple(warnings)
    return (*warnings[:MAX_WARNINGS], f"... and {len(warnings) - MAX_WARNINGS} more warnings")


_FORMAT_CODEC = {"srt": "subrip", "vtt": "webvtt", "ssa": "ass"}


def parse_subtitle_file(path: os.PathLike | str, *, language: str | None = None, source: str | None = None,
                        fps: float | None = None) -> SubtitleTrack:
    """All cues of one subtitle file (format detected from its content).

    ``language`` defaults to a WebVTT ``Language:`` header; ``source`` to ``"sidecar:<file name>"``;
    ``fps`` is needed for MicroDVD files that do not state it. Raises a one-line ``MediaError`` when the
    file is too big, binary, in no known format, or has no cue with text.
    """
    p = Path(path)
    text, _encoding = decode_subtitle_bytes(_read_capped(p), p)
    if language is None:
        head = text[:4096]
        if head.lstrip("\ufeff").startswith("WEBVTT"):
            m = _VTT_HEADER_LANGUAGE.search(head.split("-->", 1)[0])
            language = m.group(1) if m else None
    src = source if source is not None else f"sidecar:{p.name}"
    fmt, cues, warnings = _parse_text(text, p, fps=fps, language=language, source=src)
    if not cues:
        raise MediaError(p, f"no subtitle cues with text found ({fmt} format)", stage="subtitles")
    return SubtitleTrack(source=src, codec=_FORMAT_CODEC.get(fmt, fmt), language=language, cues=tuple(cues),
                         warnings=_capped(warnings))


# --- sidecars -------------------------------------------------------------------------------------

def language_from_tag(tag: str) -> str | None:
    """The tag if it looks like a language code (``en``, ``eng``, ``pt-BR``, ``zh_Hans``), else ``None``.

    Shape-based (2-3 letters, optional region/script); common non-language tags (``sdh``, ``forced``,
    ``cc``) are refused. ``_`` is normalised to ``-``.
    """
    if not _LANGUAGE_TAG.match(tag) or tag.lower() in _NOT_LANGUAGE:
        return None
    return tag.replace("_", "-")


def _sidecar_parts(video: Path, candidate: Path) -> tuple[str, ...] | None:
    """Middle dot-separated parts of ``<stem>.<parts>.<ext>`` if ``candidate`` is a sidecar of ``video``."""
    name = candidate.name
    prefix = video.stem + "."
    if not name.startswith(prefix) or candidate == video:
        return None
    rest = name[len(prefix):]
    middle, dot, ext = rest.rpartition(".")
    ext = ext if dot else rest
    if ext.lower() not in SIDECAR_EXTENSIONS:
        return None
    return tuple(part for part in middle.split(".") if part) if dot else ()


def find_sidecars(video_path: os.PathLike | str) -> list[Path]:
    """Subtitle files next to a video: ``<stem>.srt``, ``<stem>.en.vtt``, ``<stem>.pt-BR.forced.ass``...

    Same folder, exact stem, extension in ``SIDECAR_EXTENSIONS`` in any case; sorted by name.
    """
    video = Path(video_path)
    folder = video.parent
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    found = [p for p in entries if _sidecar_parts(video, p) is not None and p.is_file()]
    return sorted(found, key=lambda p: p.name)


def sidecar_language(video_path: os.PathLike | str, sidecar: os.PathLike | str) -> str | None:
    """Language named between the video's stem and the sidecar's extension (first part that looks like one)."""
    parts = _sidecar_parts(Path(video_path), Path(sidecar)) or ()
    for part in parts:
        lang = language_from_tag(part)
        if lang:
            return lang
    return None


# --- embedded tracks ------------------------------------------------------------------------------

def canonical_codec(codec: str) -> str:
    """libavcodec descriptor name for a subtitle codec (``pgssub`` -> ``hdmv_pgs_subtitle``, ``srt`` -> ``subrip``)."""
    c = (codec or "").lower()
    return _CODEC_ALIASES.get(c, c)


def _language(stream: SubtitleStreamInfo) -> str | None:
    lang = (stream.language or "").strip()
    return None if lang.lower() in ("", "und") else lang


def _output_args(stream: SubtitleStreamInfo, out: Path) -> list[str]:
    ass = canonical_codec(stream.codec) in _ASS_CODECS
    # ASS is copied as is; every other text codec is converted to SRT (millisecond times, HTML-ish tags).
    return ["-map", f"0:{stream.index}", "-c:s", "copy" if ass else "srt", "-f", "ass" if ass else "srt",
            "-fs", str(MAX_SUBTITLE_BYTES), "-y", input_url(out)]


def _extract(path: os.PathLike | str, streams: Sequence[SubtitleStreamInfo], workdir: Path
             ) -> dict[int, str | MediaError]:
    """Text of each stream (SRT or ASS), or the error that stopped it; one ffmpeg run when all succeed."""
    def outputs(group: Iterable[SubtitleStreamInfo]) -> dict[int, Path]:
        return {s.index: workdir / f"{s.index}.{'ass' if canonical_codec(s.codec) in _ASS_CODECS else 'srt'}"
                for s in group}

    def run(group: Sequence[SubtitleStreamInfo]) -> dict[int, str]:
        outs = outputs(group)
        args = ["-copyts", "-i", input_url(path)]  # keep container times; start_time is subtracted later
        for s in group:
            args += _output_args(s, outs[s.index])
        run_ffmpeg(args, path, stage="subtitles")
        return {i: (o.read_bytes().decode("utf-8", errors="replace") if o.exists() else "")
                for i, o in outs.items()}

    result: dict[int, str | MediaError] = {}
    try:
        result.update(run(streams))
    except MediaError as exc:
        if len(streams) == 1:
            return {streams[0].index: exc}
        for s in streams:  # isolate the failing track(s)
            try:
                result.update(run([s]))
            except MediaError as one:
                result[s.index] = one
    return result


def read_embedded(path: os.PathLike | str, info: MediaInfo) -> list[SubtitleTrack]:
    """One track per subtitle stream of ``info``: text tracks read through ffmpeg, bitmap ones skipped."""
    tracks: dict[int, SubtitleTrack] = {}
    text_streams: list[SubtitleStreamInfo] = []
    for s in info.subtitles:
        codec = canonical_codec(s.codec)
        if not s.is_text or codec in BITMAP_CODECS:
            tracks[s.index] = SubtitleTrack(source=f"stream:{s.index}", codec=codec, language=_language(s),
                                            skipped=f"bitmap subtitles ({codec}) cannot be read as text")
        else:
            text_streams.append(s)
    if text_streams:
        with tempfile.TemporaryDirectory(prefix="mmvideo-subs-") as tmp:
            extracted = _extract(path, text_streams, Path(tmp))
        for s in text_streams:
            codec, src, lang = canonical_codec(s.codec), f"stream:{s.index}", _language(s)
            got = extracted.get(s.index, "")
            if isinstance(got, MediaError):
                tracks[s.index] = SubtitleTrack(source=src, codec=codec, language=lang,
                                                skipped=f"cannot extract {codec} subtitles: {got.cause}")
                continue
            fmt = "ass" if codec in _ASS_CODECS else "srt"
            warnings: list[str] = []
            if len(got.encode("utf-8")) >= MAX_SUBTITLE_BYTES:
                warnings.append(f"track cut at the {MAX_SUBTITLE_BYTES // 2**20} MiB limit")
            try:
                _, cues, more = _parse_text(got, path, fmt=fmt, offset=info.start_time or 0.0,
                                            language=lang, source=src)
            except MediaError as exc:
                tracks[s.index] = SubtitleTrack(source=src, codec=codec, language=lang, skipped=exc.cause)
                continue
            tracks[s.index] = SubtitleTrack(source=src, codec=codec, language=lang, cues=tuple(cues),
                                            warnings=_capped(warnings + more))
    return [tracks[i] for i in sorted(tracks)]


def read_subtitles(path: os.PathLike | str, info: MediaInfo) -> list[SubtitleTrack]:
    """Every subtitle track of a video: embedded streams (by index), then sidecar files (by name).

    Never raises for one bad track: a bitmap stream, a stream ffmpeg cannot extract or a sidecar that
    :func:`parse_subtitle_file` rejects comes back with ``skipped`` set to the one-line cause.
    """
    tracks = read_embedded(path, info)
    fps = float(info.video.avg_fps) if info.video is not None and info.video.avg_fps else None
    for sidecar in find_sidecars(path):
        language = sidecar_language(path, sidecar)
        try:
            tracks.append(parse_subtitle_file(sidecar, language=language, fps=fps))
        except MediaError as exc:
            tracks.append(SubtitleTrack(source=f"sidecar:{sidecar.name}", codec=sidecar.suffix.lstrip(".").lower(),
                                        language=language, skipped=exc.cause))
    return tracks
