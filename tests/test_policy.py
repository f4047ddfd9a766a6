"""The shared engine policy off the main thread: a video's timeout kills its real ffmpeg children in time."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from mmvideo.config import RunConfig
from mmvideo.discover import discover
from mmvideo.engines.policy import KILL_GRACE_S, process
from mmvideo.media.ffmpeg import ffmpeg_binary, run_ffmpeg
from mmvideo.media.frames import iter_frames
from mmvideo.media.probe import probe
from mmvideo.records import Analysis, VideoRecord
from mmvideo.write.read import read_table

TIMEOUT_S = 2.0


def _long_clip(folder: Path, seconds: int = 120) -> Path:
    clip = folder / "long clip.mp4"
    subprocess.run([ffmpeg_binary(), "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                    f"testsrc2=size=160x120:rate=10:duration={seconds}", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", str(clip)], check=True)
    return clip


def _ffmpeg_pids(clip: Path) -> list[int]:
    """Live (not zombie) processes whose command line names ``clip``, or ffmpeg children of this process (the
    H.264 fps path feeds ffmpeg through its stdin, so its command line names ``pipe:0``)."""
    found = []
    binary = os.fsencode(ffmpeg_binary())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            state, ppid = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[:2]
        except OSError:
            continue
        ours = int(ppid) == os.getpid() and argv[0] == binary
        if state != "Z" and (ours or any(os.fsencode(str(clip)) in arg for arg in argv)):
            found.append(int(entry))
    return found


class SlowDecoder:
    """Decodes the clip for real at 1 fps, slower than the timeout allows (ffmpeg blocks on the full pipe)."""

    fingerprint = "fp-slow"
    encoder_fingerprint = "efp-slow"

    def analyze(self, video, on_stage):
        on_stage("probe")
        info = probe(video.path)
        on_stage("demux")
        with iter_frames(video.path, info, chunk_frames=2) as frames:
            for _ in frames:
                time.sleep(0.5)
        return Analysis(VideoRecord(video.content_id, video.path, "done", duration=info.duration), ())


def test_timeout_on_a_worker_thread_kills_the_videos_ffmpeg_and_fails_it(tmp_path):
    clip = _long_clip(tmp_path)
    video = next(iter(discover([clip])))
    out = tmp_path / "out"
    box = {}

    def worker() -> None:
        box["outcome"] = process(video, SlowDecoder(), RunConfig(timeout=TIMEOUT_S), out, ("parquet",))

    thread = threading.Thread(target=worker, name="test-worker")
    started = time.monotonic()
    thread.start()
    seen = []
    while not seen and time.monotonic() - started < TIMEOUT_S:
        seen = _ffmpeg_pids(clip)
        time.sleep(0.05)
    assert seen, "the analysis never started ffmpeg on the clip"
    thread.join(timeout=TIMEOUT_S + 10)
    elapsed = time.monotonic() - started
    left = _ffmpeg_pids(clip)
    assert not thread.is_alive()
    assert elapsed <= TIMEOUT_S + KILL_GRACE_S + 1.0  # within 2 s of the deadline
    assert left == [], f"ffmpeg still running for the clip: {left}"
    outcome = box["outcome"]
    assert (outcome.status, outcome.stage, outcome.error) == ("failed", "demux", "timed out after 2 s")
    row = read_table(out, "videos").to_pylist()[0]
    assert (row["status"], row["stage"], row["error"], row["path"]) == ("failed", "demux", "timed out after 2 s",
                                                                         str(clip))
    # once the abandoned analysis has ended, the clip may be read again
    deadline = time.monotonic() + 10
    while any(t.name == "mmvideo-analyze" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert run_ffmpeg(["-version"], clip).returncode == 0


def test_without_a_timeout_process_runs_inline_and_writes_the_video(tmp_path):
    clip = _long_clip(tmp_path, seconds=2)
    video = next(iter(discover([clip])))
    outcome = process(video, SlowDecoder(), RunConfig(), tmp_path / "out", ("jsonl",))
    assert (outcome.status, outcome.error) == ("done", None)
    assert outcome.video_seconds == pytest.approx(2.0, abs=0.2)
    assert read_table(tmp_path / "out", "videos").to_pylist()[0]["status"] == "done"


@pytest.mark.slow
def test_the_real_pipeline_times_out_on_a_worker_and_then_analyzes_the_next_video(pipeline, samples_dir, tmp_path):
    clip = _long_clip(tmp_path, seconds=60)
    long_video, cat = next(iter(discover([clip]))), next(iter(discover([samples_dir / "cat.mp4"])))
    box = {}

    def worker() -> None:
        box["timed_out"] = process(long_video, pipeline, RunConfig(timeout=0.5), tmp_path / "out", ("parquet",))
        box["next"] = process(cat, pipeline, RunConfig(timeout=120), tmp_path / "out", ("parquet",))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=300)
    assert not thread.is_alive()
    assert (box["timed_out"].status, box["timed_out"].error) == ("failed", "timed out after 0.5 s")
    assert _ffmpeg_pids(clip) == []
    done = box["next"]
    assert done.status == "done" and done.record.segments > 0 and done.record.top_tags
    rows = read_table(tmp_path / "out").to_pylist()
    assert {r["video_id"] for r in rows} == {cat.content_id} and len(rows) == done.record.segments
