"""Nightly batch jobs: killed runs resume to the same result, one run at a time, every file accounted for,
hostile names and files never crash or hang a run. Real `mmvideo run` processes and real models."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from runs import kill_when
from mmvideo.discover import discover
from mmvideo.engines.local import run_local
from mmvideo.progress import Reporter
from mmvideo.write.read import read_table

pytestmark = pytest.mark.slow

CLIPS = ("cat.mp4", "coffee.mkv", "rocket.mp4", "three_shots.mp4")


def _copy_samples(samples: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for p in samples.iterdir():
        if p.suffix in (".mp4", ".mkv", ".srt", ".vtt"):
            shutil.copy2(p, dest / p.name)
    return dest


def _cmd(src: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mmvideo", "run", str(src), "--out", str(out), "--format", "both",
            "--log-format", "json", *extra]


def _run(src: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd(src, out, *extra), capture_output=True, text=True, timeout=600)


def _kill_when(src: Path, out: Path, predicate) -> list[dict]:
    """Start a run and SIGKILL it as soon as ``predicate(event)`` holds for one of its JSON log events."""
    return kill_when(_cmd(src, out), lambda events: predicate(events[-1]))


def _rows(out: Path) -> list[dict]:
    rows = read_table(out, "segments").to_pylist()
    return sorted(rows, key=lambda r: (r["video_id"], r["segment"]))


def _same_rows(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        for key in ra:
            if key == "path":
                continue
            if key == "embedding":
                np.testing.assert_allclose(ra[key], rb[key], atol=1e-6)
            elif key == "tags":
                assert [t["label"] for t in ra[key]] == [t["label"] for t in rb[key]]
                np.testing.assert_allclose([t["score"] for t in ra[key]], [t["score"] for t in rb[key]], atol=1e-5)
            elif key in ("image_classes", "audio_classes"):
                assert [c["name"] for c in ra[key]] == [c["name"] for c in rb[key]]
            else:
                assert ra[key] == rb[key], key


def test_killed_runs_resume_to_the_same_rows_with_no_duplicates(real_models, samples_dir, tmp_path):
    src = _copy_samples(samples_dir, tmp_path / "videos")
    reference = tmp_path / "reference"
    ref = _run(src, reference)
    assert ref.returncode == 0, ref.stderr
    expected = _rows(reference)

    out = tmp_path / "out"
    kill_points = [
        lambda e: e["event"] == "run_started",                                   # while loading models
        lambda e: e["event"] == "video_finished",                                # between two videos
        lambda e: e["event"] == "video_started" and e["index"] >= 2,             # in the middle of a video
    ]
    for kill_at in kill_points:
        events = _kill_when(src, out, kill_at)
        assert events, "the run printed no events before it was killed"
        partial = read_table(out, "segments").to_pylist() if list(out.rglob("*.parquet")) else []
        keys = [(r["video_id"], r["segment"]) for r in partial]
        assert len(keys) == len(set(keys)), "duplicate rows after a kill"
    final = _run(src, out)
    assert final.returncode == 0, final.stderr
    got = _rows(out)
    _same_rows(got, expected)
    assert len({(r["video_id"], r["segment"]) for r in got}) == len(got)
    # JSON Lines agree with Parquet after the kills too
    jsonl = [json.loads(line) for p in (out / "jsonl" / "segments").glob("*.jsonl")
             for line in p.read_text(encoding="utf-8").splitlines()]
    assert sorted((r["video_id"], r["segment"]) for r in jsonl) == [(r["video_id"], r["segment"]) for r in got]
    # and a further rerun has nothing to do
    again = _run(src, out)
    summary = [json.loads(line) for line in again.stderr.splitlines() if line.startswith("{")][-1]
    assert summary["event"] == "run_finished" and summary["skipped"] == len(CLIPS) and summary["done"] == 0


def test_whole_shared_media_folder_every_file_accounted_for(real_models, shared_media, tmp_path):
    out = tmp_path / "out"
    files = list(discover([shared_media], include_empty=True))
    first = _run(shared_media, out)
    assert first.returncode == 1, first.stderr
    videos = read_table(out, "videos").to_pylist()
    ids = {f.key for f in files}
    assert {v["video_id"] for v in videos} == ids  # each file is a result or an error record
    assert sorted(v["path"] for v in videos) == sorted(f.path for f in files)
    failed = [v for v in videos if v["status"] == "failed"]
    names = {Path(v["path"]).name for v in failed}
    assert {"Pentax.avi", "DV.dv", "unknown_sized_non_master_element.mkv"} <= names
    for v in failed:
        assert v["error"] and "\n" not in v["error"] and "Traceback" not in v["error"] and len(v["error"]) < 300
    done = {Path(v["path"]).name for v in videos if v["status"] == "done"}
    assert {"friday.mp4", "jfk.flac", "fire2.mp4", "corrupted.mp4", "no_duration.webm"} <= done
    # stderr has one line per failed file naming it
    for v in failed:
        assert any(v["path"] in line for line in first.stderr.splitlines())

    status = subprocess.run([sys.executable, "-m", "mmvideo", "status", str(out), "--json"], capture_output=True,
                            text=True)
    st = json.loads(status.stdout)
    assert (st["done"], st["failed"]) == (len(videos) - len(failed), len(failed))
    assert {Path(f["path"]).name for f in st["failures"]} == names and st["last_run"]["failed"] == len(failed)
    human = subprocess.run([sys.executable, "-m", "mmvideo", "status", str(out)], capture_output=True, text=True)
    assert f"failed: {len(failed)}" in human.stdout and "Pentax.avi: [probe] file is truncated" in human.stdout

    rerun = _run(shared_media, out)
    events = [json.loads(line) for line in rerun.stderr.splitlines() if line.startswith("{")]
    assert not [e for e in events if e["event"] == "video_started"]  # nothing redone, nothing retried
    assert events[-1]["skipped"] == len(ids) and rerun.returncode == 0
    retry = _run(shared_media, out, "--retry-failed")
    started = {Path(e["path"]).name for e in
               (json.loads(line) for line in retry.stderr.splitlines() if line.startswith("{"))
               if e["event"] == "video_started"}
    assert started == names and retry.returncode == 1


def test_second_run_is_refused_and_a_killed_runs_lock_is_taken_over(real_models, samples_dir, tmp_path):
    src = _copy_samples(samples_dir, tmp_path / "videos")
    out = tmp_path / "out"
    first = subprocess.Popen(_cmd(src, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for line in first.stderr:
            if '"run_started"' in line:
                break
        second = _run(src, out)
        assert second.returncode == 2
        assert f"another mmvideo run is using this output folder (pid {first.pid}" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=60)
    finally:
        first.kill()
    third = _run(src, out)
    assert third.returncode == 0, third.stderr
    assert f"took over a stale lock left by pid {first.pid}" in third.stderr


HOSTILE = ["with space.mp4", "quote'single.mp4", 'quote"double.mp4', "new\nline.mp4", "ünïcödé 日本.mp4",
           "-leading-dash.mp4", "$(touch pwned).mp4", "semi;colon&amp.mp4"]


def test_hostile_names_work_and_never_reach_a_shell(pipeline, samples_dir, tmp_path):
    src = tmp_path / "videos"
    src.mkdir()
    for name in HOSTILE:
        shutil.copy2(samples_dir / "rocket.mp4", src / name)
    (src / "loop").symlink_to(src, target_is_directory=True)   # a symlink loop
    (src / "dangling.mp4").symlink_to(tmp_path / "missing.mp4")
    unreadable = src / "unreadable.mp4"
    unreadable.write_bytes(b"\x00" * 4096)
    unreadable.chmod(0)
    monkey_cwd = os.getcwd()
    os.chdir(tmp_path)  # a `touch pwned` that ran would create tmp_path/pwned
    try:
        summary = run_local([src], tmp_path / "out", pipeline.config, pipeline, Reporter(quiet=True))
    finally:
        os.chdir(monkey_cwd)
    assert not (tmp_path / "pwned").exists() and not (src / "pwned").exists()
    videos = read_table(tmp_path / "out", "videos").to_pylist()
    # the hostile copies share one content id: processed once, each other copy recorded as its duplicate
    done = [v for v in videos if v["status"] == "done"]
    assert len(done) == 1 and Path(done[0]["path"]).name in HOSTILE
    copies = [v for v in videos if v["status"] == "duplicate"]
    assert sorted(Path(v["path"]).name for v in copies + done) == sorted(HOSTILE)
    assert {v["duplicate_of"] for v in copies} == {done[0]["video_id"]}
    assert summary.done == 1 and summary.duplicates == len(HOSTILE) - 1 and summary.skipped == 0
    assert all(Path(v["path"]).name != "dangling.mp4" for v in videos)
    unread = [v for v in videos if Path(v["path"]).name == "unreadable.mp4"]
    if os.access(unreadable, os.R_OK):  # root reads it anyway: its zeros are an error record
        assert unread and unread[0]["status"] == "failed" and unread[0]["error"]
    else:  # skipped by discovery with a warning
        assert not unread


def test_each_hostile_name_is_processed_on_its_own(pipeline, samples_dir, tmp_path):
    for i, name in enumerate(HOSTILE[:6]):
        folder = tmp_path / f"v{i}"
        folder.mkdir()
        shutil.copy2(samples_dir / "cat.mp4", folder / name)
        shutil.copy2(samples_dir / "cat.en.srt", folder / (Path(name).stem + ".en.srt"))
        out = tmp_path / f"out{i}"
        s = run_local([folder], out, pipeline.config, pipeline, Reporter(quiet=True))
        assert (s.done, s.failed) == (1, 0), name
        rows = read_table(out).to_pylist()
        assert "Chelsea" in rows[0]["text"], name  # the sidecar next to the hostile name was found


def test_a_file_that_grows_while_read_is_left_for_the_next_run(pipeline, samples_dir, tmp_path):
    src = tmp_path / "videos"
    src.mkdir()
    growing = src / "growing.mp4"
    shutil.copy2(samples_dir / "three_shots.mp4", growing)
    stop = threading.Event()

    def append() -> None:
        with open(growing, "ab") as fh:
            while not stop.is_set():
                fh.write(b"\x00" * 1024)
                fh.flush()
                time.sleep(0.02)

    writer = threading.Thread(target=append, daemon=True)
    writer.start()
    try:
        s = run_local([src], tmp_path / "out", pipeline.config, pipeline, Reporter(quiet=True))
    finally:
        stop.set()
        writer.join()
    assert (s.done, s.pending) == (0, 1)
    assert not list((tmp_path / "out").rglob("*.parquet"))
    s = run_local([src], tmp_path / "out", pipeline.config, pipeline, Reporter(quiet=True))
    assert s.done == 1  # stable now: processed by the next run


def test_huge_and_non_utf8_subtitles_do_not_break_a_run(pipeline, samples_dir, tmp_path):
    src = tmp_path / "videos"
    src.mkdir()
    shutil.copy2(samples_dir / "cat.mp4", src / "big.mp4")
    cue = "{i}\n00:00:{s:02d},000 --> 00:00:{s:02d},500\nline number {i} of a huge file\n\n"
    with open(src / "big.srt", "w", encoding="utf-8") as fh:
        i = 0
        while fh.tell() < 10 * 1024 * 1024:
            fh.write(cue.format(i=i + 1, s=i % 59))
            i += 1
    shutil.copy2(samples_dir / "rocket.mp4", src / "latin.mp4")
    (src / "latin.srt").write_bytes("1\n00:00:00,500 --> 00:00:03,000\nCaf\u00e9 cr\u00e8me br\u00fbl\u00e9e\n".encode("cp1252"))
    s = run_local([src], tmp_path / "out", pipeline.config, pipeline, Reporter(quiet=True))
    assert (s.done, s.failed) == (2, 0)
    rows = {(Path(r["path"]).name, r["segment"]): r for r in read_table(tmp_path / "out").to_pylist()}
    assert "Café crème brûlée" in rows[("latin.mp4", 0)]["text"]
    assert "line number" in rows[("big.mp4", 0)]["text"]
