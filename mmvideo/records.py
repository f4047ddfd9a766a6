"""Records that cross stages (discover -> media -> segment -> encode -> fuse -> write).

Plain frozen dataclasses: no behaviour beyond tiny derived properties, so every stage can depend on
them without depending on each other. Times are float seconds from the start of the presentation
(the container's start time is subtracted), exact ``Fraction`` only where a stage needs it inside.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np


# --- discover -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VideoFile:
    """A media file found by discovery, with a content id that survives renames.

    ``error`` says why it cannot be analyzed at all (``"empty file"``); ``duplicate_of`` is set (to the
    content id) when another path holds the same content. ``key`` names the file's output parts.
    """

    path: str
    content_id: str
    size: int
    mtime: float
    error: str | None = None
    duplicate_of: str | None = None

    @property
    def key(self) -> str:
        """The part name: the content id, or ``dup-``/``err-`` + a hash of the path for copies and errors."""
        if self.error is not None:
            return _path_key("err", self.path)
        if self.duplicate_of is not None:
            return _path_key("dup", self.path)
        return self.content_id


def _path_key(prefix: str, path: str) -> str:
    """``prefix-`` + 20 hex digits of a hash of ``path``: a part name per file, not per content."""
    digest = hashlib.blake2b(os.fsencode(path), digest_size=10, person=b"mmvideo-path-v1").hexdigest()
    return f"{prefix}-{digest}"


# --- probe ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VideoStreamInfo:
    """The picture stream the pipeline samples frames from (never cover art)."""

    index: int
    codec: str
    width: int  # coded size, before rotation
    height: int
    avg_fps: Fraction | None
    rotation: int = 0  # degrees counter-clockwise from the display matrix: 0, 90, 180 or 270 (-90 -> 270)
    sample_aspect_ratio: Fraction | None = None
    interlaced: bool | None = None  # None when the container does not say
    field_order: str | None = None
    frame_count: int | None = None
    variable_frame_rate: bool = False

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as shown: after rotation and the sample aspect ratio."""
        w, h = self.width, self.height
        if self.sample_aspect_ratio and self.sample_aspect_ratio not in (0, 1):
            w = round(w * self.sample_aspect_ratio)
        return (h, w) if self.rotation in (90, 270) else (w, h)


@dataclass(frozen=True)
class AudioStreamInfo:
    index: int
    codec: str
    sample_rate: int
    channels: int
    language: str | None = None


@dataclass(frozen=True)
class SubtitleStreamInfo:
    index: int
    codec: str
    language: str | None = None
    is_text: bool = True  # False for bitmap tracks (PGS, DVB, VobSub): listed, skipped
    title: str | None = None


@dataclass(frozen=True)
class AttachedPicture:
    """Cover art or another still image carried as a 'video' stream; not video."""

    index: int
    codec: str
    width: int
    height: int


@dataclass(frozen=True)
class MediaInfo:
    """What probing a file found; ``video`` is None for audio-only files (cover art is not video)."""

    path: str
    container: str
    duration: float | None  # seconds
    duration_source: str  # "container", "streams", "packets" or "unknown"
    start_time: float = 0.0  # seconds the container starts at; demux output is shifted by it to 0
    bit_rate: int | None = None
    video: VideoStreamInfo | None = None
    audio: tuple[AudioStreamInfo, ...] = ()
    subtitles: tuple[SubtitleStreamInfo, ...] = ()
    attached_pictures: tuple[AttachedPicture, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def has_video(self) -> bool:
        return self.video is not None

    @property
    def has_audio(self) -> bool:
        return bool(self.audio)


# --- demux ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FrameChunk:
    """Sampled frames: ``timestamps`` (N,) float64 seconds, ``frames`` (N, H, W, 3) uint8 RGB."""

    timestamps: np.ndarray
    frames: np.ndarray

    def __len__(self) -> int:
        return int(self.timestamps.shape[0])


@dataclass(frozen=True)
class AudioChunk:
    """Mono float32 samples in [-1, 1] starting at ``start`` seconds, at ``sample_rate`` Hz."""

    start: float
    samples: np.ndarray
    sample_rate: int = 16000

    @property
    def end(self) -> float:
        return self.start + self.samples.shape[0] / self.sample_rate


@dataclass(frozen=True)
class Cue:
    """One timed piece of text: subtitles, transcripts or OCR, markup stripped."""

    start: float
    end: float
    text: str
    language: str | None = None
    source: str = ""  # e.g. "sidecar:friday.vtt", "stream:2", "asr", "ocr"


@dataclass(frozen=True)
class SubtitleTrack:
    """All cues from one source (an embedded stream or a sidecar file), or why it was skipped."""

    source: str
    codec: str
    language: str | None
    cues: tuple[Cue, ...] = ()
    skipped: str | None = None  # reason, e.g. "bitmap subtitles (hdmv_pgs_subtitle)"
    warnings: tuple[str, ...] = field(default_factory=tuple)


# --- fuse -> write ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClassScore:
    """One raw class of one encoder (an ImageNet or AudioSet name) with its mean score over a segment."""

    name: str
    score: float


@dataclass(frozen=True)
class TagScore:
    """A fused tag: its score and how much each modality counted (weights over present modalities sum to 1)."""

    label: str
    score: float
    attention: dict[str, float]  # modality -> weight, every fusing modality (0 when absent)


@dataclass(frozen=True)
class SegmentRecord:
    """One output row: a segment of one video with its tags, fused embedding and each modality's columns.

    ``columns`` holds the modalities' own output columns as plain values (``text``, ``image_classes``,
    ``faces``..., see each ``Modality.columns``); the writer's schema says their types.
    """

    video_id: str
    path: str
    segment: int
    start: float
    end: float
    tags: tuple[TagScore, ...]
    embedding: np.ndarray  # (D,) float32, L2-normalised, D fixed per pipeline (the text space, 384)
    modalities: tuple[str, ...]  # present (fusing) modalities
    fingerprint: str = ""
    columns: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TagCoverage:
    """A tag over a whole video: seconds of segments where it was in the top-k, share of the duration."""

    label: str
    seconds: float
    share: float
    max_score: float


@dataclass(frozen=True)
class VideoRecord:
    """One row per input file: what was found, the top tags, or why it failed (failures are data)."""

    video_id: str  # the content id; for a copy or an unreadable file the part key (dup-..., err-...)
    path: str
    status: str  # "done", "failed" or "duplicate"
    fingerprint: str = ""
    duration: float | None = None
    container: str | None = None
    has_video: bool = False
    has_audio: bool = False
    subtitle_tracks: int = 0
    segments: int = 0
    warnings: tuple[str, ...] = ()
    top_tags: tuple[TagCoverage, ...] = ()
    stage: str | None = None  # failing stage, e.g. "probe", "demux", "encode"
    error: str | None = None  # one-line cause
    processed_at: str = ""  # ISO 8601 UTC
    duplicate_of: str | None = None  # content id of the video this file is a copy of
    frame_rate: float | None = None  # the picture's average frames per second (for timecodes); None without video
    sampling: str | None = None  # which frames the image side saw: "keyframes" or "fps" (``--sample``); None: no frames


@dataclass(frozen=True)
class ItemEvidence:
    """What one modality's encoder produced for one video, item by item (frames, audio patches, cues).

    ``start``/``end`` (N,) float64 seconds (a frame's end equals its start); ``scores`` (N, C) float32 class
    scores or None; ``embeddings`` (N, E) float16 or None; ``values`` (N, V) float32 small per-item numbers
    (face count and confidence, ...) or None; ``texts`` N strings for text items, else empty.
    """

    modality: str
    start: np.ndarray
    end: np.ndarray
    scores: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    values: np.ndarray | None = None
    texts: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.start.shape[0])


@dataclass(frozen=True)
class VideoEvidence:
    """One video's fusion inputs, enough to pool and fuse again without decoding (``OUT/evidence/``).

    ``segments`` ((start, end) seconds, in order) and ``info`` (the video record's probe fields: duration,
    container, has_video, has_audio, subtitle_tracks, warnings) travel with the items; ``encoder_fingerprint``
    says which settings and models produced them.
    """

    video_id: str
    path: str
    encoder_fingerprint: str
    segments: tuple[tuple[float, float], ...]
    items: tuple[ItemEvidence, ...]
    info: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Analysis:
    """What analyzing one video gives the engine to write: its video row, segment rows and (opt-in) evidence."""

    video: VideoRecord
    segments: tuple[SegmentRecord, ...]
    evidence: VideoEvidence | None = None
