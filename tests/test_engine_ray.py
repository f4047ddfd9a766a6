"""The Ray engine: the same rows as the local engine, models loaded once per actor, bad videos and dying workers
as records, a killed run resumed, results on an object store (a local S3 endpoint). One local Ray instance
(2 CPUs) for the module; real models and the sample clips."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mmvideo.config import RunConfig
from mmvideo.engines.local import run_local
from mmvideo.engines.ray_engine import check_shared, pool_size, run_ray
from mmvideo.errors import ParameterError, SetupError
from mmvideo.pipeline.analyze import Pipeline
from mmvideo.progress import Reporter
from mmvideo.state import State
from mmvideo.write.read import read_table

sys.path.insert(0, str(Path(__file__).resolve().parent / "plugins"))
import ray_hooks  # noqa: E402  (the test plug-in: counted loads, killed workers)

if os.environ.get("MMVIDEO_REQUIRE_RAY") == "1":  # CI (.ci/run) installs the ray extra: a missing Ray fails
    import ray
else:
    ray = pytest.importorskip("ray", reason="pip install -e '.[ray]' (the Ray engine's extra)")
pytestmark = pytest.mark.slow

CLIPS = ("cat.mp4", "coffee.mkv", "rocket.mp4", "three_shots.mp4")


@pytest.fixture(scope="module")
def cluster(real_models):
    """One local Ray instance for the module (2 CPUs), with dummy S3 credentials its workers inherit."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
        ray.cloudpickle.register_pickle_by_value(ray_hooks)
        try:
            yield ray.get_runtime_context().gcs_address
        finally:
            ray.shutdown()


@pytest.fixture(scope="module")
def folder(samples_dir, tmp_path_factory) -> Path:
    """The sample clips, their subtitles, and a broken video (MP4 name, random bytes)."""
    dest = tmp_path_factory.mktemp("videos")
    for p in samples_dir.iterdir():
        if p.suffix in (".mp4", ".mkv", ".srt", ".vtt"):
            shutil.copy2(p, dest / p.name)
    (dest / "broken.mp4").write_bytes(np.random.default_rng(0).bytes(4096))
    return dest


@pytest.fixture(scope="module")
def local_out(folder, tmp_path_factory) -> Path:
    """The local engine's results for ``folder``: what every Ray run is compared with."""
    out = tmp_path_factory.mktemp("local")
    config = RunConfig(jobs=1)
    summary = run_local([folder], out, config, Pipeline(config), Reporter(quiet=True))
    assert (summary.done, summary.failed) == (len(CLIPS), 1)
    return out


def _rows(table: pa.Table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: (r["path"], r["segment"]))


def _same_rows(a: pa.Table, b: pa.Table) -> None:
    """Equal rows: the same segments, tags in the same order with scores within float tolerance, embeddings."""
    ra, rb = _rows(a), _rows(b)
    assert [(r["path"], r["segment"], r["start"], r["end"]) for r in ra] == \
           [(r["path"], r["segment"], r["start"], r["end"]) for r in rb]
    for x, y in zip(ra, rb):
        assert [t["label"] for t in x["tags"]] == [t["label"] for t in y["tags"]]
        np.testing.assert_allclose([t["score"] for t in x["tags"]], [t["score"] for t in y["tags"]], atol=1e-5)
        np.testing.assert_allclose(x["embedding"], y["embedding"], atol=1e-5)
        assert x["text"] == y["text"] and x["image_classes"] == y["image_classes"]


def _videos(out) -> dict[str, dict]:
    return {r["path"].rsplit("/", 1)[-1]: r for r in read_table(out, "videos").to_pylist()}


def test_ray_rows_equal_the_local_engine_and_models_load_once_per_actor(cluster, folder, local_out, tmp_path):
    hooks = ray_hooks.HookedAnalyzers(loads=str(tmp_path / "loads"), kills=str(tmp_path / "kills"))
    config = RunConfig(engine="ray", jobs=2)
    summary = run_ray([folder], tmp_path / "out", config, Pipeline(config), Reporter(quiet=True),
                      make_analyzer=hooks)
    assert (summary.done, summary.failed, summary.total) == (len(CLIPS), 1, len(CLIPS) + 1)
    _same_rows(read_table(tmp_path / "out"), read_table(local_out))
    pids = (tmp_path / "loads").read_text().split()
    assert 1 <= len(pids) <= 2 and len(set(pids)) == len(pids)  # one load per actor, 5 videos analyzed
    videos = _videos(tmp_path / "out")
    assert videos["broken.mp4"]["status"] == "failed" and videos["broken.mp4"]["error"]
    assert videos["broken.mp4"]["error"] == _videos(local_out)["broken.mp4"]["error"]
    assert {videos[c]["status"] for c in CLIPS} == {"done"}
    # a second run on either engine has nothing to do: the state store is the one the local engine keeps
    config = RunConfig()
    again = run_local([folder], tmp_path / "out", config, Pipeline(config), Reporter(quiet=True))
    assert (again.skipped, again.done) == (len(CLIPS) + 1, 0)


def test_a_killed_worker_is_retried_and_a_video_killing_three_is_a_failure(cluster, samples_dir, tmp_path):
    src = tmp_path / "videos"
    src.mkdir()
    for name in ("cat.mp4", "rocket.mp4"):
        shutil.copy2(samples_dir / name, src / name)
    hooks = ray_hooks.HookedAnalyzers(loads=str(tmp_path / "loads"), kills=str(tmp_path / "kills"),
                                      kill={"cat.mp4": 1, "rocket.mp4": 99})
    config = RunConfig(engine="ray", jobs=1)
    summary = run_ray([src], tmp_path / "out", config, Pipeline(config), Reporter(quiet=True), make_analyzer=hooks)
    kills = (tmp_path / "kills").read_text().split()
    assert kills.count("cat.mp4") == 1 and kills.count("rocket.mp4") == 3
    assert (summary.done, summary.failed) == (1, 1)
    videos = _videos(tmp_path / "out")
    assert videos["cat.mp4"]["status"] == "done"
    assert videos["rocket.mp4"]["status"] == "failed" and videos["rocket.mp4"]["stage"] == "worker"
    assert "died 3 times" in videos["rocket.mp4"]["error"]
    rows = read_table(tmp_path / "out").to_pylist()
    keys = [(r["video_id"], r["segment"]) for r in rows]
    assert len(keys) == len(set(keys)) and {r["path"].rsplit("/", 1)[-1] for r in rows} == {"cat.mp4"}
    state = State(tmp_path / "out")
    try:
        assert state.get(videos["rocket.mp4"]["video_id"]).status == "failed"
    finally:
        state.close()


def test_a_run_killed_midway_is_finished_by_the_next_run(cluster, folder, local_out, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "mmvideo", "run", str(folder), "--out", str(out), "--engine", "ray",
           "--address", cluster, "--jobs", "1", "--log-format", "json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    finished = []
    try:
        for line in proc.stderr:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "video_finished" and event["status"] == "done":
                finished.append(event["path"])
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.kill()
        proc.wait(60)
    assert finished, "the run ended before a video was done"
    state = State(out)
    try:  # stopped mid-way: the driver had recorded some videos, not all
        recorded = sum(state.get_file(str(p)) is not None or state.get(_cid(p)) is not None
                       for p in folder.iterdir() if p.suffix in (".mp4", ".mkv"))
    finally:
        state.close()
    assert 1 <= recorded < len(CLIPS) + 1
    config = RunConfig()  # resumed by the local engine: the same state store, the same parts
    summary = run_local([folder], out, config, Pipeline(config), Reporter(quiet=True))
    assert summary.done + summary.failed + summary.skipped == len(CLIPS) + 1
    assert summary.skipped >= 1
    _same_rows(read_table(out), read_table(local_out))
    keys = [r["video_id"] for r in read_table(out, "videos").to_pylist()]
    assert len(keys) == len(set(keys)) == len(CLIPS) + 1


def _cid(path: Path) -> str:
    from mmvideo.discover import content_id

    return content_id(str(path))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_results_on_an_object_store_read_back_like_a_local_folder(cluster, folder, local_out, tmp_path):
    from moto.server import ThreadedMotoServer
    from pyarrow import fs as pafs

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        options = f"endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"
        s3, _ = pafs.FileSystem.from_uri(f"s3://tags?{options}&allow_bucket_creation=true")
        s3.create_dir("tags")
        uri = f"s3://tags/run1?{options}"
        config = RunConfig(engine="ray", jobs=2, state=str(tmp_path / "state"))
        summary = run_ray([folder], uri, config, Pipeline(config), Reporter(quiet=True))
        assert (summary.done, summary.failed) == (len(CLIPS), 1)
        listed = s3.get_file_info(pafs.FileSelector("tags/run1", recursive=True))
        names = sorted(i.path for i in listed if i.type == pafs.FileType.File)
        assert names and all(p.startswith(("tags/run1/parquet/segments/", "tags/run1/parquet/videos/"))
                             for p in names)
        assert not any(p.rsplit("/", 1)[-1].startswith(".") for p in names)  # no temp objects: one upload each
        segments = pq.ParquetDataset("tags/run1/parquet/segments", filesystem=s3).read()
        _same_rows(segments, read_table(local_out))
        local_segments = pq.ParquetDataset(str(local_out / "parquet" / "segments")).read()
        assert segments.schema.equals(local_segments.schema, check_metadata=False)
        videos = pq.ParquetDataset("tags/run1/parquet/videos", filesystem=s3).read().to_pylist()
        assert sorted(v["status"] for v in videos) == ["done"] * len(CLIPS) + ["failed"]
        assert (tmp_path / "state" / ".mmvideo" / "state.sqlite").is_file()
        again = run_local([folder], uri, config, Pipeline(config), Reporter(quiet=True))  # state in --state
        assert again.skipped == len(CLIPS) + 1
    finally:
        server.stop()


def test_object_store_output_needs_a_state_folder_and_a_local_one_refuses_it(folder, tmp_path):
    config = RunConfig()
    with pytest.raises(SetupError, match="needs --state DIR"):
        run_local([folder], "s3://bucket/out", config, Pipeline(config), Reporter(quiet=True))
    config = RunConfig(state=str(tmp_path / "state"))
    with pytest.raises(SetupError, match="--state is for object-store outputs"):
        run_local([folder], tmp_path / "out", config, Pipeline(config), Reporter(quiet=True))
    with pytest.raises(ParameterError, match="address is for engine='ray'"):
        RunConfig(address="auto")


def test_inputs_every_node_cannot_see_are_refused(cluster, tmp_path):
    check_shared(tmp_path / "out", str(Path(__file__)))  # one node: it sees this folder and this file
    with pytest.raises(SetupError, match="nowhere.mp4: the input videos must be on a shared mount"):
        check_shared(tmp_path / "out", str(tmp_path / "nowhere.mp4"))
    check_shared(None, str(Path(__file__)))  # an object-store output: only the inputs are checked
    with pytest.raises(SetupError, match="must be on a shared mount"):
        check_shared(None, str(tmp_path / "nowhere.mp4"))
    assert not list((tmp_path / "out" / ".mmvideo").iterdir())  # the marker is gone


def test_pool_size_follows_cpus_memory_and_gpus():
    gib = 2**30
    assert pool_size(RunConfig(), {"CPU": 16, "memory": 64 * gib}) == (16, 0.0)
    assert pool_size(RunConfig(), {"CPU": 16, "memory": 6 * gib}) == (4, 0.0)
    assert pool_size(RunConfig(), {"CPU": 16, "memory": 64 * gib, "GPU": 1}) == (16, 1 / 16)
    assert pool_size(RunConfig(), {"CPU": 16, "memory": 64 * gib, "GPU": 32}) == (16, 1.0)
    assert pool_size(RunConfig(worker_gpus=1), {"CPU": 16, "memory": 64 * gib, "GPU": 1}) == (1, 1.0)
    assert pool_size(RunConfig(worker_gpus=0.25), {"CPU": 16, "memory": 64 * gib, "GPU": 1}) == (4, 0.25)
    assert pool_size(RunConfig(device="cpu"), {"CPU": 16, "memory": 64 * gib, "GPU": 1}) == (16, 0.0)
    assert pool_size(RunConfig(jobs=3), {"CPU": 16, "memory": 64 * gib}) == (3, 0.0)
