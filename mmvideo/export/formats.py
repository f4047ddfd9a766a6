"""The export formats, each a pure function of ``VideoTags`` to text.

- ``csv_text``: one row per (segment, tag) with times, rank, score and each modality's weight.
- ``edl_text``: a CMX3600 EDL per video: one event per run of consecutive segments carrying a kept tag, source
  timecodes at the video's frame rate (drop-frame at 29.97/59.94), events laid end to end on the record side.
- ``chapters_text``: WebVTT chapters (``kind="chapters"``): one chapter per run of segments sharing a top tag,
  untagged segments joining the chapter before them, so the chapters cover the whole video.
- ``captions_text``: SRT or WebVTT captions naming each segment's tags, for players.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence

from mmvideo.export.rows import Tagged, VideoTags
from mmvideo.export.timecode import Rate, clock, frames_at, rate_of, timecode

EDL_RECORD_START = 3600.0  # seconds: record timecode 01:00:00:00, the editors' convention


def csv_text(videos: Iterable[VideoTags]) -> str:
    """CSV with a header; one row per (segment, tag); modality weight columns named ``weight_<modality>``."""
    videos = list(videos)
    modalities = list(dict.fromkeys(m for v in videos for s in v.segments for t in s.tags for m in t[2]))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["path", "video_id", "segment", "start", "end", "rank", "tag", "score",
                     *[f"weight_{m}" for m in modalities]])
    for v in videos:
        for s in v.segments:
            for rank, (label, score, attention) in enumerate(s.tags, 1):
                writer.writerow([v.path, v.video_id, s.segment, f"{s.start:.3f}", f"{s.end:.3f}", rank, label,
                                 f"{score:.4f}", *[f"{attention.get(m, 0.0):.4f}" for m in modalities]])
    return buf.getvalue()


def runs(segments: Sequence[Tagged]) -> list[tuple[float, float, list[str]]]:
    """Runs of consecutive segments that carry tags: (start, end, labels of the run in first-seen order)."""
    out: list[tuple[float, float, list[str]]] = []
    for s in segments:
        if not s.tags:
            continue
        if out and abs(out[-1][1] - s.start) < 1e-6:
            start, _, labels = out[-1]
            out[-1] = (start, s.end, list(dict.fromkeys(labels + s.labels())))
        else:
            out.append((s.start, s.end, s.labels()))
    return out


def _reel(path: str) -> str:
    stem = "".join(c for c in os.path.splitext(os.path.basename(path))[0].upper() if c.isalnum())
    return (stem or "AX")[:8]


def edl_text(video: VideoTags, rate: Rate | None = None) -> str:
    """A CMX3600 EDL of ``video``'s tagged runs at ``rate`` (default: the video's own, else 25 fps)."""
    rate = rate or rate_of(video.frame_rate)
    name = os.path.basename(video.path)
    lines = [f"TITLE: {name[:70]}", f"FCM: {'DROP FRAME' if rate.drop_frame else 'NON-DROP FRAME'}", ""]
    record = frames_at(EDL_RECORD_START, rate)
    for n, (start, end, labels) in enumerate(runs(video.segments), 1):
        src_in, src_out = frames_at(start, rate), max(frames_at(end, rate), frames_at(start, rate) + 1)
        rec_out = record + (src_out - src_in)
        lines.append(f"{n:03d}  {_reel(video.path):<8} V     C        {timecode(src_in, rate)} "
                     f"{timecode(src_out, rate)} {timecode(record, rate)} {timecode(rec_out, rate)}")
        lines.append(f"* FROM CLIP NAME: {name}")
        lines.append(f"* COMMENT: {', '.join(labels)}")
        record = rec_out
    return "\n".join(lines) + "\n"


def chapters_text(video: VideoTags) -> str:
    """WebVTT chapters covering ``video`` from 0 to its end, one per run of segments sharing a top tag."""
    chapters: list[list] = []  # [start, end, title]
    for s in video.segments:
        title = s.tags[0][0] if s.tags else None
        if chapters and (title is None or title == chapters[-1][2]):
            chapters[-1][1] = s.end
        elif title is None:
            chapters.append([s.start, s.end, "untagged"])
        else:
            chapters.append([s.start, s.end, title])
    if chapters:
        chapters[0][0] = 0.0
        chapters[-1][1] = max(chapters[-1][1], video.duration)
    body = [f"chapter-{i}\n{clock(a)} --> {clock(b)}\n{title}\n" for i, (a, b, title) in enumerate(chapters, 1)]
    return "WEBVTT\n\n" + "\n".join(body)


def captions_text(video: VideoTags, fmt: str = "srt") -> str:
    """SRT (``fmt="srt"``) or WebVTT (``"vtt"``) captions: each tagged segment's tags with their scores."""
    sep = "," if fmt == "srt" else "."
    cues = []
    for s in (s for s in video.segments if s.tags):
        text = ", ".join(f"{label} {score:.2f}" for label, score, _ in s.tags)
        cues.append(f"{clock(s.start, sep)} --> {clock(s.end, sep)}\n{text}\n")
    if fmt == "srt":
        return "\n".join(f"{i}\n{c}" for i, c in enumerate(cues, 1))
    return "WEBVTT\n\n" + "\n".join(cues)
