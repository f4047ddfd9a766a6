"""`mmvideo report`: the static report of an output folder, its thumbnails, and the page in headless Chromium.

The browser tests skip only when no Chromium is installed AND ``MMVIDEO_REQUIRE_BROWSER`` is unset (CI sets it,
so a missing browser fails there). Screenshots go to ``tmp_path`` and to ``$MMVIDEO_ARTIFACTS`` when set.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest

from mmvideo.config import RunConfig
from mmvideo.pipeline.analyze import Pipeline
from mmvideo.media.ffmpeg import ffmpeg_binary
from mmvideo.records import SegmentRecord, TagCoverage, TagScore, VideoRecord
from mmvideo.report import build_report
from mmvideo.report.browser import console_errors, find_browser
from mmvideo.report.thumbnails import write_segment_thumbnails
from mmvideo.write.read import read_table
from mmvideo.write.writer import write_video

SCHEMA = Pipeline(RunConfig()).segment_schema  # what a default run writes (the built-in modalities' columns)
MODALITIES = tuple(f.name for f in SCHEMA.field("tags").type.value_type.field("attention").type)

HOSTILE_NAME = 'evil "<img src=y onerror=window.pwned=1>" #1?.mp4'
HOSTILE_TEXT = '<img src=x onerror="window.pwned=2"> & </script> \u2028 "quoted"'


def _mmvideo() -> str:
    return str(Path(sys.executable).with_name("mmvideo"))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_mmvideo(), *args], capture_output=True, text=True, timeout=600)


@pytest.fixture
def browser():
    """A headless Chromium (Selenium, the installed driver); skip only where none is installed and none required."""
    required = os.environ.get("MMVIDEO_REQUIRE_BROWSER", "") not in ("", "0")
    try:
        import selenium  # noqa: F401
    except ImportError:
        if required:
            pytest.fail("MMVIDEO_REQUIRE_BROWSER is set but selenium is not installed (pip install -e '.[test]')")
        pytest.skip("selenium not installed")
    if find_browser() is None:
        if required:
            pytest.fail("MMVIDEO_REQUIRE_BROWSER is set but no chromium + chromedriver was found "
                        "(apt-get install chromium chromium-driver)")
        pytest.skip("no chromium + chromedriver installed")
    from mmvideo.report.browser import headless_chromium

    with headless_chromium(1280, 1000) as drv:
        yield drv


def _data(report_dir: Path) -> dict:
    """The page data of a report folder, as the browser sees it."""
    (script,) = report_dir.glob("data-*.js")
    text = script.read_text(encoding="ascii")
    prefix, suffix = "window.MMVIDEO_REPORT = JSON.parse(", ");\n"
    assert text.startswith(prefix) and text.endswith(suffix)
    return json.loads(json.loads(text[len(prefix):-len(suffix)]))


def _save_screenshot(drv, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    assert drv.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    artefacts = os.environ.get("MMVIDEO_ARTIFACTS")
    if artefacts:
        Path(artefacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artefacts) / name)
    return shot


def _open(drv, index: Path, fragment: str = "") -> None:
    drv.get("about:blank")  # a new document each time (a change of the hash alone does not reload)
    drv.get(index.as_uri() + fragment)
    _wait(drv, lambda: drv.execute_script("return (window.mmvideoReport || {}).renders || 0") >= 1)


def _wait(drv, cond, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"page condition not met in {timeout} s; console: {drv.get_log('browser')}")
        time.sleep(0.05)


def _renders(drv) -> int:
    return drv.execute_script("return window.mmvideoReport.renders")


def _visible_segments(drv) -> list[tuple[str, int]]:
    return [tuple(x) for x in drv.execute_script(
        "return Array.from(document.querySelectorAll('.seg')).map(e => [e.dataset.video, +e.dataset.seg])")]


# --- the real thing: run on samples/, report, open -------------------------------------------------------

@pytest.mark.slow
def test_report_of_samples_in_headless_chromium(real_models, samples_dir, tmp_path, browser):
    out = tmp_path / "out"
    run = _cli("run", str(samples_dir), "--out", str(out), "--thumbnails", "--quiet")
    assert run.returncode == 0, run.stderr
    thumbs = sorted(out.glob("thumbnails/*/*.jpg"))  # taken during the run, one per segment
    assert len(thumbs) == read_table(out).num_rows and not list(out.glob("thumbnails/*/.*"))
    rep = _cli("report", str(out))
    assert rep.returncode == 0, rep.stderr
    index = out / "report" / "index.html"
    assert index.is_file() and sorted(p.name for p in out.iterdir()) == [".mmvideo", "parquet", "report",
                                                                        "thumbnails"]

    videos = read_table(out, "videos").to_pylist()
    rows = read_table(out, "segments").select(["video_id", "segment", "tags", "text"]).to_pylist()
    by_video = {v["video_id"]: sorted((r for r in rows if r["video_id"] == v["video_id"]),
                                      key=lambda r: r["segment"]) for v in videos}
    assert len(videos) == 4 and len(rows) >= 4

    _open(browser, index)
    page = browser.execute_script("""
        return Array.from(document.querySelectorAll('.timeline')).map(t => ({
          id: t.dataset.video,
          segs: Array.from(t.querySelectorAll('.seg')).map(s => ({
            k: +s.dataset.seg,
            chips: Array.from(s.querySelectorAll('.chips .chip')).map(c => c.dataset.tag),
            bars: s.querySelectorAll('.chips .chip .att').length,
            img: (s.querySelector('img') || {}).naturalWidth || 0,
            text: (s.querySelector('.text') || {}).textContent || '',
            hover: s.title}))}));""")
    # one timeline per video, the segments and tag chips of the rows, in order
    assert sorted(t["id"] for t in page) == sorted(by_video)
    for t in page:
        want = by_video[t["id"]]
        assert [s["k"] for s in t["segs"]] == [r["segment"] for r in want]
        for s, r in zip(t["segs"], want):
            assert s["chips"] == [tag["label"] for tag in r["tags"]]
            assert s["bars"] == len(r["tags"])
            assert s["text"] == (r["text"] or "")
            assert "image classes:" in s["hover"] and "audio classes:" in s["hover"]
    # the run's thumbnails, 160 px wide; they load lazily, as they are scrolled to (off-screen timelines are
    # not even laid out)
    _wait(browser, lambda: browser.execute_script("""
        var waiting = Array.from(document.querySelectorAll('.seg img')).filter(i => !(i.complete && i.naturalWidth));
        if (waiting.length) waiting[0].scrollIntoView();
        return waiting.length === 0;"""))
    widths = browser.execute_script("return Array.from(document.querySelectorAll('.seg img')).map(i => i.naturalWidth)")
    assert widths == [160] * len(rows)
    browser.execute_script("window.scrollTo(0, 0)")
    legend = browser.execute_script("return Array.from(document.querySelectorAll('.legend span:not(:first-child)'))"
                                    ".map(e => e.textContent)")
    assert legend == list(MODALITIES)

    # the tag filter hides the segments without that tag
    counts: dict[str, int] = {}
    for r in rows:
        for tag in {t["label"] for t in r["tags"]}:
            counts[tag] = counts.get(tag, 0) + 1
    tag = next(t for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n < len(rows))
    want = sorted((r["video_id"], r["segment"]) for r in rows if tag in {t["label"] for t in r["tags"]})
    from selenium.webdriver.support.ui import Select

    before = _renders(browser)
    Select(browser.find_element("id", "tag")).select_by_value(tag)
    _wait(browser, lambda: _renders(browser) > before)
    assert sorted(_visible_segments(browser)) == want and len(want) < len(rows)
    assert f"tag={tag}" in browser.current_url

    # the text box finds segments by subtitle text
    browser.find_element("id", "clear").click()
    before = _renders(browser)
    browser.find_element("id", "q").send_keys("launch pad")
    _wait(browser, lambda: _renders(browser) > before)
    want = sorted((r["video_id"], r["segment"]) for r in rows if "launch pad" in (r["text"] or "").lower())
    assert sorted(_visible_segments(browser)) == want and len(want) == 1

    # a click on a segment plays its source from the segment's start
    browser.find_element("css selector", ".seg .thumb").click()
    src = browser.execute_script("return document.getElementById('video').getAttribute('src')")
    assert src.startswith("file:///") and src.endswith("#t=0")
    assert browser.execute_script("return !document.getElementById('player').hidden")
    browser.find_element("id", "pclose").click()
    browser.find_element("id", "clear").click()
    assert console_errors(browser) == []
    _save_screenshot(browser, tmp_path, "report_samples.png")


# --- error paths -------------------------------------------------------------------------------------

def test_report_of_an_empty_folder_is_one_line_and_exit_2(tmp_path):
    proc = _cli("report", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and str(tmp_path) in proc.stderr and "no mmvideo results" in proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written into a folder that is not an output folder


def test_report_of_a_missing_folder_is_one_line_and_exit_2(tmp_path):
    proc = _cli("report", str(tmp_path / "nope"))
    assert (proc.returncode, proc.stderr) == (2, f"mmvideo: {tmp_path / 'nope'}: no such folder\n")


def test_report_of_a_corrupt_part_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "parquet" / "videos").mkdir(parents=True)
    (tmp_path / "parquet" / "videos" / "abc.parquet").write_bytes(b"not parquet at all")
    proc = _cli("report", str(tmp_path))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "cannot read the videos results" in proc.stderr


# --- generated rows: hostile text, statuses, placeholders, atomic rebuilds -----------------------------

def _segment(vid: str, path: str, k: int, labels: list[str], text: str = "") -> SegmentRecord:
    att = {m: 0.0 for m in MODALITIES}
    att.update(image=0.7, audio=0.3)
    tags = tuple(TagScore(lb, 0.9 - 0.1 * i, dict(att)) for i, lb in enumerate(labels))
    emb = np.zeros(384, np.float32)
    emb[0] = 1
    return SegmentRecord(video_id=vid, path=path, segment=k, start=5.0 * k, end=5.0 * k + 5, tags=tags,
                         embedding=emb, modalities=("image", "audio"),
                         columns={"text": text, "image_classes": [{"name": "tabby cat", "score": 0.5}],
                                  "audio_classes": [{"name": "Speech", "score": 0.4}]})


def _write_generated(out: Path, source_dir: Path) -> None:
    hostile = str(source_dir / HOSTILE_NAME)
    write_video(out, VideoRecord("v1", hostile, "done", duration=10.0, container="mp4", has_video=True,
                                 segments=2, top_tags=(TagCoverage("cat", 10, 1, 0.9),)),
                [_segment("v1", hostile, 0, ["cat", "dog"], HOSTILE_TEXT), _segment("v1", hostile, 1, ["cat"])], schema=SCHEMA)
    write_video(out, VideoRecord("v2", str(source_dir / "broken.mp4"), "failed", stage="probe",
                                 error="invalid data: <moov atom not found>"), [], schema=SCHEMA)
    write_video(out, VideoRecord("v3", str(source_dir / "copy.mp4"), "duplicate", error="same content as v1"), [], schema=SCHEMA)


def test_report_escapes_hostile_names_and_text_and_lists_every_status(tmp_path, browser):
    out = tmp_path / "out"
    _write_generated(out, tmp_path / "gone")
    result = build_report(out)
    assert (result.videos, result.segments, result.pictures.no_source, result.pictures.made) == (3, 2, 1, 0)
    html = result.index.read_text(encoding="utf-8")
    assert "pwned" not in html  # the results are only in the data file, as JSON
    _open(browser, result.index)
    assert browser.execute_script(
        "return window.pwned === undefined && !document.querySelector('img[src=x], img[src=y]')")
    assert browser.execute_script("return document.querySelector('.seg .text').textContent") == HOSTILE_TEXT
    names = browser.execute_script("return Array.from(document.querySelectorAll('.timeline h2'))"
                                   ".map(h => h.firstChild.textContent)")
    assert names == ["broken.mp4", "copy.mp4", HOSTILE_NAME]
    problems = browser.execute_script("return Array.from(document.querySelectorAll('.problems tr'))"
                                      ".map(r => r.textContent)")
    assert problems == [f"failed{tmp_path / 'gone' / 'broken.mp4'}[probe] invalid data: <moov atom not found>",
                        f"duplicate{tmp_path / 'gone' / 'copy.mp4'}same content as v1"]
    # a missing source leaves placeholders, not broken images
    assert browser.execute_script("return document.querySelectorAll('.seg img').length") == 0
    assert browser.execute_script("return document.querySelectorAll('.seg .ph').length") == 2
    # a filter set in the URL applies on load; the status filter works on any status
    _open(browser, result.index, "#status=duplicate")
    shown = browser.execute_script("return Array.from(document.querySelectorAll('.timeline')).map(t => t.dataset.video)")
    assert shown == ["v3"] and browser.find_element("id", "status").get_attribute("value") == "duplicate"
    assert console_errors(browser) == []
    _save_screenshot(browser, tmp_path, "report_generated.png")


def test_rebuild_replaces_data_and_keeps_no_temporary_files(tmp_path):
    out = tmp_path / "out"
    _write_generated(out, tmp_path / "gone")
    dest = tmp_path / "elsewhere"
    (dest / "thumbs" / "holiday").mkdir(parents=True)  # a folder of the user's own: never touched
    (dest / "data-notes.js").write_text("keep me")
    build_report(out, dest)
    first = {p.name for p in dest.iterdir()}
    write_video(out, VideoRecord("v4", "/nowhere/new.mp4", "failed", stage="demux", error="boom"), [], schema=SCHEMA)
    build_report(out, dest)
    second = {p.name for p in dest.iterdir()}
    assert not (out / "report").exists()  # --out elsewhere writes nothing into OUT
    assert "index.html" in second and not [n for n in second if n.startswith(".")]
    data_files = [n for n in second if n.startswith("data-") and n != "data-notes.js"]
    assert len(data_files) == 1 and data_files[0] not in first
    assert (dest / "thumbs" / "holiday").is_dir() and (dest / "data-notes.js").is_file()
    assert data_files[0] in (dest / "index.html").read_text(encoding="utf-8")


# --- thumbnails ----------------------------------------------------------------------------------------

def _clip(path: Path, *extra_input: str, size: str = "320x180", seconds: int = 4, sar: str = "1") -> Path:
    subprocess.run([ffmpeg_binary(), "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                    f"testsrc2=size={size}:rate=10:duration={seconds}", "-vf", f"setsar={sar}",
                    "-c:v", "libx264", "-g", "20",
                    "-pix_fmt", "yuv420p", "-y", str(path.with_suffix(".tmp.mp4"))], check=True)
    subprocess.run([ffmpeg_binary(), "-nostdin", "-v", "error", *extra_input, "-i", str(path.with_suffix(".tmp.mp4")),
                    "-c", "copy", "-y", str(path)], check=True)
    return path


def _size(jpg: Path) -> tuple[int, int]:
    with av.open(str(jpg)) as c:
        s = c.streams.video[0]
        return s.codec_context.width, s.codec_context.height


def test_thumbnails_follow_display_rotation_and_skip_times_past_the_end(tmp_path):
    upright = _clip(tmp_path / "phone.mp4", "-display_rotation:v:0", "90")
    made = write_segment_thumbnails(str(upright), [(0, 0.0, 2.0), (1, 2.0, 4.0), (7, 9.0, 11.0)], tmp_path / "t")
    assert [p.name for p in made] == ["0.jpg", "1.jpg"]
    assert [_size(p) for p in made] == [(160, 284), (160, 284)]  # 180x320 as shown -> 160 wide
    assert sorted(p.name for p in (tmp_path / "t").iterdir()) == ["0.jpg", "1.jpg"]  # no temp files left


def test_thumbnails_use_the_display_aspect_of_anamorphic_video(tmp_path):
    wide = _clip(tmp_path / "anamorphic.mp4", size="360x288", sar="64/45")
    (made,) = write_segment_thumbnails(str(wide), [(0, 0.0, 4.0)], tmp_path / "t")
    assert _size(made) == (160, 90)  # 360x288 at 64:45 shows as 16:9 (the coded size alone would give 160x128)


def test_report_prefers_run_thumbnails_then_reuses_its_own(tmp_path):
    src = _clip(tmp_path / "clip.mp4", seconds=10)
    out = tmp_path / "out"
    write_video(out, VideoRecord("v1", str(src), "done", duration=10.0, has_video=True, segments=2),
                [_segment("v1", str(src), 0, ["cat"]), _segment("v1", str(src), 1, ["dog"])], schema=SCHEMA)
    run_thumb = out / "thumbnails" / "v1" / "0.jpg"
    run_thumb.parent.mkdir(parents=True)
    shutil.copy(write_segment_thumbnails(str(src), [(0, 0.0, 5.0)], tmp_path / "run")[0], run_thumb)
    first = build_report(out).pictures
    assert (first.from_run, first.made, first.reused) == (1, 1, 0)
    second = build_report(out).pictures
    assert (second.from_run, second.made, second.reused) == (1, 0, 1)
    data = _data(out / "report")
    (video,) = data["videos"]
    assert video["rb"] == "../thumbnails/v1/" and video["tb"].startswith("thumbs/v1-")
    assert data["seg"]["th"] == [2, 1]  # segment 0 from the run's folder, segment 1 from the report's
    # the video reprocessed with other segments: new pictures, the old folder is removed
    old = {p.name for p in (out / "report" / "thumbs").iterdir()}
    write_video(out, VideoRecord("v1", str(src), "done", duration=10.0, has_video=True, segments=2),
                [_segment("v1", str(src), 0, ["cat"]), replace(_segment("v1", str(src), 1, ["dog"]), end=7.0)], schema=SCHEMA)
    assert build_report(out).pictures.made == 1
    new = {p.name for p in (out / "report" / "thumbs").iterdir()}
    assert len(old) == len(new) == 1 and old != new


def test_thumbnail_budget_defers_videos_to_the_next_report(tmp_path):
    src = _clip(tmp_path / "clip.mp4", seconds=10)
    out = tmp_path / "out"
    write_video(out, VideoRecord("v1", str(src), "done", duration=10.0, has_video=True, segments=1),
                [_segment("v1", str(src), 0, ["cat"])], schema=SCHEMA)
    stats = build_report(out, thumbnail_seconds=0).pictures
    assert (stats.made, stats.deferred) == (0, 1)
    assert (build_report(out, thumbnails=False).pictures.made, build_report(out).pictures.made) == (0, 1)
