"""The Ray engine beside the local engine on this machine, what Ray costs here, and per-stage costs per video-minute.

1. Whole runs (start-up included) on one folder of 720p30 clips (``benchmarks/footage.py``: the eval clips joined,
   a keyframe every 2 s): `mmvideo run` (local engine, defaults) and `mmvideo run --engine ray` (a local Ray
   instance sized to the machine), each from an empty output folder. Wall, CPU (user + system of the whole
   process tree: this script is a child subreaper, so Ray's daemons and workers are reaped here and counted in
   RUSAGE_CHILDREN), peak summed RSS of the tree (sampled every 0.1 s from /proc).
2. Ray's fixed cost: ``ray.init`` + ``ray.shutdown`` of a local instance in a fresh interpreter; and its cost per
   video: ``N`` files whose analysis fails at once (a stub analyzer), through ``run_ray`` on a running instance
   against ``run_local``, per file.
3. Per-stage costs on the first clip, in this process: probe, demux (frames at 1 fps 224 px + 16 kHz audio,
   ffmpeg's CPU included), each enabled modality's encoder (CPU: LiteRT float32), fusion, writing the parts and
   the commit (state row). Printed per video-minute, with the throughput estimate they give for a 16-core host
   with one GPU and for ten such hosts (see README, "Running on Ray").

    .venv/bin/python benchmarks/bench_ray.py [--files 3] [--seconds 150] [--stub-files 40]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from footage import make_folder  # noqa: E402
from measure import Measured, tree_rss_mb  # noqa: E402

PR_SET_CHILD_SUBREAPER = 36


def _reap_all(timeout: float = 30.0) -> None:
    """Wait for every descendant left behind (Ray's daemons exit after the driver) so their CPU is counted."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.1)


def measure(argv: list[str]) -> Measured:
    """Run ``argv``; wall, CPU of every process it left (reaped here), peak summed RSS of this script's tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = 0.0
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err: list[bytes] = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
    reader.start()
    while proc.poll() is None:
        peak = max(peak, tree_rss_mb(os.getpid(), include_root=False))
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    reader.join()
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{argv[:6]}... exited {proc.returncode}: {b''.join(err).decode()[-2000:]}")
    _reap_all()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measured(wall, cpu, peak)


def whole_runs(folder: Path, work: Path) -> dict[str, Measured]:
    mmvideo = [sys.executable, "-m", "mmvideo", "run", str(folder), "--log-format", "plain"]
    results = {}
    for name, extra in (("local", []), ("ray", ["--engine", "ray"])):
        out = work / f"out-{name}"
        shutil.rmtree(out, ignore_errors=True)
        results[name] = measure([*mmvideo, "--out", str(out), *extra])
    return results


def ray_fixed_cost() -> Measured:
    code = ("import time, ray; t = time.perf_counter(); ray.init(include_dashboard=False, logging_level='ERROR'); "
            "ray.get(ray.remote(lambda: 1).remote()); ray.shutdown()")
    return measure([sys.executable, "-c", code])


class StubAnalyzers:
    """Analyzers whose analysis fails at once (no decode, no model): what is left is the engine's own cost."""

    def __call__(self, config):
        return _Stub(config)


class _Stub:
    def __init__(self, config) -> None:
        from mmvideo.pipeline.analyze import Pipeline

        p = Pipeline(config)
        self.fingerprint, self.encoder_fingerprint, self.segment_schema = (p.fingerprint, p.encoder_fingerprint,
                                                                           p.segment_schema)

    def analyze(self, video, on_stage):
        from mmvideo.errors import MediaError

        raise MediaError(video.path, "stub: not analyzed", stage="probe")


def per_video_overhead(work: Path, n: int) -> dict[str, float]:
    """Seconds per file through each engine with the stub analyzer (n files, after one warm-up run)."""
    import numpy as np
    import ray

    from mmvideo.config import RunConfig
    from mmvideo.engines.local import run_local
    from mmvideo.engines.ray_engine import run_ray
    from mmvideo.progress import Reporter

    src = work / "stub-files"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        (src / f"f{i:03d}.mp4").write_bytes(rng.bytes(1024))
    import io

    config = RunConfig(jobs=2)
    stub = StubAnalyzers()
    quiet = Reporter(io.StringIO(), quiet=True)  # every file fails: keep their lines off the terminal
    ray.init(include_dashboard=False, logging_level="ERROR")
    try:
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
        out = {}
        for name in ("local", "ray"):
            times = []
            for k in range(2):  # the first pays the actor pool's start-up
                dest = work / f"stub-out-{name}-{k}"
                shutil.rmtree(dest, ignore_errors=True)
                t0, c0 = time.perf_counter(), time.process_time()
                if name == "ray":
                    run_ray([src], dest, config, stub(config), quiet, make_analyzer=stub)
                else:
                    run_local([src], dest, config, stub(config), quiet)
                times.append(time.perf_counter() - t0)
                driver_cpu = time.process_time() - c0
            out[name] = times[-1] / n
            out[name + "_first"] = times[0]
            out[name + "_driver_cpu"] = driver_cpu / n  # this process alone: the serial part every file costs
        return out
    finally:
        ray.shutdown()


def stage_costs(clip: Path) -> tuple[dict[str, tuple[float, float]], float]:
    """(wall s, CPU s) per video-minute of each stage on ``clip`` (this process + its ffmpeg children)."""
    from mmvideo.config import RunConfig
    from mmvideo.discover import discover
    from mmvideo.media.audio import iter_audio
    from mmvideo.media.frames import iter_frames
    from mmvideo.media.probe import probe
    from mmvideo.pipeline.analyze import Pipeline
    from mmvideo.state import State
    from mmvideo.write.writer import write_video

    def clock():
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.perf_counter(), time.process_time() + ru.ru_utime + ru.ru_stime

    costs: dict[str, tuple[float, float]] = {}

    def timed(name, fn):
        w0, c0 = clock()
        result = fn()
        w1, c1 = clock()
        costs[name] = (w1 - w0, c1 - c0)
        return result

    config = RunConfig()
    pipeline = Pipeline(config)
    timed("load models (once per worker)", pipeline.models)
    info = timed("probe", lambda: probe(str(clip)))
    minutes = float(info.duration) / 60
    frames = timed("demux: frames 1 fps", lambda: list(iter_frames(str(clip), info, fps=config.fps,
                                                                   size=(config.frame_size,) * 2, chunk_frames=32)))
    audio = timed("demux: audio 16 kHz", lambda: list(iter_audio(str(clip), info)))
    for m in pipeline.active:
        def run(m=m):
            s = m.start(str(clip), info)
            if s is None:
                return None
            for chunk in {"frames": frames, "audio": audio}.get(m.feed, []):
                s.push(chunk)
            return s.finish()
        timed(f"encode: {m.name} ({m.feed})", run)
    video = next(iter(discover([clip])))
    evidence = pipeline.encode(video)
    analysis = timed("fuse", lambda: pipeline.fuse_evidence(evidence))
    with tempfile.TemporaryDirectory() as tmp:
        timed("write parts", lambda: write_video(tmp, analysis.video, analysis.segments, ("parquet",),
                                                 schema=pipeline.segment_schema))
        state = State(tmp)
        timed("commit (state row)", lambda: state.mark_done(video.content_id, video.path, pipeline.fingerprint,
                                                             info.duration))
        state.close()
    per_minute = {k: (w / minutes, c / minutes) for k, (w, c) in costs.items() if not k.startswith("load")}
    per_minute["load models (once per worker)"] = costs["load models (once per worker)"]
    return per_minute, minutes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=150.0)
    ap.add_argument("--preset", default="veryfast")
    ap.add_argument("--stub-files", type=int, default=40)
    a = ap.parse_args()
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    folder = make_folder(2, files=a.files, seconds=a.seconds, preset=a.preset)
    minutes = a.files * a.seconds / 60
    print(f"machine: {os.cpu_count()} cores; load average at start {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        runs = whole_runs(folder, work)
        print(f"\n1. {a.files} x {a.seconds:g} s 720p30 clips ({folder.name}), whole `mmvideo run` processes:")
        for name, m in runs.items():
            print(f"   {name:5s}  wall {m.wall:6.1f} s  CPU {m.cpu:6.1f} s  peak RSS {m.peak_mb:6.0f} MB  "
                  f"({minutes / m.wall * 60:.1f} video-min/min)")
        loc, ray_ = runs["local"], runs["ray"]
        print(f"   ray / local: wall {ray_.wall / loc.wall:.2f}x, CPU {ray_.cpu / loc.cpu:.2f}x, "
              f"peak {ray_.peak_mb / loc.peak_mb:.2f}x")
        fixed = ray_fixed_cost()
        print(f"\n2. Ray's fixed cost: init + one task + shutdown of a local instance: wall {fixed.wall:.1f} s, "
              f"CPU {fixed.cpu:.1f} s, peak {fixed.peak_mb:.0f} MB")
        over = per_video_overhead(work, a.stub_files)
        print(f"   per file with a stub analysis ({a.stub_files} files, --jobs 2, warm): local "
              f"{over['local'] * 1000:.1f} ms, ray {over['ray'] * 1000:.1f} ms wall; the driver's own CPU per file: "
              f"local {over['local_driver_cpu'] * 1000:.1f} ms, ray {over['ray_driver_cpu'] * 1000:.1f} ms "
              f"(first ray run with its actor pool start: {over['ray_first']:.1f} s)")
        costs, clip_minutes = stage_costs(sorted(folder.glob("*.mp4"))[0])
    print(f"\n3. per-stage costs on one {clip_minutes:.1f}-minute clip (s per video-minute; LiteRT on this CPU):")
    for name, (w, c) in costs.items():
        unit = "s once" if name.startswith("load") else "s/video-min"
        print(f"   {name:34s} wall {w:7.3f}  CPU {c:7.3f}  {unit}")
    estimate(costs, clip_minutes, over["ray_driver_cpu"])
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")


def estimate(costs: dict[str, tuple[float, float]], clip_minutes: float, driver_cpu: float, cores: int = 16,
             hosts: int = 10) -> None:
    """Throughput of a 16-core host with one GPU and of ten, from the measured CPU per video-minute. Assumed: on
    the GPU the encoders' time is small beside decode (60 frames and 60 s of audio per video-minute), and the
    driver spends ``driver_cpu`` s per video (Ray Data's scheduling, the commit) whatever the number of hosts."""
    cpu = {k: c for k, (w, c) in costs.items() if not k.startswith("load")}
    demux = sum(c for k, c in cpu.items() if k.startswith(("probe", "demux")))
    encode = sum(c for k, c in cpu.items() if k.startswith("encode"))
    fuse = cpu.get("fuse", 0.0)
    write = cpu.get("write parts", 0.0)
    commit_wall = costs["commit (state row)"][0] * clip_minutes + driver_cpu  # the driver's serial time per video
    cpu_host = demux + fuse + write  # with the encoders on the GPU, the CPUs decode, fuse and write
    per_host_gpu = cores * 60 / cpu_host  # video-min per min of wall: the cores' CPU-seconds over the cost
    per_host_cpu = cores * 60 / (cpu_host + encode)
    print("\n4. estimate from these CPU costs (video-minutes per minute of wall):")
    print(f"   CPU per video-minute: probe+demux {demux:.2f} s, encoders {encode:.2f} s, fuse {fuse:.3f} s, "
          f"write {write:.3f} s; the driver {commit_wall * 1000:.1f} ms per video (Ray Data + commit)")
    print(f"   one {cores}-core host, encoders on its GPU: {per_host_gpu:.0f} video-min/min "
          f"({per_host_gpu:.0f} video-hours/hour), bound by demux (CPU); encoders on its CPUs: "
          f"{per_host_cpu:.0f}")
    driver = 60 / max(commit_wall, 1e-6) * clip_minutes  # video-min/min the driver can hand out and commit
    cluster = hosts * per_host_gpu
    bound = "demux on the hosts' CPUs" if cluster <= driver else "the driver (Ray Data scheduling + commit, serial)"
    print(f"   {hosts} such hosts: {min(cluster, driver):.0f} video-min/min, bound by {bound} (hosts "
          f"{cluster:.0f}, driver {driver:.0f} at {clip_minutes:.1f}-minute videos)")


if __name__ == "__main__":
    main()
