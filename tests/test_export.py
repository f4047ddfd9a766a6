"""Exports: CSV read by pandas, EDLs read by a real CMX3600 parser at 25, 29.97 and 30 fps, chapters and captions
read by webvtt-py. Rows are generated through the writer (no media), so times and rates are known."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmvideo.config import RunConfig
from mmvideo.export.timecode import frames_at, rate_of, timecode
from mmvideo.pipeline.analyze import Pipeline
from mmvideo.records import SegmentRecord, TagScore, VideoRecord
from mmvideo.write.writer import write_video

SCHEMA = Pipeline(RunConfig()).segment_schema
ATT = {"image": 0.6, "audio": 0.4, "text": 0.0, "faces": 0.0}
# (start, end, tags) per segment: two runs with "dog", an untagged gap, a car at the end
PLAN = [(0.0, 5.0, ["dog", "animal"]), (5.0, 10.0, ["dog"]), (10.0, 15.0, []), (15.0, 20.0, ["car"]),
        (20.0, 22.5, ["car", "street"])]


def _folder(out: Path, rates: dict[str, float | None]) -> Path:
    for i, (name, rate) in enumerate(rates.items()):
        vid = f"v{i}"
        segs = []
        for k, (a, b, labels) in enumerate(PLAN):
            emb = np.zeros(384, np.float32)
            emb[k] = 1.0
            tags = tuple(TagScore(lb, 0.9 - 0.1 * j, ATT) for j, lb in enumerate(labels))
            segs.append(SegmentRecord(vid, f"/videos/{name}", k, a, b, tags, emb, ("image", "audio"),
                                      columns={"text": ""}))
        write_video(out, VideoRecord(vid, f"/videos/{name}", "done", duration=22.5, has_video=True,
                                     segments=len(segs), frame_rate=rate), segs, schema=SCHEMA)
    return out


def _export(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmvideo", "export", *args], capture_output=True, text=True)


def test_csv_has_a_row_per_segment_and_tag(tmp_path):
    pd = pytest.importorskip("pandas")
    out = _folder(tmp_path / "out", {"a.mp4": 25.0, "b.mp4": 30.0})
    result = _export(str(out), "--format", "csv")
    assert result.returncode == 0, result.stderr
    df = pd.read_csv(io.StringIO(result.stdout))
    per_video = sum(len(t) for _, _, t in PLAN)
    assert len(df) == 2 * per_video
    assert list(df.columns[:8]) == ["path", "video_id", "segment", "start", "end", "rank", "tag", "score"]
    first = df[(df.video_id == "v0") & (df.segment == 0)]
    assert first["tag"].tolist() == ["dog", "animal"] and first["rank"].tolist() == [1, 2]
    assert first["weight_image"].tolist() == pytest.approx([0.6, 0.6])
    only = _export(str(out), "--format", "csv", "--tag", "car", "--out", str(tmp_path / "cars.csv"))
    assert only.returncode == 0 and set(pd.read_csv(tmp_path / "cars.csv")["tag"]) == {"car"}


@pytest.mark.parametrize("fps, drop", [(25.0, False), (30000 / 1001, True), (30.0, False)])
def test_edl_events_land_on_the_right_frames(tmp_path, fps, drop):
    pycmx = pytest.importorskip("pycmx")
    otio = pytest.importorskip("opentimelineio")
    out = _folder(tmp_path / "out", {"clip.mp4": fps})
    result = _export(str(out), "--format", "edl", "--out", str(tmp_path / "edl"))
    assert result.returncode == 0, result.stderr
    edl = pycmx.parse_cmx3600(io.StringIO((tmp_path / "edl" / "clip.edl").read_text()))
    events = list(edl.events)
    assert len(events) == 2  # the "dog" run (0-10 s) and the "car" run (15-22.5 s)
    exact = 30000 / 1001 if drop else fps
    want = [(0.0, 10.0), (15.0, 22.5)]
    for event, (a, b) in zip(events, want):
        (edit,) = event.edits
        assert (";" in edit.source_in) == drop
        src_in = otio.opentime.from_timecode(edit.source_in, exact).value
        src_out = otio.opentime.from_timecode(edit.source_out, exact).value
        assert (src_in, src_out) == (int(a * exact + 1e-6), int(b * exact + 1e-6))  # the frame shown at a, b
        assert edit.clip_name == "clip.mp4"
    rec = [otio.opentime.from_timecode(e.edits[0].record_in, exact).value for e in events]
    assert rec[1] - rec[0] == int(10.0 * exact + 1e-6)  # events laid end to end on the record side


def test_drop_frame_timecodes_match_opentimelineio():
    otio = pytest.importorskip("opentimelineio")
    for fps in (30000 / 1001, 60000 / 1001, 25.0, 24000 / 1001):
        rate = rate_of(fps)
        for frame in (0, 1, 1799, 1800, 1801, 17982, 17983, 107892, 123456):
            ours = timecode(frame, rate)
            assert otio.opentime.from_timecode(ours, float(rate.fps)).value == frame, (fps, frame, ours)
    assert frames_at(10.0, rate_of(25.0)) == 250 and rate_of(29.97).drop_frame and not rate_of(30).drop_frame


def test_chapters_cover_the_video_and_captions_name_the_tags(tmp_path):
    webvtt = pytest.importorskip("webvtt")
    out = _folder(tmp_path / "out", {"clip.mp4": 25.0})
    assert _export(str(out), "--format", "chapters", "--out", str(tmp_path / "x")).returncode == 0
    chapters = webvtt.read(str(tmp_path / "x" / "clip.chapters.vtt"))
    assert [c.text for c in chapters] == ["dog", "car"]  # the untagged gap joins the chapter before it
    assert chapters[0].start == "00:00:00.000" and chapters[-1].end == "00:00:22.500"  # webvtt's seconds are ints
    assert all(a.end == b.start for a, b in zip(chapters, list(chapters)[1:]))
    assert _export(str(out), "--format", "srt", "--out", str(tmp_path / "x")).returncode == 0
    captions = webvtt.from_srt(str(tmp_path / "x" / "clip.tags.srt"))
    assert len(captions) == 4 and captions[0].text == "dog 0.90, animal 0.80"
    assert _export(str(out), "--format", "vtt", "--out", str(tmp_path / "x")).returncode == 0
    assert len(webvtt.read(str(tmp_path / "x" / "clip.tags.vtt"))) == 4


def test_export_of_a_folder_without_results_is_one_line(tmp_path):
    result = _export(str(tmp_path), "--format", "csv")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
